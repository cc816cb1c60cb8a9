"""Features of a long take in bounded memory: the same numbers as :func:`extract_features`,
computed chunk by chunk straight from the file.

:func:`data_pipeline.features.extract_features` holds the whole take several times over (its
channel values, local rotations ``(F, J, 3, 3)``, the resampled ones, world transforms, and
the mirrored copy of each): about 10 KB per frame for a Bandai Namco take. Every step except
the heading's smoothing and the mirror's choice of reflections is per frame, so here the take
is read in windows of frames (:class:`data_pipeline.bvh.BVHFrameReader`) and only what spans
the take is kept whole:

1. mirror only: the per-joint sums the reflection tie-break needs (:func:`mirror_pair_products`);
2. the root path and the hip/shoulder positions at the target rate (5 joints x 3 per frame),
   from which the heading is smoothed and the control computed as usual;
3. the pose features, window by window, into one float32 array.

Windows are re-read and recomputed in pass 3 rather than kept (twice the CPU for the
per-frame work, a fraction of the memory). Results agree with :func:`extract_features` to
float64 rounding (checked in ``tests/test_prepare.py``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .bvh import BVHFrameReader, read_bvh
from .config import DataConfig
from .features import (FeatureSequence, contact_channels, contact_joint_indices, control_from_trajectory,
                       extract_features, frame_features)
from .heading import forward_directions, smooth_heading
from .kinematics import forward_kinematics_local, local_transforms
from .mirror import infer_mirror_reflections, mirror_motion, mirror_pair_products
from .profiles import SkeletonProfile, load_profile
from .resample import lerp_frames, resample_indices, slerp_frames, snap_fps
from .skeleton import Motion
from .styles import style_of

__all__ = ["extract_features_from_file", "CHUNK_FRAMES"]

#: frames per window (source and target rate); a few MB of temporaries per window
CHUNK_FRAMES = 1024


def extract_features_from_file(path: str | Path, profile: SkeletonProfile | str, cfg: DataConfig,
                               mirror: bool = False, chunk_frames: int = CHUNK_FRAMES) -> FeatureSequence:
    """:func:`extract_features` of ``read_bvh(path)``, in windows of ``chunk_frames`` frames.

    A file whose frame lines are irregular (blank lines between frames) is read whole instead.

    Raises:
        BVHError: a bad file (naming the line); ProfileError: a skeleton the profile does not fit.
    """
    profile = load_profile(profile)
    with BVHFrameReader(path) as reader:
        if not reader.regular:
            return extract_features(read_bvh(path), profile, cfg, mirror=mirror)
        source, skel, total = reader.source, reader.skeleton, reader.frames
        profile.validate_skeleton(skel, source)
        windows = [(a, min(a + chunk_frames, total)) for a in range(0, total, chunk_frames)]

        reflections = None
        if mirror:  # pass 1: what choosing the reflections needs from every frame
            partner = profile.mirror_index(skel, source)
            sums = np.zeros((skel.num_joints, 3, 3))
            for a, b in windows:
                sums += mirror_pair_products(local_transforms(reader.motion(a, b))[0], partner)
            stub = Motion(skel, np.zeros((1, skel.num_channels)), reader.frame_time, source=source)
            reflections = infer_mirror_reflections(stub, profile, pair_products=sums / total)

        src_fps = snap_fps(1.0 / reader.frame_time, cfg.source_fps_tolerance)
        if src_fps == float(cfg.fps):  # as resample_local: no resampling at the same rate
            idx0 = idx1 = np.arange(total)
            alpha = np.zeros(total)
        else:
            idx0, idx1, alpha = resample_indices(total, src_fps, float(cfg.fps))
        out_windows = [(k, min(k + chunk_frames, len(idx0))) for k in range(0, len(idx0), chunk_frames)]

        def transforms(k0: int, k1: int):
            """Local and world transforms of output frames k0..k1-1 (file units, target rate)."""
            s0, s1 = int(idx0[k0:k1].min()), int(idx1[k0:k1].max()) + 1
            m = reader.motion(s0, s1)
            if mirror:
                m = mirror_motion(m, profile, reflections)
            rot, pos = local_transforms(m)
            rot = slerp_frames(rot, idx0[k0:k1] - s0, idx1[k0:k1] - s0, alpha[k0:k1])
            pos = lerp_frames(pos, idx0[k0:k1] - s0, idx1[k0:k1] - s0, alpha[k0:k1])
            world_pos, world_rot = forward_kinematics_local(skel, rot, pos)
            return rot, pos, world_pos, world_rot

        # pass 2: root path and heading joints at the target rate
        keep = [skel.index(n) for n in (*profile.hips, *profile.shoulders, profile.root)]
        if cfg.contacts:  # contact labels need speeds over the whole take
            keep += contact_joint_indices(skel, profile)
        few = np.empty((len(idx0), len(keep), 3))
        for k0, k1 in out_windows:
            few[k0:k1] = transforms(k0, k1)[2][:, keep]
        scale = float(profile.unit_scale)
        fwd = forward_directions(few, (0, 1), (2, 3), cfg.heading_equal_weights)
        theta = smooth_heading(fwd, cfg.heading_sigma_s * cfg.fps, cfg.heading_smoothing)
        root_xz = few[:, 4][:, [0, 2]] * scale
        contacts = contact_channels(few[:, 5:], skel, profile, cfg, joints_given=True) if cfg.contacts else None
        del few, fwd
        control = control_from_trajectory(root_xz, theta)

        # pass 3: pose features, window by window
        poses = passthrough = None
        for k0, k1 in out_windows:
            rot, pos, world_pos, world_rot = transforms(k0, k1)
            p, pt = frame_features(skel, profile, cfg, rot, pos, world_pos, world_rot, root_xz[k0:k1], theta[k0:k1])
            if poses is None:
                poses = np.empty((len(idx0), p.shape[1]), dtype=np.float32)
                passthrough = None if pt is None else np.empty((len(idx0), pt.shape[1]), dtype=pt.dtype)
            poses[k0:k1] = p
            if passthrough is not None:
                passthrough[k0:k1] = pt
    assert poses is not None  # a take has at least one frame (BVHFrameReader refuses 'Frames: 0')
    if contacts is not None:
        poses = np.concatenate([poses, contacts], axis=1)
    return FeatureSequence(poses=poses, control=control, fps=float(cfg.fps), source=source,
                           style=style_of(source, profile.style_pattern, cfg.style_aliases),
                           mirrored=mirror, root_start=np.array([root_xz[0, 0], root_xz[0, 1], theta[0]]),
                           passthrough=passthrough)
