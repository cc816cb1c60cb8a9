"""The Python API for notebooks and scripts: load a trained model, sample along a path, save.

Built on the same functions as ``moglow sample`` (:func:`moglow.checkpoint.load_model`,
:func:`moglow.sampling.sample_path`, :func:`moglow.paths.make_path`,
:func:`moglow.export.export_samples`), so a clip drawn here is the clip the command draws for
the same checkpoint, path, seed and temperature.

Example (see the README's "Python API" section, run as a doctest in CI)::

    >>> import moglow
    >>> model = moglow.load("runs/my_run")                                   # doctest: +SKIP
    >>> clip = model.sample(moglow.paths.circle(radius=2), seconds=4, num=2, seed=0)  # doctest: +SKIP
    >>> clip.positions.shape        # (samples, frames, joints, xyz) in metres  # doctest: +SKIP
    (2, 80, 21, 3)
    >>> clip.to_bvh("out/")         # one BVH per sample, in the training files' unit  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moglow.cli_checks import UsageError

__all__ = ["load", "Model", "Clip"]


@dataclass
class Clip:
    """Generated motion: ``num`` samples along one path.

    Attributes:
        samples: the :class:`moglow.sampling.Samples` (pose features, control, start).
        positions: (N, F, J, 3) float64 world positions of the model joints, metres, Y up.
        parents: (J,) parent of each joint (-1: the root).
        joint_names: the model's joint names.
        fps: frames per second.
        feature_def: the feature layout (with the training skeleton, for BVH export).
        cleanup: whether ``positions`` (and every file written) have the feet cleaned up
            (:mod:`moglow.cleanup`), as ``moglow sample`` does unless ``--no-cleanup``.
        profile: the skeleton profile (contact thresholds for the clean-up).
    """

    samples: Any
    positions: np.ndarray
    parents: np.ndarray
    joint_names: list[str]
    fps: float
    feature_def: Any = field(repr=False, default=None)
    info: dict = field(default_factory=dict)
    cleanup: bool = True
    profile: Any = field(repr=False, default=None)

    @property
    def num(self) -> int:
        return int(self.positions.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[1])

    @property
    def root_paths(self) -> np.ndarray:
        """(N, F, 2) root floor positions x, z in metres."""
        return self.samples.root_paths()[0]

    @property
    def bvh_unit_scale(self) -> float:
        """Metres per unit of the exported BVH: the training files' unit (0.01: centimetres)."""
        return float(self.feature_def.unit_scale)

    def to_bvh(self, out: str | Path, prefix: str = "sample") -> list[Path]:
        """Write the samples as BVH on the training skeleton, in the training files' unit
        (:attr:`bvh_unit_scale`; in Blender import with Scale = that number, e.g. 0.01 for cm).

        ``out``: a folder (``{prefix}_000.bvh``, ..., ``samples.npz``, ``report.json``), or a
        ``.bvh`` file name when there is one sample. Returns the BVH files.
        """
        import tempfile

        from moglow.export import export_samples

        out = Path(out)
        info = {**self.info, "bvh_unit_scale": self.bvh_unit_scale}
        if out.suffix.lower() != ".bvh":
            report = export_samples(self.samples, self.feature_def, out, prefix=prefix, info=info,
                                    cleanup=self.cleanup, profile=self.profile)
            return [out / e.bvh for e in report.samples if e.bvh]
        if self.num != 1:
            raise UsageError(f"{out}: a single .bvh file holds one sample; this clip has {self.num} (give a folder)")
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}.") as tmp:  # the one export path
            export_samples(self.samples, self.feature_def, tmp, prefix=out.stem, npz=False, info=info,
                           cleanup=self.cleanup, profile=self.profile)
            (Path(tmp) / f"{out.stem}_000.bvh").replace(out)
        return [out]

    def render(self, out: str | Path, width: int | None = None, height: int = 480, layout: str = "side",
               progress: bool = False, **options: Any) -> Path:
        """Render the samples to an MP4 (side by side, or ``layout="overlay"``) with the path on the
        floor; needs the ``render`` extra (``pip install 'moglow[render]'``). Returns the file."""
        try:
            from visualize.render import render_positions
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"rendering needs the render extra: pip install 'moglow[render]' ({e})") from e
        paths = self.root_paths
        report = render_positions(self.positions.astype(np.float32), self.parents, out, self.fps,
                                  paths=paths, labels=[f"sample {i}" for i in range(self.num)], layout=layout,
                                  width=width, height=height, progress=progress, **options)
        return Path(report.path)


class Model:
    """A trained MoGlow/McMoGlow model ready to sample (:func:`load` makes one).

    Attributes:
        network: the :class:`moglow.model.MoGlow` torch module (eval mode).
        checkpoint: the checkpoint dict (config, scalers, skeleton, start bank, ...).
        meta: the :class:`moglow.sampling.SamplingMeta` (scalers, feature layout, styles).
        source: the checkpoint file.
    """

    def __init__(self, network: Any, checkpoint: dict, source: str) -> None:
        from moglow.sampling import SamplingMeta, optimise_for_sampling

        self.network: Any = optimise_for_sampling(network)
        self.checkpoint = checkpoint
        self.meta = SamplingMeta.from_checkpoint(checkpoint)
        self.source = source

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.network.parameters())
        return (f"moglow.Model({self.source!r}: {params:,} parameters, {self.fps:g} fps, tau {self.tau}, "
                f"step {self.checkpoint.get('step')})")

    @property
    def fps(self) -> float:
        return float(self.meta.fps)

    @property
    def tau(self) -> int:
        """Context frames the model conditions on."""
        return int(self.network.tau)

    @property
    def styles(self) -> list[str]:
        """Style names a ``style=`` may name (empty: a model without styles)."""
        return list(self.meta.style_names or [])

    def path(self, path: Any = "line", seconds: float | None = 10.0):
        """The :class:`moglow.paths.Trajectory` that :meth:`sample` follows for ``path`` (a spec string
        such as ``"circle:radius=2"``, a :class:`moglow.paths.PathSpec` from ``moglow.paths.circle(...)``
        or ``moglow.paths.waypoints(...)``, or a Trajectory), covering the context frames too."""
        from moglow.paths import Trajectory, make_path, parse_path_spec

        if isinstance(path, Trajectory):
            return path
        spec = parse_path_spec(path) if isinstance(path, str) else path
        extra = self.network.tau + self.network.lookahead
        own = spec.kind in ("file", "bvh") and seconds is None
        frames = None if own else extra + int(round(float(seconds if seconds is not None else 10.0) * self.fps))
        return make_path(spec, frames, self.meta.data_config, self.meta.profile)

    def sample(self, path: Any = "line", seconds: float | None = 10.0, num: int = 1, temperature: float | None = None,
               seed: int | None = 0, style: str | int | None = None, start: str = "auto",
               precision: str = "auto", progress: bool = False, cleanup: bool = True) -> Clip:
        """Draw ``num`` motions along ``path`` in one batch.

        Args:
            path: see :meth:`path`.
            seconds: seconds to generate (None with a file/array/bvh path: its own length).
            num: samples (independent latents, same path).
            temperature: latent scale (0: the deterministic mean motion); None: the model's own
                (1.0 unless its checkpoint names one, :meth:`SamplingMeta.default_temperature`).
            seed: seeds the latents (None: random).
            style: a style name or id (models trained with styles; see :attr:`styles`).
            start: context of paths without poses: ``"auto"``, ``"bank"`` (real training motion
                matched to the path's speed) or ``"mean"`` (the mean pose).
            precision: ``"auto"`` (per device and batch size: on a CPU float32 through the fast
                frame decoder), ``"fp32"`` (the model's own path), ``"bf16"`` or ``"fp16"`` weights.
            progress: progress bar over frames.
            cleanup: clean up the feet (planted feet locked, legs by IK, feet above the floor; on by
                default, as every output of the package); False: the raw model.
        Returns:
            a :class:`Clip` (``.positions`` (N, F, J, 3) metres, ``.to_bvh()``, ``.render()``).
        """
        from moglow.sampling import sample_path

        if num < 1:
            raise UsageError(f"num must be at least 1, got {num}")
        temperature = self.meta.default_temperature() if temperature is None else temperature
        if temperature < 0:
            raise UsageError(f"temperature must not be negative, got {temperature}")
        trajectory = self.path(path, seconds)
        extra = self.network.tau + self.network.lookahead
        if trajectory.num_frames <= extra:
            raise UsageError(f"the path has {trajectory.num_frames} frames; the model needs more than "
                             f"tau + lookahead = {extra}")
        samples = sample_path(self.network, self.meta, trajectory, num=num, temperature=temperature, seed=seed,
                              style=style, progress=progress, precision=precision, start=start)
        from moglow.cleanup import skeleton_motion

        fdef, profile = self.meta.feature_def, self.meta.profile
        info = {"checkpoint": self.source, "step": self.checkpoint.get("step"), "path": trajectory.name,
                "num": num, "temperature": temperature, "seed": seed, "style": style, "fps": self.fps,
                "cleanup": cleanup}
        positions = skeleton_motion(samples.poses, samples.control, samples.start, fdef, profile, cleanup).positions
        return Clip(samples, positions, np.asarray(fdef.parents), list(fdef.joints), self.fps, fdef, info, cleanup,
                    profile)


def load(checkpoint: str | Path, device: str = "auto") -> Model:
    """Load a trained model: ``checkpoint`` is a run folder (its ``best.pt``, else ``latest.pt``) or a
    ``.pt`` file, resolved as ``--checkpoint`` is everywhere; ``device`` ``"auto"`` picks CUDA when present."""
    from moglow.checkpoint import load_model, resolve_checkpoint
    from moglow.train import resolve_device

    path = resolve_checkpoint(checkpoint, prefer="best")
    network, ckpt = load_model(path, map_location=resolve_device(device))
    return Model(network, ckpt, str(path))
