"""The options several subcommands share, defined once so they mean the same everywhere.

- ``--config NAME|YAML`` and ``--set KEY=VALUE ...``: a built-in config by name or a file, with
  any key overridden (checked like the file's keys).
- ``--checkpoint RUN|FILE.pt``: a run folder (its ``best.pt``, else ``latest.pt``) or a checkpoint
  file, resolved by :func:`moglow.checkpoint.resolve_checkpoint` in every command.
- ``--device auto|cpu|cuda|cuda:N`` (default ``auto``: CUDA when present) and ``--threads N``
  (default: torch's own choice).
- ``--no-progress``: no progress bars (there are none anyway when stderr is not a terminal).
"""
from __future__ import annotations

import argparse

DEVICE_HELP = "torch device: auto (CUDA when present, else CPU), cpu, cuda or cuda:N"
THREADS_HELP = "CPU threads for torch (default: torch's choice; 1 is often fastest for small models on a busy machine)"


def add_config(parser: argparse.ArgumentParser, required: bool = False, default: str | None = None,
               what: str = "experiment config") -> None:
    """``--config NAME|YAML`` and ``--set KEY=VALUE ...``."""
    parser.add_argument("--config", metavar="NAME|YAML", required=required, default=default,
                        help=f"{what}: a built-in name (tiny_cpu, small_cpu, tiny_cpu_mcmoglow, locomotion_paper, "
                             "locomotion_preferred, data_bandai_namco) or a YAML path")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", nargs="+", action="extend", default=[],
                        help="override config keys, e.g. --set train.steps=200 model.hidden=128 "
                             "(values read as YAML; a misspelt key is an error naming it)")


def add_checkpoint(parser: argparse.ArgumentParser, required: bool = True, extra: str = "") -> None:
    """``--checkpoint RUN|FILE.pt``."""
    parser.add_argument("--checkpoint", metavar="RUN|FILE.pt", required=required,
                        help="trained model: a run folder (its best.pt, else latest.pt) or a .pt checkpoint file"
                             + (f"; {extra}" if extra else ""))


def add_device(parser: argparse.ArgumentParser, threads: bool = True) -> None:
    """``--device`` (default auto) and ``--threads``."""
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]", help=DEVICE_HELP)
    if threads:
        parser.add_argument("--threads", type=int, default=None, metavar="N", help=THREADS_HELP)


def add_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (none anyway when stderr is not a terminal: one line per stage)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where there is a default worth saying (not None, False or [])."""

    def _get_help_string(self, action: argparse.Action) -> str:
        d = action.default
        if d is None or d is False or d is argparse.SUPPRESS or (isinstance(d, list) and not d) \
                or "(default" in (action.help or ""):
            return str(action.help or "")
        return str(super()._get_help_string(action))


def apply_threads(threads: int | None) -> None:
    """Set torch's CPU threads when ``--threads`` was given."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


__all__ = ["HelpFormatter", "add_config", "add_checkpoint", "add_device", "add_progress", "apply_threads",
           "DEVICE_HELP",
           "THREADS_HELP"]
