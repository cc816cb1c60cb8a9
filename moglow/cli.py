"""The ``moglow`` command: one entry point, one subcommand per job.

Subcommands plug in through the ``moglow.commands`` entry-point group (``setup.py``): each is a
module with ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. The
application's own commands live in ``moglow/commands/``; ``toy`` and ``images`` come from the
``baselines`` package the same way a third party's package would add one, so nothing here names
them. Command modules import heavy libraries (torch, pyrender) inside ``run`` so that
``moglow --help`` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import EntryPoint, entry_points

from moglow.commands.common import HelpFormatter

#: the entry-point group of the subcommands (name = module)
ENTRY_POINT_GROUP = "moglow.commands"


def registered_commands() -> dict[str, EntryPoint]:
    """Installed subcommands by name, sorted (not loaded)."""
    return dict(sorted((ep.name, ep) for ep in entry_points(group=ENTRY_POINT_GROUP)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moglow",
        description="Probabilistic, controllable motion synthesis with normalising flows (MoGlow, McMoGlow).",
        epilog="Shared options mean the same in every command: --config NAME|YAML with --set KEY=VALUE, "
               "--checkpoint RUN|FILE.pt, --device auto|cpu|cuda[:N] (auto: CUDA when present), --threads N, "
               "--no-progress. 'moglow COMMAND --help' lists a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = registered_commands()
    if not commands:
        parser.epilog = ("No subcommands are registered: the package's metadata is missing. Install it "
                         "(pip install -e . in a clone).")
    for name, entry in commands.items():
        module = entry.load()
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
