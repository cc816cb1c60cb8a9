"""``moglow pretrained``: list the models that ship with the package (``--checkpoint pretrained:NAME``)."""
from __future__ import annotations

import argparse

HELP = "list the pretrained models shipped with the package (use them as --checkpoint pretrained:NAME)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="print this model's card")
    parser.add_argument("--pack", metavar="RUN", default=None,
                        help="make a shippable slim checkpoint of RUN (a run folder or .pt) as NAME.pt in --out")
    parser.add_argument("--out", default=None, help="folder for --pack (default: the package's pretrained folder)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="with --pack: the model's own sampling temperature, what every command uses unless "
                             "given --temperature (default: 1.0, or what RUN names)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from moglow.cli_checks import USER_ERRORS, report_error
    from moglow.pretrained import PRETRAINED_DIR, available, resolve
    from moglow.pretrained.pack import pack_checkpoint

    if args.pack is not None:
        if not args.name:
            report_error("pretrained", "--pack needs a NAME")
            return 2
        dest = Path(args.out or PRETRAINED_DIR) / f"{args.name}.pt"
        try:
            path = pack_checkpoint(args.pack, dest, args.temperature)
        except USER_ERRORS as e:
            return report_error("pretrained", e)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB); "
              f"write its model card as {path.with_suffix('.md')}")
        return 0
    if args.name:
        try:
            path = resolve(args.name)
        except USER_ERRORS as e:
            return report_error("pretrained", e)
        card = path.with_suffix(".md")
        print(card.read_text(encoding="utf-8") if card.is_file() else f"{path}: no model card")
        return 0
    models = available()
    if not models:
        print("no pretrained models ship with this installation")
        return 0
    for m in models:
        print(f"pretrained:{m.name}  ({m.size_bytes / 2**20:.1f} MiB)  {m.summary}")
    print("use: moglow sample --checkpoint pretrained:NAME ...; model card: moglow pretrained NAME")
    return 0
