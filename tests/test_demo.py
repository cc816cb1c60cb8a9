"""End-to-end test of ``moglow demo --fast``: every stage runs on generated procedural data and
leaves its artefacts (takes, prepared data, checkpoints, curves, BVH samples that parse, videos
with the right frame count, a review page whose links all exist); a rerun skips every stage.

Needs pyrender and ffmpeg for the videos (skips without pyrender unless CI=true).
"""
from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from urllib.parse import unquote

import numpy as np

from conftest import require_module
from moglow.demo_stages import FAST



class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.videos: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "video":
            self.videos.append(a["src"])
        for key in ("src", "href"):
            if a.get(key) and not a[key].startswith(("data:", "http:", "https:", "#")):
                self.links.append(a[key])


def _run_demo(out) -> int:
    from moglow.cli import main

    return main(["demo", "--fast", "--out", str(out), "--no-progress"])


def test_demo_fast_writes_every_artefact_and_a_rerun_skips_every_stage(tmp_path, capsys):
    """One test (not two sharing a fixture) so that pytest-xdist never runs the demo twice."""
    require_module("pyrender", "trimesh", "OpenGL", extra="render")
    demo = tmp_path / "demo"
    assert _run_demo(demo) == 0
    _check_artefacts(demo)
    _check_rerun(demo, capsys)
    from moglow.review import check_page
    from moglow.review.browser_check import find_chromium
    from moglow.review.serve import serve_folder

    if find_chromium() is not None:  # (test_review.py requires Chromium in CI)
        with serve_folder(demo / "run") as base:
            result = check_page(f"{base}/review/index.html", timeout=60)
        assert result.ok, result.describe()


def _check_artefacts(demo) -> None:
    from data_pipeline.bvh import read_bvh
    from visualize.video import probe_video

    data = demo / "data"
    assert len(list(data.glob("*.bvh"))) == FAST.takes
    assert (demo / "prepared").is_dir()
    run = demo / "run"
    for name in ("latest.pt", "best.pt", "losses.csv", "training_curves.png", "config.yaml"):
        assert (run / name).is_file(), name
    rows = (run / "losses.csv").read_text().splitlines()
    assert rows[-1].split(",")[0] == str(FAST.steps)

    frames = int(round(FAST.sample_seconds * 20))
    # the shipped model first: its sets, videos and review page, no training
    shipped = demo / "pretrained"
    for name, spec in FAST.pretrained_paths:
        folder = shipped / "samples" / name
        assert json.loads((folder / "report.json").read_text())["info"]["path"] == spec
        assert len(list(folder.glob("*.bvh"))) == FAST.num_samples
        assert probe_video(folder / "samples.mp4").frames == frames
    assert (shipped / "review" / "index.html").is_file() and not (shipped / "latest.pt").exists()

    for name, spec in FAST.paths:
        folder = run / "samples" / name
        info = json.loads((folder / "report.json").read_text())["info"]
        assert (info["path"], info["num"], info["temperature"], info["seed"]) == (
            spec, FAST.num_samples, FAST.temperature, FAST.seed)
        bvhs = sorted(folder.glob("*.bvh"))
        assert len(bvhs) == FAST.num_samples
        for bvh in bvhs:
            motion = read_bvh(bvh)
            assert motion.values.shape[0] == frames and np.isfinite(motion.values).all()
        with np.load(folder / "samples.npz") as npz:
            assert npz["positions"].shape[:2] == (FAST.num_samples, frames)
        video = probe_video(folder / "samples.mp4")
        assert video.frames == frames and video.codec == "h264"
        assert video.width == FAST.panel_width * FAST.num_samples and video.height == FAST.video_height
        assert (folder / "samples_paths.png").is_file()

    page = run / "review" / "index.html"
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    assert len(parser.videos) == len(FAST.paths)
    assert parser.links
    for link in parser.links:
        assert (page.parent / unquote(link)).resolve().is_file(), link


def _check_rerun(demo, capsys) -> None:
    capsys.readouterr()
    videos = sorted(demo.glob("*/samples/*/samples.mp4"))
    before = {v: v.stat().st_mtime_ns for v in videos}
    ckpt = (demo / "run" / "latest.pt").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert _run_demo(demo) == 0
    seconds = time.perf_counter() - t0
    out = capsys.readouterr().out
    for stage in range(1, 8):
        assert f"[{stage}/7]" in out
    sets = len(FAST.paths) + len(FAST.pretrained_paths)
    assert out.count("up to date") >= 2 + 2 * sets  # data, prepare(log), train, samples, videos
    assert f"has {FAST.steps} steps of this config" in out
    assert {v: v.stat().st_mtime_ns for v in videos} == before
    assert (demo / "run" / "latest.pt").stat().st_mtime_ns == ckpt
    assert "review page" in out and str(demo / "run" / "review" / "index.html") in out
    assert seconds < 30, f"a rerun with nothing to do took {seconds:.1f} s"
