"""Sampling a trained MoGlow: batches of characters along a path.

- :func:`sample_path` / :func:`sample_controls` draw ``N`` samples in one batch and return
  un-normalised features plus everything needed to place them in the world
  (:class:`Samples`); :mod:`moglow.export` writes them as BVH and npz.
- :func:`generate_poses` is the seeded, normalised core they share; its frames are made by
  :class:`moglow.streaming.MotionStreamer` (the one generation loop of the project, which also
  streams one frame per call for interactive use; re-exported here with :class:`StreamState`).

Conventions: poses and control inside the model are normalised with the training scalers
(:class:`SamplingMeta`); the *context* of the first generated frame is ``tau`` poses: a take's own
first ``tau`` frames for ``bvh:`` paths; for other paths, by default, a window of real training
motion matched to the path's starting velocity (:mod:`moglow.start_bank`, stored in the
checkpoint), or the mean pose (0 after normalising: what data dropout trains the model to
accept; ``start="mean"``, and checkpoints without a bank). Temperature scales the latent
(0: ``z = 0``, the deterministic mean path of the latent).

Speed: :func:`optimise_for_sampling` puts the model in eval mode, runs the LSTM couplings
step by step and stores every linear weight column-major, which lets BLAS run the per-frame
matrix-vector products at memory speed (several times faster per frame for one character on
a CPU; identical maths up to float rounding).

Precision: ``precision="auto"`` (default) picks per device and batch size
(:func:`moglow.sampling_precision.auto_precision`): on a CPU without native bf16 matrix
instructions always float32 through the :class:`moglow.frame_decoder.FrameDecoder` (the
model's maths to float rounding in fewer operations; LSTM couplings, else the model's own
path). ``"fp32"`` runs the model's own float32 maths. ``"bf16"`` and ``"fp16"`` run each
frame through a decoder whose large matrices are stored in 16 bits (half the bytes a
memory-bound frame reads; LSTM couplings only); biases, sums, LSTM states and everything
outside the big products stay float32. The latents drawn are the same as with ``"fp32"``,
so a seed gives nearly the same motion (each frame within ~1e-2 (bf16) or ~1e-3 (fp16)
normalised units of what the float32 flow gives after the same poses, as likely under the
float32 model; a long sample drifts further, as any small change does in an autoregressive
model): ``benchmarks/sample_speed.py`` prints the speed and the deviation from float32. On
the development CPU (AVX2) the 16-bit paths are slower than the float32 decoder (bf16
batches several times slower: the products are emulated).

Example::

    >>> model, ckpt = load_model("runs/locomotion")                        # doctest: +SKIP
    >>> meta = SamplingMeta.from_checkpoint(ckpt)                           # doctest: +SKIP
    >>> path = make_path("circle:radius=3", model.tau + 200, meta.data_config)  # doctest: +SKIP
    >>> samples = sample_path(optimise_for_sampling(model), meta, path, num=4, seed=0)  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from data_pipeline.config import DataConfig
from data_pipeline.features import (ROTATIONS, FeatureDefinition, integrate_control,
                                    reconstruct_world_positions)
from data_pipeline.scaler import Scaler
from moglow.frame_decoder import PRECISIONS
from moglow.sampling_precision import sampling_decoder
from moglow.start_bank import StartBank
from moglow.streaming import MotionStreamer, StreamState
from data_pipeline.errors import InputError
from moglow.cli_checks import UsageError

# the streamer: moglow.streaming
__all__ = ["SamplingMeta", "DEFAULT_TEMPERATURE", "checkpoint_temperature", "Samples", "StreamState", "MotionStreamer",
           "optimise_for_sampling", "generate_poses", "sample_controls", "sample_path", "style_indices", "PRECISIONS",
           "STARTS"]

#: how a built-in path's context is chosen (:func:`sample_path`)
STARTS = ("auto", "bank", "mean")


# ============================================================================ metadata
#: the latent temperature of a model whose checkpoint names none (1: the model's own distribution)
DEFAULT_TEMPERATURE = 1.0


def checkpoint_temperature(ckpt: dict) -> float | None:
    """The sampling temperature a checkpoint names (``ckpt["sampling"]["temperature"]``), or None."""
    t = (ckpt.get("sampling") or {}).get("temperature")
    return None if t is None else float(t)


@dataclass
class SamplingMeta:
    """What sampling needs besides the network: the feature layout, the scalers, the data config.

    Attributes:
        feature_def: the feature layout (and the source skeleton, for export).
        scaler: pose scaler (D,) of the training data.
        control_scaler: control scaler (C,).
        data_config: the data config of training (frame rate, heading smoothing, ...).
        profile: the skeleton profile (needed for ``bvh:`` paths), or None.
        style_names: style labels (index = style id).
        start_bank: real context windows of the training data (:mod:`moglow.start_bank`), or
            None (checkpoints from before it existed).
        temperature: the model's own latent temperature, as its checkpoint names it
            (``checkpoint["sampling"]["temperature"]``, written by ``moglow pretrained --pack
            --temperature``: a shipped model sampled at the temperature its card was measured at),
            or None; :meth:`default_temperature` is what every command uses unless told otherwise.
    """

    feature_def: FeatureDefinition
    scaler: Scaler
    control_scaler: Scaler
    data_config: DataConfig
    profile: Any = None
    style_names: list[str] = field(default_factory=list)
    start_bank: StartBank | None = None
    temperature: float | None = None

    @property
    def fps(self) -> float:
        return float(self.feature_def.fps)

    def default_temperature(self, fallback: float = DEFAULT_TEMPERATURE) -> float:
        """The model's own temperature if its checkpoint names one, else ``fallback``."""
        return float(self.temperature) if self.temperature is not None else fallback

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> SamplingMeta:
        """From a checkpoint dict (:func:`moglow.checkpoint.load_checkpoint`); only plain data is read."""
        from data_pipeline.profiles import SkeletonProfile
        from data_pipeline.typed_config import from_dict

        data = ckpt.get("data") or {}
        missing = [k for k in ("feature_def", "scaler", "control_scaler") if data.get(k) is None]
        if missing:
            raise InputError(f"this checkpoint carries no {', '.join(missing)} (trained on data without a feature "
                             "definition?); sampling needs them")
        cfg = from_dict(DataConfig, (ckpt.get("config") or {}).get("data") or {}, "data")
        fdef = FeatureDefinition.from_dict(dict(data["feature_def"]))
        if fdef.skeleton is None and data.get("skeleton") is not None:
            fdef.skeleton = dict(data["skeleton"])
        cfg = replace(cfg, fps=fdef.fps, heading_smoothing=fdef.heading_smoothing, heading_sigma_s=fdef.heading_sigma_s,
                      heading_equal_weights=fdef.heading_equal_weights, representation=fdef.representation)
        profile = data.get("profile")
        if isinstance(profile, dict):
            profile = from_dict(SkeletonProfile, profile, "profile")
        bank = StartBank.from_dict(data["start_bank"]) if data.get("start_bank") else None
        return cls(fdef, Scaler.from_dict(data["scaler"]), Scaler.from_dict(data["control_scaler"]), cfg, profile,
                   list(data.get("style_names") or []), bank, checkpoint_temperature(ckpt))

    @classmethod
    def from_prepared(cls, data: Any) -> SamplingMeta:
        """From a :class:`data_pipeline.prepare.PreparedData` (or an object with the same attributes)."""
        cfg = getattr(data, "config", None) or DataConfig(fps=data.feature_def.fps)
        return cls(data.feature_def, data.scaler, data.control_scaler, cfg, getattr(data, "profile", None),
                   list(getattr(data, "style_names", []) or []))


def style_indices(style: str | int | None, style_names: list[str], num: int) -> Tensor | None:
    """``(num,)`` int64 style ids for a style name or id (None: no style, -1)."""
    if style is None:
        return None
    if isinstance(style, str) and not style.lstrip("-").isdigit():
        if style not in style_names:
            raise UsageError(f"unknown style {style!r}; the model knows {', '.join(style_names) or 'no styles'}")
        sid = style_names.index(style)
    else:
        sid = int(style)
        if not -1 <= sid < len(style_names):
            raise UsageError(f"style id {sid} out of range (the model knows {len(style_names)} styles)")
    return torch.full((num,), sid, dtype=torch.long)


# ============================================================================ speed
def optimise_for_sampling(model: nn.Module, lstm_impl: str | None = "stepwise") -> nn.Module:
    """Prepare a model for frame-by-frame generation (in place; returns the model).

    - eval mode and no gradients (the LU inverse and the stacked condition weights are then
      cached by the model);
    - LSTM couplings run ``lstm_impl`` (same parameters, same maths; None keeps the model's):
      for one character a frame of the fused oneDNN kernel costs about three times a
      ``"stepwise"`` frame on a CPU; for batches of 100 they are within ~15% of each other
      (``benchmarks/sample_speed.py``);
    - every linear weight stored column-major (the transposed matrix contiguous): one
      character's frame is a chain of matrix-vector products that read each weight once, and
      BLAS streams ``x @ W.T`` fastest when ``W.T`` is contiguous. Values are unchanged, so
      results agree to float rounding.
    """
    from moglow.flows.conditioners import LSTMNet

    model.eval()
    with torch.no_grad():
        for module in model.modules():
            params = []
            if isinstance(module, nn.Linear):
                params.append(module.weight)
            if isinstance(module, LSTMNet):
                if lstm_impl is not None and hasattr(module, "impl"):
                    module.impl = lstm_impl
                params.extend(module.weight_hh)
            for p in params:
                if p.dim() == 2 and not p.t().is_contiguous():
                    p.data = p.data.t().contiguous().t()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


# ============================================================================ batched sampling
def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def generate_poses(model: nn.Module, context: Tensor, control: Tensor, temperature: float = 1.0,
                   seed: int | None = None, style: Tensor | None = None, progress: bool = False,
                   precision: str = "auto") -> Tensor:
    """Generate ``T`` frames with a seeded generator (:meth:`moglow.streaming.MotionStreamer.generate`:
    the model's own flow, ``model.generate``, or the same draws through the model's frame
    decoder), under ``torch.inference_mode``.

    Args:
        context: ``(N, tau, D)`` normalised context poses.
        control: ``(N, tau + T + lookahead, C)`` normalised control.
        temperature: latent scale (0: z = 0).
        seed: seeds the latents (None: torch's global generator).
        style: ``(N,)`` style ids or None.
        progress: tqdm bar over frames.
        precision: ``"auto"`` (default: :func:`moglow.sampling_precision.auto_precision`; on a
            CPU the float32 frame decoder, the model's maths to float rounding in fewer
            operations, for LSTM couplings), ``"fp32"`` (``model.generate`` itself), ``"bf16"``
            or ``"fp16"`` (16-bit weights in the large products, same latents; see the module
            docstring).
    Returns:
        ``(N, T, D)`` normalised poses.
    """
    device = next(model.parameters()).device
    style = None if style is None else style.to(device)
    precision, decoder = sampling_decoder(model, precision, context.shape[0])
    streamer = MotionStreamer(model, temperature, _generator(seed, device), style, precision,
                              use_decoder=decoder is not None)
    with torch.inference_mode():
        return streamer.generate(context, control, progress)


@dataclass
class Samples:
    """Generated motion, un-normalised, with what is needed to place it in the world.

    Attributes:
        poses: (N, T, D) float32 pose features of the generated frames.
        control: (N, T, C) float32 their control (row 0 is the step into the first frame; the
            integration starts from ``start`` and ignores it).
        start: (N, 3) root x, z (m) and heading (rad) at the first generated frame.
        fps: frames per second.
        temperature, seed: how they were drawn.
        path: the path spec (label).
        style: the style name or id, if any.
        ground_truth: (T, M, 3) metres: the take the path came from (``bvh:`` paths), else None.
        context: where the ``tau`` context poses came from (for reports).
    """

    poses: np.ndarray
    control: np.ndarray
    start: np.ndarray
    fps: float
    temperature: float = 1.0
    seed: int | None = None
    path: str = ""
    style: str | int | None = None
    ground_truth: np.ndarray | None = None
    context: str = ""

    @property
    def num(self) -> int:
        return int(self.poses.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[1])

    def root_paths(self) -> tuple[np.ndarray, np.ndarray]:
        """Root floor paths (N, T, 2) metres and headings (N, T) radians, from the control."""
        return integrate_control(self.control, self.start)

    def world_positions(self, feature_def: FeatureDefinition) -> np.ndarray:
        """(N, T, M, 3) float64 world positions of the model joints, metres."""
        if feature_def.representation == ROTATIONS:
            return np.stack([reconstruct_world_positions(p, c, feature_def, s)
                             for p, c, s in zip(self.poses, self.control, self.start)])
        return reconstruct_world_positions(self.poses, self.control, feature_def, self.start)


def sample_controls(model: nn.Module, meta: SamplingMeta, control: np.ndarray, num: int = 1,
                    temperature: float = 1.0, seed: int | None = 0, context: np.ndarray | None = None,
                    style: str | int | None = None, start: np.ndarray | None = None,
                    progress: bool = False, precision: str = "auto") -> Samples:
    """Draw ``num`` samples for given control signals, all in one batch.

    Args:
        model: the MoGlow model (eval mode).
        meta: scalers and feature layout.
        control: (F, C) one control signal for all samples, or (num, F, C) one each; un-normalised;
            ``F = tau + T + lookahead`` (the first ``tau`` rows belong to the context frames).
        num: number of samples.
        temperature: latent scale (0: the deterministic mean path).
        seed: seeds the latents.
        context: (tau, D) or (num, tau, D) un-normalised context poses; None: the mean pose.
        style: a style name or id (None: no style).
        start: (3,) or (num, 3) root x, z, heading at the first generated frame (default: origin, +Z).
        progress: tqdm bar over frames.
        precision: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"`` (:func:`generate_poses`).
    Returns:
        :class:`Samples` of the ``T`` generated frames.
    """
    tau, la = model.tau, model.lookahead
    control = np.asarray(control, dtype=np.float64)
    if control.ndim == 2:
        control = np.broadcast_to(control, (num,) + control.shape)
    if control.ndim != 3 or control.shape[0] != num or control.shape[2] != meta.control_scaler.dim:
        raise ValueError(f"control must be (F, {meta.control_scaler.dim}) or ({num}, F, {meta.control_scaler.dim}); "
                         f"got {control.shape}")
    T = control.shape[1] - tau - la
    if T < 1:
        raise UsageError(f"the control covers {control.shape[1]} frames; tau={tau} context frames and lookahead={la} "
                         "leave none to generate")
    dim = meta.scaler.dim
    if context is None:
        ctx = torch.zeros(num, tau, dim)
    else:
        context = np.asarray(context, dtype=np.float64)
        context = np.broadcast_to(context, (num,) + context.shape[-2:]) if context.ndim == 2 else context
        if context.shape != (num, tau, dim):
            raise ValueError(f"context must be ({tau}, {dim}) or ({num}, {tau}, {dim}); got {context.shape}")
        ctx = torch.as_tensor(meta.scaler.transform(context), dtype=torch.float32)
    ctrl = torch.as_tensor(meta.control_scaler.transform(control), dtype=torch.float32)
    out = generate_poses(model, ctx, ctrl, temperature, seed, style_indices(style, meta.style_names, num), progress,
                         precision)
    poses = meta.scaler.inverse_transform(out.float().cpu().numpy().astype(np.float64)).astype(np.float32)
    start = np.zeros((num, 3)) if start is None else np.broadcast_to(np.asarray(start, dtype=np.float64), (num, 3))
    return Samples(poses, control[:, tau: tau + T].astype(np.float32), np.array(start), meta.fps, float(temperature),
                   seed, style=style)


def sample_path(model: nn.Module, meta: SamplingMeta, trajectory, num: int = 1, temperature: float = 1.0,
                seed: int | None = 0, style: str | int | None = None, progress: bool = False,
                precision: str = "auto", start: str = "auto") -> Samples:
    """Draw ``num`` samples along a :class:`moglow.paths.Trajectory` (in one batch).

    The first ``tau`` frames of the trajectory are the context; frames ``tau … F - lookahead - 1``
    are generated. ``precision``: as for :func:`generate_poses`.

    ``start`` chooses the context of paths without poses of their own (``bvh:`` paths always
    start from the take's first ``tau`` frames): ``"bank"`` real training windows matched to
    the path's velocity over its first ``tau`` frames (:meth:`StartBank.match`; sample ``i``
    gets the ``i``-th nearest; the context frames keep the window's own control, which the
    generated frames never integrate), ``"mean"`` the mean pose, ``"auto"`` the bank when the
    checkpoint has one, else the mean pose.
    """
    if start not in STARTS:
        raise UsageError(f"start must be one of {', '.join(STARTS)}; got {start!r}")
    tau = model.tau
    context, control, label = None, trajectory.control(), "mean pose"
    if trajectory.poses is not None:
        context, label = trajectory.poses[:tau], "the take's first tau frames"
    elif start == "bank" or (start == "auto" and meta.start_bank is not None):
        bank = meta.start_bank
        if bank is None:
            raise UsageError("this checkpoint has no start bank (trained before it existed); use start='mean'")
        if bank.tau != tau:
            raise InputError(f"the start bank holds {bank.tau}-frame windows but the model's tau is {tau}")
        idx = bank.match(control[:tau], num)
        context = bank.poses[idx]
        control = np.repeat(control[None], num, axis=0)
        control[:, :tau] = bank.control[idx]
        names = list(dict.fromkeys(bank.sources[i] for i in idx)) if bank.sources else []
        label = "real training windows" + (f" from {', '.join(names[:4])}" + (", ..." if len(names) > 4 else "")
                                           if names else "")
    samples = sample_controls(model, meta, control, num, temperature, seed, context, style,
                              start=trajectory.start(tau), progress=progress, precision=precision)
    samples.path, samples.context = trajectory.name, label
    if trajectory.ground_truth is not None:
        samples.ground_truth = trajectory.ground_truth[tau: tau + samples.num_frames]
    return samples
