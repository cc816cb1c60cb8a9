"""Worst error of the feature inverses and of mirroring over every Bandai Namco dataset-2 file.

Prints, as a fraction of each take's body height (largest vertical extent): the positions
inverse, the rotations inverse (with and without the take's passthrough), and the mirror
(FK of the mirrored motion vs the reflected, left/right-swapped FK). Data: Bandai Namco
Research Motion Dataset (CC BY-NC 4.0), read from ../shared/mocap by path.

    python benchmarks/feature_inverse_error.py [--limit N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.features import (extract_features, feature_definition, model_joint_positions,
                                    reconstruct_world_positions, sequence_world_positions)
from data_pipeline.kinematics import forward_kinematics
from data_pipeline.mirror import mirror_motion, reflect_positions
from data_pipeline.profiles import load_profile
from data_pipeline.resample import resample_motion

DATA = Path(__file__).resolve().parents[2] / "shared" / "mocap" / "bandai-namco" / "dataset-2"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="only the first N files")
    args = ap.parse_args()
    profile = load_profile("bandai_namco")
    files = sorted(DATA.glob("*.bvh"))[: args.limit]
    cfg_pos, cfg_rot = DataConfig(), DataConfig(representation="rotations")
    worst = dict.fromkeys(["positions", "rotations", "rotations, default passthrough", "mirror"], 0.0)
    extract_s = 0.0
    for f in tqdm(files, desc="files", unit="file"):
        motion = read_bvh(f)
        world = forward_kinematics(motion)[0]
        height = np.ptp(world[..., 1], axis=-1).max() * profile.unit_scale
        ref = model_joint_positions(resample_motion(motion, cfg_pos.fps), profile)
        t = time.perf_counter()
        sp, sr = extract_features(motion, profile, cfg_pos), extract_features(motion, profile, cfg_rot)
        extract_s += time.perf_counter() - t
        fp = feature_definition(motion.skeleton, profile, cfg_pos)
        fr = feature_definition(motion.skeleton, profile, cfg_rot)
        errs = {
            "positions": np.abs(sequence_world_positions(sp, fp) - ref).max(),
            "rotations": np.abs(sequence_world_positions(sr, fr) - ref).max(),
            "rotations, default passthrough":
                np.abs(reconstruct_world_positions(sr.poses, sr.control, fr, sr.root_start) - ref).max(),
            "mirror": np.abs(forward_kinematics(mirror_motion(motion, profile))[0]
                             - reflect_positions(world, profile.mirror_index(motion.skeleton))).max()
                      * profile.unit_scale,
        }
        for k, v in errs.items():
            worst[k] = max(worst[k], float(v) / height)
    print(f"{len(files)} files of {DATA}")
    for k, v in worst.items():
        print(f"worst {k:32s} error: {v:.2e} of body height")
    print(f"feature extraction (both representations, {cfg_pos.fps:g} fps): {1000 * extract_s / len(files):.1f} ms per file")


if __name__ == "__main__":
    main()
