"""The one way MoGlow frames are generated: :class:`MotionStreamer` stepping an explicit :class:`StreamState`.

Every sampler of the project makes its frames here: ``MoGlow.generate``,
:func:`moglow.sampling.generate_poses` (so :func:`moglow.sampling.sample_path`, ``moglow
sample``, the Python API and ``moglow evaluate``'s generation along held-out paths), and the
live server's characters (:mod:`moglow.live.characters`), which call :meth:`MotionStreamer.step`
once per displayed frame.

The recurrent state lives in a :class:`StreamState` that the caller holds and passes back in
(``pose, state = streamer.step(control, state)``), as the bijections of :mod:`moglow.flows.base`
pass theirs: nothing is hidden in the model, so any number of independent characters can
share a batch, and a state can be copied, kept or dropped freely. :meth:`MotionStreamer.generate`
is the loop over ``T`` frames of a known control signal.

A frame is decoded by the model's own float32 flow (``MoGlow.sample_stateful``: the exact
default), or by a :class:`moglow.frame_decoder.FrameDecoder` (``precision="bf16"`` /
``"fp16"``: 16-bit weights; ``use_decoder=True`` in float32: the same maths to float rounding
in fewer tensor operations), with the same latents either way.

Example::

    >>> from moglow.model import ModelConfig, MoGlow
    >>> model = MoGlow(ModelConfig(num_steps=2, hidden=16, tau=3), pose_dim=6, control_dim=3).eval()
    >>> streamer = MotionStreamer(model, temperature=0.8, generator=torch.Generator().manual_seed(0))
    >>> state = streamer.start(torch.zeros(2, 3, 6), torch.zeros(2, 3, 3))  # context (B, tau, D), control (B, tau+L, C)
    >>> for t in range(5):                                                  # one frame per call, as it arrives
    ...     pose, state = streamer.step(torch.zeros(2, 3), state)           # control (B, C) -> pose (B, D)
    >>> pose.shape
    torch.Size([2, 6])
    >>> streamer.generate(torch.zeros(2, 3, 6), torch.zeros(2, 3 + 5, 3)).shape  # a known control: (B, T, D)
    torch.Size([2, 5, 6])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from moglow.cli_checks import UsageError
from moglow.frame_decoder import FrameDecoder, check_precision, frame_decoder

__all__ = ["StreamState", "MotionStreamer"]


def _map_batch(state: Any, fn) -> Any:
    """Apply ``fn`` to every tensor of a nested flow state (tuples / lists / None)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    return type(state)(_map_batch(s, fn) for s in state)


@dataclass
class StreamState:
    """Everything a stream carries from one frame to the next (the caller owns it).

    Attributes:
        poses: ``(B, tau, D)`` the last ``tau`` poses, normalised, oldest first.
        control: ``(B, tau + lookahead, C)`` control of frames ``t - tau … t + lookahead - 1``,
            normalised.
        flow: the coupling networks' recurrent state (None before the first frame). Its
            tensors hold the batch on dim 1 (``(layers, B, hidden)``, as every recurrent
            conditioner in :mod:`moglow.flows.conditioners`).
        frame: frames generated so far.
    """

    poses: Tensor
    control: Tensor
    flow: Any = None
    frame: int = 0

    @property
    def batch(self) -> int:
        return int(self.poses.shape[0])

    def select(self, index) -> StreamState:
        """The state of some characters only (``index``: int list, slice or bool mask over B)."""
        if isinstance(index, int):
            index = [index]
        idx = index if isinstance(index, slice) else torch.as_tensor(index)
        return StreamState(self.poses[idx], self.control[idx], _map_batch(self.flow, lambda t: t[:, idx]), self.frame)


class MotionStreamer:
    """Frame-by-frame generation with the state passed explicitly.

    Args:
        model: the MoGlow model (call :func:`moglow.sampling.optimise_for_sampling` first for speed).
        temperature: latent scale (0: z = 0).
        generator: RNG for the latents (None: torch's global one); one draw of ``(B, 1, D)``
            per frame, in the model's dtype on its device.
        style: ``(B,)`` style ids or None.
        precision: ``"fp32"`` (the model's own maths), ``"bf16"`` or ``"fp16"``: each frame
            runs through the model's :func:`moglow.frame_decoder.frame_decoder` (built on the
            first streamer, about a second for the paper-size model), with the same latents.
        use_decoder: with ``"fp32"``, decode through the float32 frame decoder where the
            couplings allow it (LSTM couplings; elsewhere the model's own flow): the same maths
            to float rounding, about twice as fast per frame for a few characters.
    """

    def __init__(self, model: nn.Module, temperature: float = 1.0, generator: torch.Generator | None = None,
                 style: Tensor | None = None, precision: str = "fp32", use_decoder: bool = False):
        self.model, self.temperature, self.generator, self.style = model, float(temperature), generator, style
        self.precision = check_precision(precision)
        self.decoder: FrameDecoder | None = None
        self._zeros: Tensor | None = None
        if precision != "fp32":
            self.decoder = frame_decoder(model, precision)
        elif use_decoder:
            try:
                self.decoder = frame_decoder(model, "fp32")
            except UsageError:  # couplings the decoder does not cover: the model's own flow
                pass

    def start(self, context: Tensor, control: Tensor) -> StreamState:
        """A fresh state.

        Args:
            context: ``(B, tau, D)`` normalised poses before the first generated frame (zeros:
                the mean pose).
            control: ``(B, tau + lookahead, C)`` normalised control of the context frames and of
                the first ``lookahead`` generated frames.
        """
        m = self.model
        B = context.shape[0]
        if context.shape != (B, m.tau, m.pose_dim):
            raise ValueError(f"context must be (B, tau={m.tau}, {m.pose_dim}), got {tuple(context.shape)}")
        if control.shape != (B, m.tau + m.lookahead, m.control_dim):
            raise ValueError(f"control must be (B, tau + lookahead = {m.tau + m.lookahead}, {m.control_dim}), "
                             f"got {tuple(control.shape)}")
        p = next(m.parameters())
        return StreamState(context.to(p.device, p.dtype), control.to(p.device, p.dtype), None, 0)

    def start_at_mean(self, control: Tensor) -> StreamState:
        """A fresh state whose context is the mean pose; ``control`` as in :meth:`start`."""
        return self.start(torch.zeros(control.shape[0], self.model.tau, self.model.pose_dim), control)

    def step(self, control: Tensor, state: StreamState, z: Tensor | None = None) -> tuple[Tensor, StreamState]:
        """Generate the next frame.

        Args:
            control: ``(B, C)`` normalised control of frame ``t + lookahead`` (``t``: the frame
                being generated; without lookahead, the current frame's own control).
            state: the state returned by :meth:`start` or the previous :meth:`step`.
            z: ``(B, D)`` latent to decode instead of drawing one (temperature is then ignored).
        Returns:
            ``(pose (B, D) normalised, new state)``; ``state`` itself is left unchanged.
        """
        m = self.model
        B = state.batch
        poses = state.poses
        if tuple(control.shape) != (B, m.control_dim):
            raise ValueError(f"control must be (B={B}, {m.control_dim}), got {tuple(control.shape)}")
        with torch.inference_mode():
            if control.dtype != poses.dtype or control.device != poses.device:
                control = control.to(poses.device, poses.dtype)
            return self._advance(torch.cat([state.control, control[:, None]], 1), state, z)

    def _advance(self, window: Tensor, state: StreamState, z: Tensor | None = None) -> tuple[Tensor, StreamState]:
        """The frame after ``state`` given ``window (B, tau + 1 + lookahead, C)``, the control of
        frames ``t - tau … t + lookahead`` (:meth:`step`; :meth:`generate` slices it from the whole
        signal). Runs in inference mode (the caller's)."""
        m = self.model
        B = state.batch
        poses = state.poses
        history = torch.cat([poses, self._zero_row(poses)], 1)  # (B, tau + 1, D): the last row is not read
        cond = m.condition(history, window, None, None if self.style is None else self.style.to(poses.device))
        if z is None:
            z = m.base.sample(cond.shape[:2], self.temperature, self.generator)  # (B, 1, D)
        else:
            z = z.to(poses.device, poses.dtype).reshape(B, 1, m.pose_dim)
        if self.decoder is not None:
            pose, flow = self.decoder.decode(z[:, 0], cond[:, 0], state.flow)
            x = pose[:, None]
        else:
            x, flow = m.decode(z, cond, state.flow)
            pose = x[:, 0]
        poses = torch.cat([poses, x], 1)[:, 1:]
        return pose, StreamState(poses, window[:, 1:], flow, state.frame + 1)

    def _zero_row(self, like: Tensor) -> Tensor:
        """``(B, 1, D)`` zeros like ``like`` (kept between frames: one allocation per batch shape)."""
        row = self._zeros
        if row is None or row.shape[0] != like.shape[0] or row.dtype != like.dtype or row.device != like.device:
            with torch.inference_mode():
                row = self._zeros = like.new_zeros(like.shape[0], 1, like.shape[2])
        return row

    def generate(self, context: Tensor, control: Tensor, progress: bool = False) -> Tensor:
        """``T`` frames along a known control signal, from a fresh state.

        Args:
            context: ``(B, tau, D)`` normalised poses before the first generated frame.
            control: ``(B, tau + T + lookahead, C)`` normalised control aligned with
                ``[context, generated frames]``.
            progress: a progress bar over frames (one line when stderr is not a terminal).
        Returns:
            ``(B, T, D)`` generated (normalised) poses.
        """
        tau, la = self.model.tau, self.model.lookahead
        T = control.shape[1] - tau - la
        if T < 1:
            raise UsageError(f"control covers {control.shape[1]} frames; tau + lookahead = {tau + la} leave none to "
                             "generate")
        state = self.start(context, control[:, : tau + la])
        control = control.to(state.poses.device, state.poses.dtype)
        frames: Any = range(T)
        if progress:
            from data_pipeline.progress import progress_bar
            frames = progress_bar(frames, desc="sampling", unit="frame")
        poses = []
        with torch.inference_mode():
            for t in frames:  # what step() does with control[:, tau + la + t], the window sliced, not built
                pose, state = self._advance(control[:, t: t + tau + 1 + la], state)
                poses.append(pose)
        return torch.stack(poses, 1)
