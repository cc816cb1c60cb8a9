"""The motion-matching controller: play the database along a control path, jumping to the best match.

Frame by frame (the database search itself is vectorised, :class:`MatchingDatabase`): the
controller shows database frame ``cur + 1`` after ``cur``. Every ``search_every_s``, when the
commanded velocity changed, or when the playing clip ends, it builds the query from the frame
just shown (ankle positions and velocities, root velocity) and the path ahead (the control
known to the model, extrapolated beyond), and jumps to the nearest database frame unless the
playing frame is at least as good. A jump is hidden by an inertial blend: the difference
between the shown pose and the new clip (position and velocity) decays like a critically
damped spring (Holden's inertialization), so the output has no step in position or velocity.
"""
from __future__ import annotations

import math

import numpy as np

from data_pipeline.features import FeatureSequence

from .database import MatchingDatabase
from .features import extend_control, pose_feature_of, trajectory_features


def spring_decay(offset: np.ndarray, velocity: np.ndarray, frames: int, halflife: float) -> np.ndarray:
    """A critically damped spring's displacement after ``frames`` frames, from ``offset`` and
    ``velocity`` (per frame) towards 0; ``halflife`` in frames."""
    y = 2.0 * math.log(2.0) / max(halflife, 1e-6)
    return (offset + (velocity + offset * y) * frames) * math.exp(-y * frames)


def commanded_velocity(control: np.ndarray, t: int, n_mean: int, fps: float) -> np.ndarray:
    """(3,) mean of the control steps ``t - n_mean + 1 .. t`` (rows >= 1) x fps: m/s, m/s, rad/s."""
    lo = max(1, t - n_mean + 1)
    return np.asarray(control[lo:t + 1], dtype=np.float64).mean(axis=0) * fps if t >= 1 else np.zeros(3)


class MatchingController:
    """Plays a :class:`MatchingDatabase` along control paths.

    Attributes:
        db: the database. jumps: number of jumps of the last :meth:`play` (the first match counts).
        played: (F,) database frame shown at each frame of the last :meth:`play` (-1: context).
    """

    def __init__(self, db: MatchingDatabase) -> None:
        self.db = db
        s = db.settings
        self.every = s.frames(s.search_every_s, db.fps)
        self.same_clip = s.frames(s.same_clip_s, db.fps, least=0)
        self.halflife = s.blend_halflife_s * db.fps
        self.jumps = 0
        self.played = np.zeros(0, dtype=np.int64)

    def query(self, take: FeatureSequence, out: np.ndarray, t: int, known: int) -> np.ndarray:
        """The normalised query for choosing frame ``t``: the pose shown at ``t - 1`` and the path
        ahead of ``t - 1`` (control rows up to ``known`` as given, then extrapolated)."""
        db = self.db
        h = max(db.offsets)
        ext = extend_control(take.control, known, max(0, t - 1 + h - known), db.n_mean)
        traj = trajectory_features(ext[t - 1:t + h][None], db.offsets)[0]
        prev = out[t - 2] if t >= 2 else out[t - 1]
        pose = pose_feature_of(prev, out[t - 1], take.control[t - 1], db.ankle_cols, db.fps)
        return db.query_vector(np.concatenate([traj, pose]))

    def play(self, take: FeatureSequence, context: int, lookahead: int = 0, frames: int | None = None,
             rng: np.random.Generator | None = None) -> np.ndarray:
        """(frames, D) poses along ``take``'s control: its first ``context`` real poses, then matched ones.

        Args:
            take: gives the control path (and the context poses). context: >= 1 real frames.
            lookahead: control frames visible beyond the frame being made (``future="model"``).
            frames: how many frames (default: the take's length minus ``lookahead``).
            rng: picks among the ``top_k`` nearest (default: seeded with 0).
        """
        db, s = self.db, self.db.settings
        f = take.num_frames - lookahead if frames is None else frames
        if context < 1 or f <= context:
            raise ValueError(f"need 1 <= context < frames, got context {context} and {f} frames")
        rng = rng or np.random.default_rng(0)
        out = np.zeros((f, take.poses.shape[1]), np.float32)
        out[:context] = take.poses[:context]
        played = np.full(f, -1, dtype=np.int64)
        cur, since, jump_at = -1, 0, 0
        offset = velocity = np.zeros(out.shape[1])
        last_cmd = np.zeros(3)
        self.jumps = 0
        for t in range(context, f):
            known = take.num_frames - 1 if s.future == "oracle" else min(t + lookahead, take.num_frames - 1)
            cmd = commanded_velocity(take.control, min(t, known), db.n_mean, db.fps)
            changed = (np.hypot(*(cmd[:2] - last_cmd[:2])) > s.speed_change
                       or abs(cmd[2] - last_cmd[2]) > s.turn_change)
            if cur < 0 or since >= self.every or changed or not db.has_next(cur):
                q = self.query(take, out, t, known)
                best, costs = db.nearest(q, s.top_k, take.style)
                pick = int(rng.integers(len(best))) if len(best) > 1 else 0
                new, new_cost = int(best[pick]), float(costs[pick])
                near = db.clip[new] == db.clip[cur] and abs(int(db.local[new]) - int(db.local[cur])) <= self.same_clip
                stay = cur >= 0 and db.has_next(cur) and (db.cost(cur, q) <= new_cost + 1e-9 or near)
                if not stay:
                    shown = out[t - 1].astype(np.float64)
                    before = (out[t - 2] if t >= 2 else out[t - 1]).astype(np.float64)
                    target = db.poses[new].astype(np.float64)
                    offset = shown - target
                    velocity = (shown - before) - (target - db.poses[new - 1])
                    cur, jump_at = new, t - 1
                    self.jumps += 1
                since, last_cmd = 0, cmd
            cur += 1
            since += 1
            played[t] = cur
            out[t] = db.poses[cur] + spring_decay(offset, velocity, t - jump_at, self.halflife)
        if db.contact_cols.size:
            out[context:, db.contact_cols] = np.clip(out[context:, db.contact_cols], 0.0, 1.0)
        self.played = played
        return out


__all__ = ["MatchingController", "spring_decay", "commanded_velocity"]
