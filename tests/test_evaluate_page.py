"""``moglow evaluate``'s ``evaluation.html``: the metrics table and the review page's 3-D viewer for the
first held-out clips (generated with clean-up beside the mocap take, in sync, foot contacts shown),
checked in real headless Chromium (Debian's, driven by Playwright). A random tiny model on two
procedural takes: the numbers are meaningless, the page is what is tested."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from live_testutils import CHROMIUM_ARGS, live_checkpoint, require_chromium
from moglow.review import check_page
from moglow.review.evaluation_page import write_evaluation_page
from moglow.review.serve import serve_folder

CLIPS = 2
SCRUB = 37


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory) -> Path:
    from moglow.cli import main

    root = tmp_path_factory.mktemp("evaluate_page")
    ckpt = live_checkpoint(root)
    out = root / "evaluation"
    rc = main(["evaluate", "--checkpoint", str(ckpt), "--data", str(root / "bvh"), "--num-samples", "2",
               "--max-seconds", "4", "--device", "cpu", "--out", str(out), "--no-progress", "--clips", str(CLIPS)])
    assert rc == 0
    return out


def test_evaluate_writes_clips_and_a_page_with_a_viewer_each(evaluation):
    clips = sorted((evaluation / "clips").glob("clip_*.npz"))
    assert [c.name for c in clips] == ["clip_00_take_0.npz", "clip_01_take_1.npz"]
    with np.load(clips[0]) as d:
        gen, gt = d["positions"], d["ground_truth"]
        assert gen.shape[0] == 2 and gen.shape[1:] == gt.shape and bool(d["cleaned"])
        assert d["contacts"].shape == gen.shape[:2] + (len(d["contact_joints"]),)
        assert d["ground_truth_contacts"].any()  # the mocap's feet touch the floor
        ctx = int(d["context_frames"])
        assert ctx == 3 and np.allclose(gen[:, :ctx, 0, ::2], gt[:ctx, 0, ::2], atol=1e-4)  # root x, z: the same take
    text = (evaluation / "evaluation.html").read_text()
    assert text.count('class="clip-viewer"') == CLIPS and 'id="evaluation-table"' in text
    saved = json.loads((evaluation / "evaluation.json").read_text())
    assert "cleaned" in saved["rows"] and "foot skating" in text and "nats/frame" in text


def test_page_without_clips_has_the_table_only(evaluation, tmp_path):
    page = write_evaluation_page(evaluation, clips=[])
    text = page.read_text()
    assert "clip-viewer" not in text and "clip_player.js" not in text and 'id="evaluation-table"' in text
    write_evaluation_page(evaluation)  # restore the page with its viewers for the browser test


def test_evaluation_viewer_plays_pauses_scrubs_in_chromium(evaluation):
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    with np.load(evaluation / "clips" / "clip_00_take_0.npz") as d:
        expected = int(d["contacts"][:, SCRUB].sum() + d["ground_truth_contacts"][SCRUB].sum())
        frames = d["positions"].shape[1]
    with serve_folder(evaluation) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 900, "height": 1600})
            errors: list[str] = []
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(f"{base}/evaluation.html")
            pg.wait_for_function(f"window.moglowViewers && window.moglowViewers.length === {CLIPS} && "
                                 "window.moglowViewers.every(v => v.ready)", timeout=30000)
            state = pg.evaluate("window.moglowViewers[0]")
            assert state["frames"] == frames and state["figures"] == 3 and state["contacts"] and state["playing"]
            f0 = pg.evaluate("window.moglowViewers[0].frame")
            time.sleep(0.6)
            assert pg.evaluate("window.moglowViewers[0].frame") != f0, "the viewer does not play"
            viewer = pg.locator(".clip-viewer").first
            viewer.locator("button.play").click()  # pause
            assert pg.evaluate("window.moglowViewers[0].playing") is False
            viewer.locator("input.scrub").fill(str(SCRUB))  # scrub
            assert pg.evaluate("window.moglowViewers[0].frame") == SCRUB
            assert pg.evaluate("window.moglowViewers[0].contactsShown") == expected
            viewer.locator("select.speed").select_option("2")
            viewer.locator("button.play").click()
            assert pg.evaluate("window.moglowViewers[0].speed") == 2 and pg.evaluate("window.moglowViewers[0].playing")
            assert errors == []
        finally:
            browser.close()
    with serve_folder(evaluation) as base:  # and moglow review --check's checker agrees
        result = check_page(f"{base}/evaluation.html", timeout=60)
    assert result.ok and len(result.viewers) == CLIPS, result.describe()
