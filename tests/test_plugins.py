"""Plug-ins reach the core through entry points, the way a third party's package would add one."""
from __future__ import annotations

import dataclasses
import textwrap

from train_testutils import SyntheticData, tiny_config

from moglow.flows import transforms
from moglow.logging_utils import read_csv
from moglow.train import Trainer

PLUGIN = '''
import torch
from moglow.flows.transforms import TransformFamily


class TanhScale(TransformFamily):
    """y2 = x2 * exp(tanh(h)) + b: a throw-away family for the plug-in test."""

    diagnostic_names = ("mean_abs_log_scale",)

    def num_params(self, dim):
        return 2 * dim

    def forward(self, x2, params):
        d = x2.shape[-1]
        log_s = torch.tanh(params[..., d:])
        return x2 * torch.exp(log_s) + params[..., :d], log_s.sum(-1)

    def inverse(self, y2, params):
        d = y2.shape[-1]
        log_s = torch.tanh(params[..., d:])
        return (y2 - params[..., :d]) * torch.exp(-log_s), -log_s.sum(-1)

    @classmethod
    def diagnostics(cls, model, batch):
        return {"mean_abs_log_scale": 0.5}
'''


def _install_outside_the_repo(root, monkeypatch) -> None:
    """A package and its metadata in ``root`` (not the repository), found through ``sys.path``."""
    (root / "throwaway_flows").mkdir(parents=True)
    (root / "throwaway_flows" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    meta = root / "throwaway_flows-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway-flows\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[moglow.transforms]\ntanh-scale = throwaway_flows:TanhScale\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(transforms, "_REGISTRY", dict(transforms._REGISTRY))  # forget it afterwards


def test_a_transform_family_from_another_package_trains_and_logs_its_diagnostics(tmp_path, monkeypatch):
    _install_outside_the_repo(tmp_path / "site", monkeypatch)
    assert "tanh-scale" in transforms.available_transforms()
    cfg = tiny_config(steps=2, val_every=2, checkpoint_every=2, log_every=1)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, coupling="tanh-scale"))
    result = Trainer(cfg, SyntheticData(), tmp_path / "run", progress=False).fit()
    assert result.step == 2
    rows = read_csv(tmp_path / "run" / "losses.csv")
    assert [r["step"] for r in rows] == ["1", "2"]
    assert rows[-1]["mean_abs_log_scale"] == "0.5" and rows[0]["mean_abs_log_scale"] == ""


def test_mcmoglow_arrives_through_its_entry_point_and_is_never_imported_by_the_core():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group=transforms.ENTRY_POINT_GROUP)}
    assert eps.get("matrix") == "mcmoglow.transform:make_matrix_transform"
