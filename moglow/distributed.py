"""Multi-process training helpers (``torchrun`` + DistributedDataParallel).

``torchrun --nproc_per_node=N -m moglow train ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous variables; :func:`init_from_env` turns them into a
process group (NCCL on CUDA, gloo on CPU). Without them everything here is a no-op for a
single process, so the training loop has one code path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job: ``rank`` of ``world_size``, GPU ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


SINGLE = DistInfo()


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group described by torchrun's environment variables.

    Args:
        device_type: ``"cuda"`` (NCCL backend, one GPU per local rank) or ``"cpu"`` (gloo).
    """
    world_size = env_world_size()
    if world_size <= 1:
        return SINGLE
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world_size, local_rank)


def current() -> DistInfo:
    """The DistInfo of an already initialised process group (SINGLE if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    rank = dist.get_rank()
    return DistInfo(rank, dist.get_world_size(), int(os.environ.get("LOCAL_RANK", rank)))


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_sum(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of ``x`` over all processes (in place; returns ``x``)."""
    if info.enabled:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def any_true(flag: bool, device: torch.device, info: DistInfo) -> bool:
    """True if ``flag`` is True in any process (every process gets the same answer)."""
    if not info.enabled:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_module(module: nn.Module, info: DistInfo, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every process's ``module``."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=src)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
