"""Built-in default data: procedural walking and running on a fixed humanlike skeleton.

Each take follows a smooth random control path (speed and turning-rate profiles with stops
and standing) and is written as BVH (centimetres, Y up, 60 fps by default) together with
its known path. Per-take style parameters (cadence, arm swing, lean, crouch, ...) are drawn
from one of three labelled styles, "relaxed", "brisk" and "heavy"; the label and the gait
kind are in the file name, ``procedural_{kind}_{style}_{id:03d}.bvh``, which the
``procedural`` skeleton profile parses.

Example::

    >>> motion, path = generate_take(seed=1, seconds=5.0, kind="walk")
    >>> motion.values.shape, path["contact"].shape
    ((300, 66), (300, 2))
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from .output_files import write_text_atomic
from .procedural_footsteps import GaitStyle
from .procedural_gait import synthesize_gait
from .procedural_paths import SEGMENT_MIX, random_control_path
from .procedural_skeleton import EULER_ORDER, procedural_skeleton
from .rotations import matrix_to_euler
from .skeleton import Motion

KINDS = tuple(SEGMENT_MIX)  # ("walk", "run", "mixed")
STYLES = ("relaxed", "brisk", "heavy")
#: kinds of successive takes in :func:`generate_dataset` (half mixed, a quarter each walk / run)
DATASET_KINDS = ("walk", "mixed", "run", "mixed")
GENERATOR_VERSION = 1
PRE_ROLL = 3.0  #: s simulated before the take (starting from standing), then cut
POST_ROLL = 2.0  #: s simulated after the take, so footsteps near the end are planned

# style name -> parameter name -> (low, high) of a uniform draw
_STYLE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "relaxed": dict(speed_scale=(0.85, 0.97), cadence_scale=(0.94, 1.0), arm_swing_deg=(10, 16),
                    elbow_deg=(8, 18), lean_deg=(0, 3), crouch=(0, 0.6), bob=(0.8, 1.1), step_width=(9, 12),
                    toe_out_deg=(6, 12), clearance=(0.8, 1.0), heel_rise_deg=(50, 58),
                    shoulder_hunch_deg=(0, 4), head_pitch_deg=(-3, 4)),
    "brisk": dict(speed_scale=(1.03, 1.15), cadence_scale=(1.02, 1.08), arm_swing_deg=(18, 26),
                  elbow_deg=(22, 38), lean_deg=(2, 5), crouch=(0, 0.3), bob=(0.9, 1.2), step_width=(7, 10),
                  toe_out_deg=(2, 7), clearance=(1.0, 1.25), heel_rise_deg=(55, 65),
                  shoulder_hunch_deg=(-4, 0), head_pitch_deg=(-4, 2)),
    "heavy": dict(speed_scale=(0.8, 0.92), cadence_scale=(0.92, 0.98), arm_swing_deg=(6, 12),
                  elbow_deg=(10, 22), lean_deg=(6, 12), crouch=(1.2, 2.5), bob=(1.3, 1.7), step_width=(12, 16),
                  toe_out_deg=(10, 16), clearance=(0.7, 0.9), heel_rise_deg=(42, 50),
                  shoulder_hunch_deg=(6, 12), head_pitch_deg=(4, 10)),
}


def sample_style(rng: np.random.Generator, name: str | None = None) -> GaitStyle:
    """Draw style parameters for the labelled style ``name`` (random label if None)."""
    if name is None:
        name = str(rng.choice(STYLES))
    if name not in _STYLE_RANGES:
        raise ValueError(f"style must be one of {STYLES}, got {name!r}")
    ranges = _STYLE_RANGES[name]
    return GaitStyle(name=name, **{k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()})


def _local_euler(skeleton, world_rot: dict[str, np.ndarray]) -> np.ndarray:
    """(F, joints, 3) ZXY Euler angles (degrees) of every joint's local rotation, unwrapped in time."""
    names = [n for n, e in zip(skeleton.names, skeleton.is_end_site) if not e]
    parent_name = {n: (skeleton.names[p] if p >= 0 else None) for n, p in zip(skeleton.names, skeleton.parents)}
    local = np.stack([world_rot[n] if parent_name[n] is None
                      else np.swapaxes(world_rot[parent_name[n]], -1, -2) @ world_rot[n] for n in names], 1)
    return _continuous_euler(matrix_to_euler(local, EULER_ORDER))


def _wrap_deg(a: np.ndarray) -> np.ndarray:
    return (a + 180.0) % 360.0 - 180.0


def _continuous_euler(angles: np.ndarray) -> np.ndarray:
    """Make Euler angles continuous in time without changing the rotations they describe.

    Every rotation has two Euler solutions, ``(a, b, c)`` and ``(a + 180, 180 - b, c + 180)``;
    the converter always returns the one with ``|b| <= 90``, so a knee bent past 90 degrees
    would flip between them. Per joint, this keeps the solution whose first angle stays
    within 90 degrees of that joint's typical first angle (its circular mean modulo 180),
    then unwraps every channel in time.

    Args: angles (F, J, 3) degrees, middle angle in [-90, 90]. Returns (F, J, 3) degrees.
    """
    a = np.deg2rad(angles[..., 0])
    typical = 0.5 * np.angle(np.mean(np.exp(2j * a), axis=0))  # (J,), defined modulo pi
    flip = np.abs(np.angle(np.exp(1j * (a - typical)))) > 0.5 * np.pi
    alt = np.stack([_wrap_deg(angles[..., 0] + 180.0), 180.0 - angles[..., 1],
                    _wrap_deg(angles[..., 2] + 180.0)], -1)
    return np.unwrap(np.where(flip[..., None], alt, angles), period=360.0, axis=0)


def generate_take(seed: int, seconds: float, fps: float = 60.0, kind: str = "mixed",
                  style: str | None = None) -> tuple[Motion, dict]:
    """One procedural take.

    Args:
        seed: the take is a deterministic function of its arguments.
        seconds: duration; the take has ``round(seconds * fps)`` frames.
        fps: frame rate.
        kind: "walk", "run" or "mixed" (walking, running and both; all include stops).
        style: "relaxed", "brisk", "heavy", or None to draw one.
    Returns:
        ``(motion, path)``: the BVH motion (cm, Y up, on :func:`procedural_skeleton`) and the
        known path, a dict of arrays over the F frames: ``root_xz`` (F, 2) cm, the Hips
        floor position exactly as in the BVH; ``path_xz`` (F, 2) cm, the smooth control path
        (the root without its side-to-side sway); ``heading`` (F,) radians (forward is
        (sin, 0, cos)); ``speed`` (F,) cm/s along the path; ``turn_rate`` (F,) rad/s;
        ``contact`` (F, 2) bool, foot planted (left, right); ``phase`` (F,) gait cycles;
        plus ``fps``, ``kind``, ``style``, ``seed`` and ``style_params`` (dict).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not seconds > 0 or not fps > 0:
        raise ValueError(f"seconds and fps must be positive, got seconds={seconds}, fps={fps}")
    rng = np.random.default_rng(seed)
    gait_style = sample_style(rng, style)
    num = int(round(seconds * fps))
    pre, post = int(round(PRE_ROLL * fps)), int(round(POST_ROLL * fps))
    times = (np.arange(pre + num + post) - pre) / fps
    path = random_control_path(rng, times, kind, speed_scale=gait_style.speed_scale,
                               stand_until=-PRE_ROLL + 0.5)
    gait = synthesize_gait(path, gait_style)
    keep = slice(pre, pre + num)

    skeleton = procedural_skeleton()
    euler = _local_euler(skeleton, {k: v[keep] for k, v in gait.world_rot.items()})
    values = np.concatenate([gait.root_pos[keep], euler.reshape(num, -1)], axis=1)
    name = f"procedural_{kind}_{gait_style.name}_seed{seed}"
    motion = Motion(skeleton=skeleton, values=values, frame_time=1.0 / fps, source=name)
    known = {
        "root_xz": gait.root_pos[keep][:, [0, 2]].copy(),
        "path_xz": 100.0 * path.xz[keep],
        "heading": path.heading[keep].copy(),
        "speed": 100.0 * path.speed[keep],
        "turn_rate": path.turn_rate[keep].copy(),
        "contact": gait.contact[keep].copy(),
        "phase": gait.phase[keep].copy(),
        "fps": float(fps), "kind": kind, "style": gait_style.name, "seed": int(seed),
        "style_params": {f.name: getattr(gait_style, f.name) for f in fields(gait_style) if f.name != "name"},
    }
    return motion, known


# ---- files ------------------------------------------------------------------------------------------
_ARRAY_KEYS = ("root_xz", "path_xz", "heading", "speed", "turn_rate", "contact", "phase")


def save_path(known: dict, path: str | Path) -> None:
    """Write a known path (from :func:`generate_take`) as JSON (arrays as nested lists)."""
    out = {k: v for k, v in known.items() if k not in _ARRAY_KEYS}
    for k in _ARRAY_KEYS:
        a = np.asarray(known[k])
        out[k] = a.astype(int).tolist() if a.dtype == bool else np.round(a, 5).tolist()
    write_text_atomic(path, json.dumps(out, separators=(",", ":")))


def load_path(path: str | Path) -> dict:
    """Read a ``.path.json`` written by :func:`save_path`; arrays come back as numpy arrays."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for k in _ARRAY_KEYS:
        data[k] = np.asarray(data[k], dtype=bool if k == "contact" else np.float64)
    return data


def take_seed(seed: int, index: int) -> int:
    """The seed of take ``index`` of a dataset generated with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def generate_dataset(out_dir: str | Path, num_takes: int = 40, seconds: float = 30.0, seed: int = 0,
                     fps: float = 60.0, progress: bool = True,
                     kinds: tuple[str, ...] = DATASET_KINDS) -> list[Path]:
    """Write ``num_takes`` takes to ``out_dir`` (created if missing); deterministic in ``seed``.

    Take ``i`` is ``procedural_{kind}_{style}_{i:03d}.bvh`` with its known path beside it in
    ``...path.json``; kinds cycle through ``kinds`` and styles through :data:`STYLES`, so the
    labels are balanced. A ``manifest.json`` records the settings. Returns the BVH paths.
    """
    from .progress import progress_bar

    from .bvh_writer import write_bvh

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    stems = take_stems(num_takes, kinds)
    for i in progress_bar(range(num_takes), desc="generating takes", unit="take", disable=not progress):
        kind, style = kinds[i % len(kinds)], STYLES[i % len(STYLES)]
        motion, known = generate_take(take_seed(seed, i), seconds, fps, kind, style)
        stem = stems[i]
        motion.source = stem
        write_bvh(motion, out / f"{stem}.bvh", precision=4)
        save_path(known, out / f"{stem}.path.json")
        written.append(out / f"{stem}.bvh")
    manifest = dict(generator="data_pipeline.procedural", version=GENERATOR_VERSION, seed=int(seed),
                    num_takes=int(num_takes), seconds=float(seconds), fps=float(fps), kinds=list(kinds),
                    files=[p.name for p in written])
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2))
    return written


def take_stems(num_takes: int, kinds: tuple[str, ...] = DATASET_KINDS) -> list[str]:
    """File stems of :func:`generate_dataset`'s takes (``procedural_{kind}_{style}_{i:03d}``)."""
    return [f"procedural_{kinds[i % len(kinds)]}_{STYLES[i % len(STYLES)]}_{i:03d}" for i in range(num_takes)]


def world_positions(motion: Motion) -> np.ndarray:
    """(F, J, 3) cm joint and End Site positions of a procedural motion (for plots)."""
    from .kinematics import forward_kinematics

    return forward_kinematics(motion)[0]


__all__ = ["generate_take", "generate_dataset", "take_stems", "sample_style", "save_path", "load_path", "take_seed",
           "procedural_skeleton", "GaitStyle", "KINDS", "STYLES", "world_positions"]
