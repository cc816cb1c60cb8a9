"""Screenshot of ``moglow play`` for the README (docs/img/play.png).

Starts the real command (``python -m moglow play --no-browser``) on a free local port with the given
checkpoint, opens the page in Debian's headless Chromium (Playwright, never a downloaded browser),
walks forward, holds "right" for a second, walks on for ``--walk`` seconds and saves a screenshot::

    python experiments/play_screenshot.py                                  # the default shipped model
    python experiments/play_screenshot.py --checkpoint pretrained:bandai2_small --out /tmp/play.png
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="default: moglow play's default (the shipped model)")
    ap.add_argument("--out", default="docs/img/play.png")
    ap.add_argument("--walk", type=float, default=3.0, help="seconds walked after the turn")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    cmd = [sys.executable, "-m", "moglow", "play", "--no-browser", "--port", str(port), "--out", "outputs/play"]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            for _ in range(120):  # the server loads the model first
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:  # noqa: BLE001 - not listening yet
                    if server.poll() is not None:
                        raise SystemExit(f"moglow play exited: {server.stdout.read() if server.stdout else ''}")
                    time.sleep(0.5)
            page.wait_for_function("window.moglowState && window.moglowState.framesReceived > 20", timeout=60000)
            page.keyboard.down("KeyW")
            time.sleep(1.5)
            page.keyboard.down("ArrowRight")
            time.sleep(1.0)
            page.keyboard.up("ArrowRight")
            time.sleep(args.walk)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            page.keyboard.up("KeyW")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    print(args.out)


if __name__ == "__main__":
    main()
