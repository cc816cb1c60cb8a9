"""The ``moglow`` command: one entry point, one subcommand per job.

Each subcommand lives in ``moglow/commands/<name>.py`` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import heavy
libraries (torch, pyrender) inside ``run`` so that ``moglow --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from moglow.commands.common import HelpFormatter

#: subcommands in the order ``--help`` lists them
COMMANDS = ["prepare", "generate-data", "train", "sample", "export", "render", "review", "evaluate", "play", "demo",
            "profile", "toy", "images"]


def _load(name: str):
    module_name = f"moglow.commands.{name.replace('-', '_')}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            return None  # not built yet
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moglow",
        description="Probabilistic, controllable motion synthesis with normalising flows (MoGlow, McMoGlow).",
        epilog="Shared options mean the same in every command: --config NAME|YAML with --set KEY=VALUE, "
               "--checkpoint RUN|FILE.pt, --device auto|cpu|cuda[:N] (auto: CUDA when present), --threads N, "
               "--no-progress. 'moglow COMMAND --help' lists a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           formatter_class=HelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
