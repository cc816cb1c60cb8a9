"""``data_pipeline.plain_data.to_plain``: the one conversion to plain (JSON / checkpoint) data."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from data_pipeline.plain_data import to_plain


@dataclass
class _Point:
    x: float
    where: Path


class _WithDict:
    def to_dict(self) -> dict:
        return {"kind": "custom", "values": np.array([1.5, 2.5])}


def test_nested_numpy_paths_dataclasses_become_json():
    obj = {"p": _Point(np.float64(1.0), Path("a/b")), "c": _WithDict(), "t": (1, np.int64(2)),
           "m": np.eye(2, dtype=np.float32), "flag": np.bool_(True)}
    out = to_plain(obj)
    assert out == {"p": {"x": 1.0, "where": "a/b"}, "c": {"kind": "custom", "values": [1.5, 2.5]}, "t": [1, 2],
                   "m": [[1.0, 0.0], [0.0, 1.0]], "flag": True}
    assert type(out["p"]["x"]) is float and type(out["t"][1]) is int and type(out["flag"]) is bool
    assert json.loads(json.dumps(out)) == out


def test_finite_turns_nan_and_infinity_into_none_everywhere():
    obj = {"a": float("nan"), "b": [1.0, float("-inf")], "c": np.array([np.inf, 2.0]), "d": np.float32("nan")}
    out = to_plain(obj, finite=True)
    assert out == {"a": None, "b": [1.0, None], "c": [None, 2.0], "d": None}
    json.dumps(out, allow_nan=False)  # strict JSON
    assert np.isnan(to_plain(obj)["a"])  # kept unless asked


def test_checkpoint_options_keep_tensors_and_tuples():
    t = torch.zeros(2)
    out = to_plain({"w": t, "state": (1, [2, 3])}, keep=(torch.Tensor,), keep_tuples=True)
    assert out["w"] is t and out["state"] == (1, [2, 3]) and isinstance(out["state"], tuple)


def test_unknown_objects_need_a_fallback():
    with pytest.raises(TypeError, match="object"):
        to_plain({"x": object()})
    assert to_plain({"x": torch.tensor(2.5)}, fallback=float) == {"x": 2.5}
    assert to_plain([object], fallback=str) == [str(object)]
