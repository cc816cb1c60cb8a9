"""Exported BVH files open in Blender: Debian's ``blender`` imports them headless
(``bpy.ops.import_anim.bvh``) and its armature's joints land where our forward kinematics puts them.

Skipped when ``blender`` is not installed; install it with
``apt-get install -y --no-install-recommends blender`` (Debian 12: Blender 3.4, about 73 MB to
download, 480 MB installed).
"""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import require, require_path
from data_pipeline.bvh import read_bvh
from data_pipeline.bvh_writer import write_bvh
from data_pipeline.ik import positions_to_motion
from data_pipeline.kinematics import forward_kinematics
from data_pipeline.procedural import generate_take
from data_pipeline.profiles import load_profile
from sampling_testutils import BANDAI_WALK

BLENDER = shutil.which("blender")


@pytest.fixture(autouse=True)
def _blender_installed() -> None:
    require(BLENDER is not None,
            "Debian's blender is not installed (apt-get install -y --no-install-recommends blender)")

# Runs inside Blender. Debian's Blender 3.4 uses Python 3.11, whose open() rejects the BVH
# importer's mode 'rU' (removed in 3.11); the importer module's `open` is wrapped to drop the 'U'.
SCRIPT = r"""
import builtins, json, sys
import bpy
import io_anim_bvh.import_bvh as importer
importer.open = lambda f, mode="r", *a, **k: builtins.open(f, mode.replace("U", ""), *a, **k)
path, frames = sys.argv[sys.argv.index("--") + 1], json.loads(sys.argv[sys.argv.index("--") + 2])
result = bpy.ops.import_anim.bvh(filepath=path, global_scale=1.0, rotate_mode="NATIVE", axis_forward="-Z",
                                 axis_up="Y", update_scene_fps=True)
obj = bpy.context.selected_objects[0]
scene = bpy.context.scene
out = {"result": sorted(result), "bones": [b.name for b in obj.data.bones],
       "frame_range": list(obj.animation_data.action.frame_range), "fps": scene.render.fps / scene.render.fps_base,
       "heads": {}}
for f in frames:
    scene.frame_set(f + 1)  # Blender numbers the first BVH frame 1
    out["heads"][str(f)] = {pb.name: list(obj.matrix_world @ pb.head) for pb in obj.pose.bones}
print("BLENDER-RESULT " + json.dumps(out))
"""


def _blender_import(path, frames: list[int]) -> dict:
    proc = subprocess.run([BLENDER, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", SCRIPT,
                           "--", str(path), json.dumps(frames)], capture_output=True, text=True, timeout=240)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BLENDER-RESULT ")]
    assert proc.returncode == 0 and lines, \
        f"blender failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("BLENDER-RESULT "):])


def _check_in_blender(motion, path):
    write_bvh(motion, path)
    back = read_bvh(path)
    frames = [0, back.num_frames // 2, back.num_frames - 1]
    res = _blender_import(path, frames)
    sk = back.skeleton
    joints = [n for n, e in zip(sk.names, sk.is_end_site) if not e]
    assert res["result"] == ["FINISHED"] and res["bones"] == joints
    assert res["frame_range"] == [1.0, float(back.num_frames)] and res["fps"] == pytest.approx(back.fps, rel=1e-3)
    world, _ = forward_kinematics(back)
    for f in frames:
        ours = world[f, [sk.index(n) for n in joints]]
        theirs = np.array([res["heads"][str(f)][n] for n in joints])
        # Blender is Z up: our (x, y, z) is its (x, -z, y)
        np.testing.assert_allclose(theirs, ours[:, [0, 2, 1]] * [1, -1, 1], atol=1e-3 * np.abs(ours).max())


def test_blender_imports_ik_export_of_procedural_take(tmp_path):
    profile = load_profile("procedural")
    motion, _ = generate_take(3, 2.0, fps=20.0)
    world, _ = forward_kinematics(motion)
    targets = world[:, [motion.skeleton.index(j) for j in profile.file_joints]] * profile.unit_scale
    fit = positions_to_motion(motion.skeleton, targets, profile.file_joints, profile.root, profile.unit_scale,
                              motion.frame_time)
    _check_in_blender(fit.motion, tmp_path / "procedural.bvh")


def test_blender_imports_ik_export_of_bandai_namco(tmp_path):
    """Every joint of this skeleton has position channels too (they must equal the OFFSETs)."""
    take = require_path(BANDAI_WALK, "Bandai Namco dataset-2 walk take")
    profile = load_profile("bandai_namco")
    motion = read_bvh(take)
    world, _ = forward_kinematics(motion)
    targets = world[::3, [motion.skeleton.index(j) for j in profile.file_joints]] * profile.unit_scale
    fit = positions_to_motion(motion.skeleton, targets, profile.file_joints, profile.root, profile.unit_scale,
                              3 * motion.frame_time)
    _check_in_blender(fit.motion, tmp_path / "bandai.bvh")
