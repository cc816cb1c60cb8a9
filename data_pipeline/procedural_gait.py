"""Procedural gait: footsteps, foot trajectories, pelvis motion, leg IK and upper body.

Everything is computed as arrays over frames; the only Python loop walks over footsteps.
Units: centimetres, seconds, radians (angles in degrees only where a name says ``_deg``);
speeds in the path are m/s (see :mod:`data_pipeline.procedural_paths`).

How foot skating is avoided: a footstep fixes the position of the ball of the foot (the
Toes joint) for the whole stance phase; the heel may rise about it, and the hip height is
limited so that the two-bone leg can always reach the planted foot (analytic IK). The stride
follows from speed and cadence, so the planted feet keep up with the root path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, minimum_filter1d

from .procedural_paths import STANDING_SPEED, ControlPath
from .procedural_skeleton import (
    ANKLE_TO_BALL,
    ANKLE_TO_HEEL,
    BALL_HEIGHT,
    BALL_TO_TIP,
    HIP_DROP,
    HIP_HALF_WIDTH,
    SHIN,
    STANDING_HIPS_HEIGHT,
    THIGH,
    apply,
    rot_x,
    rot_y,
    rot_z,
)

LEFT, RIGHT = 0, 1
SIDE = np.array([1.0, -1.0])  #: +X is the character's left
MIN_STANCE = 0.08  #: s, shortest time a foot stays down between two steps
MIN_SWING = 0.2  #: s, shortest swing
MAX_SWING = 0.55  #: s, longest swing (slow steps stand longer instead)
#: fraction of the stance (ball planted) at which the ankle passes under the hip
STANCE_BIAS = 0.3
REACH = 0.998 * (THIGH + SHIN)  #: longest hip-ankle distance the IK is asked for (cm)
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


@dataclass
class GaitResult:
    """World-space pose of every joint over frames.

    Attributes:
        world_rot: dict joint name -> (F, 3, 3) world rotation.
        root_pos: (F, 3) cm, Hips position.
        contact: (F, 2) bool, foot planted (left, right).
        phase: (F,) gait phase in cycles (left foot lands at integers).
        footsteps: the plan.
    """

    world_rot: dict[str, np.ndarray]
    root_pos: np.ndarray
    contact: np.ndarray
    phase: np.ndarray
    footsteps: Footsteps


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


def _forward(theta: np.ndarray) -> np.ndarray:
    """(...,) heading -> (..., 2) unit (x, z) forward direction."""
    return np.stack([np.sin(theta), np.cos(theta)], -1)


def _left(theta: np.ndarray) -> np.ndarray:
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
    ankle = root + SIDE[foot] * width * _left(theta)
    return ankle + ANKLE_TO_BALL[2] * _forward(yaw), yaw


def _time_left_behind(path: ControlPath, ball: np.ndarray, yaw: float, t0: float, t1: float, v: float) -> float:
    """First time in [t0, t1] at which the path is more than 45 + 5 v cm (v in m/s) ahead of the
    ankle of a foot planted at ``ball`` (cm, xz) with heading ``yaw``; ``t1`` if it never is."""
    i0, i1 = np.searchsorted(path.times, [t0, t1])
    if i1 <= i0:
        return t1
    ankle = ball - ANKLE_TO_BALL[2] * _forward(yaw)
    ahead = np.sum((100.0 * path.xz[i0:i1] - ankle) * _forward(path.heading[i0:i1]), -1)
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


# ---- per-frame foot state ------------------------------------------------------------------------
@dataclass
class _FootState:
    stance: np.ndarray  # (F,) bool
    ball_from: np.ndarray  # (F, 2) planted ball (stance) or where the swing started
    ball_to: np.ndarray  # (F, 2) where the swing ends (== ball_from in stance)
    yaw_from: np.ndarray
    yaw_to: np.ndarray
    s: np.ndarray  # (F,) swing progress 0..1 (0 in stance)
    to_lift: np.ndarray  # (F,) s until the next lift-off (inf if none)
    stance_len: np.ndarray  # (F,) s, duration of the current stance
    lift_time: np.ndarray  # (F,) s, lift-off time of the current swing
    land_time: np.ndarray  # (F,) s, landing time of the current swing
    step_len: np.ndarray  # (F,) cm, distance travelled by the current swing


def _foot_state(steps: Footsteps, foot: int, times: np.ndarray) -> _FootState:
    sel = steps.foot == foot
    lift, land, ball, yaw = steps.lift[sel], steps.land[sel], steps.ball[sel], steps.yaw[sel]
    j = np.searchsorted(land, times, side="right") - 1  # last landed step (>= 0: initial stance)
    nxt = np.minimum(j + 1, len(land) - 1)
    has_next = j + 1 < len(land)
    next_lift = np.where(has_next, lift[nxt], np.inf)
    swing = has_next & (times >= next_lift)
    k_to = np.where(swing, nxt, j)
    dur = np.where(swing, land[nxt] - lift[nxt], 1.0)
    s = np.where(swing, (times - np.where(swing, lift[nxt], 0.0)) / dur, 0.0)
    return _FootState(
        stance=~swing, ball_from=ball[j], ball_to=ball[k_to], yaw_from=yaw[j], yaw_to=yaw[k_to],
        s=np.clip(s, 0.0, 1.0), to_lift=next_lift - times,
        stance_len=np.where(has_next, next_lift - land[j], np.inf),
        lift_time=np.where(swing, lift[nxt], times), land_time=np.where(swing, land[nxt], times),
        step_len=np.linalg.norm(ball[k_to] - ball[j], axis=-1))


def _swing_ease(s: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero velocity at both ends and the fastest part early (s = 1/3), as a swinging foot."""
    return 1.0 - (1.0 - s) ** 3 * (1.0 + 3.0 * s)


def _min_jerk(s: np.ndarray) -> np.ndarray:
    """0 -> 1, symmetric, zero velocity and acceleration at both ends."""
    return s ** 3 * (10.0 - 15.0 * s + 6.0 * s * s)


def _required_pitch(hip: np.ndarray, ball: np.ndarray, yaw: np.ndarray, p_min: np.ndarray,
                    reach: np.ndarray | float = REACH) -> np.ndarray:
    """Smallest foot pitch >= p_min (heel up about the planted ball) that brings the ankle within reach.

    Args: hip (F,3) hip joint, ball (F,3) Toes joint, yaw (F,), p_min (F,) radians, reach (F,) cm.
    Returns: (F,) radians, at most 80 degrees.
    """
    q = apply(np.swapaxes(rot_y(yaw), -1, -2), hip - ball)  # hip in the foot's frame
    vy, vz = -ANKLE_TO_BALL[1], -ANKLE_TO_BALL[2]  # ankle from ball at pitch 0
    a_cos = vy * q[:, 1] + vz * q[:, 2]
    a_sin = vy * q[:, 2] - vz * q[:, 1]
    amp = np.hypot(a_cos, a_sin)
    delta = np.arctan2(a_sin, a_cos)
    c = (np.sum(q * q, -1) + vy * vy + vz * vz - reach ** 2) / (2.0 * np.maximum(amp, 1e-9))
    half = np.arccos(np.clip(c, -1.0, 1.0))
    lo, hi = delta - half, delta + half
    p = np.where(p_min < lo, lo, np.where(p_min > hi, hi, p_min))
    p = np.where(c <= -1.0, p_min, np.where(c >= 1.0, delta, p))
    return np.clip(p, p_min, 80 * DEG)


# ---- the whole body ---------------------------------------------------------------------------------
def _two_bone_ik(hip: np.ndarray, ankle: np.ndarray, pole: np.ndarray, soft: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """World rotations of thigh and shin reaching from ``hip`` to ``ankle`` (both (F,3) cm).

    The knee bends towards ``pole`` (F,3) (forward). Rest bones point down (-Y) with +Z forward.
    ``soft`` (F,) in [0, 1] blends in a soft limit: a target near or beyond full extension is
    approached smoothly (the leg straightens without a kink and falls a little short).
    Returns (thigh (F,3,3), shin (F,3,3)).
    """
    d = ankle - hip
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / np.maximum(dist, 1e-9)
    if soft is not None:
        full, start = THIGH + SHIN, 0.97 * (THIGH + SHIN)
        squashed = full - (full - start) * np.exp(-(dist - start) / (full - start))
        dist = np.where(dist > start, dist + soft[:, None] * (squashed - dist), dist)
    dist = np.clip(dist, abs(THIGH - SHIN) + 1e-3, (THIGH + SHIN) * 0.99999)
    pole_perp = pole - np.sum(pole * u, -1, keepdims=True) * u
    pole_perp /= np.maximum(np.linalg.norm(pole_perp, axis=-1, keepdims=True), 1e-9)
    cos_a = (THIGH ** 2 + dist ** 2 - SHIN ** 2) / (2 * THIGH * dist)
    sin_a = np.sqrt(np.clip(1 - cos_a ** 2, 0.0, 1.0))
    thigh_dir = cos_a * u + sin_a * pole_perp
    knee = hip + THIGH * thigh_dir
    shin_dir = (hip + dist * u - knee) / SHIN
    y_t = -thigh_dir
    z_t = pole_perp - np.sum(pole_perp * y_t, -1, keepdims=True) * y_t
    z_t /= np.linalg.norm(z_t, axis=-1, keepdims=True)
    x_t = np.cross(y_t, z_t)
    y_s = -shin_dir / np.linalg.norm(shin_dir, axis=-1, keepdims=True)
    z_s = np.cross(x_t, y_s)
    return np.stack([x_t, y_t, z_t], -1), np.stack([x_t, y_s, z_s], -1)


def synthesize_gait(path: ControlPath, style: GaitStyle) -> GaitResult:
    """Pose the whole body along ``path`` (which must start standing)."""
    times = path.times
    fps = 1.0 / float(times[1] - times[0])
    num = len(times)
    v = path.speed
    g = run_blend(v)
    duty = duty_factor(v)
    active = smoothstep(v / 0.5)
    theta = path.heading
    steps = plan_footsteps(path, style)
    phase = gait_phase(steps, times)
    cyc = 2 * np.pi * phase
    feet = [_foot_state(steps, f, times) for f in (LEFT, RIGHT)]

    # ---- pelvis: orientation, sway, height -----------------------------------------------------
    accel = np.gradient(gaussian_filter1d(v, 0.15 * fps, mode="nearest"), 1.0 / fps)
    lean = (style.lean_deg + (1 - g) * 1.5 * v + g * (3.0 + 1.0 * v)
            + np.clip(3.0 * accel, -6.0, 8.0)) * DEG
    bank = np.clip(-3.0 * v * path.turn_rate, -15.0, 15.0) * DEG  # lean into turns
    yaw_osc = -active * ((1 - g) * (2.0 + 2.0 * v) + g * 5.0) * DEG * np.cos(cyc)
    roll = active * (1 - 0.6 * g) * 4.0 * DEG * np.sin(cyc) + 0.4 * bank
    tilt = 0.3 * lean
    hips_rot = rot_y(theta + yaw_osc) @ rot_x(tilt) @ rot_z(roll)
    sway = active * ((1 - g) * np.clip(3.0 - 0.8 * v, 1.0, 3.0) + g * 0.8) * np.sin(cyc)
    hips_xz = 100.0 * path.xz + sway[:, None] * _left(theta)

    # walking: the reach limit of the legs makes the dips at double support; running: low in stance
    bob_amp = active * style.bob * ((1 - g) * 0.6 + g * 3.5)
    bob = bob_amp * (1 - 2 * g) * np.cos(2 * np.pi * 2 * (phase - duty / 2))
    design_y = STANDING_HIPS_HEIGHT - 0.4 - style.crouch - active * g * 4.0 + bob

    hip_off = [apply(hips_rot, np.array([SIDE[f] * HIP_HALF_WIDTH, -HIP_DROP, 0.0])) for f in (LEFT, RIGHT)]
    ball_rest = [np.stack([st.ball_from[:, 0], np.full(num, BALL_HEIGHT), st.ball_from[:, 1]], -1)
                 for st in feet]
    # the heel rises about the planted ball over the last part of stance (more if the leg needs it)
    push = [np.clip(1.0 - st.to_lift / np.clip(0.5 * st.stance_len, 0.08, 0.4), 0.0, 1.0) ** 2 for st in feet]
    heel_rise = [style.heel_rise_deg * DEG * smoothstep(v / 0.8) * x for x in push]

    bounds = [design_y]
    for f, st in enumerate(feet):
        fwd = _forward(st.yaw_from)
        ankle0 = ball_rest[f] - apply(rot_y(st.yaw_from), ANKLE_TO_BALL)
        hip_xz = hips_xz + hip_off[f][:, [0, 2]]
        behind = smoothstep(-np.sum((ankle0[:, [0, 2]] - hip_xz) * fwd, -1) / 25.0)
        cap = heel_rise[f] + np.maximum(70 * DEG - heel_rise[f], 0.0) * behind
        ankle_cap = ball_rest[f] - apply(rot_y(st.yaw_from) @ rot_x(cap), ANKLE_TO_BALL)
        dxz2 = np.sum((ankle_cap[:, [0, 2]] - hip_xz) ** 2, -1)
        bound = ankle_cap[:, 1] + np.sqrt(np.maximum(REACH ** 2 - dxz2, 0.0)) - hip_off[f][:, 1]
        bounds.append(np.where(st.stance, bound, np.inf))
    hips_y = np.min(bounds, axis=0)
    # smooth the kinks of the minimum, staying (nearly) below it; less when running (short flights)
    smoothed = [gaussian_filter1d(minimum_filter1d(hips_y, size=2 * int(np.ceil(2.0 * sd * fps)) + 1,
                                                   mode="nearest"), sd * fps, mode="nearest")
                for sd in (0.05, 0.025)]
    hips_y = (1 - g) * smoothed[0] + g * smoothed[1]
    hips_pos = np.stack([hips_xz[:, 0], hips_y, hips_xz[:, 1]], -1)

    # ---- feet ---------------------------------------------------------------------------------
    world: dict[str, np.ndarray] = {"Hips": hips_rot}
    contact = np.stack([st.stance for st in feet], -1)
    hips_fwd = apply(hips_rot, np.array([0.0, 0.0, 1.0]))
    for f, st in enumerate(feet):
        side = "_L" if f == LEFT else "_R"
        hip = hips_pos + hip_off[f]
        # pre-swing: the knee flexes before toe-off (the leg must fall short of its full reach)
        reach = REACH - smoothstep(v / 0.5) * (4.0 - 1.5 * g) * push[f]
        p_stance = _required_pitch(hip, ball_rest[f], st.yaw_from, heel_rise[f], reach)
        lift_idx = np.clip(np.ceil((st.lift_time - times[0]) * fps - 1e-9).astype(int) - 1, 0, num - 1)
        p_off = p_stance[lift_idx]
        s = st.s
        vf = np.interp(st.lift_time, times, v)
        gf = run_blend(vf)
        e = (1 - gf) * _swing_ease(s) + gf * _min_jerk(s)  # a running foot stays behind longer
        # toe-off: the foot keeps rotating heel-up after lift-off, then swings level
        p_swing = (p_off * (1 - smoothstep(s / 0.7)) + 15 * DEG * np.sin(np.pi * np.clip(s / 0.5, 0, 1))
                   + gf * 20 * DEG * np.sin(np.pi * s) ** 2
                   - (1 - gf) * 14 * DEG * np.sin(np.pi * np.clip((s - 0.55) / 0.45, 0, 1)))
        pitch = np.where(st.stance, p_stance, p_swing)
        toe_flex = np.where(st.stance, -p_stance, -p_off * (1 - smoothstep(s / 0.35)))
        yaw = st.yaw_from + (st.yaw_to - st.yaw_from) * e
        lift_h = style.clearance * ((1 - gf) * (5.0 + 4.0 * vf) + gf * (6.0 + 5.0 * vf))
        lift_h = lift_h * np.clip(st.step_len / 40.0 + 0.25, 0.25, 1.0)
        bump = np.sin(np.pi * s ** (0.75 - 0.2 * gf)) ** 1.5  # flat at both ends; running: earlier
        # the swinging foot moves between the footprints partly in the body's frame, so it keeps up
        # with the hip instead of waiting far ahead of it (both blends leave the ends unchanged)
        on_floor = st.ball_from + (st.ball_to - st.ball_from) * e[:, None]
        hip_lift = np.stack([np.interp(st.lift_time, times, hips_xz[:, i]) for i in (0, 1)], -1)
        hip_land = np.stack([np.interp(st.land_time, times, hips_xz[:, i]) for i in (0, 1)], -1)
        with_body = hips_xz + (st.ball_from - hip_lift) + ((st.ball_to - hip_land) - (st.ball_from - hip_lift)) * e[:, None]
        xz = on_floor + (smoothstep(s / 0.2) * smoothstep((1.0 - s) / 0.2))[:, None] * (with_body - on_floor)
        ball = np.stack([xz[:, 0], BALL_HEIGHT + np.where(st.stance, 0.0, lift_h * bump), xz[:, 1]], -1)
        foot_rot = rot_y(yaw) @ rot_x(pitch)
        toes_rot = foot_rot @ rot_x(toe_flex)
        # keep heel and toe tip above the floor during swing
        heel_y = ball[:, 1] + apply(foot_rot, ANKLE_TO_HEEL - ANKLE_TO_BALL)[:, 1]
        tip_y = ball[:, 1] + apply(toes_rot, BALL_TO_TIP)[:, 1]
        ball[:, 1] += np.where(st.stance, 0.0, np.maximum(0.0, -np.minimum(heel_y, tip_y)))
        ankle = ball - apply(foot_rot, ANKLE_TO_BALL)
        pole = apply(rot_y(yaw), np.array([0.0, 0.0, 1.0])) + hips_fwd
        soft = np.where(st.stance, 0.0, smoothstep((1.0 - s) / 0.15))  # exact at landing
        thigh, shin = _two_bone_ik(hip, ankle, pole, soft=soft)
        world["UpperLeg" + side], world["LowerLeg" + side] = thigh, shin
        world["Foot" + side], world["Toes" + side] = foot_rot, toes_rot

    # ---- trunk, head ----------------------------------------------------------------------------------
    counter = active * ((1 - g) * (3.0 + 2.0 * v) + g * 8.0) * DEG * np.cos(cyc)  # shoulders vs pelvis
    spine_loc = rot_y(0.5 * (counter - yaw_osc)) @ rot_x(0.35 * lean) @ rot_z(0.3 * bank - 0.4 * roll)
    chest_loc = rot_y(0.5 * (counter - yaw_osc)) @ rot_x(0.35 * lean) @ rot_z(0.3 * bank - 0.3 * roll)
    world["Spine"] = hips_rot @ spine_loc
    world["Chest"] = world["Spine"] @ chest_loc
    head_yaw = -counter
    world["Neck"] = world["Chest"] @ rot_y(0.4 * head_yaw) @ rot_x(-0.45 * lean + 0.5 * style.head_pitch_deg * DEG)
    world["Head"] = world["Neck"] @ rot_y(0.6 * head_yaw) @ rot_x(-0.45 * lean + 0.5 * style.head_pitch_deg * DEG) \
        @ rot_z(-0.6 * bank)

    # ---- arms: swing opposite to the legs --------------------------------------------------------------
    swing_amp = active * ((1 - g) * style.arm_swing_deg * np.clip(v / 1.4, 0.3, 1.1)
                          + g * (12.0 + 4.0 * v) * style.arm_swing_deg / 20.0) * DEG
    elbow_base = ((1 - g) * style.elbow_deg + g * (65.0 + 0.5 * style.elbow_deg)) * DEG
    abduction = (8.0 + 6.0 * g) * DEG
    for f, side in ((LEFT, "_L"), (RIGHT, "_R")):
        s = SIDE[f]
        # positive swing = arm backwards; the left arm is back when the left foot lands (phase 0)
        arm = s * swing_amp * np.cos(cyc) + (2.0 - 8.0 * g) * DEG
        elbow = elbow_base + np.maximum(-arm, 0.0) * 0.3
        shoulder = rot_y(s * (0.15 * arm - style.shoulder_hunch_deg * DEG))  # drawn back with the arm
        world["Shoulder" + side] = world["Chest"] @ shoulder
        world["UpperArm" + side] = world["Shoulder" + side] @ rot_x(arm) @ rot_z(-s * (90 * DEG - abduction))
        world["LowerArm" + side] = world["UpperArm" + side] @ rot_y(-s * elbow)
        world["Hand" + side] = world["LowerArm" + side] @ rot_z(-s * 8 * DEG)
    return GaitResult(world_rot=world, root_pos=hips_pos, contact=contact, phase=phase, footsteps=steps)
