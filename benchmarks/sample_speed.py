"""Sampling speed of MoGlow on the CPU by precision and thread count, and how far 16-bit samples stray from fp32.

Speed. For each model (randomly initialised; speed does not depend on the weights), thread
count and batch size (1 character, 100 in parallel) it times generation frame by frame and
prints, per variant:

- ``frames/s``: characters × frames per wall-clock second, and ``real time`` = frames/s ÷ 20
  (the frame rate of the data): above 1 is faster than real time (for a batch, the number of
  characters that could run live);
- ``per CPU s``: frames per CPU second of this process, and ``real time (CPU)`` = that × threads
  ÷ 20: the wall-clock rate if each thread had a core to itself all along. On a shared machine
  wall times are inflated by other jobs and this is closer to what an idle machine gives
  (with 2 threads it is pessimistic: a thread waiting for a descheduled partner spins and
  spends CPU time).

Variants (all after :func:`moglow.sampling.optimise_for_sampling`): ``auto`` (the default,
``generate_poses(precision="auto")``; the line says what it resolved to: on a CPU without AMX
the float32 :class:`moglow.frame_decoder.FrameDecoder`, the model's maths to float rounding in
fewer operations), ``fp32 model`` (``precision="fp32"``: ``model.generate``, the model's own
path), ``bf16`` and ``fp16`` (the decoder with 16-bit weights: ``moglow sample --precision``).
References (floors), measured in the same run: for one character (memory bound: each weight
is read once per frame) the rate at which one thread streams the weights' bytes (``tensor.sum``);
for a batch (compute bound) the fp32 ``torch.mm`` rate (per CPU second × threads) of a product
the size of an LSTM layer. Each variant is timed ``--repeats`` times (rates: the best run), and
right after each run the floor does the same work (as many weight reads, or as many FLOPs, as
the run's frames), timed the same way. ``% floor``: each run's per-CPU-second rate over its
floor's, median (best) over the runs. Pairing in time cancels most of a shared machine's load
(it moves both by tens of percent within a minute), and timing both over the same amount of
work keeps the comparison fair: the best of a few short floor reads against a whole run's mean
understates a variant by the load's spread (~8 % here: ``sample_batch_breakdown.py``'s ``floor
product in a row``).

Deviation. For each model with non-trivial random weights (output layers drawn with
std 0.6/√hidden, as a trained tiny model's; ``--checkpoint`` adds a trained model), it
generates ``--deviation-frames`` frames of 4 characters, one at a time, from the mean pose
along random control with every variant and the same latents, and prints: ``one step``, the largest
absolute difference of a frame from the fp32 model's given the fp32 sample's previous poses
(the per-frame error; the LSTM states are the variant's own); ``max |dx|`` and ``mean |dx|``,
the differences of the free-running samples (each frame fed back: ``auto`` in float32 differs by
float rounding only and shows how much an autoregressive sample amplifies a tiny change); the fp32 model's
log-likelihood of the samples (nats per frame: a 16-bit sample should be as likely as the
fp32 one), and how far the fp32 flow maps each sample, given its own history, from the
latents that were drawn (the per-frame error of the 16-bit inverse, free of the feedback).

Run::

    python benchmarks/sample_speed.py                            # both models, 1 and 100 characters, 1 thread
    python benchmarks/sample_speed.py --models paper --deviation-frames 0 --repeats 3   # the README's row
    python benchmarks/sample_speed.py --models paper --deviation-frames 0 --batches 100 --variants auto \\
        --batch-frames 8 --repeats 7                            # 100 characters, the default path only
    python benchmarks/sample_speed.py --threads 1 2 --checkpoint outputs/mcmoglow_compare/moglow_seed0
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from datetime import UTC, datetime

import torch

from moglow.frame_decoder import frame_decoder
from moglow.sampling_precision import sampling_decoder
from moglow.model import MoGlow
from moglow.model_config import ModelConfig
from moglow.sampling import generate_poses, optimise_for_sampling

POSE_DIM, CONTROL_DIM, FPS = 61, 3, 20.0
MODELS = {
    "paper": ModelConfig(num_steps=16, hidden=512, num_layers=2, tau=10),
    "tiny": ModelConfig(num_steps=4, hidden=64, num_layers=1, tau=10),
}
# label, precision of generate_poses (the first is the deviation check's reference)
VARIANTS = [("fp32 model", "fp32"), ("auto", "auto"), ("bf16", "bf16"), ("fp16", "fp16")]


def matmul_flops_per_frame(cfg: ModelConfig, pose_dim: int = POSE_DIM, control_dim: int = CONTROL_DIM) -> float:
    """Matrix-multiply FLOPs of one generated frame (2 per multiply-add), LSTM couplings."""
    n_id, n_tr = pose_dim // 2, pose_dim - pose_dim // 2
    h, g = cfg.hidden, 4 * cfg.hidden
    per = (n_id + cfg.cond_dim(pose_dim, control_dim)) * g  # first layer on [x1, cond]
    per += h * g * cfg.num_layers + h * g * (cfg.num_layers - 1)  # recurrent maps, upper input maps
    per += h * 2 * n_tr + pose_dim * pose_dim  # output layer, LU map
    return 2.0 * cfg.num_steps * per


def weight_bytes(model: MoGlow) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def stream_rate(nbytes: int, times: int = 1) -> float:
    """Bytes per CPU second at which this process reads a buffer of ``nbytes``, ``times`` times in
    a row (one thread)."""
    buf = torch.ones(max(1, nbytes // 4))
    buf.sum()
    t = time.process_time()
    for _ in range(times):
        buf.sum()
    return nbytes * times / max(time.process_time() - t, 1e-9)


def mm_rate(batch: int, cfg: ModelConfig, flops: float = 2e8, repeats: int = 1) -> float:
    """fp32 FLOP per CPU second of ``(batch, hidden) @ (hidden, 4 hidden)`` products (the bulk of a
    batched frame) totalling ``flops``, with this process's threads (the best of ``repeats`` runs)."""
    a, b = torch.randn(batch, cfg.hidden), torch.randn(cfg.hidden, 4 * cfg.hidden)
    one = 2.0 * batch * cfg.hidden * 4 * cfg.hidden
    n = max(1, round(flops / one))
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(n):
            torch.mm(a, b)
        best = min(best, time.process_time() - t)
    return one * n / max(best, 1e-9) * torch.get_num_threads()


def time_generate(model: MoGlow, batch: int, frames: int, precision: str, repeats: int = 1,
                  floor=None) -> tuple[float, float, list[float]]:
    """(frames/s per wall-clock second, frames/s per CPU second of this process), each the best
    of ``repeats`` runs, and, when ``floor`` (a function of a number of frames returning the
    floor's frames per CPU second over that much work) is given, the per-CPU-second rate of each
    run over the floor's, measured right after it (paired in time: a shared machine's load
    changes both alike)."""
    g = torch.Generator().manual_seed(0)
    context = torch.zeros(batch, model.tau, POSE_DIM)
    control = torch.randn(batch, model.tau + frames + model.lookahead, CONTROL_DIM, generator=g)

    def run(ctrl: torch.Tensor) -> None:
        generate_poses(model, context, ctrl, 1.0, 0, precision=precision)

    run(control[:, : model.tau + model.lookahead + 3])  # warm-up, builds the decoder
    wall = cpu = float("inf")
    shares = []
    for _ in range(max(1, repeats)):
        t, c = time.perf_counter(), time.process_time()
        run(control)
        w, u = time.perf_counter() - t, time.process_time() - c
        wall, cpu = min(wall, w), min(cpu, u)
        if floor is not None:
            shares.append(batch * frames / max(u, 1e-9) / floor(frames))
    return batch * frames / wall, batch * frames / max(cpu, 1e-9), shares


def machine() -> str:
    """CPU model name, cores, torch's CPU capability, load average, UTC date."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return (f"{name}, {os.cpu_count()} cores, torch CPU capability {torch.backends.cpu.get_cpu_capability()}, "
            f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def floor_rate(batch: int, cfg: ModelConfig, nbytes: int, frames: int) -> float:
    """Bytes per CPU second (one character: ``frames`` reads of ``nbytes``) or FLOP per CPU second x
    threads (a batch: products totalling ``frames`` batched frames' FLOPs)."""
    if batch == 1:
        return stream_rate(nbytes, frames)
    return mm_rate(batch, cfg, matmul_flops_per_frame(cfg) * batch * frames)


def speed(args: argparse.Namespace) -> None:
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name in args.models:
            cfg = MODELS[name]
            torch.manual_seed(0)
            model = optimise_for_sampling(MoGlow(cfg, POSE_DIM, CONTROL_DIM))
            nbytes, flops = weight_bytes(model), matmul_flops_per_frame(cfg)
            print(f"\n== {name}: K={cfg.num_steps}, hidden {cfg.hidden}, {cfg.num_layers} LSTM layer(s), "
                  f"tau={cfg.tau}; "
                  f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters ({nbytes / 1e6:.0f} MB fp32), "
                  f"{flops / 1e6:.0f} MFLOP per frame; {threads} thread(s)")
            for batch in args.batches:
                frames = args.frames if batch == 1 else args.batch_frames
                per_frame = nbytes if batch == 1 else flops * threads  # floor in frames per CPU second

                floors: list[float] = []

                def floor(n: int, b: int = batch, cfg: ModelConfig = cfg, nbytes: int = nbytes,
                          per_frame: float = per_frame, floors: list[float] = floors) -> float:
                    """Frames per CPU second at the floor, over n frames' work (kept in ``floors``)."""
                    floors.append(floor_rate(b, cfg, nbytes, n) / per_frame)
                    return floors[-1]

                rows = [(label, *time_generate(model, batch, frames, precision, args.repeats, floor))
                        for label, precision in VARIANTS if precision in args.variants]
                rate = max(floors) * per_frame
                if batch == 1:
                    ref_text = (f"memory floor (one thread, CPU time) {rate / nbytes:.1f} frames/s fp32, "
                                f"{2 * rate / nbytes:.1f} 16-bit (reads {rate / 1e9:.1f} GB/s)")
                else:
                    ref_text = (f"fp32 matmul floor (CPU time x threads) {rate / flops:.0f} frames/s "
                                f"(mm {rate / 1e9:.1f} GFLOP/s)")
                print(f"  {batch} character(s), {frames} frames, best of {args.repeats}; {ref_text} (best); "
                      f"auto = {sampling_decoder(model, 'auto', batch)[0]}")
                print(f"    {'variant':14s} {'frames/s':>9s}  {'real time':>9s}   {'per CPU s':>9s}  "
                      f"{'real time (CPU)':>15s}  {'% floor':>15s}")
                for label, fps, fps_cpu, shares in rows:
                    share = f"{100 * statistics.median(shares):.0f}% ({100 * max(shares):.0f}%)"
                    print(f"    {label:14s} {fps:9.1f}  {fps / FPS:8.2f}x   {fps_cpu:9.1f}  "
                          f"{fps_cpu * threads / FPS:14.2f}x  {share:>15s}", flush=True)
            print(f"  ({machine()})")


# ---------------------------------------------------------------------------------------- deviation
def nontrivial(model: MoGlow, seed: int = 0) -> MoGlow:
    """Draw the zero-initialised output layers (std 0.6/sqrt(hidden), bias std 0.05) so every
    coupling acts and depends on its LSTM, like a trained model's."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for c in model.couplings():
            layer = c.net.output_layer
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g) * 0.6 / math.sqrt(c.net.hidden))
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=g) * 0.05)
    return model


def deviation(model: MoGlow, label: str, frames: int, characters: int = 4) -> None:
    """Print how far 16-bit samples are from fp32 ones (same latents), per temperature. Each
    character is generated alone (the one-character path whose speed is the target)."""
    g = torch.Generator().manual_seed(1)
    D, tau, la = model.pose_dim, model.tau, model.lookahead
    context = torch.zeros(1, tau, D)
    controls = [torch.randn(1, tau + frames + la, model.control_dim, generator=g) for _ in range(characters)]
    print(f"\n== deviation from fp32, {label}: {characters} characters (one at a time) x {frames} frames from the mean "
          "pose, random control")
    print(f"    {'temp':>4s} {'variant':12s} {'one step':>9s} {'max |dx|':>9s} {'mean |dx|':>9s} {'max |x|':>8s}  "
          f"{'log p (nats/frame)':>18s} {'- fp32':>8s}  {'max |z(x) - z|':>14s}")
    for temperature in (0.0, 1.0):
        ref = ref_log_p = None
        refs: list = []
        for label_, precision in VARIANTS:
            xs, log_ps, z_errs, step_errs = [], [], [], []
            for c, control in enumerate(controls):
                x = generate_poses(model, context, control, temperature, seed=3 + c, precision=precision)
                with torch.inference_mode():
                    gz = torch.Generator().manual_seed(3 + c)
                    z = torch.stack([model.base.sample((1,), temperature, gz) for _ in range(frames)], 1)
                    # the fp32 flow's view of the sample: its latents and log-likelihood given its own history
                    cond = model.condition(torch.cat([context, x], 1), control)
                    z_rec, logdet, _ = model.latents(x, cond)
                    log_ps.append((model.base.log_prob(z_rec) + logdet).mean().item())
                    if c == len(refs):  # fp32 model: keep its sample and conditions for the one-step check
                        refs.append((x, model.condition(torch.cat([context, x], 1), control), z))
                    # one step: this variant's frame t given the fp32 sample's poses before t (LSTM state its own)
                    x_ref, cond_ref, _ = refs[c]
                    if precision == "fp32":
                        x_one, _ = model.decode(z, cond_ref)
                    else:
                        decoder, state, one = frame_decoder(model, sampling_decoder(model, precision, 1)[0]), None, []
                        for t in range(frames):
                            xt, state = decoder.decode(z[:, t], cond_ref[:, t], state)
                            one.append(xt)
                        x_one = torch.stack(one, 1)
                    step_errs.append((x_one - x_ref).abs().max().item())
                z_errs.append((z_rec - z).abs().max().item())
                xs.append(x)
            x, log_p = torch.cat(xs), sum(log_ps) / len(log_ps)
            if ref is None:
                ref, ref_log_p = x, log_p
            dx = (x - ref).abs()
            print(f"    {temperature:4g} {label_:12s} {max(step_errs):9.2e} {dx.max().item():9.2e} "
                  f"{dx.mean().item():9.2e} "
                  f"{x.abs().max().item():8.2f}  {log_p:18.4f} {log_p - ref_log_p:8.4f}  {max(z_errs):14.2e}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 100])
    parser.add_argument("--frames", type=int, default=40, help="frames timed for one character")
    parser.add_argument("--batch-frames", type=int, default=8, help="frames timed for a batch")
    parser.add_argument("--threads", nargs="+", type=int, default=[1], help="torch CPU threads to try")
    parser.add_argument("--variants", nargs="+", default=[p for _, p in VARIANTS], choices=[p for _, p in VARIANTS],
                        help="precisions to time (default all: fp32 = the model's own path, auto = the default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (the best is kept)")
    parser.add_argument("--deviation-frames", type=int, default=100,
                        help="frames generated for the deviation check (0: skip it)")
    parser.add_argument("--checkpoint", default=None,
                        help="also check the deviation of a trained model (run folder or .pt; LSTM couplings)")
    parser.add_argument("--no-speed", action="store_true", help="only the deviation check")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, pose {POSE_DIM} dims, control {CONTROL_DIM}, real time = {FPS:g} fps; "
          "wall-clock rates are inflated when other jobs share the CPU, the CPU-time rates much less")
    print(f"machine: {machine()}")
    if not args.no_speed:
        speed(args)
    if args.deviation_frames > 0:
        torch.set_num_threads(args.threads[0])
        for name in args.models:
            torch.manual_seed(0)
            model = nontrivial(optimise_for_sampling(MoGlow(MODELS[name], POSE_DIM, CONTROL_DIM)))
            deviation(model, f"{name} (random, non-trivial)", args.deviation_frames)
        if args.checkpoint:
            from moglow.checkpoint import load_model
            model, ckpt = load_model(args.checkpoint)
            deviation(optimise_for_sampling(model), f"trained {args.checkpoint} (step {ckpt.get('step')})",
                      args.deviation_frames)


if __name__ == "__main__":
    main()
