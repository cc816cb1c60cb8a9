"""What ``moglow evaluate`` found: :class:`EvaluationResult`, its markdown table and its JSON.

The rows of the table are named :data:`REFERENCE` (the held-out mocap), :data:`GENERATED`
(the raw model) and :data:`CLEANED` (what the user gets); :data:`METRICS` lists the row
metrics in table order with their units.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_pipeline.output_files import refuse_overwrite, write_text_atomic
from data_pipeline.plain_data import to_plain

REFERENCE = "mocap"
GENERATED = "generated"
#: the generated motion as the user gets it: on the skeleton, feet cleaned up (:mod:`moglow.cleanup`)
CLEANED = "cleaned"


@dataclass
class EvaluationResult:
    """What ``moglow evaluate`` found.

    Attributes:
        info: what was evaluated (checkpoint, step, data folder, files, fps, settings).
        nll: :func:`moglow.evaluation.likelihood.heldout_nll`'s dict, or None (reference-only).
        rows: ``{"mocap": {...}, "generated": {...}}`` (metric name -> value; None: not defined).
        clips: the first takes as :class:`moglow.evaluation.clips.EvaluationClip` (``clips=N`` of
            :func:`moglow.evaluation.evaluate.evaluate_checkpoint`; not in the JSON).
    """

    info: dict[str, Any]
    nll: dict[str, Any] | None
    rows: dict[str, dict[str, Any]]
    clips: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info, "nll": self.nll, "rows": self.rows, "metrics": METRICS_DOC}

    def to_json(self) -> str:
        return json.dumps(to_plain(self.to_dict(), finite=True), indent=1)

    def to_markdown(self) -> str:
        return format_table(self)

    @staticmethod
    def output_paths(out_dir: str | Path) -> tuple[Path, Path]:
        """The two files :meth:`write` writes into ``out_dir``."""
        return Path(out_dir) / "evaluation.json", Path(out_dir) / "evaluation.md"

    def write(self, out_dir: str | Path, force: bool = True) -> tuple[Path, Path]:
        """Write ``evaluation.json`` and ``evaluation.md`` into ``out_dir`` (each to a temporary
        name, then renamed); returns both paths. ``force=False``: refuse to replace them."""
        j, m = self.output_paths(out_dir)
        refuse_overwrite([j, m], force)
        write_text_atomic(j, self.to_json() + "\n")
        write_text_atomic(m, self.to_markdown() + "\n")
        return j, m


#: (key, label, unit, better) of every row metric, in table order
METRICS: list[tuple[str, str, str, str]] = [
    ("foot_skating_cm_s", "foot skating (speed in contact)", "cm/s", "lower"),
    ("foot_skating_fraction", "skating contact samples", "fraction", "lower"),
    ("foot_contact_fraction", "foot contact", "fraction", "close to mocap"),
    ("penetration_depth_cm", "floor penetration depth", "cm", "lower"),
    ("penetration_fraction", "frames penetrating the floor", "fraction", "lower"),
    ("bone_length_cv_mean", "bone-length CV (mean over bones)", "ratio", "lower (mocap: 0)"),
    ("jerk_m_s3", "jerk", "m/s³", "close to mocap"),
    ("gait_periodicity", "gait periodicity (ankle height)", "autocorr.", "close to mocap (~1)"),
    ("gait_stride_period_s", "stride period", "s", "close to mocap"),
    ("gait_left_right_correlation", "left/right ankle height correlation", "corr.", "close to mocap (< 0)"),
    ("gait_height_range_cm", "ankle height range", "cm", "close to mocap"),
    ("gait_high_frequency_share", "ankle height power above 4 Hz", "fraction", "lower (jitter)"),
    ("diversity_cm", "diversity (same path)", "cm", "higher, if quality holds"),
    ("frechet_distance", "Fréchet distance to mocap", "std²", "lower"),
    ("path_error_cm", "root path error", "cm", "lower (~0 by construction)"),
    ("heading_error_deg", "facing vs commanded heading", "deg", "lower"),
]
METRICS_DOC = {k: {"label": label, "unit": unit, "better": better} for k, label, unit, better in METRICS}


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        a = abs(v)
        return f"{v:.3g}" if a >= 1000 or a < 0.01 and a != 0 else f"{v:.3f}" if a < 10 else f"{v:.1f}"
    return str(v)


def format_table(result: EvaluationResult) -> str:
    """A markdown table: one line per metric, one column per row (mocap, generated)."""
    info = result.info
    names = [n for n in (REFERENCE, GENERATED, CLEANED) if n in result.rows]
    names += [n for n in result.rows if n not in names]  # baseline generators' rows
    head = {REFERENCE: "mocap (reference)", GENERATED: f"generated (T={info.get('temperature')}, "
                                                        f"{info.get('num_samples')}/path): raw model",
            CLEANED: "generated, cleaned up: what the user gets", **(info.get("baselines") or {})}
    lines = [f"## Evaluation: {info.get('checkpoint') or 'mocap only'}", ""]
    after = (f"; metrics over the frames after the first {info['context_frames']} (the generator's context)"
             if info.get("context_frames") else "")
    split = f", the checkpoint's {info['split']!r} split" if info.get("split") else ""
    lines.append(f"Held-out data: {info['data_dir']}{split} ({info['files']} files, {info['fps']:g} fps, "
                 f"profile {info['profile']}){after}.")
    if result.nll is not None:
        n = result.nll
        span = "whole takes" if n["window"] == 0 else f"windows of {n['window']} frames"
        lines += ["", f"Held-out NLL (data dropout off): **{n['nats_per_frame']:.3f} nats/frame** "
                      f"({n['bits_per_frame']:.3f} bits/frame), {n['frames']} frames in {n['windows']} {span}; "
                      f"{n['nats_per_frame_unnormalised']:.3f} nats/frame on un-normalised features."]
    lines += ["", "| metric | unit | better | " + " | ".join(head[n] for n in names) + " |",
              "|---|---|---|" + "---:|" * len(names)]
    for key, label, unit, better in METRICS:
        lines.append(f"| {label} | {unit} | {better} | " + " | ".join(_fmt(result.rows[n].get(key)) for n in names)
                     + " |")
    for w in info.get("warnings") or []:
        lines += ["", f"**Warning:** {w}."]
    lines += ["", "Fréchet distance: to real half B of the takes, from real half A (mocap: the noise floor) "
                  "and from motion generated along A's paths (same number of windows); "
                  "mocap diversity: undefined (one take per path). – : not defined."]
    return "\n".join(lines)


__all__ = ["REFERENCE", "GENERATED", "CLEANED", "EvaluationResult", "METRICS", "METRICS_DOC", "format_table"]
