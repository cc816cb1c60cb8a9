"""Shipped models (moglow.pretrained): pack a tiny checkpoint built here, resolve ``pretrained:NAME``
through the one checkpoint resolver, list it, and find its test split again without the prepared
data. The shipped files are checked for their size, their cards, that they load and that they sample the frames
recorded when they shipped."""
from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
import torch

from conftest import require_path
from data_pipeline.config import DataConfig
from data_pipeline.prepare import PreparedData, prepare_dataset
from data_pipeline.splits import SplitConfig
from moglow import pretrained
from moglow.pretrained.pack import pack_checkpoint
from moglow.checkpoint import CheckpointError, load_checkpoint, load_model
from moglow.cli import main
from moglow.evaluation.config import EvaluationConfig
from moglow.evaluation.evaluate import evaluate_checkpoint
from moglow.evaluation.heldout import EvaluationError, split_files
from sampling_testutils import procedural_takes, random_model, tiny_model_config, write_checkpoint

torch.set_num_threads(1)
CARD = "# tiny: a test model\n\nData: procedural takes.\n"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    bvh = procedural_takes(root / "bvh", num=4, seconds=3.0)
    cfg = DataConfig(profile="procedural", data_dir=str(bvh),
                     split=SplitConfig(val_fraction=0.0, test_fraction=0.25, stratify="none"))
    data = PreparedData.load(prepare_dataset(cfg, bvh, root / "prepared", progress=False, workers=1,
                                             log=lambda s: None))
    model = random_model(tiny_model_config(tau=3), data.pose_dim, scale=0.02)
    run = root / "run"
    write_checkpoint(run / "latest.pt", model, data)
    folder = root / "models"
    path = pack_checkpoint(run, folder / "tiny.pt")
    (folder / "tiny.md").write_text(CARD)
    return {"root": root, "bvh": bvh, "folder": folder, "path": path, "model": model, "run": run}


@pytest.fixture
def registry(shipped, monkeypatch):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", shipped["folder"])
    return shipped


def test_pack_keeps_the_model_and_the_split_and_drops_training_state(shipped):
    ckpt = load_checkpoint(shipped["path"])
    assert "optimizer" not in ckpt and "rng" not in ckpt and ckpt["data"]["prepared_dir"] is None
    split = ckpt["data"]["split"]
    assert len(split["files"]["test"]) == 1 and len(split["files"]["train"]) == 3
    assert all(len(sha) == 64 for _, sha in split["files"]["test"])
    assert shipped["path"].stat().st_size < pretrained.MAX_BYTES


def test_pretrained_name_resolves_everywhere_a_checkpoint_is_taken(registry):
    model, ckpt = load_model("pretrained:tiny")
    for key, value in registry["model"].state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    assert load_checkpoint("pretrained:tiny")["step"] == 0
    with pytest.raises(CheckpointError, match="shipped: tiny"):
        load_checkpoint("pretrained:nope")
    assert [m.name for m in pretrained.available()] == ["tiny"]
    assert pretrained.available()[0].summary == "tiny: a test model"
    import argparse

    from moglow.commands import pretrained as command  # called directly: entry points need an install

    def run(argv):
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        return command.run(parser.parse_args(argv))

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run([]) == 0 and run(["tiny"]) == 0
    assert "pretrained:tiny" in out.getvalue() and "Data: procedural takes." in out.getvalue()
    # moglow sample takes it too
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["sample", "--checkpoint", "pretrained:tiny", "--path", "line:speed=1", "--seconds", "1",
                   "--out", str(registry["root"] / "samples"), "--no-progress"])
    assert rc == 0 and (registry["root"] / "samples" / "sample_000.bvh").is_file()


def test_a_packed_temperature_is_every_commands_default(registry, tmp_path, monkeypatch):
    """``--pack --temperature T``: sample, evaluate, the API and the checkpoint's meta use T unless told
    otherwise; an explicit temperature wins; a model that names none samples at 1.0."""
    import json

    from data_pipeline.errors import InputError
    from moglow.api import load
    from moglow.sampling import SamplingMeta

    folder = tmp_path / "models"
    pack_checkpoint(registry["run"], folder / "cool.pt", temperature=0.5)
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", folder)
    assert SamplingMeta.from_checkpoint(load_checkpoint("pretrained:cool")).default_temperature() == 0.5
    assert SamplingMeta.from_checkpoint(load_checkpoint(registry["path"])).default_temperature() == 1.0
    pack_checkpoint(folder / "cool.pt", folder / "again.pt")  # re-packing keeps it
    assert load_checkpoint(folder / "again.pt")["sampling"] == {"temperature": 0.5}
    with pytest.raises(InputError, match="temperature"):
        pack_checkpoint(registry["run"], folder / "bad.pt", temperature=-1.0)

    for extra, want in (([], 0.5), (["--temperature", "0.9"], 0.9)):
        out = tmp_path / f"s{len(extra)}"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["sample", "--checkpoint", "pretrained:cool", "--path", "line:speed=1", "--seconds", "1",
                         "--out", str(out), "--no-progress", *extra]) == 0
        assert json.loads((out / "report.json").read_text())["info"]["temperature"] == want
    assert load("pretrained:cool").sample(seconds=1).info["temperature"] == 0.5
    for cfg_t, want in ((None, 0.5), (0.7, 0.7)):
        res = evaluate_checkpoint("pretrained:cool", None, EvaluationConfig(num_samples=2, batch_size=4, nll_window=0,
                                                                          temperature=cfg_t),
                                  device="cpu", progress=False, split="test")
        assert res.info["temperature"] == want


def test_test_split_is_found_again_without_the_prepared_data(registry, tmp_path):
    ckpt = load_checkpoint("pretrained:tiny")
    root, files = split_files(ckpt, "test")
    assert root == registry["bvh"] and len(files) == 1 and files[0].is_file()
    # another copy of the data (e.g. --data), checked by sha256
    copy = shutil.copytree(registry["bvh"], tmp_path / "copy")
    assert split_files(ckpt, "test", copy)[1] == [Path(copy) / files[0].name]
    res = evaluate_checkpoint("pretrained:tiny", copy, EvaluationConfig(num_samples=2, batch_size=4, nll_window=0),
                              device="cpu", progress=False, split="test")
    assert res.info["files"] == 1 and res.info["training_overlap"] == 0
    (Path(copy) / files[0].name).write_text((Path(copy) / files[0].name).read_text().replace("0.", "1.", 1))
    with pytest.raises(EvaluationError, match="differ"):
        split_files(ckpt, "test", copy)
    shutil.rmtree(tmp_path / "copy")
    with pytest.raises(EvaluationError, match="not in"):
        split_files(ckpt, "test", tmp_path)


SHIPPED = pretrained.PRETRAINED_DIR
#: shipped model -> frame 19's features ``[::13]`` and the summed per-feature std of ``[:, 5:]`` along
#: ``circle:radius=3`` (seed 0, T = 0.8), recorded when it shipped (bandai2_small: with the code before the
#: flow went through ``Compose`` and every sampler through ``MotionStreamer``)
RECORDED = {"bandai2_small": ([0.8993, 0.0690, 1.2744, -0.0058, -0.0834], 3.6686),
            "bandai2_mcmoglow": ([0.9144, 0.0559, 1.2859, 0.0001, -0.0619], 3.5061)}


def test_shipped_models_have_cards_and_load():
    for name in RECORDED:
        require_path(SHIPPED / f"{name}.pt", "the shipped model")
    for m in pretrained.available():
        assert m.size_bytes <= pretrained.MAX_BYTES and m.card is not None
        card = m.card.read_text()
        for needed in ("CC BY-NC 4.0", "Bandai Namco Research Inc.", "moglow train", "--split test", "non-commercial"):
            assert needed in card, (m.name, needed)
        model, ckpt = load_model(f"pretrained:{m.name}")
        assert ckpt["data"]["split"]["files"]["test"] and model.pose_dim == ckpt["data"]["pose_dim"]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_shipped_model_samples_the_frames_it_always_has(name):
    """The shipped checkpoint loads under the same parameter names and samples the frames it sampled
    when it shipped, on each sampling path (model, optimised model, the ``auto`` precision's fp32
    frame decoder; up to BLAS rounding)."""
    import numpy as np

    from moglow.paths import make_path
    from moglow.sampling import SamplingMeta, optimise_for_sampling, sample_path

    require_path(SHIPPED / f"{name}.pt", "the shipped model")
    model, ckpt = load_model(f"pretrained:{name}")
    assert set(model.state_dict()) == set(ckpt["model"])
    meta = SamplingMeta.from_checkpoint(ckpt)
    path = make_path("circle:radius=3", model.tau + 20, meta.data_config)
    frame, spread = RECORDED[name]
    for optimised, precision in ((False, "fp32"), (True, "fp32"), (True, "auto")):  # auto: the fp32 decoder
        if optimised:
            optimise_for_sampling(model)
        p = sample_path(model, meta, path, num=1, seed=0, temperature=0.8, precision=precision).poses[0]
        np.testing.assert_allclose(p[19, ::13], frame, rtol=0, atol=2e-4)
        assert abs(p[:, 5:].std(0).sum() - spread) < 2e-3


def test_the_default_model_ships():
    assert pretrained.DEFAULT_MODEL in RECORDED
    require_path(SHIPPED / f"{pretrained.DEFAULT_MODEL}.pt", "the shipped model")
    assert pretrained.DEFAULT_MODEL in [m.name for m in pretrained.available()]
