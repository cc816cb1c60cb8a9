"""Making a shippable slim checkpoint of a training run (``moglow pretrained NAME --pack RUN``).

Kept apart from :mod:`moglow.pretrained` (the registry the checkpoint resolver imports), since
packing itself reads and writes checkpoints.
"""
from __future__ import annotations

from pathlib import Path

from moglow.checkpoint import load_checkpoint, save_checkpoint
from moglow.pretrained import MAX_BYTES, split_manifest
from data_pipeline.errors import InputError

__all__ = ["pack_checkpoint"]


def pack_checkpoint(source: str | Path, dest: str | Path, temperature: float | None = None) -> Path:
    """A slim, shippable copy of a training checkpoint (run folder or ``.pt``).

    Keeps the config, the model weights, the step, the data metadata (scalers, feature
    definition, skeleton, profile, start bank) and adds ``data["split"]``: the relative
    paths and sha256 of every file of the training data's splits (from the prepared
    manifest), so that ``--split test`` finds the held-out files again in any copy of the
    data. Drops the optimiser, schedule, batch order, RNG and trainer state (and a weight
    average's ``trained_weights``: ``model`` is already the average).

    ``temperature``: the model's own sampling temperature (``sampling.temperature``; every command
    samples at it unless told otherwise, :meth:`moglow.sampling.SamplingMeta.default_temperature`);
    None keeps what the source names, if anything.
    """
    if temperature is not None and not temperature >= 0:
        raise InputError(f"--temperature must be >= 0, got {temperature}")
    source = Path(source)
    if source.is_dir():
        source = source / "best.pt" if (source / "best.pt").exists() else source / "latest.pt"
    ckpt = load_checkpoint(source)
    data = dict(ckpt["data"])
    prepared = data.get("prepared_dir")
    if data.get("split") is None:
        if not prepared or not (Path(prepared) / "manifest.json").is_file():
            raise FileNotFoundError(f"{source}: its prepared data ({prepared}) is gone; the split cannot be stored")
        data["split"] = split_manifest(prepared)
        # where the data is, as the config names it (relative to the working directory), and where it was
        data["split"]["data_dir_at_training"] = data["split"]["data_dir"]
        data["split"]["data_dir"] = str((ckpt["config"].get("data") or {}).get("data_dir") or data["split"]["data_dir"])
    data["prepared_dir"] = None
    slim = {"config": ckpt["config"], "model": ckpt["model"], "step": ckpt.get("step"), "data": data,
            "trainer": {k: v for k, v in (ckpt.get("trainer") or {}).items() if isinstance(v, (int, float, str))},
            "packed_from": str(source)}
    sampling = {"temperature": float(temperature)} if temperature is not None else ckpt.get("sampling")
    if sampling:
        slim["sampling"] = sampling
    dest = save_checkpoint(slim, dest)
    if dest.stat().st_size > MAX_BYTES:
        raise InputError(f"{dest} is {dest.stat().st_size / 2**20:.1f} MiB; shipped models must stay under "
                         f"{MAX_BYTES / 2**20:.0f} MiB")
    return dest
