"""Switching MoGlow to McMoGlow is one config value: the two tiny configs differ only there."""
from data_pipeline.typed_config import to_dict
from moglow.config import load_experiment

from conftest import REPO_ROOT


def test_mcmoglow_config_is_moglow_with_one_value_changed():
    a = to_dict(load_experiment(REPO_ROOT / "configs" / "tiny_cpu.yaml"))
    b = to_dict(load_experiment(REPO_ROOT / "configs" / "tiny_cpu_mcmoglow.yaml"))
    assert a["model"].pop("coupling") == "affine" and b["model"].pop("coupling") == "matrix"
    a.pop("name"), b.pop("name")
    assert a == b
