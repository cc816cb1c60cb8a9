"""Live input -> the model's control signal, for a batch of characters.

The user asks for a *desired velocity* (a direction on the floor and a speed) or a point to
walk to; the character's root follows it the way a person does: the heading turns towards the
desired direction with a limited turn rate and turn acceleration, the speed changes with a
limited acceleration, and the character slows down while it turns sharply. That gives a root
trajectory ``p_t`` (m) and heading ``theta_t`` (rad) one frame at a time, and the control row of
frame ``t`` is exactly the data pipeline's (:func:`data_pipeline.features.control_from_trajectory`
on frames ``t-1, t``)::

    (dx_t, dz_t) = Ry(theta_{t-1})^T (p_t - p_{t-1}),   dtheta_t = wrap(theta_t - theta_{t-1})

Heading smoothing: training headings were smoothed with a Gaussian of ``heading_sigma_s``
(centred, so it looks into the future). A live input has no future, so the smoothing here is
causal: the turn rate is a rate- and acceleration-limited follower of the heading error, whose
response time is set from the same width (``turn_time_s = 2 * heading_sigma_s``, at least one
frame). The result turns as smoothly as the training data without the half-second delay a
centred filter would add.

Conventions: world Y up, floor (x, z), heading ``theta`` with forward ``(sin theta, cos theta)``;
a positive ``dtheta`` turns left (towards +X from +Z). Arrays are ``(B, ...)`` over characters,
float64.

Example::

    >>> steer = Steering(num=2, fps=20.0)
    >>> steer.set_velocity([1], direction=[[1.0, 0.0]], speed=[1.2])   # character 1: walk towards +X
    >>> steer.advance().shape                                           # dx, dz, dtheta per character
    (2, 3)
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

from data_pipeline.features import control_from_trajectory
from data_pipeline.heading import wrap_angle

__all__ = ["SteeringLimits", "Steering", "MODE_VELOCITY", "MODE_TARGET", "MODE_WANDER"]

MODE_VELOCITY, MODE_TARGET, MODE_WANDER = 0, 1, 2


@dataclass
class SteeringLimits:
    """How fast a character may change its motion (SI units).

    Attributes:
        max_speed: m/s, the fastest commanded speed (faster requests are clipped).
        max_accel: m/s^2, speed change per second (up and down).
        max_turn_rate: rad/s.
        max_turn_accel: rad/s^2, turn-rate change per second.
        turn_time_s: response time of the heading (turn rate = heading error / turn_time_s).
        turn_slowdown: 0..1; at a heading error of pi the speed target is scaled by
            ``1 - turn_slowdown`` (cosine in between): people slow down to turn around.
        arrive_radius: m, click-to-walk slows down inside this distance and stops inside a tenth of it.
    """

    max_speed: float = 3.0
    max_accel: float = 2.5
    max_turn_rate: float = 3.0
    max_turn_accel: float = 12.0
    turn_time_s: float = 0.4
    turn_slowdown: float = 0.8
    arrive_radius: float = 1.5

    @classmethod
    def from_data(cls, heading_sigma_s: float, fps: float, bank_velocity: np.ndarray | None = None
                  ) -> SteeringLimits:
        """Limits that fit the training data.

        Args:
            heading_sigma_s: the data config's heading smoothing width (s).
            fps: the model's frame rate.
            bank_velocity: (N, 3) sideways m/s, forward m/s, turn rad/s of real training windows
                (:attr:`moglow.start_bank.StartBank.velocity`); the 99th percentiles of forward speed
                and turn rate bound the commands (kept within [1, 6] m/s and [1, 6] rad/s).
        """
        lim = cls(turn_time_s=max(2.0 * float(heading_sigma_s), 1.0 / float(fps)))
        if bank_velocity is not None and len(bank_velocity) >= 8:
            v = np.asarray(bank_velocity, dtype=np.float64)
            lim.max_speed = float(np.clip(np.percentile(np.abs(v[:, 1]), 99), 1.0, 6.0))
            lim.max_turn_rate = float(np.clip(np.percentile(np.abs(v[:, 2]), 99), 1.0, 6.0))
        return lim


class Steering:
    """Root trajectories of ``num`` characters driven by desired velocities, targets or wandering.

    Args:
        num: characters.
        fps: frames per second.
        limits: :class:`SteeringLimits`.
        start: (num, 3) x, z (m), heading (rad) of each character (default: a row along x, 2 m apart).
        seed: seeds the wandering.

    Attributes:
        xz (B, 2), theta (B,), speed (B,) m/s along the heading, turn_rate (B,) rad/s: the state.
        mode (B,) int: :data:`MODE_VELOCITY`, :data:`MODE_TARGET` or :data:`MODE_WANDER`.
        desired_dir (B, 2) unit or zero, desired_speed (B,) m/s: the current request.
        target (B, 2): click-to-walk targets (MODE_TARGET).
    """

    def __init__(self, num: int, fps: float, limits: SteeringLimits | None = None,
                 start: np.ndarray | None = None, seed: int = 0):
        self.num, self.fps = int(num), float(fps)
        self.limits = limits or SteeringLimits()
        if start is None:
            start = np.zeros((self.num, 3))
            start[:, 0] = 2.0 * (np.arange(self.num) - (self.num - 1) / 2.0)
        self.spawn = np.array(start, dtype=np.float64).reshape(self.num, 3)
        self.rng = np.random.default_rng(seed)
        self.xz = self.spawn[:, :2].copy()
        self.theta = self.spawn[:, 2].copy()
        self.speed = np.zeros(self.num)
        self.turn_rate = np.zeros(self.num)
        self.mode = np.full(self.num, MODE_VELOCITY, dtype=np.int64)
        self.desired_dir = np.zeros((self.num, 2))
        self.desired_speed = np.zeros(self.num)
        self.target = np.zeros((self.num, 2))
        self._wander_heading = self.theta.copy()
        self._wander_speed = np.full(self.num, 1.2)

    # ------------------------------------------------------------------ requests
    def set_velocity(self, index: Sequence[int] | np.ndarray, direction: np.ndarray, speed: np.ndarray) -> None:
        """Characters ``index`` walk in world ``direction`` (k, 2) (normalised here; zero: stop) at
        ``speed`` (k,) m/s (clipped to ``[0, max_speed]``)."""
        idx = np.asarray(index, dtype=np.int64)
        d = np.asarray(direction, dtype=np.float64).reshape(len(idx), 2)
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        self.desired_dir[idx] = np.where(n > 1e-9, d / np.maximum(n, 1e-12), 0.0)
        self.desired_speed[idx] = np.where(n[:, 0] > 1e-9, np.clip(np.asarray(speed, dtype=np.float64), 0.0,
                                                                     self.limits.max_speed), 0.0)
        self.mode[idx] = MODE_VELOCITY

    def set_target(self, index: Sequence[int] | np.ndarray, point: np.ndarray, speed: np.ndarray) -> None:
        """Characters ``index`` walk to world ``point`` (k, 2) m at up to ``speed`` (k,) m/s and stop."""
        idx = np.asarray(index, dtype=np.int64)
        self.target[idx] = np.asarray(point, dtype=np.float64).reshape(len(idx), 2)
        self.desired_speed[idx] = np.clip(np.asarray(speed, dtype=np.float64), 0.0, self.limits.max_speed)
        self.mode[idx] = MODE_TARGET

    def set_wander(self, index: Sequence[int] | np.ndarray, speed: np.ndarray | None = None) -> None:
        """Characters ``index`` wander on smooth random paths (within ~12 m of the origin)."""
        idx = np.asarray(index, dtype=np.int64)
        self.mode[idx] = MODE_WANDER
        self._wander_heading[idx] = self.theta[idx]
        if speed is not None:
            self._wander_speed[idx] = np.clip(np.asarray(speed, dtype=np.float64), 0.0, self.limits.max_speed)

    def reset(self, index: Sequence[int] | np.ndarray) -> None:
        """Back to the spawn point, standing still; requests cleared (wanderers keep wandering)."""
        idx = np.asarray(index, dtype=np.int64)
        self.xz[idx] = self.spawn[idx, :2]
        self.theta[idx] = self.spawn[idx, 2]
        self.speed[idx] = 0.0
        self.turn_rate[idx] = 0.0
        self.desired_dir[idx] = 0.0
        self.desired_speed[idx] = 0.0
        self.mode[idx] = np.where(self.mode[idx] == MODE_WANDER, MODE_WANDER, MODE_VELOCITY)
        self._wander_heading[idx] = self.theta[idx]

    # ------------------------------------------------------------------ one frame
    def _update_requests(self) -> None:
        """Turn targets and wandering into desired directions and speeds for this frame."""
        lim, dt = self.limits, 1.0 / self.fps
        tgt = self.mode == MODE_TARGET
        if tgt.any():
            to = self.target[tgt] - self.xz[tgt]
            dist = np.linalg.norm(to, axis=-1)
            arrived = dist < 0.1 * lim.arrive_radius
            self.desired_dir[tgt] = np.where(arrived[:, None], 0.0, to / np.maximum(dist, 1e-9)[:, None])
            scale = np.clip(dist / lim.arrive_radius, 0.0, 1.0)
            self.desired_speed[tgt] = np.where(arrived, 0.0, self.desired_speed[tgt])
            self._arrive_scale = np.ones(self.num)
            self._arrive_scale[tgt] = np.where(arrived, 0.0, np.maximum(scale, 0.3))
        else:
            self._arrive_scale = np.ones(self.num)
        wan = self.mode == MODE_WANDER
        if wan.any():
            k = int(wan.sum())
            # a random walk of the wanted heading (~40 deg/s), pulled home beyond 12 m
            self._wander_heading[wan] += np.radians(40.0) * np.sqrt(dt) * self.rng.normal(size=k)
            far = np.linalg.norm(self.xz[wan], axis=-1) > 12.0
            home = np.arctan2(-self.xz[wan, 0], -self.xz[wan, 1])
            err = wrap_angle(home - self._wander_heading[wan])
            self._wander_heading[wan] += np.where(far, np.clip(err, -2.0 * dt, 2.0 * dt), 0.0)
            h = self._wander_heading[wan]
            self.desired_dir[wan] = np.stack([np.sin(h), np.cos(h)], -1)
            self.desired_speed[wan] = self._wander_speed[wan]

    def advance(self) -> np.ndarray:
        """Move every character one frame; returns the (B, 3) control row (dx, dz m/frame, dtheta rad/frame)."""
        lim, dt = self.limits, 1.0 / self.fps
        self._update_requests()
        moving = (self.desired_speed > 0) & (np.linalg.norm(self.desired_dir, axis=-1) > 0)
        want = np.arctan2(self.desired_dir[:, 0], self.desired_dir[:, 1])
        err = np.where(moving, wrap_angle(want - self.theta), 0.0)
        # turn rate: follow the heading error, limited in rate and in acceleration
        rate_goal = np.clip(err / max(lim.turn_time_s, dt), -lim.max_turn_rate, lim.max_turn_rate)
        step = lim.max_turn_accel * dt
        new_rate = self.turn_rate + np.clip(rate_goal - self.turn_rate, -step, step)
        # never overshoot the wanted heading within this frame
        new_rate = np.where((np.abs(new_rate * dt) > np.abs(err)) & (np.sign(new_rate) == np.sign(err)),
                            err / dt, new_rate)
        new_theta = self.theta + new_rate * dt
        # speed: slow down while turning sharply; acceleration-limited
        slow = 1.0 - lim.turn_slowdown * 0.5 * (1.0 - np.cos(err))
        speed_goal = np.where(moving, self.desired_speed * slow * self._arrive_scale, 0.0)
        dv = lim.max_accel * dt
        new_speed = self.speed + np.clip(speed_goal - self.speed, -dv, dv)
        # the step along the mean heading of the frame (the midpoint rule of moglow.paths)
        mid = 0.5 * (self.theta + new_theta)
        v = 0.5 * (self.speed + new_speed) * dt
        new_xz = self.xz + v[:, None] * np.stack([np.sin(mid), np.cos(mid)], -1)
        control = control_from_trajectory(np.stack([self.xz, new_xz], 1), np.stack([self.theta, new_theta], 1))[:, 1]
        self.xz, self.theta, self.speed, self.turn_rate = new_xz, new_theta, new_speed, new_rate
        return control

    def root(self) -> np.ndarray:
        """(B, 3) x, z (m) and heading (rad) now."""
        return np.concatenate([self.xz, self.theta[:, None]], axis=1)

    def desired_velocity(self) -> np.ndarray:
        """(B, 2) the requested world velocity (m/s): the intended direction times the requested speed."""
        return self.desired_dir * self.desired_speed[:, None]
