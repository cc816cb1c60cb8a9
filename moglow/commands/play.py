"""``moglow play``: steer characters generated live by a checkpoint, in the browser."""
from __future__ import annotations

import argparse

from data_pipeline.errors import SetupError
from moglow.pretrained import DEFAULT_MODEL, PREFIX

HELP = "steer characters generated live by a trained model in the browser (local web server + 3-D page)"

#: the live page's starting temperature for a model that names none (a little calmer than the distribution)
PLAY_TEMPERATURE = 0.8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=PREFIX + DEFAULT_MODEL,
                        help="run folder (its best.pt, else latest.pt), a .pt checkpoint file, or pretrained:NAME "
                             "(default: the model that ships with the package; `moglow pretrained` lists them)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; anything but 127.0.0.1/localhost shares the page with the "
                             "network (no authentication)")
    parser.add_argument("--characters", type=int, default=1,
                        help="characters in the world, generated in one batch; character 0 follows WASD/arrows, "
                             "character 1 IJKL, the others wander on random paths")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--out", default="outputs/play", help="folder for recordings (served under /out/)")
    parser.add_argument("--temperature", type=float, default=None,
                        help=f"initial latent scale (0: the mean path; default: the model's own if its checkpoint "
                             f"names one, else {PLAY_TEMPERATURE:g})")
    parser.add_argument("--speed", type=float, default=1.2, help="initial walking speed, m/s")
    parser.add_argument("--history", type=float, default=30.0, help="seconds kept per character for Record")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents, start poses and wandering")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="torch device (auto: cuda when available)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch; one is fastest for up to a few hundred characters (a frame's "
                             "products are small) and on a shared machine (benchmarks/play_speed.py)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                        help="weight storage while streaming (see moglow sample --help)")


def _resolve_checkpoint(spec: str) -> str:
    """``pretrained:NAME`` through :func:`moglow.pretrained.resolve` (the full spec) when that module
    exists; anything else is passed on to :func:`moglow.checkpoint.load_model` as it is."""
    if not spec.startswith("pretrained:"):
        return spec
    try:
        from moglow.pretrained import resolve  # type: ignore[import-not-found]
    except ImportError:
        raise SetupError("pretrained:NAME needs moglow.pretrained, which this installation lacks; pass a run "
                         "folder or a .pt file") from None
    return str(resolve(spec))


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal
    import sys
    import webbrowser

    import torch

    from moglow.checkpoint import load_model
    from moglow.cli_checks import USER_ERRORS, check_device, report_error
    from moglow.live.characters import LiveCharacters
    from moglow.live.server import LiveServer
    from moglow.sampling import SamplingMeta, optimise_for_sampling

    def fail(error: BaseException | str) -> int:
        return report_error("play", error)

    if args.characters < 1:
        return fail("--characters must be at least 1")
    if args.temperature is not None and args.temperature < 0:
        return fail("--temperature must not be negative")
    if not 0 <= args.port <= 65535:
        return fail("--port must be in 0..65535")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = str(check_device(args.device))
        model, ckpt = load_model(_resolve_checkpoint(args.checkpoint), map_location=device)
        meta = SamplingMeta.from_checkpoint(ckpt)
        optimise_for_sampling(model)
        temperature = args.temperature if args.temperature is not None else meta.default_temperature(PLAY_TEMPERATURE)
        chars = LiveCharacters(model, meta, args.characters, temperature=temperature, seed=args.seed,
                               history_seconds=args.history, precision=args.precision)
    except USER_ERRORS as e:
        return fail(e)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"moglow play: warning: listening on {args.host}: anyone who can reach this machine can open the "
              "page, steer the characters and download recordings (no authentication)", file=sys.stderr)
    wander = tuple(range(2, args.characters))
    server = LiveServer(chars, args.out, args.host, args.port, walk_speed=args.speed, wander=wander,
                        info={"checkpoint": str(args.checkpoint), "step": ckpt.get("step"), "device": device})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        task = asyncio.create_task(server.serve())
        started = asyncio.create_task(server.wait_started())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises the bind error
            return
        print(f"moglow play: {args.characters} character(s) at {meta.fps:g} fps on {device}; open {server.url} "
              "(Ctrl-C stops)", flush=True)
        if not args.no_browser:
            webbrowser.open(server.url)
        await task

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # before the loop's own handler was installed
        print("moglow play: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        return fail(f"cannot listen on {args.host}:{args.port}: {e}")
    print("moglow play: stopped", flush=True)
    return 0
