"""``moglow profile draft TAKE.bvh``: write a starting skeleton profile for a new rig."""
from __future__ import annotations

import argparse

HELP = "skeleton profiles: 'draft TAKE.bvh' writes a starting profile guessed from one take"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moglow.commands.common import HelpFormatter

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = sub.add_parser("draft", formatter_class=HelpFormatter,
                       help="guess root, hips, shoulders, feet, left/right pairs and unit from one take",
                       description="Write a profile YAML guessed from one BVH take's joint names and first "
                                   "frame, for you to check, then use as data.profile: PATH (or copy into "
                                   "configs/profiles/).")
    d.add_argument("take", metavar="TAKE.bvh", help="one take of the rig")
    d.add_argument("--out", default=None, help="YAML to write (default: <take name>_profile.yaml here)")
    d.add_argument("--name", default=None, help="the profile's name (default: the take's file name)")
    d.add_argument("--force", action="store_true", help="replace an existing --out file")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from data_pipeline.bvh import read_bvh
    from data_pipeline.kinematics import forward_kinematics
    from data_pipeline.profile_draft import draft_yaml
    from data_pipeline.profiles import ProfileError, load_profile
    from data_pipeline.typed_config import ConfigError
    from moglow.cli_checks import USER_ERRORS, report_error

    take = Path(args.take)
    out = Path(args.out) if args.out else Path(f"{take.stem}_profile.yaml")
    if out.exists() and not args.force:
        return report_error("profile", f"{out} exists (use --force to replace it)")
    try:
        motion = read_bvh(take)
        motion.values = motion.values[:1]
        first = forward_kinematics(motion)[0][0]
        text = draft_yaml(motion.skeleton, args.name or take.stem, str(take), first)
    except USER_ERRORS as e:
        return report_error("profile", e)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out}: a guess from {take}; check root, hips, shoulders, feet and mirror_pairs")
    try:
        load_profile(out).validate_skeleton(motion.skeleton, str(take))
    except (ConfigError, ProfileError) as e:
        print(f"warning: the draft does not validate yet; edit it: {e}", file=sys.stderr)
        return 0
    print(f"it fits {take}: use it with data.profile: {out} (or --profile {out} for evaluate/render)")
    return 0
