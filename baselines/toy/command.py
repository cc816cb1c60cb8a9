"""``moglow toy``: train one 2-D toy flow and write its density plot and results JSON.

Examples::

    moglow toy --dataset moons --model glow --flow-steps 2 --augment 2 --steps 3000
    moglow toy --dataset 8gaussians --model shared --activation paaf --paaf-init data
    moglow toy --dataset moons --model shared --activation paaf --logdet-gradient plain
    moglow toy --dataset moons --model glow --flow-steps 2 --gbnf 4
    moglow toy --dataset rings --flow-steps 2 --hidden 16 --gbnf 4 --steps-per-component 1000 \
        --gbnf-weights uncapped --no-refit          # GBNF with the paper's protocol

``--steps`` is optimiser steps, as in ``moglow train`` and ``moglow images train``; the flow's
depth K is ``--flow-steps``.
"""
from __future__ import annotations

import argparse

HELP = "train a toy 2-D flow (Glow/RealNVP, shared-weight INN, PAAF, augmentation, GBNF) and plot its density"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from moglow.commands.common import THREADS_HELP, add_progress

    p.add_argument("--dataset", choices=["moons", "8gaussians", "rings"], default="moons",
                   help="2-D target distribution")
    p.add_argument("--noise", type=float, default=0.1, help="make_moons noise std (raw scale)")
    p.add_argument("--model", choices=["glow", "realnvp", "shared"], default="glow", help="flow family")
    p.add_argument("--flow-steps", type=int, default=4, metavar="K", help="K: flow steps (couplings for realnvp)")
    p.add_argument("--hidden", type=int, default=64, help="coupling MLP width")
    p.add_argument("--layers", type=int, default=2, help="coupling MLP hidden layers")
    p.add_argument("--activation", choices=["leaky", "paaf"], default="leaky", help="shared INN activation")
    p.add_argument("--breakpoints", type=int, default=8, help="PAAF breakpoints")
    p.add_argument("--paaf-init", choices=["fixed", "data"], default="data",
                   help="PAAF breakpoints: evenly on [-2, 2] or at quantiles of the first batch")
    p.add_argument("--step-norm", action="store_true", help="ActNorm inside the shared step, before the activation")
    p.add_argument("--logdet-gradient", choices=["smoothed", "plain"], default="smoothed",
                   help="shared INN: the activation's log-det gradient from the sigmoid-smoothed surrogate "
                        "(default) or plain autograd of the exact log-det (the thesis's setting)")
    p.add_argument("--no-input-norm", action="store_true", help="no ActNorm on the shared INN's input")
    p.add_argument("--augment", type=int, default=0, help="k extra Gaussian noise dimensions")
    p.add_argument("--noise-std", type=float, default=1.0, help="std of the augmented noise")
    p.add_argument("--gbnf", type=int, default=0, help="C > 0: a GBNF mixture of C such flows")
    p.add_argument("--steps", "--train-steps", dest="train_steps", type=int, default=2000,
                   help="optimiser steps (GBNF: total over components, unless --steps-per-component)")
    p.add_argument("--steps-per-component", type=int, default=None, metavar="S",
                   help="GBNF, the paper's protocol: every component trains S steps (C·S in all); "
                        "--steps is then unused")
    p.add_argument("--gbnf-weights", choices=["capped", "uncapped"], default="capped",
                   help="GBNF resampling weights: 1/G capped at mean·sqrt(pool) (default) or the paper's plain 1/G")
    p.add_argument("--no-refit", action="store_true", help="GBNF: no second pass refitting each component")
    p.add_argument("--batch-size", type=int, default=512, help="points per optimiser step")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, initialisation and batches")
    p.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)
    p.add_argument("--test-size", type=int, default=10_000, help="points in the fixed held-out test set")
    p.add_argument("--grid", type=int, default=150, help="resolution of the density plot grid")
    p.add_argument("--out", default="outputs/toy/cli", help="output folder")
    add_progress(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from baselines.toy.models import ToyModelConfig
    from baselines.toy.run import run_experiment
    from baselines.toy.train import TrainConfig
    from moglow.cli_checks import USER_ERRORS, check_threads, report_error

    try:
        check_threads(args.threads)
    except USER_ERRORS as e:
        return report_error("toy", e)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ToyModelConfig(family=args.model, num_steps=args.flow_steps, hidden=args.hidden, num_layers=args.layers,
                         activation=args.activation, num_breakpoints=args.breakpoints, paaf_init=args.paaf_init,
                         step_norm=args.step_norm, input_norm=not args.no_input_norm,
                         logdet_gradient=args.logdet_gradient, augment=args.augment,
                         noise_std=args.noise_std, components=args.gbnf)
    train = TrainConfig(steps=args.train_steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    gbnf_options = None
    if args.gbnf:
        gbnf_options = {"steps_per_component": args.steps_per_component, "refit": not args.no_refit,
                        "truncate": args.gbnf_weights == "capped"}
    elif args.steps_per_component is not None or args.no_refit or args.gbnf_weights != "capped":
        return report_error("toy", "--steps-per-component, --gbnf-weights and --no-refit need --gbnf C")
    try:
        res = run_experiment(args.dataset, cfg, train, args.out, progress=not args.no_progress, noise=args.noise,
                             grid_resolution=args.grid, num_test=args.test_size, gbnf_options=gbnf_options)
    except USER_ERRORS as e:
        return report_error("toy", e)
    m = res["metrics"]
    line = (f"{args.dataset} | {res['label']} | {res['num_parameters']} params | "
            f"test NLL {m['nll']:.4f} ± {m['nll_stderr']:.4f} nats | gap to floor {m['gap']:.4f} ± "
            f"{m['gap_stderr']:.4f} (floor {m['floor']:.4f})")
    if "nll_bound" in m:
        line += f" | lower-bound NLL {m['nll_bound']:.4f} (gap {m['gap_bound']:.4f})"
    print(line)
    print(f"density integral over the plot window: {m['grid_integral']:.4f}; "
          f"training took {res['train_wall_s']:.1f} s")
    print(f"wrote {args.out}/density.png, result.json, density.npz, model.pt")
    if not m.get("finite", True):
        print("warning: non-finite log-densities on the test set", flush=True)
        return 1
    return 0
