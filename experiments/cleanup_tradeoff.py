"""What the clean-up and the sampler cost in Fréchet distance, and what they buy (issue 14's study).

Runs ``moglow evaluate`` in this process with one change per setting, on the validation split,
and prints each metric as a ratio to the mocap row of the same takes (the table of
``temperature_sweep.py``). A setting is ``default`` or one or more of these joined by ``,``:

- ``KEY=VALUE``: a field of :class:`data_pipeline.foot_cleanup.CleanupConfig`,
  e.g. ``smooth_s=0`` (no smoothing), ``on=0.99,off=0.98`` (locks only where the path stands
  still), ``on=0.7,off=0.5`` (fewer, shorter locks);
- ``leash=METRES``: a planted foot whose lock lies farther (horizontally) from where the model
  puts it is dragged along to that distance (a probe: not a clean-up option);
- ``rho=R``: latents correlated from frame to frame, ``z_t = R z_{t-1} + sqrt(1 - R^2) e_t``
  (each frame's latent still N(0, I); a probe of the sampler, not an option)::

    python experiments/cleanup_tradeoff.py --checkpoint pretrained:bandai2_mcmoglow \\
        default soft_reach=0 smooth_s=0 on=0.99,off=0.98 leash=0.05,soft_reach=0 rho=0.5

~15 s per setting and gait on one thread; the evaluations land in ``--out``/SETTING_GAIT.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from temperature_sweep import print_header, print_rows


@contextlib.contextmanager
def _setting(setting: str) -> Iterator[None]:
    """The package with ``setting`` applied, restored afterwards."""
    import data_pipeline.foot_cleanup as foot_cleanup
    import moglow.cleanup as cleanup
    from moglow.flows.distributions import BaseDistribution

    patches: list[tuple] = []
    fields = {f.name: f.type for f in dataclasses.fields(foot_cleanup.CleanupConfig)}
    kw: dict = {}
    for part in ([] if setting == "default" else setting.split(",")):
        k, _, v = part.partition("=")
        if k == "leash":
            patches.append((foot_cleanup.FootLocker, "step", _leashed(foot_cleanup.FootLocker.step, float(v))))
        elif k == "rho":
            patches.append((BaseDistribution, "sample", _correlated(BaseDistribution.sample, float(v))))
        elif k in fields:
            kw[k] = _value(str(fields[k]), v)
        else:
            raise SystemExit(f"unknown setting {k!r}: leash, rho or a CleanupConfig field ({', '.join(fields)})")
    if kw:
        original = cleanup.CleanupConfig
        patches.append((cleanup, "CleanupConfig", lambda **given: original(**{**kw, **given})))
    before = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]
    for patch in patches:
        setattr(*patch)
    try:
        yield
    finally:
        for patch in before:
            setattr(*patch)


def _value(kind: str, text: str) -> bool | int | float:
    """A CleanupConfig field's value from its annotation (a string under postponed annotations)."""
    if kind in ("bool", "<class 'bool'>"):
        return text.lower() == "true"
    if kind in ("int", "<class 'int'>"):
        return int(text)
    return float(text)


def _leashed(step, leash: float):
    def step_on_a_leash(self, free, score, state, reachable=None):
        target, locked, new = step(self, free, score, state, reachable)
        free = np.asarray(free, dtype=np.float64)
        d = new["lock"] - free
        d[..., 1] = 0.0
        n = np.linalg.norm(d, axis=-1)
        over = locked & (n > leash)
        if over.any():
            lock = new["lock"].copy()
            lock[..., [0, 2]] = free[..., [0, 2]] + d[..., [0, 2]] * np.where(over, leash / np.maximum(n, 1e-12),
                                                                               1.0)[..., None]
            new = dict(new, lock=lock)
            target = np.where(locked[..., None], lock, target)
            if self.cfg.floor_clamp:
                target[..., 1] = np.maximum(target[..., 1], self.levels)
        return target, locked, new
    return step_on_a_leash


def _correlated(sample, rho: float):
    previous: dict = {}

    def correlated_sample(self, shape=(), temperature=1.0, generator=None):
        z = sample(self, shape, 1.0, generator)
        p = previous.get(id(self))
        if p is not None and p.shape == z.shape:
            z = rho * p + math.sqrt(1.0 - rho * rho) * z
        previous[id(self)] = z
        return z * temperature
    return correlated_sample


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("settings", nargs="+")
    p.add_argument("--checkpoint", default="pretrained:bandai2_mcmoglow")
    p.add_argument("--gaits", nargs="+", default=["walk", "run"])
    p.add_argument("--num-samples", type=int, default=4)
    p.add_argument("--split", default="val")
    p.add_argument("--out", type=Path, default=Path("outputs/cleanup_tradeoff"))
    a = p.parse_args()
    from moglow.cli import main as moglow
    warnings.simplefilter("ignore")
    print_header("setting")
    for gait in a.gaits:
        for setting in a.settings:
            folder = a.out / f"{setting.replace(',', '_')}_{gait}"
            if not (folder / "evaluation.json").exists():
                with _setting(setting), contextlib.redirect_stdout(io.StringIO()):
                    moglow(["evaluate", "--checkpoint", a.checkpoint, "--split", a.split, "--pattern", f"*_{gait}_*",
                            "--num-samples", str(a.num_samples), "--seed", "0", "--threads", "1", "--out", str(folder),
                            "--no-progress", "--force"])
            print_rows(gait, setting, json.loads((folder / "evaluation.json").read_text()))


if __name__ == "__main__":
    main()
