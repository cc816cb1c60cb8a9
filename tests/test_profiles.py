"""Skeleton profiles and the data config: loading, validation, clear errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from data_pipeline.bvh import read_bvh
from data_pipeline.config import DataConfig
from data_pipeline.procedural_skeleton import procedural_skeleton
from data_pipeline.profiles import ProfileError, available_profiles, load_profile
from data_pipeline.typed_config import ConfigError, from_dict, to_dict


def test_shipped_profiles_load():
    assert {"bandai_namco", "cmu", "procedural"} <= set(available_profiles())
    bn = load_profile("bandai_namco")
    assert (bn.root, bn.unit_scale, len(bn.joints), len(bn.mirror_pairs)) == ("Hips", 0.01, 21, 8)
    cmu = load_profile("cmu")
    assert cmu.unit_scale == pytest.approx(2.54 / 45) and len(cmu.joints) == 21
    assert load_profile(bn) is bn


def test_procedural_profile_fits_the_generator_skeleton():
    skel = procedural_skeleton()
    prof = load_profile("procedural")
    prof.validate_skeleton(skel)
    partner = prof.mirror_index(skel)
    assert np.array_equal(partner[partner], np.arange(skel.num_joints))  # an involution
    names = skel.names
    assert names[partner[names.index("Hand_L_End")]] == "Hand_R_End"
    assert names[partner[names.index("Head")]] == "Head"
    # parents within the model's joint subset
    parents = prof.model_parents(skel)
    joints = prof.model_joints
    assert joints[parents[joints.index("Hand_L")]] == "LowerArm_L" and parents[joints.index("Hips")] == -1


def test_missing_joint_is_named():
    # the Bandai Namco profile names joint_Root, which the procedural skeleton lacks
    with pytest.raises(ProfileError, match=r"'joint_Root' \(in mirror_reflections\) is not in the skeleton"):
        load_profile("bandai_namco").validate_skeleton(procedural_skeleton())
    skel = procedural_skeleton()
    skel.names[skel.names.index("Toes_R")] = "ToesR"
    with pytest.raises(ProfileError, match=r"'Toes_R' \(in joints\['Toes_R'\]\) is not in the skeleton \(take\.bvh\)"):
        load_profile("procedural").validate_skeleton(skel, "take.bvh")


def test_end_site_and_bad_pairs_are_errors():
    skel = procedural_skeleton()
    prof = load_profile("procedural")
    bad = dataclasses.replace(prof, feet=["Toes_L_End"])
    with pytest.raises(ProfileError, match="'Toes_L_End' .* is an End Site"):
        bad.validate_skeleton(skel)
    swapped = [("LowerArm_L", "LowerLeg_R"), ("LowerLeg_L", "LowerArm_R")]
    pairs = [p for p in prof.mirror_pairs if p[0] not in ("LowerArm_L", "LowerLeg_L")] + swapped
    bad = dataclasses.replace(prof, mirror_pairs=pairs)
    with pytest.raises(ProfileError, match="not mirror partners"):
        bad.validate_skeleton(skel)
    swapped = [("Hand_L", "Foot_R"), ("Foot_L", "Hand_R")]
    pairs = [p for p in prof.mirror_pairs if p[0] not in ("Hand_L", "Foot_L")] + swapped
    bad = dataclasses.replace(prof, mirror_pairs=pairs)
    with pytest.raises(ProfileError, match="'Hand_L' has 1 End Site"):
        bad.validate_skeleton(skel)


def test_profile_yaml_errors(tmp_path):
    base = to_dict(load_profile("procedural"))
    cases = [
        ({"unit_scal": 0.01}, "did you mean 'unit_scale'"),
        ({"hips": ["UpperLeg_L", "UpperArm_R"]}, "hips .* is not one of mirror_pairs"),
        ({"mirror_pairs": [["Hand_L", "Hand_R"], ["Hand_L", "Foot_R"]]}, "'Hand_L' is in mirror_pairs"),
        ({"mirror_reflections": {"Hips": "w"}}, "mirror_reflections"),
        ({"joints": {"A": "Hips", "B": "Hips"}}, "same file joint"),
    ]
    for change, message in cases:
        data = {**base, **change}
        if "unit_scal" in change:
            del data["unit_scale"]
        path = tmp_path / "p.yaml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=message):
            load_profile(path)
    with pytest.raises(ConfigError, match="shipped profiles: .*bandai_namco"):
        load_profile("no_such_profile")


def test_profile_round_trips_through_yaml(tmp_path):
    prof = load_profile("bandai_namco")
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(to_dict(prof), sort_keys=False))
    again = load_profile(path)
    assert again == prof and list(again.joints) == list(prof.joints)


def test_real_skeletons_validate(bandai_namco_dir, cmu_dir):
    bn = read_bvh(bandai_namco_dir / "dataset-2" / "dataset-2_walk_normal_001.bvh")
    load_profile("bandai_namco").validate_skeleton(bn.skeleton)
    assert len([n for n, e in zip(bn.skeleton.names, bn.skeleton.is_end_site) if not e]) == 22
    cmu = read_bvh(cmu_dir / "01_01.bvh")
    prof = load_profile("cmu")
    prof.validate_skeleton(cmu.skeleton)
    joints = [n for n, e in zip(cmu.skeleton.names, cmu.skeleton.is_end_site) if not e]
    assert len(joints) == 31
    paired = {n for p in prof.mirror_pairs for n in p}
    assert {n for n in joints if n.startswith(("L", "R"))} - {"LowerBack"} <= paired
    # Spine1's children include Neck (not a model joint): Neck1's model parent is Spine1 ("Chest")
    parents = prof.model_parents(cmu.skeleton)
    assert prof.model_joints[parents[prof.model_joints.index("Neck")]] == "Chest"


def test_data_config():
    cfg = from_dict(DataConfig, {"representation": "rotations", "fps": 30, "split": {"val_fraction": 0.2}})
    assert cfg.fps == 30.0 and cfg.split.val_fraction == 0.2 and cfg.heading_smoothing == "vector"
    with pytest.raises(ConfigError, match="did you mean 'heading_sigma_s'"):
        from_dict(DataConfig, {"heading_sigma": 0.1})
    with pytest.raises(ConfigError, match="representation"):
        from_dict(DataConfig, {"representation": "quaternions"})
    with pytest.raises(ConfigError, match="fps must be positive"):
        from_dict(DataConfig, {"fps": 0})
    assert from_dict(DataConfig, to_dict(cfg)) == cfg
