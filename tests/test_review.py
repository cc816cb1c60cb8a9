"""Tests of the review page (``moglow review``): contents, escaping, links, rendering of missing
videos, and a check in headless Chromium that every video loads and plays with no console error.

The run folder here is synthetic (a hand-written losses.csv, config.yaml, a samples.npz of a
small stick figure, report.json and evaluation.json), so no training is needed. Browser tests
need Debian's ``chromium`` (skip without it, fail when CI=true); rendering needs pyrender.
"""
from __future__ import annotations

import csv
import json
import math
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from conftest import require, require_module
from moglow.review import ReviewError, check_page, write_review
from moglow.review.browser_check import find_chromium
from moglow.review.runs import find_sample_sets, training_summary
from moglow.review.serve import serve_folder

EVIL = "circle:radius=2<script>alert(1)</script>&x"
FRAMES, FPS = 16, 20.0


def _require_render() -> None:
    require_module("pyrender", "trimesh", "OpenGL", extra="render")


def _require_chromium() -> None:
    require(find_chromium() is not None, "chromium not installed (apt-get install -y chromium chromium-driver)")


# --------------------------------------------------------------------------- a synthetic run folder
PARENTS = np.array([-1, 0, 1, 0, 3, 0, 5])  # hips, spine, head, left leg (2), right leg (2)


def _walker(frames: int, offset: float) -> np.ndarray:
    """(F, 7, 3) metres: a stick figure walking along +x, legs swinging."""
    t = np.arange(frames) / FPS
    swing = 0.3 * np.sin(2 * np.pi * 1.5 * t + offset)
    pos = np.zeros((frames, 7, 3))
    pos[:, 0] = np.stack([1.2 * t, np.full_like(t, 0.95), np.zeros_like(t)], 1)
    pos[:, 1] = pos[:, 0] + [0, 0.35, 0]
    pos[:, 2] = pos[:, 0] + [0, 0.7, 0]
    for knee, side, s in ((3, 0.1, 1), (5, -0.1, -1)):
        pos[:, knee] = pos[:, 0] + np.stack([0.45 * np.sin(s * swing), -0.45 * np.cos(swing), np.full_like(t, side)], 1)
        pos[:, knee + 1] = pos[:, knee] + [0, -0.45, 0]
    return pos


def _write_losses(path: Path) -> None:
    cols = ["step", "train_nats_per_frame_dropout", "train_bits_per_frame_dropout", "val_nats_per_frame",
            "val_bits_per_frame", "lr", "grad_norm", "skipped_steps", "rollbacks", "wall_time_s", "steps_per_s"]
    rows = [
        (10, 50.0, None, None, 1e-3, 120.0),
        (20, 30.0, 35.0, None, 1e-3, 240.0),   # best validation
        (30, 25.0, None, None, 5e-4, 360.0),
        (40, 20.0, 36.5, None, 5e-4, 480.0),   # last validation
    ]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for step, train, val, _, lr, wall in rows:
            w.writerow([step, train, train / math.log(2), "" if val is None else val,
                        "" if val is None else val / math.log(2), lr, 3.0, 0, 0, wall, 2.0])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    _write_losses(run / "losses.csv")
    (run / "config.yaml").write_text("name: review<test>\nmodel: {coupling: affine, num_steps: 4, hidden: 64}\n"
                                     "train: {steps: 40}\ndata: {profile: procedural}\n")
    for name, spec, seed in (("circle", EVIL, 3), ("figure8", "figure8:size=4,speed=1.0", 5)):
        folder = run / "samples" / name
        folder.mkdir(parents=True)
        positions = np.stack([_walker(FRAMES, 0.0), _walker(FRAMES, 1.5)]).astype(np.float32)
        path = positions[0, :, 0][:, [0, 2]]
        np.savez_compressed(folder / "samples.npz", positions=positions, parents=PARENTS, path=path,
                            fps=np.float64(FPS), temperature=np.float64(0.7), seed=np.int64(seed),
                            labels=np.array(["sample_000", "sample_001"]), root=np.int64(0))
        (folder / "sample_000.bvh").write_text("HIERARCHY\n")  # only linked, never parsed here
        report = {"info": {"path": spec, "temperature": 0.7, "seed": seed, "num": 2, "fps": FPS, "step": 40,
                           "checkpoint": str(run / "best.pt")},
                  "samples": [{"name": "sample_000", "bvh": "sample_000.bvh", "mean_error_m": 0.0123},
                              {"name": "sample_001", "bvh": None, "mean_error_m": None}]}
        (folder / "report.json").write_text(json.dumps(report))
    (run / "evaluation").mkdir()
    (run / "evaluation" / "evaluation.json").write_text(json.dumps({
        "info": {"data_dir": "held<out>", "files": 3, "fps": 20.0, "profile": "procedural", "checkpoint": "best.pt",
                 "step": 40},
        "nll": {"nats_per_frame": 40.25, "bits_per_frame": 40.25 / math.log(2), "frames": 900},
        "rows": {"mocap": {"foot_skating_cm_s": 1.5, "jerk_m_s3": 80.0},
                 "generated": {"foot_skating_cm_s": 4.25, "jerk_m_s3": 95.0}},
        "metrics": {"foot_skating_cm_s": {"label": "foot skating", "unit": "cm/s", "better": "lower"},
                    "jerk_m_s3": {"label": "jerk", "unit": "m/s³", "better": "close to mocap"}}}))
    return run


@pytest.fixture(scope="module")
def page(run_dir) -> Path:
    _require_render()
    return write_review(run_dir, width=192, height=96, progress=False, log=None)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.videos: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "video":
            self.videos.append(a)
        for key in ("src", "href"):
            if a.get(key) and not a[key].startswith(("data:", "http:", "https:", "#")):
                self.links.append(a[key])


def _parse(page: Path) -> _Links:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


# --------------------------------------------------------------------------- tests
def test_summary_reads_final_and_best_validation(run_dir):
    s = training_summary(run_dir, count_parameters=False)
    assert s.name == "review<test>"
    assert (s.final_val, s.best_val, s.best_val_step, s.final_train, s.steps) == (36.5, 35.0, 20, 20.0, 40)
    assert s.target_steps == 40 and s.wall_time_s == 480.0


def test_page_links_exist_videos_render_text_is_escaped_and_videos_are_reused(run_dir, page):
    from visualize.video import probe_video

    assert page == run_dir / "review" / "index.html"
    text = page.read_text(encoding="utf-8")
    parsed = _parse(page)
    for link in parsed.links:  # every referenced file exists, relative to the page
        assert (page.parent / unquote(link)).resolve().exists(), link
    assert len(parsed.videos) == 2
    for v in parsed.videos:
        assert {"autoplay", "muted", "loop", "playsinline", "controls"} <= set(v)
        info = probe_video(page.parent / unquote(v["src"]))
        assert (info.frames, info.width, info.height) == (FRAMES, 192, 96)
    assert "<script>alert(1)" not in text and "review<test>" not in text and "held<out>" not in text
    assert "circle:radius=2&lt;script&gt;alert(1)&lt;/script&gt;&amp;x" in text
    # the numbers: final / best validation NLL in nats and bits, steps, evaluation rows
    assert "36.500 nats/frame" in text and f"{36.5 / math.log(2):.3f} bits/frame" in text
    assert "35.000 nats/frame" in text and "(step 20)" in text and "40 of 40" in text
    assert "40.250 nats/frame" in text and "4.250" in text and "foot skating" in text
    assert "seed 3" in text and "batch index 1" in text and "1.23 cm" in text
    assert (run_dir / "samples" / "circle" / "samples_paths.png").stat().st_size > 1000
    assert (run_dir / "review" / "training_curves.png").exists()  # plotted from the CSV (the run has none)

    # a second review reuses the videos (newer than their npz)
    video = run_dir / "samples" / "figure8" / "samples.mp4"
    before = video.stat().st_mtime_ns
    write_review(run_dir, width=192, height=96, progress=False, log=None)
    assert video.stat().st_mtime_ns == before
    assert [s.name for s in find_sample_sets(run_dir)] == ["circle", "figure8"]


def test_page_plays_in_headless_chromium(run_dir, page):
    _require_chromium()
    with serve_folder(run_dir) as base:
        result = check_page(f"{base}/review/index.html", timeout=60)
    assert result.ok, result.describe()
    assert len(result.videos) == 2 and all(v["width"] == 192 for v in result.videos)
    assert len(result.images) == 3  # two path plots and the curves
    assert len(result.viewers) == 2 and all(v["played"] and v["ready"] for v in result.viewers), result.describe()


def test_browser_check_reports_broken_media(tmp_path):
    """The checker itself can fail: a missing video, a broken image and a script error are reported."""
    _require_chromium()
    (tmp_path / "bad.html").write_text(
        '<!doctype html><html><head><link rel=icon href="data:,"></head><body>'
        '<video src="nothing.mp4" autoplay muted loop playsinline></video><img src="nothing.png">'
        "<script>console.error('boom')</script></body></html>")
    with serve_folder(tmp_path) as base:
        result = check_page(f"{base}/bad.html", timeout=8)
    assert not result.ok
    assert not result.videos[0]["played"] and not result.images[0]["loaded"]
    assert any("boom" in e for e in result.errors) and any("nothing.png" in e for e in result.errors)


def test_review_of_a_folder_without_a_run_fails_clearly(tmp_path, capsys):
    from moglow.cli import main

    with pytest.raises(ReviewError, match="nothing to review"):
        write_review(tmp_path)
    assert main(["review", str(tmp_path / "missing")]) == 1
    assert "run folder not found" in capsys.readouterr().err


def test_hostile_run_and_style_names_are_escaped(tmp_path):
    """A run name and a style name that are HTML reach the page as text (the templates autoescape)."""
    hostile = "<script>alert(1)</script>"
    run = tmp_path / "run"
    folder = run / "samples" / "evil"
    folder.mkdir(parents=True)
    _write_losses(run / "losses.csv")
    (run / "config.yaml").write_text(f"name: '{hostile}'\n")
    np.savez_compressed(folder / "samples.npz", positions=_walker(FRAMES, 0.0)[None].astype(np.float32),
                        parents=PARENTS, fps=np.float64(FPS), labels=np.array([hostile]))
    (folder / "report.json").write_text(json.dumps({"info": {"path": "line", "style": hostile, "context": hostile}}))
    text = write_review(run, render=False, progress=False, count_parameters=False, log=None).read_text()
    assert "<script>alert" not in text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<title>Review: {escaped}</title>" in text and f"<h1>Review: {escaped}</h1>" in text
    assert f"<tr><th>style</th><td>{escaped}</td></tr>" in text  # the style name
    assert f"{escaped} <span class=dim>(batch index 0" in text  # the sample's label (no BVH to link)


def test_check_without_playwright_names_the_extra(monkeypatch, tmp_path):
    """Without Playwright, ``check_page`` fails with one line that names the extra to install."""
    import sys

    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails
    with pytest.raises(ReviewError, match=r"pip install 'moglow\[check\]'") as err:
        check_page("http://127.0.0.1:9/x.html", chromium="/bin/true")
    assert "\n" not in str(err.value)
