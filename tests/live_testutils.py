"""A tiny random-weight checkpoint with a start bank for the live-play tests (not a test module).

The root follows the steering's control by construction, so steering is testable with any
weights; a random model keeps these tests fast."""
from __future__ import annotations

from pathlib import Path

from moglow.checkpoint import data_metadata, save_checkpoint
from moglow.config import ExperimentConfig, experiment_to_dict
from moglow.train import start_bank_for
from sampling_testutils import prepared_procedural, random_model, tiny_model_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def live_checkpoint(root: Path, tau: int = 3) -> Path:
    """Write ``root/live.pt``: a random tiny MoGlow on two procedural takes, with a start bank."""
    data = prepared_procedural(root)
    model = random_model(tiny_model_config(tau=tau), data.feature_def.pose_dim)
    meta = data_metadata(data)
    meta["start_bank"] = start_bank_for(data, tau)
    cfg = ExperimentConfig(name="live-test", data=data.config, model=model.cfg)
    return save_checkpoint({"config": experiment_to_dict(cfg), "model": model.state_dict(), "step": 0,
                            "data": meta}, root / "live.pt")
