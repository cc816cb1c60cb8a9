"""Skeleton profiles: how a file's skeleton maps onto the model's joints.

A profile is a small YAML file in ``configs/profiles/`` that names, in the file's own joint
names, everything the feature extraction needs to know about a skeleton: the unit, the joint
whose floor projection is the character's path, the model's joint subset, the left/right
pairs (for mirroring) and the hip and shoulder joints (for the heading). Supporting a new
motion-capture set is a new profile, not new code.

Example::

    >>> profile = load_profile("bandai_namco")
    >>> profile.root, profile.unit_scale, len(profile.joints)
    ('Hips', 0.01, 21)
    >>> profile.validate_skeleton(skeleton)   # doctest: +SKIP
    ProfileError: profile 'bandai_namco': joint 'Toes_R' (in mirror_pairs) is not in the skeleton ...
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .contacts import ContactSpec
from .skeleton import Skeleton
from .resources import available, builtin_dir, resolve_config
from .typed_config import load_yaml
from .errors import MoglowError


#: the reflections a joint's local frame may use when mirroring (see :mod:`data_pipeline.mirror`):
#: the name lists the local axes that change sign.
REFLECTIONS: dict[str, tuple[float, float, float]] = {
    "x": (-1.0, 1.0, 1.0),
    "y": (1.0, -1.0, 1.0),
    "z": (1.0, 1.0, -1.0),
    "xyz": (-1.0, -1.0, -1.0),
}


class ProfileError(MoglowError, ValueError):
    """A profile is inconsistent, or does not fit a skeleton."""


@dataclass
class SkeletonProfile:
    """The mapping from a file's skeleton to the model's joints (all names are file names
    unless said otherwise).

    Attributes:
        name: the profile's name (e.g. ``"bandai_namco"``).
        unit_scale: file units -> metres (0.01 for centimetres).
        root: joint whose floor projection (x, z) is the character's path.
        joints: model joint name -> file joint name, in the model's order: the joint subset
            whose positions form the ``positions`` representation.
        mirror_pairs: ``[left, right]`` pairs of file joints; every paired joint of the file
            skeleton must be listed (unlisted joints are their own mirror image).
        hips: ``[left, right]`` hip joints, for the heading.
        shoulders: ``[left, right]`` shoulder joints, for the heading.
        feet: foot and toe joints, for evaluation (foot sliding, contacts).
        style_pattern: file-name pattern giving the style label (see
            :mod:`data_pipeline.styles`), e.g. ``"dataset-*_{content}_{style}_{id}"``; None: no labels.
        mirror_reflections: optional, file joint -> one of ``x``, ``y``, ``z``, ``xyz``: the local
            axes that change sign when that joint's frame is mirrored. Joints left out are
            inferred from the skeleton's offsets and the motion (see
            :func:`data_pipeline.mirror.infer_mirror_reflections`).
        aliases: optional, file joint name -> other names the same joint has in other conversions
            of the same data (e.g. CMU's ``LeftUpLeg`` is ``LeftHip`` in one conversion, ``LFingers``
            is ``LeftHandIndex1`` in another). A skeleton that uses an alias is read as if it used the
            name (:meth:`bind`); names also match case-insensitively.
        contacts: optional foot-contact thresholds and ground levels (metres, m/s; see
            :class:`data_pipeline.contacts.ContactSpec`), needed by ``data.contacts: true``
            and by the foot clean-up of generated motion.
        description: free text.

    ``source_file`` (not a field, so not part of a data hash): the YAML file it was read from,
    named in errors.
    """

    name: str
    unit_scale: float
    root: str
    joints: dict[str, str]
    mirror_pairs: list[tuple[str, str]] = field(default_factory=list)
    hips: tuple[str, str] = ("", "")
    shoulders: tuple[str, str] = ("", "")
    feet: list[str] = field(default_factory=list)
    style_pattern: str | None = None
    mirror_reflections: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    contacts: ContactSpec | None = None
    description: str = ""
    source_file = ""  # class attribute, set per instance by load_profile

    # ------------------------------------------------------------------ consistency
    def validate(self) -> None:
        """Check the profile on its own (called on load); raises ValueError naming the problem."""
        if not self.unit_scale > 0:
            raise ProfileError(f"unit_scale must be positive, got {self.unit_scale}")
        if not self.joints:
            raise ProfileError("joints must name at least one joint")
        files = list(self.joints.values())
        dup = sorted({f for f in files if files.count(f) > 1})
        if dup:
            raise ProfileError(f"joints maps several model joints to the same file joint(s) {dup}")
        seen: dict[str, int] = {}
        for i, (left, right) in enumerate(self.mirror_pairs):
            if left == right:
                raise ProfileError(f"mirror_pairs[{i}] pairs {left!r} with itself")
            for n in (left, right):
                if n in seen:
                    raise ProfileError(f"joint {n!r} is in mirror_pairs[{seen[n]}] and mirror_pairs[{i}]")
                seen[n] = i
        pair_of = self.mirror_map()
        for what in ("hips", "shoulders"):
            left, right = getattr(self, what)
            if not left or not right:
                raise ProfileError(f"{what} must name a [left, right] pair of joints")
            if pair_of.get(left) != right:
                raise ProfileError(f"{what} = [{left!r}, {right!r}] is not one of mirror_pairs")
        if self.contacts is not None:
            self.contacts.validate()
            pair_of = self.mirror_map()
            for j in self.contacts.joints:
                if pair_of.get(j, j) not in self.contacts.levels:
                    raise ProfileError(f"contacts.levels names {j!r} but not its mirror partner {pair_of.get(j)!r}")
        for j, axes in self.mirror_reflections.items():
            if axes not in REFLECTIONS:
                raise ProfileError(f"mirror_reflections[{j!r}] = {axes!r}; use one of {', '.join(REFLECTIONS)}")

    def mirror_map(self) -> dict[str, str]:
        """File joint name -> its mirror partner, both ways (unpaired joints are absent)."""
        out = {}
        for left, right in self.mirror_pairs:
            out[left], out[right] = right, left
        return out

    @property
    def model_joints(self) -> list[str]:
        """The model's joint names, in order."""
        return list(self.joints)

    @property
    def file_joints(self) -> list[str]:
        """The file joint names of the model's joints, in the model's order."""
        return list(self.joints.values())

    def required_joints(self) -> list[tuple[str, str]]:
        """Every ``(file joint, where it is used)`` the profile names."""
        req = [(self.root, "root")]
        req += [(f, f"joints[{m!r}]") for m, f in self.joints.items()]
        req += [(n, f"mirror_pairs[{i}]") for i, p in enumerate(self.mirror_pairs) for n in p]
        req += [(n, "hips") for n in self.hips] + [(n, "shoulders") for n in self.shoulders]
        req += [(n, "feet") for n in self.feet]
        req += [(n, "mirror_reflections") for n in self.mirror_reflections]
        req += [(n, "contacts.levels") for n in (self.contacts.joints if self.contacts else [])]
        return req

    def bind(self, skeleton: Skeleton) -> SkeletonProfile:
        """This profile with every joint name spelt as ``skeleton`` spells it: a name the skeleton
        lacks is replaced by the first of its ``aliases`` (or a case-insensitive match) the skeleton
        has; a mirror pair neither of whose joints (nor aliases) is in the skeleton is dropped.
        Returns ``self`` when nothing changes; names still missing are left for
        :meth:`validate_skeleton` to report."""
        names = [n for n, e in zip(skeleton.names, skeleton.is_end_site, strict=True) if not e]
        present = set(names)
        lower = {n.lower(): n for n in names}
        rename: dict[str, str] = {}
        for name, _ in self.required_joints():
            if name in present or name in rename:
                continue
            for cand in [name, *self.aliases.get(name, [])]:
                hit = cand if cand in present else lower.get(cand.lower())
                if hit is not None:
                    rename[name] = hit
                    break
        pairs = [(a, b) for a, b in self.mirror_pairs
                 if (rename.get(a, a) in present) or (rename.get(b, b) in present)]
        if not rename and len(pairs) == len(self.mirror_pairs):
            return self

        def r(n: str) -> str:
            return rename.get(n, n)

        bound = dataclasses.replace(
            self, root=r(self.root), joints={m: r(f) for m, f in self.joints.items()},
            mirror_pairs=[(r(a), r(b)) for a, b in pairs], hips=(r(self.hips[0]), r(self.hips[1])),
            shoulders=(r(self.shoulders[0]), r(self.shoulders[1])), feet=[r(f) for f in self.feet],
            mirror_reflections={r(k): v for k, v in self.mirror_reflections.items()},
            contacts=(dataclasses.replace(self.contacts, levels={r(k): v for k, v in self.contacts.levels.items()})
                      if self.contacts is not None else None))
        bound.source_file = self.source_file
        return bound

    def validate_skeleton(self, skeleton: Skeleton, source: str | None = None) -> None:
        """Raise :class:`ProfileError` naming the first joint the profile uses that the skeleton
        lacks (or that is an End Site), or a mirror pair whose parents are not mirror images."""
        where = f" ({source})" if source else ""
        names = set(skeleton.names)
        of = f" ({self.source_file})" if self.source_file else ""
        for name, use in self.required_joints():
            if name not in names:
                close = [n for n in skeleton.names if n.lower() == name.lower()]
                hint = f"; did you mean {close[0]!r}?" if close else ""
                tried = f" (nor its aliases {', '.join(self.aliases[name])})" if name in self.aliases else ""
                raise ProfileError(
                    f"profile {self.name!r}{of}: joint {name!r} (in {use}) is not in the skeleton{where}{hint}"
                    f"{tried}. "
                    f"Skeleton joints: {', '.join(n for n, e in zip(skeleton.names, skeleton.is_end_site) if not e)}")
            if skeleton.is_end_site[skeleton.index(name)]:
                raise ProfileError(f"profile {self.name!r}: {name!r} (in {use}) is an End Site{where}; "
                                   f"name a joint with channels")
        self.mirror_index(skeleton, source)

    def mirror_index(self, skeleton: Skeleton, source: str | None = None) -> np.ndarray:
        """(J,) int64: index of each joint's mirror partner (itself if unpaired), End Sites included.

        End Sites pair with the End Site of the same rank under the partner joint. Raises
        :class:`ProfileError` if a pair's parents are not mirror partners of each other (the
        pairs must describe a symmetry of the tree), or a pair's End Sites differ in number.
        """
        where = f" ({source})" if source else ""
        pair_of = self.mirror_map()
        n = skeleton.num_joints
        out = np.arange(n, dtype=np.int64)
        for j, name in enumerate(skeleton.names):
            if not skeleton.is_end_site[j] and name in pair_of:
                out[j] = skeleton.index(pair_of[name])
        for j in range(n):
            if skeleton.is_end_site[j]:
                continue
            k = out[j]
            ends_j = [c for c in skeleton.children(j) if skeleton.is_end_site[c]]
            ends_k = [c for c in skeleton.children(int(k)) if skeleton.is_end_site[c]]
            if len(ends_j) != len(ends_k):
                raise ProfileError(f"profile {self.name!r}: {skeleton.names[j]!r} has {len(ends_j)} End Site(s) "
                                   f"but its mirror {skeleton.names[k]!r} has {len(ends_k)}{where}")
            out[ends_j] = ends_k
        parents = skeleton.parents
        for j in range(1, n):
            k = out[j]
            if out[parents[j]] != parents[k]:
                raise ProfileError(
                    f"profile {self.name!r}: mirror pair {skeleton.names[j]!r} / {skeleton.names[k]!r} has parents "
                    f"{skeleton.names[parents[j]]!r} / {skeleton.names[parents[k]]!r}, which are not mirror "
                    f"partners{where}; every pair's parents must be a pair too (or the same joint)")
        if out[0] != 0:
            raise ProfileError(f"profile {self.name!r}: the root joint {skeleton.names[0]!r} cannot be in a mirror pair")
        return out

    def model_parents(self, skeleton: Skeleton) -> list[int]:
        """Parent of each model joint within the model's joint subset (nearest listed ancestor;
        -1 if none): the parent list a renderer needs for the ``positions`` representation."""
        idx = [skeleton.index(f) for f in self.file_joints]
        pos = {j: i for i, j in enumerate(idx)}
        out = []
        for j in idx:
            p = int(skeleton.parents[j])
            while p >= 0 and p not in pos:
                p = int(skeleton.parents[p])
            out.append(pos[p] if p >= 0 else -1)
        return out


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``configs/profiles``."""
    return available("profile")


def load_profile(name_or_path: str | Path | SkeletonProfile) -> SkeletonProfile:
    """Load a profile by name (``configs/profiles/<name>.yaml``) or from a YAML path.

    A :class:`SkeletonProfile` passes through unchanged. Raises
    :class:`~data_pipeline.typed_config.ConfigError` naming the file and key for a bad file, or
    listing the shipped profiles for an unknown name.
    """
    if isinstance(name_or_path, SkeletonProfile):
        return name_or_path
    path = resolve_config(name_or_path, kind="profile")
    profile = load_yaml(SkeletonProfile, path)
    profile.source_file = str(path)
    return profile


def __getattr__(name: str):
    if name == "PROFILE_DIR":  # folder of the shipped profiles (a checkout's configs/profiles or the wheel's)
        return builtin_dir() / "profiles"
    raise AttributeError(name)
