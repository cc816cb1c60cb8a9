"""``moglow sample``: draw motion from a trained checkpoint along a path; write BVH and npz."""
from __future__ import annotations

import argparse

HELP = "generate motion along a path from a trained checkpoint; write one BVH per sample, an npz and a report"

PATH_HELP = ("path spec: line:speed=1.5 | circle:radius=3,speed=1.2 | figure8:size=4,speed=1.0 | "
             "stop-and-go:speed=1.2,period=4 | sidestep:speed=0.8 | backwards:speed=0.8 | random:seed=3,speed=1.2 | "
             "a .csv/.json of waypoints (x,z[,t][,heading]) or velocities (vx,vz[,t]) | bvh:TAKE.bvh "
             "(re-synthesise a take; its first tau frames are the context). Other paths start from real "
             "training motion matched to the path's starting velocity (see --start)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from moglow.commands.common import add_checkpoint, add_device, add_progress

    add_checkpoint(parser)
    parser.add_argument("--path", default="line:speed=1.2", help=PATH_HELP)
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds to generate, at most 3600 (default: 10 for built-in paths, the file's or "
                             "take's own length for files)")
    parser.add_argument("--num", type=int, default=1, help="samples, generated in parallel as one batch")
    parser.add_argument("--temperature", type=float, default=None,
                        help="latent scale, 0 to 5; 0 gives the deterministic mean path (z = 0) (default: the "
                             "model's own, 1.0 unless its checkpoint names one, as shipped models may)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents")
    parser.add_argument("--start", choices=["auto", "bank", "mean"], default="auto",
                        help="context of paths other than bvh: 'bank': tau frames of real training motion whose "
                             "velocity matches the path's first tau frames (stored in the checkpoint; sample i gets "
                             "the i-th nearest window); 'mean': the mean pose (a small model may glide without "
                             "stepping from it); 'auto': bank when the checkpoint has one, else mean")
    parser.add_argument("--style", default=None, help="style name or id (models with a style embedding)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--prefix", default="sample", help="file name prefix of the BVH files")
    parser.add_argument("--no-bvh", action="store_true", help="write only the npz")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="write the raw model: no foot clean-up (by default planted feet are locked, the legs "
                             "solved by IK and the feet kept above the floor, in the BVH, the npz and so the video)")
    add_device(parser)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                        help="arithmetic while sampling: auto (default) picks per device and batch size, on a CPU "
                             "float32 through the fast frame decoder (the model's maths to float rounding; bf16 "
                             "for batches only on CPUs with AMX); fp32: the model's own float32 path; bf16 or "
                             "fp16: 16-bit storage of the large weight matrices (LSTM couplings only; same latents; "
                             "each frame within ~1e-2 (bf16) or ~1e-3 (fp16) of fp32 in normalised units, long "
                             "samples drift further; slower than fp32 on CPUs without native 16-bit maths: "
                             "benchmarks/sample_speed.py)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files in --out")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    import time

    from data_pipeline.output_files import refuse_overwrite
    from moglow.checkpoint import load_model, resolve_checkpoint
    from moglow.cli_checks import (MAX_SAMPLE_SECONDS, MAX_TEMPERATURE, USER_ERRORS, check_device, check_range,
                                   check_sample_size, check_threads, report_error)
    from moglow.export import export_paths, export_samples
    from moglow.paths import make_path, parse_path_spec
    from moglow.sampling_precision import sampling_decoder
    from moglow.sampling import SamplingMeta, optimise_for_sampling, sample_path

    def fail(error: BaseException | str) -> int:
        return report_error("sample", error)

    try:
        check_range("--seconds", args.seconds, 1e-3, MAX_SAMPLE_SECONDS)
        if args.temperature is not None:
            check_range("--temperature", args.temperature, 0.0, MAX_TEMPERATURE)
        check_sample_size(args.num, None)
        check_threads(args.threads)
        device = check_device(args.device)
        refuse_overwrite(export_paths(args.out, args.num, args.prefix, bvh=not args.no_bvh), args.force,
                         "moglow sample --out")
    except USER_ERRORS as e:
        return fail(e)
    from moglow.commands.common import apply_threads

    apply_threads(args.threads)
    try:
        checkpoint = resolve_checkpoint(args.checkpoint, prefer="best")
        model, ckpt = load_model(checkpoint, map_location=device)
        meta = SamplingMeta.from_checkpoint(ckpt)
        temperature = args.temperature if args.temperature is not None else meta.default_temperature()
        optimise_for_sampling(model)
        used, _ = sampling_decoder(model, args.precision, args.num)  # built (and checked) before the clock starts
        spec = parse_path_spec(args.path)
        extra = model.tau + model.lookahead
        seconds = args.seconds if args.seconds is not None else (None if spec.kind in ("file", "bvh") else 10.0)
        frames = None if seconds is None else extra + int(round(seconds * meta.fps))
        check_sample_size(args.num, frames)
        trajectory = make_path(spec, frames, meta.data_config, meta.profile)
        check_sample_size(args.num, trajectory.num_frames)
        if trajectory.num_frames <= extra:
            return fail(f"the path has {trajectory.num_frames} frames; the model needs more than "
                        f"tau + lookahead = {extra}")
        t0 = time.perf_counter()
        samples = sample_path(model, meta, trajectory, num=args.num, temperature=temperature, seed=args.seed,
                              style=args.style, progress=not args.no_progress, precision=args.precision,
                              start=args.start)
        seconds_taken = time.perf_counter() - t0
        info = {"checkpoint": str(checkpoint), "bvh_unit_scale": float(meta.feature_def.unit_scale),
                "step": ckpt.get("step"), "path": args.path,
                "seconds": samples.num_frames / meta.fps, "num": args.num, "temperature": temperature,
                "seed": args.seed, "style": args.style, "fps": meta.fps, "tau": model.tau, "precision": args.precision,
                "precision_used": used,
                "context": samples.context,
                "generation_seconds": round(seconds_taken, 3),
                "generated_frames_per_second": round(samples.num * samples.num_frames / seconds_taken, 1)}
        report = export_samples(samples, meta.feature_def, args.out, prefix=args.prefix, bvh=not args.no_bvh,
                                info=info, progress=not args.no_progress, force=args.force,
                                cleanup=not args.no_cleanup, profile=meta.profile)
    except USER_ERRORS as e:
        return fail(e)
    print(f"generated {samples.num} x {samples.num_frames} frames at {meta.fps:g} fps along {args.path!r} "
          f"(temperature {temperature:g}, seed {args.seed}, "
          f"{used if args.precision == used else f'{args.precision}: {used}'}) in {seconds_taken:.2f} s "
          f"({info['generated_frames_per_second']:g} frames/s)")
    print(report.summary())
    if not args.no_bvh:
        print(bvh_unit_note(float(meta.feature_def.unit_scale)))
    print(f"wrote {args.out}/: " + ", ".join(filter(None, [f"{len(report.samples)} BVH" if not args.no_bvh else None,
                                                         report.npz, "report.json"])))
    return 0


def bvh_unit_note(unit_scale: float) -> str:
    """One line saying what unit the written BVH files are in, and how to import them in Blender."""
    names = {0.01: "centimetres", 1.0: "metres", 0.001: "millimetres", 0.0254: "inches"}
    unit = next((n for k, n in names.items() if abs(unit_scale - k) < 1e-9 * max(k, 1e-9)),
                f"units of {unit_scale:g} m")
    return (f"BVH unit: {unit} (the training files' unit, {unit_scale:g} m per unit); in Blender import with "
            f"Scale {unit_scale:g}")
