"""DistributedDataParallel on CPU (gloo, 2 processes) matches one process on the whole batch."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import require
from moglow.checkpoint import load_checkpoint
from moglow.distributed import DistInfo
from moglow.train import Trainer
from train_testutils import SyntheticData, tiny_config

WORLD = 2


def _config(steps: int):
    # data dropout on: every process must draw the same masks as the single process would.
    # Adam's eps is raised: right after ActNorm's data-dependent init some gradients are zero
    # up to rounding (the batch is exactly centred), and with eps=1e-8 Adam's first step
    # would scale that rounding noise up to a full +-lr update.
    return tiny_config(steps=steps, batch_size=8, data_dropout=0.5, val_every=100, log_every=1,
                       checkpoint_every=100, eps=1e-3)


def _worker(rank: int, rendezvous: str, run_dir: str, steps: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD)
    try:
        trainer = Trainer(_config(steps), SyntheticData(), run_dir, device="cpu",
                          dist=DistInfo(rank, WORLD, rank), progress=False)
        trainer.fit()
        torch.save({k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
                   Path(run_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("steps", [2])  # the first step, and a second from the updated state
def test_ddp_steps_equal_single_process_steps(tmp_path, steps):
    require(dist.is_available(), "torch.distributed not available")
    torch.set_num_threads(1)
    single_dir, ddp_dir = tmp_path / "single", tmp_path / "ddp"
    single = Trainer(_config(steps), SyntheticData(), single_dir, device="cpu", progress=False)
    init = {k: v.clone() for k, v in single.model.state_dict().items()}
    single.fit()
    expected = single.model.state_dict()

    ddp_dir.mkdir()
    mp.spawn(_worker, args=(str(tmp_path / "rendezvous"), str(ddp_dir), steps), nprocs=WORLD, join=True)
    ranks = [torch.load(ddp_dir / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    moved = False
    for name, value in expected.items():
        for r in range(WORLD):
            torch.testing.assert_close(ranks[r][name], value, atol=1e-6, rtol=1e-5, msg=f"rank {r}: {name}")
        moved |= not torch.equal(value, init[name])
    assert moved, "the step changed no parameter"
    # logged losses (averaged over processes) match too; the checkpoint is rank 0's model
    from moglow.logging_utils import read_csv
    a = [float(r["train_nats_per_frame_dropout"]) for r in read_csv(single_dir / "losses.csv")]
    b = [float(r["train_nats_per_frame_dropout"]) for r in read_csv(ddp_dir / "losses.csv")]
    assert a == pytest.approx(b, abs=1e-5)
    ck = load_checkpoint(ddp_dir / "latest.pt")["model"]
    assert all(torch.equal(ck[k], ranks[0][k]) for k in ck)

