"""The live page in real headless Chromium (Debian's package, driven by Playwright): it loads
cleanly, "right" turns the character right, "forward" walks at the commanded speed, "Record"
downloads a BVH of the expected length. A tiny random-weight model serves: the root follows
the steering's control by construction, whatever the weights."""
from __future__ import annotations

import time

import numpy as np
import pytest

from live_testutils import CHROMIUM_ARGS, ServerThread, live_checkpoint, require_chromium

WALK = 1.2  # m/s, the server's default walking speed
FPS = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("livepage")
    srv = ServerThread(live_checkpoint(root), root / "out", characters=2, walk_speed=WALK)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def page(server):
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 720, "height": 450}, accept_downloads=True)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        pg.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
        pg.goto(server.http + "/")
        pg.wait_for_function("window.moglowState && window.moglowState.framesReceived > 10", timeout=20000)
        pg.errors = errors
        yield pg
        browser.close()


def _character(pg, i: int = 0) -> dict:
    return pg.evaluate(f"({{...window.moglowState.characters[{i}], frame: window.moglowState.frame}})")


def _release_all(pg) -> None:
    for key in ("KeyW", "KeyA", "KeyS", "KeyD", "ArrowRight", "ArrowUp", "Shift"):
        pg.keyboard.up(key)


def test_page_loads_without_console_errors_and_draws(page):
    state = page.evaluate("({webgl: moglowState.webgl, connected: moglowState.connected, "
                          "n: moglowState.characters.length})")
    assert state == {"webgl": True, "connected": True, "n": 2}
    assert page.errors == []
    # the canvas shows something besides the background: the figures and the floor grid
    shot = page.locator("#view canvas").screenshot()
    from io import BytesIO

    from PIL import Image

    img = np.asarray(Image.open(BytesIO(shot)).convert("RGB")).astype(int)
    assert img.std() > 5.0


def test_holding_forward_walks_at_the_commanded_speed(page, server):
    page.locator("#view").focus()
    page.keyboard.down("KeyW")
    try:
        time.sleep(1.5)  # accelerate (2.5 m/s^2 limit: 0.5 s to walking speed)
        a = _character(page)
        time.sleep(2.0)
        b = _character(page)
    finally:
        _release_all(page)
    seconds = (b["frame"] - a["frame"]) / FPS
    speed = np.hypot(b["x"] - a["x"], b["z"] - a["z"]) / seconds
    assert abs(speed - WALK) <= 0.1 * WALK, speed
    assert abs(b["heading"] - a["heading"]) < 0.05  # straight ahead: no turning
    assert abs(b["speed"] - WALK) <= 0.1 * WALK


def test_pressing_right_turns_right_within_a_second(page):
    time.sleep(1.0)  # stand still first
    h0 = _character(page)["heading"]
    t0 = time.monotonic()
    page.keyboard.down("ArrowRight")
    try:
        turned = None
        while time.monotonic() - t0 < 1.0:
            h = _character(page)["heading"]
            if h - h0 < -0.02:  # heading decreases: a right turn (forward = (sin, cos), left = +x)
                turned = time.monotonic() - t0
                break
            time.sleep(0.02)
    finally:
        _release_all(page)
    assert turned is not None, f"the heading did not decrease within 1 s (from {h0} to {h})"
    latency = page.evaluate("window.moglowState.lastReaction")
    assert latency is not None and latency < 1000.0


def test_record_downloads_a_bvh_with_the_expected_frame_count(page):
    from data_pipeline.bvh import read_bvh

    page.fill("#record-seconds", "2")
    with page.expect_download(timeout=30000) as info:
        page.click("#record")
    path = info.value.path()
    assert info.value.suggested_filename.endswith(".bvh")
    motion = read_bvh(path)
    assert motion.num_frames == int(2 * FPS)
    assert page.errors == []


def test_click_on_the_floor_walks_there(page):
    box = page.locator("#view canvas").bounding_box()
    start = _character(page)
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.54)  # the floor beyond the character
    target = page.evaluate("window.moglowState.lastTarget")
    assert target is not None
    d0 = np.hypot(target[0] - start["x"], target[1] - start["z"])
    assert 1.0 < d0 < 30.0, (target, start)
    time.sleep(2.5)
    now = _character(page)
    assert now["mode"] == 1  # steering towards a target
    assert np.hypot(target[0] - now["x"], target[1] - now["z"]) < d0 - 0.3


def test_a_gamepad_stick_walks_and_its_button_runs(page):
    """A connected gamepad (navigator.getGamepads replaced by a fake pad: headless Chromium has no
    real one): the left stick pushed forward walks at the walking speed, button A runs faster."""
    time.sleep(1.0)
    page.evaluate("""() => {
        window.__pad = {connected: true, axes: [0, -1], buttons: [{pressed: false}]};
        Object.defineProperty(navigator, 'getGamepads', {value: () => [window.__pad], configurable: true});
    }""")
    try:
        time.sleep(1.5)  # accelerate to walking speed
        a = _character(page)
        time.sleep(2.0)
        b = _character(page)
        walk = np.hypot(b["x"] - a["x"], b["z"] - a["z"]) / ((b["frame"] - a["frame"]) / FPS)
        assert abs(walk - WALK) <= 0.1 * WALK, walk
        page.evaluate("() => { window.__pad.buttons[0].pressed = true; }")
        time.sleep(2.0)
        c = _character(page)
        time.sleep(1.0)
        d = _character(page)
        run = np.hypot(d["x"] - c["x"], d["z"] - c["z"]) / ((d["frame"] - c["frame"]) / FPS)
        assert run > 1.3 * WALK, (walk, run)
    finally:
        page.evaluate("() => { window.__pad.connected = false; }")
        _release_all(page)
    time.sleep(1.5)  # stops again once the pad is gone
    e, f = _character(page), (time.sleep(0.5), _character(page))[1]
    assert np.hypot(f["x"] - e["x"], f["z"] - e["z"]) < 0.5 * WALK * 0.5
