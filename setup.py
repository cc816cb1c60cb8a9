from setuptools import find_packages, setup

setup(
    name="moglow",
    version="0.1.0",
    description="Probabilistic, controllable motion synthesis with normalising flows (MoGlow, McMoGlow)",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    package_data={"visualize": ["shaders/*", "web/static/*", "web/static/vendor/three/*"]},
    packages=find_packages(include=["moglow*", "mcmoglow*", "data_pipeline*", "visualize*", "baselines*"]),
    install_requires=[
        # torch is pinned to the CPU wheel the machine has; never let pip pick the CUDA build
        "torch==2.13.0",
        "numpy>=1.26",
        "scipy>=1.11",
        "pyyaml>=6",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "tensorboard>=2.15",
    ],
    extras_require={
        # pyrender 0.1.45 itself pins PyOpenGL==3.1.0, whose OSMesa bindings are broken; it is
        # installed with --no-deps by .ci/install_render_deps.sh (called by scripts/setup.sh),
        # and its real dependencies are listed here with a working PyOpenGL.
        "render": ["PyOpenGL==3.1.10", "trimesh>=4", "pyglet>=1.4.10,<3", "freetype-py", "imageio", "networkx",
                   "pillow", "six", "ffmpeg-python>=0.2", "imageio-ffmpeg>=0.5"],
        "baselines": ["scikit-learn>=1.3"],
        # moglow play: HTTP + WebSocket server
        "play": ["websockets>=13"],
        "dev": ["pytest>=8", "pytest-xdist>=3.5", "bvh-converter==1.0.2", "scikit-learn>=1.3", "ruff>=0.6", "mypy>=1.10",
                "websockets>=13", "playwright>=1.40"],
    },
    entry_points={
        "console_scripts": ["moglow=moglow.cli:main"],
        # transform families plug into the coupling slot by name (moglow.flows.transforms)
        "moglow.transforms": ["matrix = mcmoglow.transform:make_matrix_transform"],
    },
)
