"""Live characters: steering + one batched model step per frame + world poses + a history to record.

:class:`LiveCharacters` owns ``B`` characters that share one :class:`moglow.streaming.MotionStreamer`
and one :class:`moglow.streaming.StreamState` (so every frame is one batched model call, whatever
``B`` is). Each frame:

1. :class:`moglow.live.steering.Steering` turns the current requests into each root's next
   position and heading and the control row ``(dx, dz, dtheta)`` the data pipeline defines;
2. the control is normalised with the checkpoint's scaler and the streamer generates the pose
   of every character (latents drawn once for the batch and scaled by each character's own
   temperature; each character has its own style);
3. the pose features are placed in the world at the root's position and heading (positions
   representation: :func:`data_pipeline.features.to_world_frame`; rotations: the exact inverse);
4. poses, control and root are appended to a ring buffer of the last ``history_seconds``, from
   which :meth:`LiveCharacters.clip` cuts a recording.

A model with lookahead ``L`` needs the control ``L`` frames ahead: the steering then runs ``L``
frames ahead of the pose shown (``L / fps`` seconds of extra delay).

Resetting a character puts it back at its spawn point with a *real* start pose: a context window
from the checkpoint's start bank whose velocity is nearest standing still (the mean pose when the
checkpoint has no bank), and its recurrent state set to the fresh (zero) state.

Nothing here is thread-safe: the caller serialises calls (the server runs every mutation in its
tick loop).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np
import torch

from data_pipeline.features import ROTATIONS, reconstruct_world_positions, to_world_frame
from moglow.live.steering import Steering, SteeringLimits
from moglow.model import MoGlow
from moglow.sampling import SamplingMeta, Samples
from moglow.streaming import MotionStreamer, StreamState
from data_pipeline.errors import InputError

__all__ = ["LiveCharacters", "LiveFrame", "assign_stream_rows"]


def _map2(a, b, fn):
    """Apply ``fn(x, y)`` to matching tensors of two nested states (tuples / lists / tensors)."""
    if a is None:
        return None
    if isinstance(a, torch.Tensor):
        return fn(a, b)
    return type(a)(_map2(x, y, fn) for x, y in zip(a, b, strict=False))


def assign_stream_rows(state: StreamState, index: Sequence[int], poses: torch.Tensor, control: torch.Tensor
                       ) -> StreamState:
    """A copy of ``state`` whose characters ``index`` start afresh.

    Args:
        state: the batch's state (B characters).
        index: k characters to restart.
        poses: (k, tau, D) normalised context poses; control: (k, tau + lookahead, C) normalised.
    Returns:
        the new state; the recurrent state of the restarted rows is zero (what a fresh stream
        starts from), the others are unchanged.
    """
    idx = torch.as_tensor(list(index), dtype=torch.long, device=state.poses.device)
    new_poses, new_control = state.poses.clone(), state.control.clone()
    new_poses[idx] = poses.to(new_poses)
    new_control[idx] = control.to(new_control)

    def zero_rows(t: torch.Tensor, _unused) -> torch.Tensor:  # batch on dim 1 (layers, B, hidden)
        t = t.clone()
        t[:, idx] = 0
        return t

    return StreamState(new_poses, new_control, _map2(state.flow, state.flow, zero_rows), state.frame)


@dataclass
class LiveFrame:
    """One generated frame of every character.

    Attributes:
        index: frame number since start.
        positions: (B, J, 3) float32 world joint positions, metres.
        root: (B, 3) root x, z (m), heading (rad) of this frame.
        speed: (B,) m/s, the root's speed along its heading.
        intended: (B, 2) m/s, the requested world velocity (what the user asked for).
        mode: (B,) steering mode (:mod:`moglow.live.steering`).
        step_seconds: time the model step took.
    """

    index: int
    positions: np.ndarray
    root: np.ndarray
    speed: np.ndarray
    intended: np.ndarray
    mode: np.ndarray
    step_seconds: float = 0.0


class LiveCharacters:
    """``num`` characters generated frame by frame by one model.

    Args:
        model: a MoGlow (call :func:`moglow.sampling.optimise_for_sampling` first).
        meta: the checkpoint's :class:`moglow.sampling.SamplingMeta`.
        num: characters.
        temperature: initial latent scale of every character.
        seed: seeds the latents, the start windows and the wandering.
        history_seconds: how much of each character's past is kept for recording.
        precision: the streamer's precision (``fp32``, ``bf16``, ``fp16``); fp32 runs through the
            float32 :class:`moglow.frame_decoder.FrameDecoder` where the couplings allow it.
        limits: steering limits (default: from the data config and the start bank).
    """

    def __init__(self, model: MoGlow, meta: SamplingMeta, num: int = 1, temperature: float = 1.0,
                 seed: int = 0, history_seconds: float = 30.0, precision: str = "fp32",
                 limits: SteeringLimits | None = None):
        if num < 1:
            raise ValueError(f"need at least one character, got {num}")
        self.model, self.meta, self.num = model, meta, int(num)
        self.fps = meta.fps
        self.tau, self.lookahead = int(model.tau), int(model.lookahead)
        self.device = next(model.parameters()).device
        bank = meta.start_bank
        self.limits = limits or SteeringLimits.from_data(meta.data_config.heading_sigma_s, self.fps,
                                                         None if bank is None else bank.velocity)
        self.steering = Steering(self.num, self.fps, self.limits, seed=seed)
        self.generator = torch.Generator(device=self.device).manual_seed(int(seed))
        # fp32: the float32 frame decoder, the same maths (to float rounding) in fewer tensor
        # operations, about twice as fast per frame for a few characters (LSTM couplings only)
        self.streamer = MotionStreamer(model, 1.0, self.generator, None, precision, use_decoder=True)
        self.temperature = np.full(self.num, float(temperature))
        names = list(meta.style_names)
        self.style = np.full(self.num, names.index("normal") if "normal" in names else -1, dtype=np.int64)
        self.frame = 0
        self.history = max(int(round(history_seconds * self.fps)), 1)
        D, C = meta.scaler.dim, meta.control_scaler.dim
        self._poses = np.zeros((self.num, self.history, D), dtype=np.float32)
        self._control = np.zeros((self.num, self.history, C), dtype=np.float32)
        self._root = np.zeros((self.num, self.history, 3), dtype=np.float64)
        self._count = np.zeros(self.num, dtype=np.int64)  # frames in each history since its reset
        self._rng = np.random.default_rng(seed)
        # steering runs `lookahead` frames ahead: roots of the frames not shown yet
        self._ahead: list[np.ndarray] = []
        self.state = self._fresh_state()
        self.world = np.zeros((self.num, len(meta.feature_def.joints), 3), dtype=np.float32)

    # ------------------------------------------------------------------ starting
    def _start_windows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(k, tau, D) un-normalised context poses and (k, tau, C) their control: real standing-still
        windows of the start bank (the ``k`` nearest, in random order), or the mean pose."""
        bank = self.meta.start_bank
        if bank is None or bank.tau != self.tau:
            return (np.broadcast_to(self.meta.scaler.mean, (k, self.tau, self.meta.scaler.dim)).copy(),
                    np.zeros((k, self.tau, self.meta.control_scaler.dim)))
        near = bank.match(np.zeros((self.tau, 3)), min(len(bank), max(8, k)))
        idx = self._rng.choice(near, size=k, replace=len(near) < k)
        return bank.poses[idx].astype(np.float64), bank.control[idx].astype(np.float64)

    def _normalised_start(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        poses, control = self._start_windows(k)
        if self.lookahead:
            control = np.concatenate([control, np.zeros((k, self.lookahead, control.shape[-1]))], axis=1)
        p = torch.as_tensor(self.meta.scaler.transform(poses), dtype=torch.float32)
        c = torch.as_tensor(self.meta.control_scaler.transform(control), dtype=torch.float32)
        return p, c

    def _fresh_state(self) -> StreamState:
        p, c = self._normalised_start(self.num)
        self._ahead = [self.steering.root() for _ in range(self.lookahead)]
        return self.streamer.start(p, c)

    def reset(self, index: Sequence[int] | None = None) -> None:
        """Restart characters ``index`` (None: all) at their spawn point from a real start pose."""
        idx = list(range(self.num)) if index is None else [int(i) for i in index]
        if not idx:
            return
        self.steering.reset(idx)
        p, c = self._normalised_start(len(idx))
        self.state = assign_stream_rows(self.state, idx, p, c)
        for root in self._ahead:
            root[idx] = self.steering.root()[idx]
        self._count[idx] = 0

    # ------------------------------------------------------------------ settings
    def set_temperature(self, index: Sequence[int], value: float) -> None:
        self.temperature[list(index)] = max(0.0, float(value))

    def set_style(self, index: Sequence[int], style: int) -> None:
        """Style id (-1: none) of characters ``index``; checked against the model's styles."""
        n = len(self.meta.style_names)
        if not -1 <= int(style) < n:
            raise InputError(f"style id {style} out of range (the model knows {n} styles)")
        self.style[list(index)] = int(style)

    # ------------------------------------------------------------------ one frame
    def step(self) -> LiveFrame:
        """Generate the next frame of every character (one batched model call)."""
        import time

        t0 = time.perf_counter()
        control = self.steering.advance()  # (B, 3), frame t + lookahead
        self._ahead.append(self.steering.root())
        root = self._ahead.pop(0)  # the root of the frame generated now
        ctrl_n = torch.as_tensor(self.meta.control_scaler.transform(control), dtype=torch.float32)
        m = self.model
        z = m.base.sample((self.num,), 1.0, self.generator).reshape(self.num, m.pose_dim)
        z = z * torch.as_tensor(self.temperature, dtype=z.dtype, device=z.device)[:, None]
        use_style = bool(self.meta.style_names) and m.num_styles > 0
        self.streamer.style = torch.as_tensor(self.style) if use_style else None
        pose, self.state = self.streamer.step(ctrl_n, self.state, z=z)
        poses = self.meta.scaler.inverse_transform(pose.float().cpu().numpy().astype(np.float64))
        row_control = self._control_of_shown(control)
        self.world = self._world(poses, row_control, root).astype(np.float32)
        slot = self.frame % self.history
        self._poses[:, slot] = poses
        self._control[:, slot] = row_control
        self._root[:, slot] = root
        self._count += 1
        self.frame += 1
        speed = self.steering.speed.copy() if not self.lookahead else self._speed_of_shown(root)
        self._last_root = root
        return LiveFrame(self.frame - 1, self.world, root, speed, self.steering.desired_velocity(),
                         self.steering.mode.copy(), time.perf_counter() - t0)

    def _control_of_shown(self, control: np.ndarray) -> np.ndarray:
        """Control row of the frame shown now (with lookahead: the row from ``L`` frames ago)."""
        if not self.lookahead:
            return control
        if not hasattr(self, "_ahead_control"):
            self._ahead_control = [np.zeros_like(control) for _ in range(self.lookahead)]
        self._ahead_control.append(control)
        return self._ahead_control.pop(0)

    def _speed_of_shown(self, root: np.ndarray) -> np.ndarray:
        prev = getattr(self, "_last_root", root)
        return np.linalg.norm(root[:, :2] - prev[:, :2], axis=-1) * self.fps

    def _world(self, poses: np.ndarray, control: np.ndarray, root: np.ndarray) -> np.ndarray:
        """(B, J, 3) world positions of one frame's poses (B, D) at roots (B, 3)."""
        fdef = self.meta.feature_def
        if fdef.representation == ROTATIONS:
            return np.stack([reconstruct_world_positions(p[None], c[None], fdef, r)[0]
                             for p, c, r in zip(poses, control, root, strict=False)])
        from data_pipeline.features import _position_columns

        cols, mask = _position_columns(fdef)
        local = np.zeros((poses.shape[0],) + cols.shape)
        local[:, mask] = poses[:, cols[mask]]
        return to_world_frame(local[:, None], root[:, None, :2], root[:, None, 2])[:, 0]

    # ------------------------------------------------------------------ recording
    def available_frames(self, character: int) -> int:
        return int(min(self._count[character], self.history, self.frame))

    def clip(self, character: int, seconds: float) -> Samples:
        """The last ``seconds`` of one character as :class:`moglow.sampling.Samples` (one sample),
        ready for :func:`moglow.export.export_samples`.

        Raises:
            InputError: fewer than two frames since the character's last reset.
        """
        n = min(self.available_frames(character), max(int(round(seconds * self.fps)), 2))
        if n < 2:
            raise InputError("nothing to record yet (fewer than two frames since the last reset)")
        slots = (self.frame - n + np.arange(n)) % self.history
        poses = self._poses[character, slots][None]
        control = self._control[character, slots][None]
        start = self._root[character, slots[0]][None]
        style = int(self.style[character])
        return Samples(poses.copy(), control.copy(), start.copy(), self.fps, float(self.temperature[character]),
                       None, path=f"live character {character}", style=None if style < 0 else style,
                       context="live input")
