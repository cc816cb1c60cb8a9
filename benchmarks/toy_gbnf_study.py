"""The GBNF study of ``benchmarks/toy_results.py`` (``run --study gbnf``): boosting tested the
way Giaquinto & Banerjee (2020) test it.

For each dataset (moons, eight Gaussians, rings), component size (Glow K=2 with coupling
MLPs of width 16 and 64) and seed, four runs:

- GBNF of ``C`` components with the paper's protocol: every component trains ``S`` steps
  (as long as the base flow), plain ``1/G`` resampling weights, ρ by line search, no refit
  pass (``C·S`` steps in all);
- the same with the weights capped at mean·√pool (the project's default, a variant);
- the single component trained ``S`` steps (same size, same steps per component);
- the single component trained ``C·S`` steps (equal total optimiser steps).

``report --study gbnf`` writes the table between ``<!-- gbnf_table -->`` markers.
"""
from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

GBNF_DATASETS = ["moons", "8gaussians", "rings"]
GBNF_COMPONENTS = 4
GBNF_STEPS_PER_COMPONENT = 150  # fits the 2-core machine shared with other jobs (docs/results_toy.md)
GBNF_HIDDEN = [16, 64]
KINDS = ("uncapped", "capped", "single S", "single C·S")


class Job(NamedTuple):
    """One run: model fields, training steps, ``fit_gbnf`` options (None: a single flow)."""

    dataset: str
    name: str
    seed: int
    fields: dict
    steps: int
    gbnf_options: dict | None
    group: str


def run_names(hidden: int, components: int, steps: int) -> dict[str, str]:
    """kind -> run name for one component size."""
    base = f"Glow K=2 h={hidden}"
    return {
        "uncapped": f"GBNF {components}x {base}, {steps} steps each, uncapped 1/G (paper)",
        "capped": f"GBNF {components}x {base}, {steps} steps each, 1/G capped at mean*sqrt(pool)",
        "single S": f"{base}, {steps} steps (= one component)",
        "single C·S": f"{base}, {components * steps} steps (= GBNF total)",
    }


def gbnf_jobs(seeds: list[int], datasets: list[str], components: int = GBNF_COMPONENTS,
              steps: int = GBNF_STEPS_PER_COMPONENT, hidden: list[int] = GBNF_HIDDEN) -> list[Job]:
    """All runs of the study, seed-major (every run of seed 0 first)."""
    jobs = []
    for s in seeds:
        for d in datasets:
            for h in hidden:
                names = run_names(h, components, steps)
                single = dict(family="glow", num_steps=2, hidden=h)
                for kind in KINDS:
                    if kind in ("uncapped", "capped"):
                        opts = {"steps_per_component": steps, "truncate": kind == "capped", "refit": False}
                        jobs.append(Job(d, names[kind], s, dict(single, components=components), steps, opts,
                                        "gbnf_paper"))
                    else:
                        n = steps if kind == "single S" else components * steps
                        jobs.append(Job(d, names[kind], s, single, n, None, "gbnf_paper"))
    return jobs


def mean_std(values: list[float]) -> str:
    """Mean ± sample std to 3 decimals; a single value as it is; no value: a dash."""
    import numpy as np

    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def build_gbnf_table(rows: list[dict], datasets: list[str] = GBNF_DATASETS) -> str:
    """Markdown: per run name and dataset the test NLL and gap (mean ± std over seeds), then
    the paired per-seed differences GBNF − single (negative: boosting wins), then what the
    boosting did (weight left on the first component, effective sample size of the later
    components' resampling, validation-NLL gain of the later components)."""
    import numpy as np

    rows = [r for r in rows if r.get("group") == "gbnf_paper" and "metrics" in r]
    if not rows:
        return "_no GBNF-study runs finished yet_\n"
    by: dict = defaultdict(dict)
    for r in rows:
        by[(r["name"], r["dataset"])][r["seed"]] = r
    configs = sorted({(r["model"]["hidden"], r["gbnf_components"], r["gbnf_steps"]) for r in rows})
    head = ("| run | params | " + " | ".join(f"{d} NLL | {d} gap" for d in datasets) + " | s/run | seeds |\n"
            "|---|---:|" + "---:|---:|" * len(datasets) + "---:|---:|")
    lines = [head]
    diffs = ["| boosting − single, paired by seed | " + " | ".join(datasets) + " |",
             "|---|" + "---:|" * len(datasets)]
    diag = ["| GBNF run: first component's weight / ESS of later components (fraction of the pool) / "
            "validation NLL gain of later components | " + " | ".join(datasets) + " |",
            "|---|" + "---:|" * len(datasets)]
    for h, c, s in configs:
        names = run_names(h, c, s)
        for kind in KINDS:
            name = names[kind]
            cells, params, seeds, walls = [], "–", set(), []
            for d in datasets:
                ok = list(by.get((name, d), {}).values())
                seeds |= {r["seed"] for r in ok}
                walls += [r["train_wall_s"] for r in ok]
                if ok:
                    params = str(ok[0]["num_parameters"])
                cells += [mean_std([r["metrics"]["nll"] for r in ok]), mean_std([r["metrics"]["gap"] for r in ok])]
            wall = f"{np.mean(walls):.0f}" if walls else "–"
            lines.append(f"| {name} | {params} | " + " | ".join(cells) + f" | {wall} | {len(seeds)} |")
        for boost in ("uncapped", "capped"):
            for single in ("single S", "single C·S"):
                cells = []
                for d in datasets:
                    a, b = by.get((names[boost], d), {}), by.get((names[single], d), {})
                    both = sorted(set(a) & set(b))
                    dd = [a[k]["metrics"]["nll"] - b[k]["metrics"]["nll"] for k in both]
                    wins = sum(x < 0 for x in dd)
                    cells.append(f"{mean_std(dd)} ({wins}/{len(dd)} wins)" if dd else "–")
                diffs.append(f"| h={h}, S={s}: GBNF {boost} − {single} | " + " | ".join(cells) + " |")
            cells = []
            for d in datasets:
                runs = list(by.get((names[boost], d), {}).values())
                if not runs:
                    cells.append("–")
                    continue
                st = [r["gbnf_stages"] for r in runs]
                w1 = np.mean([x[-1]["weights"][0] for x in st])
                ess = np.mean([s["ess_fraction_mean"] for x in st for s in x[1:]])
                gain = np.mean([x[0]["val_nll"] - x[-1]["val_nll"] for x in st])
                cells.append(f"{w1:.2f} / {ess:.2f} / {gain:.3f}")
            diag.append(f"| h={h}, S={s}: GBNF {boost} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(diffs) + "\n\n" + "\n".join(diag) + "\n"
