"""A starting skeleton profile guessed from one BVH take (``moglow profile draft TAKE.bvh``).

What is guessed, for the user to check:

- ``unit_scale``: the file unit among metres, centimetres, inches and the CMU ASF unit that makes
  the rest pose closest to 1.7 m tall;
- ``root``: the joint where the legs and the spine split (the deepest joint above every paired
  joint) when it has position channels, else the first joint with position channels;
- ``mirror_pairs``: from names (``Left``/``Right``, ``L``/``R`` prefixes and ``_L``/``_R``,
  ``.L``/``.R``, ``_l``/``_r`` suffixes), then from geometry for joints the names leave unpaired (a
  joint whose rest position mirrored across the character's sagittal plane is another joint at
  the same tree depth); left is the side the names say, or +X for pairs found by geometry;
- ``hips``: the highest pair below the root that is not at the root's position;
  ``shoulders``: a pair named like an upper arm (``Arm``, ``UpperArm``, ``Shoulder``, ``humerus``)
  above the root, else the pair in the arm chains two levels below where they split off;
- ``feet``: the last two joints with channels of each leg chain (ankle and toes);
- ``joints``: every joint with channels, under its own name.

Example::

    >>> from data_pipeline.bvh import read_bvh
    >>> from data_pipeline.kinematics import forward_kinematics
    >>> take = read_bvh("/usr/share/assimp/models/BVH/01_01.bvh")  # doctest: +SKIP
    >>> d = draft_profile(take.skeleton, "cmu_draft", forward_kinematics(take)[0][0])  # doctest: +SKIP
    >>> d["hips"], d["shoulders"]  # doctest: +SKIP
    (['LeftUpLeg', 'RightUpLeg'], ['LeftArm', 'RightArm'])
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from .skeleton import Skeleton

#: file unit -> metres, candidates for the guess
UNITS = {"metres": 1.0, "centimetres": 0.01, "inches": 0.0254, "CMU ASF units": 0.0564444}

_SIDES = [  # (regex for the left-side spelling, function giving the right-side spelling)
    (re.compile(r"^Left"), lambda n: "Right" + n[4:]),
    (re.compile(r"^left"), lambda n: "right" + n[4:]),
    (re.compile(r"Left"), lambda n: n.replace("Left", "Right", 1)),
    (re.compile(r"(?<=[_.\-])L(?=$|[_.\-])"), lambda n: re.sub(r"(?<=[_.\-])L(?=$|[_.\-])", "R", n, count=1)),
    (re.compile(r"(?<=[_.\-])l(?=$|[_.\-])"), lambda n: re.sub(r"(?<=[_.\-])l(?=$|[_.\-])", "r", n, count=1)),
    (re.compile(r"^L(?=[A-Z_])"), lambda n: "R" + n[1:]),
    (re.compile(r"^l(?=[a-z]{3,})"), lambda n: "r" + n[1:]),
]
_UPPER_ARM = re.compile(r"(upper_?arm|^(left|right|l|r)_?arm$|arm_?[lr]$|humerus|shldr|shoulder)", re.IGNORECASE)


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """(J, 3) rest-pose positions in file units (offsets summed down the tree)."""
    pos = np.zeros((skeleton.num_joints, 3))
    for j in range(1, skeleton.num_joints):
        pos[j] = pos[skeleton.parents[j]] + skeleton.offsets[j]
    return pos


def _depths(skeleton: Skeleton) -> np.ndarray:
    d = np.zeros(skeleton.num_joints, dtype=np.int64)
    for j in range(1, skeleton.num_joints):
        d[j] = d[skeleton.parents[j]] + 1
    return d


def guess_unit_scale(skeleton: Skeleton, pos: np.ndarray | None = None) -> tuple[float, str]:
    """(metres per file unit, unit name) making the pose ``pos`` (default: rest) closest to 1.7 m tall."""
    pos = rest_positions(skeleton) if pos is None else pos
    height = float(np.ptp(pos[:, 1])) or 1.0
    name = min(UNITS, key=lambda k: abs(np.log(height * UNITS[k] / 1.7)))
    return UNITS[name], name


def name_pairs(names: list[str]) -> list[tuple[str, str]]:
    """``(left, right)`` pairs found from naming conventions alone."""
    present = set(names)
    pairs, used = [], set()
    for n in names:
        if n in used:
            continue
        for rx, to_right in _SIDES:
            if rx.search(n):
                r = to_right(n)
                if r != n and r in present and r not in used:
                    pairs.append((n, r))
                    used |= {n, r}
                    break
    return pairs


def geometry_pairs(skeleton: Skeleton, names: list[str], taken: set[str], pos: np.ndarray,
                   tol: float = 0.02) -> list[tuple[str, str]]:
    """Pairs among joints not in ``taken`` whose positions ``pos`` (J, 3) mirror across x = root x,
    at the same tree depth; left is +X. ``tol`` is relative to the skeleton's height."""
    depth = _depths(skeleton)
    scale = max(float(np.ptp(pos[:, 1])), 1e-9) * tol
    idx = {n: skeleton.index(n) for n in names if n not in taken}
    out, used = [], set()
    for a, ia in idx.items():
        if a in used or pos[ia, 0] - pos[0, 0] <= 0.25 * scale:  # on (or next to) the middle
            continue
        want = pos[ia] * np.array([-1.0, 1.0, 1.0]) + np.array([2 * pos[0, 0], 0, 0])
        for b, ib in idx.items():
            if b != a and b not in used and depth[ib] == depth[ia] and np.linalg.norm(pos[ib] - want) < scale:
                out.append((a, b))
                used |= {a, b}
                break
    return out


def _chain_below(skeleton: Skeleton, j: int) -> list[int]:
    """j and its first-child descendants with channels (End Sites excluded)."""
    chain = [j]
    while True:
        kids = [c for c in skeleton.children(chain[-1]) if not skeleton.is_end_site[c]]
        if not kids:
            return chain
        chain.append(kids[0])


def _ancestors(skeleton: Skeleton, j: int) -> list[int]:
    out = [j]
    while skeleton.parents[out[-1]] >= 0:
        out.append(int(skeleton.parents[out[-1]]))
    return out


def draft_profile(skeleton: Skeleton, name: str, positions: np.ndarray | None = None) -> dict[str, Any]:
    """A profile dict (the YAML's keys) guessed from ``skeleton``; see the module docstring.

    ``positions``: (J, 3) joint positions of one frame of the take (Y up; default: the rest pose
    of the offsets, which is not a standing pose on every rig).
    """
    names = [n for n, e in zip(skeleton.names, skeleton.is_end_site, strict=True) if not e]
    pos = rest_positions(skeleton) if positions is None else np.asarray(positions, dtype=np.float64)
    depth = _depths(skeleton)
    has_pos = [n for n in names if any(c.endswith("position") for c in skeleton.channels[skeleton.index(n)])]
    pairs = name_pairs(names)
    pairs += geometry_pairs(skeleton, names, {n for p in pairs for n in p}, pos)
    # the root: the deepest joint above every paired joint (where legs and spine split), if it has
    # position channels; else the first joint with position channels
    common = None
    for a in (skeleton.index(n) for p in pairs for n in p):
        anc = _ancestors(skeleton, a)[1:]
        common = anc if common is None else [j for j in common if j in set(anc)]
    split = skeleton.names[common[0]] if common else names[0]
    root = split if split in has_pos or not has_pos else has_pos[0]
    ir = skeleton.index(split)
    height = max(float(np.ptp(pos[:, 1])), 1e-9)
    by_depth = sorted(pairs, key=lambda p: depth[skeleton.index(p[0])])
    legs = [p for p in by_depth if pos[skeleton.index(p[0]), 1] <= pos[ir, 1] + 0.05 * height
            and _goes_down(skeleton, pos, p[0])]
    leg_roots = {skeleton.index(n) for p in legs[:1] for n in p}  # the first (highest) leg pair
    lower = [p for p in by_depth if leg_roots & set(_ancestors(skeleton, skeleton.index(p[0]))
                                                     + _ancestors(skeleton, skeleton.index(p[1])))]
    upper = [p for p in by_depth if p not in lower]
    away = [p for p in lower if np.linalg.norm(pos[skeleton.index(p[0])] - pos[ir]) > 0.01 * height]
    hips = away[0] if away else (lower[0] if lower else None)
    named = [p for p in upper if _UPPER_ARM.search(p[0])]
    named.sort(key=lambda p: (0 if re.search(r"arm|humerus|shldr", p[0], re.IGNORECASE) else 1,
                              depth[skeleton.index(p[0])]))
    shoulders = named[0] if named else (upper[1] if len(upper) > 1 else upper[0] if upper else None)
    feet: list[str] = []
    if hips is not None:
        for side in hips:
            chain = _chain_below(skeleton, skeleton.index(side))
            feet += [skeleton.names[j] for j in chain[-2:]] if len(chain) >= 3 else []
    unit, unit_name = guess_unit_scale(skeleton, pos)
    return {
        "name": name,
        "description": f"drafted by moglow profile draft from {name}: check every guessed entry",
        "unit_scale": unit,
        "root": root,
        "joints": {n: n for n in names},
        "mirror_pairs": [list(p) for p in pairs],
        "hips": list(hips) if hips else ["", ""],
        "shoulders": list(shoulders) if shoulders else ["", ""],
        "feet": feet,
        "style_pattern": None,
        "_unit_name": unit_name,
    }


def _goes_down(skeleton: Skeleton, pos: np.ndarray, name: str) -> bool:
    """True if the chain under ``name`` ends below where it starts by much (a leg, not an arm)."""
    j = skeleton.index(name)
    chain = _chain_below(skeleton, j)
    height = max(float(np.ptp(pos[:, 1])), 1e-9)
    return bool(pos[chain[-1], 1] < pos[j, 1] - 0.25 * height)


def draft_yaml(skeleton: Skeleton, name: str, source: str, positions: np.ndarray | None = None) -> str:
    """The drafted profile as commented YAML text."""
    import yaml

    d = draft_profile(skeleton, name, positions)
    unit_name = d.pop("_unit_name")
    body = yaml.safe_dump(d, sort_keys=False, default_flow_style=False, width=110)
    head = (f"# Skeleton profile drafted from {source} by `moglow profile draft`.\n"
            f"# Every entry is a guess from joint names and the first frame: check it before training.\n"
            f"# unit_scale: the file unit looks like {unit_name} (the first frame is then closest to 1.7 m tall).\n"
            f"# joints: every joint with channels; drop fingers, twist bones or props you do not want modelled.\n"
            f"# mirror_pairs: every left/right pair of the file (for mirroring); hips/shoulders: the pairs whose\n"
            f"# left->right directions give the character's heading; feet: ankle and toe joints (evaluation).\n"
            f"# aliases (optional): other names of the same joints in other exports of the data.\n")
    return head + body


__all__ = ["draft_profile", "draft_yaml", "guess_unit_scale", "name_pairs", "geometry_pairs", "rest_positions"]
