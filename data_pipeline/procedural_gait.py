"""Procedural gait, the body: foot trajectories, pelvis motion, leg IK and upper body on planned footsteps.

Everything is computed as arrays over frames; the only Python loop walks over footsteps.
Units: centimetres, seconds, radians (angles in degrees only where a name says ``_deg``);
speeds in the path are m/s (see :mod:`data_pipeline.procedural_paths`).

How foot skating is avoided: a footstep (planned by :mod:`data_pipeline.procedural_footsteps`)
fixes the position of the ball of the foot (the Toes joint) for the whole stance phase; the heel
may rise about it, and the hip height is limited so that the two-bone leg can always reach the
planted foot (analytic IK). The stride follows from speed and cadence, so the planted feet keep
up with the root path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, minimum_filter1d

from .procedural_footsteps import (DEG, LEFT, RIGHT, SIDE, Footsteps, GaitStyle, duty_factor, forward_dir, gait_phase,
                                   left_dir, plan_footsteps, run_blend, smoothstep)
from .procedural_paths import ControlPath
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

REACH = 0.998 * (THIGH + SHIN)  #: longest hip-ankle distance the IK is asked for (cm)


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
    hips_xz = 100.0 * path.xz + sway[:, None] * left_dir(theta)

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
        fwd = forward_dir(st.yaw_from)
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
