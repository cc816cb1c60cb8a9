"""Experiment configs: the shipped files load, hold the published settings, and reject typos."""
from __future__ import annotations

import dataclasses

from pathlib import Path

import pytest
import yaml

from data_pipeline.typed_config import ConfigError
from moglow.config import ExperimentConfig, experiment_from_dict, experiment_to_dict, load_experiment

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["locomotion_paper", "locomotion_preferred", "tiny_cpu", "small_cpu",
                                  "tiny_cpu_mcmoglow", "bandai2_small"])
def test_shipped_configs_load_and_round_trip(name):
    cfg = load_experiment(CONFIGS / f"{name}.yaml")
    assert isinstance(cfg, ExperimentConfig) and cfg.name == name
    assert experiment_from_dict(experiment_to_dict(cfg)) == cfg
    yaml.safe_dump(experiment_to_dict(cfg))  # plain data, writable as YAML


def test_small_cpu_is_tiny_cpu_with_a_larger_model_only():
    tiny, small = load_experiment(CONFIGS / "tiny_cpu.yaml"), load_experiment(CONFIGS / "small_cpu.yaml")
    assert (small.model.num_steps, small.model.hidden) == (8, 128)
    assert small.data == tiny.data and small.train == tiny.train
    assert dataclasses.replace(small.model, num_steps=4, hidden=64) == tiny.model


def test_paper_config_holds_the_published_settings():
    cfg = load_experiment(CONFIGS / "locomotion_paper.yaml")
    m, t = cfg.model, cfg.train
    assert (m.num_steps, m.hidden, m.net, m.num_layers, m.tau, m.lookahead) == (16, 512, "lstm", 2, 10, 0)
    assert (t.data_dropout, t.lr, t.schedule, t.warmup_steps) == (0.95, 1e-4, "constant", 1000)
    assert (t.batch_size, t.seq_len, t.clip_value, t.clip_norm, t.steps) == (100, 70, 5.0, 100.0, 160_000)
    assert cfg.data.fps == 20


def test_preferred_config_differs_only_in_the_later_tuning():
    paper = load_experiment(CONFIGS / "locomotion_paper.yaml")
    pref = load_experiment(CONFIGS / "locomotion_preferred.yaml")
    t = pref.train
    assert (t.data_dropout, t.lr, t.schedule, t.min_lr, t.steps) == (0.7, 1e-3, "noam", 1e-4, 80_000)
    assert pref.model == paper.model and pref.data == paper.data
    same = {k: v for k, v in vars(paper.train).items() if k not in ("data_dropout", "lr", "schedule", "min_lr", "steps")}
    assert all(getattr(t, k) == v for k, v in same.items())


def test_tiny_config_is_small():
    cfg = load_experiment(CONFIGS / "tiny_cpu.yaml")
    assert cfg.model.num_steps <= 8 and cfg.model.hidden <= 128 and cfg.train.device == "cpu"


@pytest.mark.parametrize("section, bad_key, suggestion", [
    ("train", "learning_rate", None), ("train", "bach_size", "batch_size"),
    ("model", "num_stepz", "num_steps"), ("data", "fpss", "fps"), (None, "trian", "train"),
])
def test_misspelt_key_in_a_config_file_is_an_error_naming_it(tmp_path, section, bad_key, suggestion):
    d = yaml.safe_load((CONFIGS / "tiny_cpu.yaml").read_text())
    (d if section is None else d[section])[bad_key] = 1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match=bad_key) as e:
        load_experiment(path)
    assert str(path) in str(e.value)
    if suggestion:
        assert f"did you mean {suggestion!r}" in str(e.value)


@pytest.mark.parametrize("key, value, message", [
    ("data_dropout", 1.0, "data_dropout"), ("batch_size", 0, "batch_size"), ("lr", "fast", "lr"),
    ("schedule", "cosine", "schedule"), ("clip_norm", -1.0, "clip_norm"),
])
def test_invalid_train_values_are_rejected(tmp_path, key, value, message):
    d = yaml.safe_load((CONFIGS / "tiny_cpu.yaml").read_text())
    d["train"][key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match=message):
        load_experiment(path)


@pytest.mark.parametrize("text, fragment", [
    ("", "the config is empty"),
    ("# nothing here\n", "the config is empty"),
    ("name: x\ndata: {}\ntrain: {steps: 10}\n", "no model: section"),
    ("name: x\ndata: {}\nmodel: {}\n", "no train: section"),
    ("[1, 2]\n", "not a mapping"),
])
def test_a_config_must_name_its_sections(tmp_path, text, fragment):
    """An empty file or a forgotten section must not silently train the 73M-parameter paper model."""
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as e:
        load_experiment(path)
    assert str(path) in str(e.value)


def test_all_defaults_is_spelled_out(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("data: {}\nmodel: {}\ntrain: {}\n")
    assert load_experiment(path) == ExperimentConfig()


def test_tau_zero_is_rejected(tmp_path):
    d = yaml.safe_load((CONFIGS / "tiny_cpu.yaml").read_text())
    d["model"]["tau"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match="tau must be at least 1, got 0"):
        load_experiment(path)


def _configs_naming_a_data_folder() -> list[Path]:
    docs = {p: yaml.safe_load(p.read_text()) for p in sorted(CONFIGS.glob("*.yaml"))}
    return [p for p, d in docs.items() if isinstance(d, dict) and "data_dir" in (d.get("data") or {})]


def test_the_data_folder_check_sees_every_shipped_experiment():
    names = {p.stem for p in _configs_naming_a_data_folder()}
    assert {"bandai2_small", "tiny_cpu", "small_cpu", "locomotion_paper", "data_bandai_namco"} <= names


@pytest.mark.parametrize("path", _configs_naming_a_data_folder(), ids=lambda p: p.stem)
def test_every_configs_data_folder_is_the_shared_mocap(path, bandai_namco_dir):
    """A config's relative data_dir is taken from the config's own folder: every shipped config must
    point inside ../shared/mocap/bandai-namco beside the repository (bandai2_small's once pointed at
    <repo>/shared, so its documented training command failed on a clean clone)."""
    doc = yaml.safe_load(path.read_text())
    is_experiment = {"data", "model", "train"} <= set(doc)
    data_dir = Path(load_experiment(path).data.data_dir) if is_experiment else \
        (path.parent / doc["data"]["data_dir"]).resolve()
    assert data_dir.resolve().is_relative_to(bandai_namco_dir.resolve()) and data_dir.is_dir(), data_dir
