"""The 3-D clip viewer of the review page, in real headless Chromium (Playwright): every clip gets
one; it plays, pauses, scrubs and changes speed; generated samples and the mocap take are drawn
side by side; foot contacts are shown when the npz carries them. No training, no rendering: a
synthetic run folder with a walking stick figure."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from live_testutils import CHROMIUM_ARGS, require_chromium
from moglow.review import write_review
from moglow.review.serve import serve_folder
from visualize.web.clip_json import clip_viewer_data

FPS, FRAMES = 20.0, 60
PARENTS = np.array([-1, 0, 1, 0, 3, 0, 5])  # hips, spine, head, left knee, left foot, right knee, right foot
FEET = [4, 6]


def _walker(frames: int, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """(F, 7, 3) metres walking along +z, and (F, 2) foot contacts (a foot is planted while low)."""
    t = np.arange(frames) / FPS
    pos = np.zeros((frames, 7, 3))
    pos[:, 0] = np.stack([np.zeros_like(t), np.full_like(t, 0.95), 1.2 * t], 1)
    pos[:, 1] = pos[:, 0] + [0, 0.35, 0]
    pos[:, 2] = pos[:, 0] + [0, 0.7, 0]
    contacts = []
    for knee, side, s in ((3, 0.1, 1.0), (5, -0.1, -1.0)):
        swing = s * 0.3 * np.sin(2 * np.pi * 1.5 * t + phase)
        lift = 0.08 * np.clip(np.sin(2 * np.pi * 1.5 * t + phase + s * np.pi / 2), 0, None)
        pos[:, knee] = pos[:, 0] + np.stack([np.full_like(t, side), np.full_like(t, -0.45), swing / 2], 1)
        pos[:, knee + 1] = pos[:, knee] + np.stack([np.zeros_like(t), -0.45 + lift, swing / 2], 1)
        pos[:, knee + 1, 1] = 0.05 + lift
        contacts.append(lift < 1e-3)
    return pos, np.stack(contacts, -1)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("viewer_run")
    for name in ("walk", "walk_again"):
        folder = run / "samples" / name
        folder.mkdir(parents=True)
        (p0, c0), (p1, c1), (gt, gtc) = _walker(FRAMES, 0.0), _walker(FRAMES, 1.0), _walker(FRAMES, 2.0)
        np.savez_compressed(folder / "samples.npz", positions=np.stack([p0, p1]).astype(np.float32), parents=PARENTS,
                            path=p0[:, 0][:, [0, 2]], fps=np.float64(FPS),
                            labels=np.array(["sample_000", "sample_001"]),
                            root=np.int64(0), ground_truth=gt.astype(np.float32), contacts=np.stack([c0, c1]),
                            contact_joints=np.array(FEET), ground_truth_contacts=gtc)
        (folder / "report.json").write_text(json.dumps({"info": {"path": "line:speed=1.2", "temperature": 0.8}}))
    return run


def test_clip_data_keeps_samples_mocap_and_contacts(run_dir):
    data = clip_viewer_data(run_dir / "samples" / "walk" / "samples.npz")
    assert [f["kind"] for f in data["figures"]] == ["generated", "generated", "mocap"]
    assert data["frames"] == FRAMES and data["contact_joints"] == FEET and data["fps"] == FPS
    assert all(len(f["positions"]) == FRAMES * 7 * 3 and len(f["contacts"]) == FRAMES * 2 for f in data["figures"])


def test_every_clip_gets_a_viewer_that_plays_pauses_scrubs(run_dir):
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    page_file = write_review(run_dir, render=False, progress=False, count_parameters=False, log=None)
    assert page_file.read_text().count('class="clip-viewer"') == 2
    with serve_folder(run_dir) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 640, "height": 1100})
            errors: list[str] = []
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(str(e) + " " + str(e.stack)))
            pg.goto(f"{base}/review/index.html")
            pg.wait_for_function("window.moglowViewers && window.moglowViewers.length === 2 && "
                                 "window.moglowViewers.every(v => v.ready)", timeout=30000)
            state = pg.evaluate("window.moglowViewers[0]")
            assert state["frames"] == FRAMES and state["figures"] == 3 and state["contacts"] and state["playing"]
            f0 = pg.evaluate("window.moglowViewers[0].frame")
            time.sleep(0.6)
            assert pg.evaluate("window.moglowViewers[0].frame") != f0, "the viewer does not play"
            viewer = pg.locator(".clip-viewer").first
            viewer.locator("button.play").click()  # pause
            assert pg.evaluate("window.moglowViewers[0].playing") is False
            paused = pg.evaluate("window.moglowViewers[0].frame")
            time.sleep(0.4)
            assert pg.evaluate("window.moglowViewers[0].frame") == paused
            viewer.locator("input.scrub").fill("37")  # scrub
            assert pg.evaluate("window.moglowViewers[0].frame") == 37
            shown = pg.evaluate("window.moglowViewers[0].contactsShown")
            expected = int(np.concatenate([_walker(FRAMES, ph)[1][37] for ph in (0.0, 1.0, 2.0)]).sum())
            assert shown == expected
            viewer.locator("select.speed").select_option("2")
            viewer.locator("button.play").click()
            assert pg.evaluate("window.moglowViewers[0].speed") == 2 and pg.evaluate("window.moglowViewers[0].playing")
            assert errors == []
        finally:
            browser.close()
