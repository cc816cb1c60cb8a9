"""Speed of ``moglow play``: CPU share of one character, characters at 20 fps, key-to-frame latency.

Everything is measured on the real command (``python -m moglow play --no-browser``, a separate
process) with a WebSocket client in this process that reads every frame:

1. **CPU share, one character**: the server process's CPU time (``/proc/PID/stat``: user + system,
   all threads) over ``--seconds`` of streaming one character at the model's 20 fps, divided by
   the wall time: the share of one core. Reference in the same run: the same model's bare
   :meth:`LiveCharacters.step` timed in this process (CPU seconds per frame x 20 fps), so the
   ratio says what the server adds (socket I/O, encoding, the event loop).
2. **Characters at 20 fps**: (a) the CPU time of one batched step plus frame encoding for
   N = 1 ... 1024 characters, timed in this process with one thread (what an idle core must
   spend per frame: N fits when that is at most 80% of the 50 ms period); (b) end to end
   (``--threads`` torch threads, default 1):
   servers with N = 1, 2, 4, ... characters (one batched model step per frame); a server
   *sustains* N when the client receives >= 97.5% of 20 frames per second over ``--seconds``
   with the server's late ticks (a frame more than one period behind) at most 1 per 10 s.
   Printed per N: received fps, model step ms (the server's mean) and step / frame period.
3. **Latency**: ``--presses`` key presses (alternately walk left / right, at random moments)
   sent to the one-character server; for each, the time from sending the input to receiving the
   first frame generated with it (the frame whose acknowledged input seq reaches it): p50 and
   p99. Reference: the frame period (50 ms; a uniformly timed press waits 25 ms on average for the
   next tick).

The model: ``--checkpoint`` (a run folder, .pt or pretrained:NAME), else a random-weight model of
``--config`` size (default ``configs/small_cpu.yaml``: 8 flow steps, 128 LSTM units) on the
procedural skeleton (61 pose features, as Bandai Namco's), with a start bank of procedural
takes; speed does not depend on the weights.

Run::

    python benchmarks/play_speed.py                       # small_cpu size, random weights
    python benchmarks/play_speed.py --checkpoint pretrained:NAME --max-characters 256
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FRAME_HEADER = 16


def build_checkpoint(config: Path, folder: Path) -> Path:
    """A random-weight model of ``config``'s size on two procedural takes, with a start bank."""
    import torch

    from data_pipeline.bvh_writer import write_bvh
    from data_pipeline.config import DataConfig
    from data_pipeline.prepare import PreparedData, prepare_dataset
    from data_pipeline.procedural import generate_take
    from data_pipeline.splits import SplitConfig
    from moglow.checkpoint import data_metadata, save_checkpoint
    from moglow.config import ExperimentConfig, experiment_to_dict, load_experiment
    from moglow.model import MoGlow
    from moglow.training_data import start_bank_for

    bvh = folder / "bvh"
    bvh.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        motion, _ = generate_take(100 + i, 6.0, fps=30.0)
        write_bvh(motion, bvh / f"take_{i}.bvh")
    exp = load_experiment(config)
    cfg = DataConfig(profile="procedural", data_dir=str(bvh), representation="positions", fps=exp.data.fps,
                     split=SplitConfig(val_fraction=0.0, test_fraction=0.0))
    data = PreparedData.load(prepare_dataset(cfg, bvh, folder / "prepared", progress=False, workers=1,
                                             log=lambda s: None))
    torch.manual_seed(0)
    model = MoGlow(exp.model, data.feature_def.pose_dim, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("initialized"):
                b.fill_(1)
    meta = data_metadata(data)
    meta["start_bank"] = start_bank_for(data, exp.model.tau)
    ec = ExperimentConfig(name=f"{exp.name}-random", data=data.config, model=model.cfg)
    return save_checkpoint({"config": experiment_to_dict(ec), "model": model.state_dict(), "step": 0, "data": meta},
                           folder / "model.pt")


class Server:
    """``python -m moglow play`` in a subprocess; ``url``, ``pid``, CPU seconds from /proc."""

    def __init__(self, checkpoint: str, characters: int, threads: int, out: Path):
        env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, "-m", "moglow", "play", "--checkpoint", checkpoint, "--no-browser", "--port", "0",
               "--characters", str(characters), "--threads", str(threads), "--out", str(out), "--device", "cpu"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.url = None
        for line in self.proc.stdout:
            if "open http://" in line:
                self.url = line.split("open ", 1)[1].split()[0].rstrip("/")
                break
        if self.url is None:
            raise RuntimeError(f"moglow play did not start (exit {self.proc.wait()})")
        self.ws = self.url.replace("http://", "ws://") + "/ws"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def connect(url: str):
    from websockets.sync.client import connect as ws_connect

    return ws_connect(url, max_queue=None, close_timeout=2)


def stream(ws, seconds: float) -> tuple[int, dict]:
    """Read for ``seconds``; returns frames received and the last stats message."""
    frames, stats, end = 0, {}, time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return frames, stats
        try:
            msg = ws.recv(timeout=left)
        except TimeoutError:
            return frames, stats
        if isinstance(msg, bytes):
            frames += 1
        else:
            d = json.loads(msg)
            if d.get("type") == "stats":
                stats = d


def bare_step_cpu(checkpoint: str, seconds: float) -> float:
    """CPU seconds per frame of :meth:`LiveCharacters.step` for one character, in this process, 1 thread."""
    import torch

    from moglow.checkpoint import load_model
    from moglow.live.characters import LiveCharacters
    from moglow.sampling import SamplingMeta, optimise_for_sampling

    torch.set_num_threads(1)
    from moglow.commands.play import _resolve_checkpoint

    model, ckpt = load_model(_resolve_checkpoint(checkpoint))
    meta = SamplingMeta.from_checkpoint(ckpt)
    chars = LiveCharacters(optimise_for_sampling(model), meta, 1)
    chars.steering.set_velocity([0], np.array([[0.0, 1.0]]), np.array([1.2]))
    for _ in range(20):
        chars.step()
    n, c0, t0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        chars.step()
        n += 1
    return (time.process_time() - c0) / n


def step_cpu_by_batch(checkpoint: str, counts: list[int], frames: int = 40) -> dict[int, float]:
    """CPU ms per frame of :meth:`LiveCharacters.step` (plus frame encoding) for N wandering characters,
    in this process with one torch thread: what one core must spend per frame, free of other jobs'
    scheduling."""
    import torch

    from moglow.checkpoint import load_model
    from moglow.commands.play import _resolve_checkpoint
    from moglow.live.characters import LiveCharacters
    from moglow.live.protocol import encode_frame
    from moglow.sampling import SamplingMeta, optimise_for_sampling

    torch.set_num_threads(1)
    model, ckpt = load_model(_resolve_checkpoint(checkpoint))
    meta = SamplingMeta.from_checkpoint(ckpt)
    optimise_for_sampling(model)
    out = {}
    for n in counts:
        chars = LiveCharacters(model, meta, n)
        chars.steering.set_wander(list(range(n)))
        ack = np.zeros(n)
        for _ in range(5):
            chars.step()
        c0 = time.process_time()
        for _ in range(frames):
            f = chars.step()
            encode_frame(f.index, f.positions, f.root, f.speed, f.intended, ack, f.mode)
        out[n] = 1000 * (time.process_time() - c0) / frames
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--config", default=str(REPO / "configs" / "small_cpu.yaml"))
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement time per server")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the many-character servers")
    ap.add_argument("--max-characters", type=int, default=512)
    ap.add_argument("--presses", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="play-speed-"))
    checkpoint = args.checkpoint or str(build_checkpoint(Path(args.config), tmp))
    label = args.checkpoint or f"random weights, {Path(args.config).stem} size"
    load = os.getloadavg()
    print(f"model: {label}; machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")

    # 1. CPU share of one character, and 3. latency, on one server
    bare = bare_step_cpu(checkpoint, min(args.seconds, 5.0))
    srv = Server(checkpoint, 1, 1, tmp / "out")
    try:
        with connect(srv.ws) as ws:
            stream(ws, 2.0)  # warm up
            c0, t0 = srv.cpu_seconds(), time.monotonic()
            frames, _ = stream(ws, args.seconds)
            wall = time.monotonic() - t0
            share = (srv.cpu_seconds() - c0) / wall
            fps = frames / wall
            print(f"\n1. one character, 1 thread: server process {100 * share:.1f}% of one core at {fps:.1f} fps "
                  f"received; bare model step {1000 * bare:.2f} CPU ms/frame = {100 * bare * 20:.1f}% of a core at "
                  f"20 fps; server / bare step = {share / (bare * 20):.2f}")
            lat = latency(ws, args.presses)
            if lat:
                print(f"\n3. key press -> first frame generated with it, {len(lat)} presses: "
                      f"p50 {lat[len(lat) // 2]:.1f} ms, "
                      f"p99 {lat[min(len(lat) - 1, int(0.99 * len(lat)))]:.1f} ms, max {lat[-1]:.1f} ms "
                      f"(frame period 50 ms; p99 / period = {lat[min(len(lat) - 1, int(0.99 * len(lat)))] / 50:.2f})")
    finally:
        srv.stop()

    # 2. characters at 20 fps: CPU per frame in this process (what an idle core needs) ...
    counts = [n for n in (1, 8, 32, 64, 128, 256, 512, 1024) if n <= args.max_characters]
    cpu = step_cpu_by_batch(checkpoint, counts)
    fit = [n for n, ms in cpu.items() if ms <= 0.8 * 50]
    print("\n2a. CPU ms per frame (batched step + encoding, 1 thread), and as a share of the 50 ms period:")
    for n, ms in cpu.items():
        print(f"   N={n:5d}: {ms:7.2f} CPU ms/frame = {ms / 50:.2f} of a core at 20 fps "
              f"({ms / n:.3f} ms per character)")
    print(f"   => up to {max(fit) if fit else 0} characters fit in 80% of one idle core at 20 fps "
          f"(this 2-core machine has 2)")

    # ... and end to end on the real server under the machine's current load
    print(f"\n2. characters sustained at 20 fps ({args.threads} torch threads, one batched step per frame):")
    best, n = 0, 1
    while n <= args.max_characters:
        srv = Server(checkpoint, n, args.threads, tmp / "out")
        try:
            with connect(srv.ws) as ws:
                stream(ws, 2.0)
                t0 = time.monotonic()
                _, first = stream(ws, 0.0)
                frames, stats = stream(ws, args.seconds)
                fps = frames / (time.monotonic() - t0)
        finally:
            srv.stop()
        late = stats.get("late_ticks", 0)
        ok = fps >= 0.975 * 20 and late <= max(1, args.seconds / 10)
        step = stats.get("step_ms", float("nan"))
        print(f"   N={n:4d}: {fps:5.2f} fps received, model step {step:6.1f} ms ({step / 50:.2f} of the period), "
              f"late ticks {late} -> {'sustained' if ok else 'NOT sustained'}")
        if not ok:
            break
        best = n
        n *= 2
    print(f"   => {best} characters sustain 20 fps (next doubling does not)")


def latency(ws, presses: int) -> list[float]:
    """Milliseconds from sending a move to receiving the first frame that acknowledges it."""
    rng = random.Random(0)
    out: list[float] = []
    seq = 1000
    J = None
    for i in range(presses):
        time.sleep(rng.uniform(0.05, 0.15))
        seq += 1
        direction = [1.0, 0.0] if i % 2 else [-1.0, 0.0]
        t0 = time.perf_counter()
        ws.send(json.dumps({"type": "move", "character": 0, "seq": seq, "dir": direction, "run": False}))
        while True:
            msg = ws.recv(timeout=5)
            if isinstance(msg, str):
                d = json.loads(msg)
                if d.get("type") == "hello":
                    J = len(d["parents"])
                continue
            head = np.frombuffer(msg[:FRAME_HEADER], "<u4")
            J = int(head[3])
            row = np.frombuffer(msg[FRAME_HEADER:], "<f4").reshape(int(head[2]), -1)[0]
            if row[3 * J + 6] >= seq:
                out.append(1000 * (time.perf_counter() - t0))
                break
    return sorted(out)


if __name__ == "__main__":
    main()
