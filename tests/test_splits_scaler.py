"""Splits by file (seeded, stratified, explicit, by style), style labels, and the scaler."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from data_pipeline.scaler import Scaler
from data_pipeline.splits import SplitConfig, split_files
from data_pipeline.styles import content_of, label_ids, parse_labels, style_index, style_of
from data_pipeline.typed_config import ConfigError, from_dict

BN_PATTERN = "dataset-*_{content}_{style}_{id}"


def _bandai_like_names() -> list[str]:
    names = []
    for content in ("walk", "run", "walk-turn-left"):
        for style in ("active", "normal", "not-confident"):
            for i in range(1, 8):
                names.append(f"dataset-2/dataset-2_{content}_{style}_{i:03d}.bvh")
    return names


def _labels(names):
    return {n: parse_labels(n, BN_PATTERN) for n in names}


# ---------------------------------------------------------------- styles

def test_parse_bandai_names_with_hyphens():
    lab = parse_labels("/x/dataset-2_walk-turn-left_not-confident_012.bvh", BN_PATTERN)
    assert lab == {"content": "walk-turn-left", "style": "not-confident", "id": "012"}
    assert style_of("dataset-1_dash_giant_001.bvh", BN_PATTERN) == "giant"
    assert content_of("dataset-1_dash_giant_001.bvh", BN_PATTERN) == "dash"
    # the literal part must match; a name with an extra token does not
    assert parse_labels("other_walk_normal_001.bvh", BN_PATTERN) is None
    assert parse_labels("dataset-2_walk_normal_001_extra.bvh", BN_PATTERN) is None
    assert parse_labels("dataset-2_walk_normal_001.bvh", None) is None
    assert style_of("dataset-1_walk_masculinity_001", BN_PATTERN, {"masculinity": "masculine"}) == "masculine"


def test_exact_pattern_from_profile():
    lab = parse_labels("dataset-2_run_active_001.bvh", "dataset-2_{content}_{style}_{id}")
    assert lab == {"content": "run", "style": "active", "id": "001"}
    assert parse_labels("dataset-1_run_active_001.bvh", "dataset-2_{content}_{style}_{id}") is None


def test_label_ids_sorted_and_index():
    ids = label_ids(["normal", "active", None, "normal", "feminine"])
    assert ids == {"active": 0, "feminine": 1, "normal": 2}
    names = sorted(ids)
    assert style_index("normal", names) == 2 and style_index(None, names) == -1
    assert style_index("unknown", names) == -1


# ---------------------------------------------------------------- splits

def test_split_is_a_partition_by_file_and_seeded():
    names = _bandai_like_names()
    cfg = SplitConfig(val_fraction=0.2, test_fraction=0.1, seed=3)
    sp = split_files(names, cfg, _labels(names))
    all_files = sp["train"] + sp["val"] + sp["test"]
    assert sorted(all_files) == sorted(names)
    assert len(set(all_files)) == len(names)
    assert len(sp["val"]) == round(0.2 * len(names))
    assert len(sp["test"]) == round(0.1 * len(names))
    # same seed and shuffled input order -> same split; other seed -> different
    shuffled = list(np.random.default_rng(0).permutation(names))
    assert split_files(shuffled, cfg, _labels(names)) == sp
    assert split_files(names, SplitConfig(val_fraction=0.2, test_fraction=0.1, seed=4), _labels(names)) != sp


def test_split_stratified_by_content():
    names = _bandai_like_names()
    sp = split_files(names, SplitConfig(val_fraction=0.2, stratify="content"), _labels(names))
    for content in ("walk", "run", "walk-turn-left"):
        n = sum(content_of(v, BN_PATTERN) == content for v in sp["val"])
        assert n in (4, 5)  # 20% of 21, rounded either way


def test_explicit_files_and_held_out_style():
    names = _bandai_like_names()
    cfg = SplitConfig(val_fraction=0.0, val_files=["*_run_active_00[12].bvh"], test_styles=["not-confident"])
    sp = split_files(names, cfg, _labels(names))
    assert sp["val"] == ["dataset-2/dataset-2_run_active_001.bvh", "dataset-2/dataset-2_run_active_002.bvh"]
    assert len(sp["test"]) == 21 and all(style_of(t, BN_PATTERN) == "not-confident" for t in sp["test"])
    assert not any(style_of(t, BN_PATTERN) == "not-confident" for t in sp["train"])
    # a pattern can also name the relative path
    sp2 = split_files(names, SplitConfig(val_fraction=0.0, val_files=["dataset-2/*_walk_normal_*"]), _labels(names))
    assert len(sp2["val"]) == 7


def test_split_errors_and_warnings():
    names = _bandai_like_names()
    with pytest.raises(ValueError, match="both"):
        split_files(names, SplitConfig(val_files=["*_001.bvh"], test_files=["*run_active_001.bvh"]))
    with pytest.raises(ValueError, match="no training files"):
        split_files(["a.bvh"], SplitConfig(val_files=["a.bvh"]))
    with pytest.warns(UserWarning, match="matches none"):
        split_files(names, SplitConfig(val_files=["nope*"]))
    with pytest.raises(ConfigError, match="val_fraction"):
        from_dict(SplitConfig, {"val_fraction": 1.5})
    with pytest.raises(ConfigError, match="val_fractoin"):
        from_dict(SplitConfig, {"val_fractoin": 0.1})


# ---------------------------------------------------------------- scaler

def test_scaler_matches_numpy_and_is_chunking_independent():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(100.0, 3.0, size=(n, 5)) for n in (7, 1, 40, 13)]
    s = Scaler.fit(chunks)
    full = np.concatenate(chunks)
    np.testing.assert_allclose(s.mean, full.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.std, full.std(0), rtol=1e-10)
    s2 = Scaler.fit([full])
    np.testing.assert_allclose(s2.std, s.std, rtol=1e-10)
    z = s.transform(full)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-10)
    np.testing.assert_allclose(s.inverse_transform(z), full, rtol=1e-12)


def test_scaler_constant_feature_and_types():
    x = np.stack([np.arange(10.0), np.full(10, 7.0)], axis=1).astype(np.float32)
    s = Scaler.fit([x])
    assert s.std[1] == 1.0
    z = s.transform(x)
    assert z.dtype == np.float32 and np.all(np.isfinite(z)) and np.all(z[:, 1] == 0)
    np.testing.assert_array_equal(s.inverse_transform(z)[:, 1], x[:, 1])
    t = s.transform(torch.from_numpy(x))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), z, rtol=1e-6)
    back = Scaler.from_dict(s.to_dict())
    np.testing.assert_array_equal(back.mean, s.mean)
    with pytest.raises(ValueError, match="features"):
        s.transform(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        Scaler.fit([np.array([[np.nan]])])
