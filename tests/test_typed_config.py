"""The strict config loader: unknown keys and wrong types are errors that name the key."""
from dataclasses import dataclass, field
from typing import Literal

import pytest

from data_pipeline.typed_config import ConfigError, from_dict, load_yaml, to_dict


@dataclass
class Inner:
    lr: float = 1e-3
    kind: Literal["a", "b"] = "a"
    sizes: list[int] = field(default_factory=lambda: [1, 2])
    limit: int | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    steps: int = 10


def test_round_trip_and_int_to_float():
    cfg = from_dict(Outer, {"inner": {"lr": 1, "kind": "b", "sizes": [3]}, "steps": 5})
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)
    assert from_dict(Outer, to_dict(cfg)) == cfg


@pytest.mark.parametrize("bad, words", [
    ({"inner": {"lrr": 1}}, ["'lrr'", "Outer.inner", "did you mean 'lr'"]),
    ({"stpes": 1}, ["'stpes'", "did you mean 'steps'"]),
    ({"steps": "ten"}, ["Outer.steps", "integer"]),
    ({"steps": True}, ["Outer.steps", "integer"]),
    ({"inner": {"kind": "c"}}, ["Outer.inner.kind", "'c'"]),
    ({"inner": {"sizes": [1, "x"]}}, ["Outer.inner.sizes[1]"]),
])
def test_errors_name_the_key(bad, words):
    with pytest.raises(ConfigError) as info:
        from_dict(Outer, bad)
    for w in words:
        assert w in str(info.value)


def test_yaml_errors_name_the_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("inner:\n  lr: 0.1\n  momentum: 0.9\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*'momentum'"):
        load_yaml(Outer, p)
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(Outer, tmp_path / "missing.yaml")
