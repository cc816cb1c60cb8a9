"""``moglow render``: draw a BVH file or an .npz of joint positions to an H.264 MP4."""
from __future__ import annotations

import argparse

HELP = "render a .bvh file or an .npz of joint positions to an H.264 MP4 video (off-screen)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help=".bvh file (any skeleton) or .npz with positions (F,J,3)|(N,F,J,3) in "
                                      "metres and parents (J,); optional path, fps, labels, ground_truth")
    parser.add_argument("--out", required=True, help="video file to write (.mp4)")
    parser.add_argument("--width", type=int, default=None,
                        help="frame width in pixels; default 640, or 360 per panel for several side by side")
    parser.add_argument("--height", type=int, default=480, help="frame height in pixels")
    parser.add_argument("--fps", type=float, default=None,
                        help="video frame rate; the motion is resampled to it (default: the file's rate)")
    parser.add_argument("--profile", default=None,
                        help="skeleton profile: a built-in name (bandai_namco, cmu, procedural) or a YAML path, "
                             "giving unit scale and root")
    parser.add_argument("--unit-scale", type=float, default=None,
                        help="BVH file units to metres (default: the profile's, else 0.01 when the "
                             "skeleton is taller than 3 units, else 1)")
    parser.add_argument("--layout", choices=["side", "overlay"], default="side",
                        help="several samples: side by side panels, or overlaid in one view")
    parser.add_argument("--start", type=int, default=0, help="first frame to render")
    parser.add_argument("--frames", type=int, default=None, help="number of frames to render (default: all)")
    parser.add_argument("--azimuth", type=float, default=None,
                        help="camera direction about the vertical axis in degrees (default: three-quarter "
                             "front view of the overall travel)")
    parser.add_argument("--no-path", action="store_true", help="do not draw the path on the floor")
    parser.add_argument("--gl-platform", choices=["auto", "egl", "osmesa"], default="auto",
                        help="off-screen OpenGL platform; auto tries EGL, then OSMesa")
    parser.add_argument("--crf", type=int, default=20, help="x264 quality (lower: better, larger)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    from moglow.commands.common import add_progress

    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from data_pipeline.output_files import refuse_overwrite
    from moglow.cli_checks import USER_ERRORS, check_range, report_error
    from visualize.gl_platform import select_platform
    from visualize.inputs import load_clip

    try:
        check_range("--frames", args.frames, 1, None, integer=True)
        check_range("--start", args.start, 0, None, integer=True)
        check_range("--width", args.width, 16, 7680, integer=True)
        check_range("--height", args.height, 16, 4320, integer=True)
        check_range("--fps", args.fps, 1, 240)
        check_range("--crf", args.crf, 0, 51, integer=True)
        refuse_overwrite([args.out], args.force, "moglow render --out")
    except USER_ERRORS as e:
        return report_error("render", e)
    try:
        clip = load_clip(args.input, unit_scale=args.unit_scale, profile=args.profile, fps=args.fps,
                         start=args.start, frames=args.frames)
        platform = select_platform(args.gl_platform)
        from visualize.render import render_positions

        report = render_positions(
            clip.positions, clip.parents, args.out, clip.fps,
            paths=None if args.no_path else clip.paths, labels=clip.labels,
            ground_truth=clip.ground_truth, ground_truth_path=None if args.no_path else clip.ground_truth_path,
            layout=args.layout, width=args.width, height=args.height, root=clip.root,
            gl_platform=args.gl_platform, progress=not args.no_progress, azimuth_deg=args.azimuth,
            crf=args.crf)
    except USER_ERRORS as e:
        return report_error("render", e)
    print(f"wrote {report.path}: {report.frames} frames at {report.fps:g} fps, "
          f"{report.render_fps:.1f} frames/s rendered+encoded; OpenGL: {platform.describe()}")
    return 0
