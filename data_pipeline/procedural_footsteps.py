"""Procedural gait, the plan: gait laws of speed (cadence, duty factor, walk-run blend) and the
footsteps along a control path.

Units: centimetres, seconds, radians (angles in degrees only where a name says ``_deg``);
speeds in the path are m/s (see :mod:`data_pipeline.procedural_paths`). A footstep fixes the
position of the ball of the foot (the Toes joint) for its whole stance; the stride follows from
speed and cadence, so the planted feet keep up with the root path. The body is posed on this
plan by :mod:`data_pipeline.procedural_gait`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .procedural_paths import STANDING_SPEED, ControlPath
from .procedural_skeleton import ANKLE_TO_BALL

LEFT, RIGHT = 0, 1
SIDE = np.array([1.0, -1.0])  #: +X is the character's left
MIN_STANCE = 0.08  #: s, shortest time a foot stays down between two steps
MIN_SWING = 0.2  #: s, shortest swing
MAX_SWING = 0.55  #: s, longest swing (slow steps stand longer instead)
#: fraction of the stance (ball planted) at which the ankle passes under the hip
STANCE_BIAS = 0.3
DEG = np.pi / 180.0


@dataclass
class GaitStyle:
    """Per-take style parameters (the skeleton is fixed; only the way of moving varies)."""

    name: str = "relaxed"
    speed_scale: float = 1.0  #: multiplies the path speeds
    cadence_scale: float = 1.0  #: multiplies steps per second (shorter steps when > 1)
    arm_swing_deg: float = 18.0  #: upper-arm swing amplitude when walking at 1.4 m/s
    elbow_deg: float = 15.0  #: elbow flexion when walking
    lean_deg: float = 2.0  #: forward trunk lean
    crouch: float = 1.0  #: cm the pelvis is held lower
    bob: float = 1.0  #: scale of the vertical pelvis oscillation
    step_width: float = 10.0  #: cm from the path to each ankle when walking
    toe_out_deg: float = 7.0  #: feet turned outwards
    clearance: float = 1.0  #: scale of the swing-foot lift
    heel_rise_deg: float = 15.0  #: heel lift before toe-off (more if the leg needs it)
    shoulder_hunch_deg: float = 0.0  #: shoulders drawn forward
    head_pitch_deg: float = 0.0  #: head tilted down (+) or up (-)


@dataclass
class Footsteps:
    """Planned footsteps, in time order (both feet together).

    Attributes:
        foot: (K,) int, LEFT or RIGHT.
        lift: (K,) s, when the foot leaves the floor.
        land: (K,) s, when it is planted again.
        ball: (K, 2) cm, floor position (x, z) of the ball of the foot while planted.
        yaw: (K,) radians, foot heading while planted.
    """

    foot: np.ndarray
    lift: np.ndarray
    land: np.ndarray
    ball: np.ndarray
    yaw: np.ndarray


# ---- gait laws: functions of speed (m/s) ---------------------------------------------------
def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def run_blend(v: np.ndarray) -> np.ndarray:
    """0 for walking, 1 for running, a smooth switch between 1.9 and 2.5 m/s."""
    return smoothstep((np.asarray(v) - 1.9) / 0.6)


def cadence(v: np.ndarray, style: GaitStyle) -> np.ndarray:
    """Steps per second at speed ``v`` (m/s)."""
    g = run_blend(v)
    return ((1 - g) * (0.98 + 0.63 * v) + g * (2.45 + 0.12 * v)) * style.cadence_scale


def duty_factor(v: np.ndarray) -> np.ndarray:
    """Fraction of a stride a foot is planted: > 0.5 walking (double support), < 0.5 running (flight)."""
    g = run_blend(v)
    return (1 - g) * (0.63 - 0.05 * np.minimum(v, 2.0)) + g * (0.40 - 0.02 * np.minimum(v, 4.5))


def forward_dir(theta: np.ndarray) -> np.ndarray:
    """(...,) heading -> (..., 2) unit (x, z) forward direction."""
    return np.stack([np.sin(theta), np.cos(theta)], -1)


def left_dir(theta: np.ndarray) -> np.ndarray:
    """(...,) heading -> (..., 2) unit (x, z) direction of the character's left."""
    return np.stack([np.cos(theta), -np.sin(theta)], -1)


# ---- footstep planning -----------------------------------------------------------------------
def _foot_target(path: ControlPath, t: float, foot: int, style: GaitStyle) -> tuple[np.ndarray, float]:
    """Ball position (cm, xz) and yaw for a foot planted so that its ankle passes under the hip."""
    v = float(path.at(t, "speed"))
    theta = float(path.at(t, "heading"))
    root = 100.0 * np.array([path.at(t, "x"), path.at(t, "z")])
    width = style.step_width * (1.0 - 0.6 * float(run_blend(v)))
    yaw = theta + SIDE[foot] * style.toe_out_deg * DEG * (1.0 - 0.5 * float(run_blend(v)))
    ankle = root + SIDE[foot] * width * left_dir(theta)
    return ankle + ANKLE_TO_BALL[2] * forward_dir(yaw), yaw


def _time_left_behind(path: ControlPath, ball: np.ndarray, yaw: float, t0: float, t1: float, v: float) -> float:
    """First time in [t0, t1] at which the path is more than 45 + 5 v cm (v in m/s) ahead of the
    ankle of a foot planted at ``ball`` (cm, xz) with heading ``yaw``; ``t1`` if it never is."""
    i0, i1 = np.searchsorted(path.times, [t0, t1])
    if i1 <= i0:
        return t1
    ankle = ball - ANKLE_TO_BALL[2] * forward_dir(yaw)
    ahead = np.sum((100.0 * path.xz[i0:i1] - ankle) * forward_dir(path.heading[i0:i1]), -1)
    over = np.flatnonzero(ahead > 45.0 + 5.0 * v)
    return float(path.times[i0 + over[0]]) if over.size else t1


def plan_footsteps(path: ControlPath, style: GaitStyle) -> Footsteps:
    """Alternate footsteps along ``path``, stopping and restarting with the speed.

    The path must start standing. Each step lands one step period (1 / cadence) after the
    previous one and lifts ``2 (1 - duty) / cadence`` before landing (earlier if the hip gets
    too far ahead of it); the foot is placed where the hip will be at STANCE_BIAS of its stance. When the speed has dropped to zero
    and both feet stand beside the path, stepping pauses until the path moves again.
    """
    times, speed = path.times, path.speed
    t_start, t_end = float(times[0]), float(times[-1])
    arc = np.concatenate([[0.0], np.cumsum(speed[:-1] * np.diff(times))])  # distance along the path (m)
    feet, lifts, lands, balls, yaws = [], [], [], [], []
    for f in (LEFT, RIGHT):  # the initial stance, landed before the first frame
        ball, yaw = _foot_target(path, t_start, f, style)
        feet.append(f), lifts.append(t_start - 2.0), lands.append(t_start - 1.0)
        balls.append(ball), yaws.append(yaw)
    current = {LEFT: (balls[0], yaws[0]), RIGHT: (balls[1], yaws[1])}
    last_land = {LEFT: t_start - 1.0, RIGHT: t_start - 1.0}
    prev_land, prev_lift, period = t_start - 1.0, t_start - 1.0, 0.7
    foot, at_rest = LEFT, 2
    while True:
        if at_rest >= 2:  # standing: wait for the path to move
            moving = np.flatnonzero((times > prev_land) & (speed > STANDING_SPEED))
            if moving.size == 0:
                break
            lift = float(times[moving[0]])
            v = float(path.at(lift + 0.3, "speed"))
            period = 1.0 / float(cadence(v, style))
            land = lift + float(np.clip(2.0 * (1.0 - float(duty_factor(v))) * period, MIN_SWING, MAX_SWING))
        else:
            v = float(path.at(prev_land + 0.5 * period, "speed"))
            period = 1.0 / float(cadence(v, style))
            land = prev_land + period
            lift = max(land - min(2.0 * (1.0 - float(duty_factor(v))) * period, MAX_SWING),
                       last_land[foot] + MIN_STANCE, prev_lift + 0.05)
            # never leave a foot far behind (braking through the run-walk transition would)
            lift = max(min(lift, _time_left_behind(path, *current[foot], last_land[foot], lift, v)),
                       last_land[foot] + MIN_STANCE)
            land = max(land, lift + MIN_SWING)
        if lift > t_end:
            break
        # the ankle goes where the hip will be after STANCE_BIAS of the stance at the landing speed
        # (measured along the path: accelerating, the hip passes it earlier; stopping, it is the stop)
        lead = STANCE_BIAS * 2.0 * float(duty_factor(v)) * period
        s_land = float(np.interp(land, times, arc))
        i_mid = min(int(np.searchsorted(arc, s_land + float(path.at(land, "speed")) * lead)), len(times) - 1)
        t_mid = min(float(times[i_mid]), land + 2.0 * lead)
        ball, yaw = _foot_target(path, t_mid, foot, style)
        still = path.at(t_mid, "speed") <= STANDING_SPEED and path.at(land, "speed") <= STANDING_SPEED
        at_rest = at_rest + 1 if still else 0
        old_ball, old_yaw = current[foot]
        if still and np.linalg.norm(ball - old_ball) < 3.0 and abs(yaw - old_yaw) < 5 * DEG:
            foot = 1 - foot  # already in place: no step needed
            continue
        feet.append(foot), lifts.append(lift), lands.append(land), balls.append(ball), yaws.append(yaw)
        current[foot] = (ball, yaw)
        last_land[foot], prev_land, prev_lift = land, land, lift
        foot = 1 - foot
    order = np.argsort(lands, kind="stable")
    return Footsteps(foot=np.asarray(feet)[order], lift=np.asarray(lifts)[order],
                     land=np.asarray(lands)[order], ball=np.asarray(balls)[order],
                     yaw=np.asarray(yaws)[order])


def gait_phase(steps: Footsteps, times: np.ndarray) -> np.ndarray:
    """(F,) gait phase in cycles: left landings at integers, right at half-integers.

    Piecewise linear between landings; frozen while standing (a step that starts from
    rest adds a knot at its lift-off).
    """
    knot_t, knot_p = [steps.land[0]], [0.0]
    phase = 0.0
    for k in range(2, len(steps.foot)):
        step_phase = phase + 0.5
        if (step_phase % 1.0 == 0.0) != (steps.foot[k] == LEFT):
            step_phase += 0.5
        if steps.lift[k] - steps.land[k - 1] > 0.6:  # restart after standing
            knot_t.append(steps.lift[k]), knot_p.append(phase)
        knot_t.append(steps.land[k]), knot_p.append(step_phase)
        phase = step_phase
    knot_t, knot_p = np.asarray(knot_t), np.asarray(knot_p)
    keep = np.concatenate([[True], np.diff(knot_t) > 1e-9])
    return np.interp(times, knot_t[keep], knot_p[keep])
