"""The first held-out takes of ``moglow evaluate`` as clips for the 3-D viewer (``evaluation.html``).

A clip is one held-out take: the ``num_samples`` motions generated along its path (as the user
gets them: on the training skeleton with the feet cleaned up, :mod:`moglow.cleanup`; the raw
model with ``cleanup=False``) and the mocap take itself over the same frames, with foot
contacts (the model's contact channels, else estimated from the motion with the profile's
thresholds). :meth:`EvaluationClip.write_npz` writes it in the keys of :mod:`visualize.inputs`
(plus contacts), which :mod:`visualize.web.clip_json` turns into the viewer's JSON, the same
path as a review page's sample sets.

Example::

    >>> result = evaluate_checkpoint("runs/tiny", None, split="test", clips=3)   # doctest: +SKIP
    >>> write_clips(result.clips, "runs/tiny/evaluation/clips")                 # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data_pipeline.features import ROTATIONS, FeatureDefinition, FeatureSequence, reconstruct_world_positions
from data_pipeline.output_files import atomic_write

__all__ = ["EvaluationClip", "take_clips", "write_clips", "CLIPS_DIR"]

#: the clips' folder inside the evaluation's output folder
CLIPS_DIR = "clips"
#: a contact score above this draws a contact disc
CONTACT_THRESHOLD = 0.5


@dataclass
class EvaluationClip:
    """One held-out take: generated motion along its path beside the mocap.

    Attributes:
        name: the take's file stem; source: its file.
        fps: frames per second; parents, joints: the model joints' tree and names; root: root joint index.
        generated: (S, F, J, 3) metres, the real context frames first; mocap: (F, J, 3) metres.
        contact_joints: (K,) joint indices with contacts, or None; contacts: (S, F, K) bool;
            mocap_contacts: (F, K) bool (None without contacts).
        cleaned: whether ``generated`` is the cleaned-up motion; context_frames: real frames it starts with.
        style: the take's style label, or None.
    """

    name: str
    source: str
    fps: float
    parents: list[int]
    joints: list[str]
    root: int
    generated: np.ndarray
    mocap: np.ndarray
    contact_joints: list[int] | None
    contacts: np.ndarray | None
    mocap_contacts: np.ndarray | None
    cleaned: bool
    context_frames: int
    style: str | None = None

    def write_npz(self, path: str | Path) -> Path:
        """Write the clip as a sample npz (:mod:`visualize.inputs` keys, plus contacts and ``source``,
        ``cleaned``, ``context_frames``); returns ``path``."""
        path = Path(path)
        kind = "cleaned up" if self.cleaned else "raw model"
        arrays: dict[str, Any] = dict(
            positions=self.generated.astype(np.float32), parents=np.asarray(self.parents, dtype=np.int64),
            joints=np.asarray(self.joints), fps=np.float64(self.fps), root=np.int64(self.root),
            labels=np.asarray([f"generated {i} ({kind})" for i in range(self.generated.shape[0])]),
            path=self.mocap[:, self.root][:, [0, 2]].astype(np.float32), ground_truth=self.mocap.astype(np.float32),
            ground_truth_path=self.mocap[:, self.root][:, [0, 2]].astype(np.float32),
            source=np.asarray(self.source), cleaned=np.bool_(self.cleaned),
            context_frames=np.int64(self.context_frames), style=np.asarray(self.style or ""))
        if self.contact_joints is not None and self.contacts is not None:
            arrays.update(contact_joints=np.asarray(self.contact_joints, dtype=np.int64), contacts=self.contacts)
            if self.mocap_contacts is not None:
                arrays["ground_truth_contacts"] = self.mocap_contacts
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            np.savez_compressed(f, **arrays)
        return path


def _mocap_positions(seq: FeatureSequence, fdef: FeatureDefinition, frames: int) -> np.ndarray:
    pt = seq.passthrough[:frames] if fdef.representation == ROTATIONS and seq.passthrough is not None else None
    return reconstruct_world_positions(seq.poses[:frames], seq.control[:frames], fdef, seq.root_start, pt)


def take_clips(seqs: Sequence[FeatureSequence], generated: Sequence[np.ndarray], fdef: FeatureDefinition,
               profile: Any, cleanup: bool, context_frames: int) -> list[EvaluationClip]:
    """One clip per take of ``seqs``.

    Args:
        seqs: the held-out takes (un-normalised features); generated: per take, (S, F, D)
            un-normalised poses along its path (the real context first, :func:`generate_along_paths`).
        fdef, profile: the checkpoint's feature definition and skeleton profile.
        cleanup: show the cleaned-up motion (what the user gets) rather than the raw model's.
        context_frames: real frames each generated motion starts with.
    """
    from moglow.cleanup import contact_scores_for, contact_spec_for, skeleton_motion

    spec = contact_spec_for(fdef, profile)
    cidx = [fdef.file_joints.index(j) for j in spec.joints] if spec is not None else None
    root = fdef.file_joints.index(fdef.root)
    clips: list[EvaluationClip] = []
    for seq, poses in zip(seqs, generated, strict=True):
        poses = np.asarray(poses, dtype=np.float64)
        f = poses.shape[-2]
        control = np.broadcast_to(seq.control[:f], poses.shape[:-1] + seq.control.shape[-1:])
        start = np.broadcast_to(seq.root_start, poses.shape[:-2] + (3,))
        pt = seq.passthrough[:f] if fdef.representation == ROTATIONS and seq.passthrough is not None else None
        motion = skeleton_motion(poses, control, start, fdef, profile, cleanup=cleanup and spec is not None,
                                 passthrough=pt)
        mocap = _mocap_positions(seq, fdef, f)
        contacts = mocap_contacts = None
        if spec is not None:
            contacts = contact_scores_for(poses, motion.positions, fdef, spec) > CONTACT_THRESHOLD
            mocap_contacts = contact_scores_for(seq.poses[None, :f], mocap[None], fdef, spec)[0] > CONTACT_THRESHOLD
        clips.append(EvaluationClip(
            name=Path(seq.source or f"take_{len(clips)}").stem, source=str(seq.source or ""), fps=float(fdef.fps),
            parents=[int(p) for p in fdef.parents], joints=list(fdef.joints), root=root,
            generated=np.asarray(motion.positions), mocap=mocap, contact_joints=cidx, contacts=contacts,
            mocap_contacts=mocap_contacts, cleaned=motion.cleaned, context_frames=int(context_frames),
            style=seq.style))
    return clips


def write_clips(clips: Sequence[EvaluationClip], folder: str | Path) -> list[Path]:
    """Write ``clip_NN_NAME.npz`` per clip into ``folder``, removing other ``clip_*.npz`` left by an
    earlier evaluation; returns the files in order."""
    folder = Path(folder)
    paths = [folder / f"clip_{i:02d}_{c.name}.npz" for i, c in enumerate(clips)]
    if folder.is_dir():
        for old in folder.glob("clip_*.npz"):
            if old not in paths:
                old.unlink()
    return [c.write_npz(p) for c, p in zip(clips, paths, strict=True)]
