"""Open a page in headless Chromium (Playwright driving Debian's ``chromium``) and say whether it works.

:func:`check_page` reports whether every ``<video>`` loads and plays, every image loads, every 3-D
clip viewer (``clip_player.js``) starts and plays, and any console error, uncaught exception or
failed request. It never downloads a browser: it launches the Chromium found on ``PATH``
(:func:`find_chromium`; ``apt-get install chromium``). Playwright comes with the ``check`` extra
(``pip install 'moglow[check]'``).

Example::

    >>> from moglow.review.serve import serve_folder
    >>> with serve_folder("runs/tiny") as base:               # doctest: +SKIP
    ...     print(check_page(base + "/review/index.html").ok)
    True
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from moglow.review.errors import ReviewError

__all__ = ["PageCheck", "check_page", "find_chromium", "CHROMIUM_ARGS", "MISSING_PLAYWRIGHT"]

#: Chromium flags: no sandbox (containers), software rendering, videos autoplay muted, no background traffic
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
MISSING_PLAYWRIGHT = ("checking a page needs Playwright: pip install 'moglow[check]' (it drives Debian's chromium; "
                      "no browser is downloaded)")
#: a viewer error that says the browser has no WebGL: the page is fine, the browser cannot show it
NO_WEBGL = "no WebGL"

_MEDIA_STATE = """() => ({
 videos: Array.from(document.querySelectorAll('video')).map(v => ({src: v.getAttribute('src'),
   readyState: v.readyState, currentTime: v.currentTime, error: v.error ? v.error.code : null,
   width: v.videoWidth, height: v.videoHeight, paused: v.paused})),
 images: Array.from(document.querySelectorAll('img')).map(i => ({src: i.getAttribute('src'),
   complete: i.complete, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth})),
 viewerHosts: document.querySelectorAll('.clip-viewer[data-clip]').length,
 viewers: (window.moglowViewers || []).map(v => ({src: v.src, ready: !!v.ready, frame: v.frame,
   playing: !!v.playing, error: v.error || null})),
 ready: document.readyState})"""


@dataclass
class PageCheck:
    """What headless Chromium saw on a page.

    Attributes:
        videos: per ``<video>``: src, readyState, currentTime (s), error code, width, height, played.
        images: per ``<img>``: src, whether it loaded, natural width.
        errors: console errors, uncaught exceptions and failed requests (HTTP status >= 400 included).
        seconds: time until every video and viewer had played (or the timeout).
        viewers: per 3-D clip viewer: src, ready, frame, error, played (its frame advanced while it
            ran for at least ``min_play_s``).
    """

    url: str
    videos: list[dict[str, Any]]
    images: list[dict[str, Any]]
    errors: list[str]
    seconds: float
    viewers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error, every video and viewer played (a viewer in a browser without WebGL excepted),
        every image loaded."""
        return (not self.errors and all(v["played"] for v in self.videos)
                and all(i["loaded"] for i in self.images)
                and all(v["played"] or v["error"] == NO_WEBGL for v in self.viewers))

    def describe(self) -> str:
        lines = [f"{self.url}: {len(self.videos)} video(s), {len(self.images)} image(s), "
                 f"{len(self.viewers)} 3-D viewer(s), {len(self.errors)} error(s) in {self.seconds:.1f} s"]
        lines += [f"  video {v['src']}: readyState {v['readyState']}, t={v['currentTime']:.2f} s, error "
                  f"{v['error']}, {v['width']}x{v['height']}" for v in self.videos]
        lines += [f"  image {i['src']}: loaded {i['loaded']}" for i in self.images if not i["loaded"]]
        lines += [f"  viewer {v['src']}: ready {v['ready']}, frame {v['frame']}, played {v['played']}"
                  + (f", error {v['error']}" if v["error"] else "") for v in self.viewers]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ReviewError(MISSING_PLAYWRIGHT) from None
    return sync_playwright


class _Viewers:
    """Each viewer's first ready time and frame, to tell a playing viewer from a frozen one."""

    def __init__(self, min_play_s: float) -> None:
        self.min_play_s = min_play_s
        self.first: dict[str, tuple[float, int]] = {}
        self.moved: set[str] = set()

    def update(self, viewers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now, out = time.monotonic(), []
        for v in viewers:
            src = str(v["src"])
            if v["ready"] and not v["error"]:
                t, f = self.first.setdefault(src, (now, v["frame"]))
                if v["frame"] != f:
                    self.moved.add(src)
            t0 = self.first.get(src, (now, 0))[0]
            out.append({**v, "played": src in self.moved and now - t0 >= self.min_play_s})
        return out


def _console_error(msg: Any) -> str | None:
    if msg.type not in ("error", "assert"):
        return None
    where = (msg.location or {}).get("url") or ""
    return f"console.{msg.type}: {msg.text}" + (f" ({where})" if where and where not in msg.text else "")


def _mount_viewers(page: Any, wait_s: float) -> None:
    """Scroll each clip viewer into view in turn (they start when first seen), waiting up to
    ``wait_s`` seconds for it to register."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    hosts = "document.querySelectorAll('.clip-viewer[data-clip]')"
    for i in range(page.evaluate(f"() => {hosts}.length")):
        page.evaluate(f"(i) => {hosts}[i].scrollIntoView({{block: 'center'}})", i)
        try:
            page.wait_for_function("(i) => (window.moglowViewers || []).length > i", arg=i, timeout=wait_s * 1000)
        except PlaywrightTimeout:
            return  # not started: reported as not played


def check_page(url: str, timeout: float = 60.0, min_play_s: float = 0.3, chromium: str | None = None,
               extra_args: list[str] | None = None) -> PageCheck:
    """Open ``url`` in headless Chromium and wait until every video has played ``min_play_s``
    seconds and every 3-D viewer has played (or ``timeout`` s); collect console errors,
    exceptions and failed requests.

    Raises:
        ReviewError: no Chromium found, Playwright missing (the ``check`` extra), the browser
            failed to start, or the page cannot be opened.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise ReviewError("Chromium not found (apt-get install chromium)")
    sync_playwright = _sync_playwright()
    from playwright.sync_api import Error as PlaywrightError

    t0 = time.monotonic()
    errors: list[str] = []
    tracker = _Viewers(min_play_s)
    state: dict[str, Any] = {"videos": [], "images": [], "viewers": []}
    viewers: list[dict[str, Any]] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, headless=True, args=[*CHROMIUM_ARGS, *(extra_args or [])])
            try:
                page = browser.new_page()
                page.on("console", lambda m: errors.append(e) if (e := _console_error(m)) else None)
                page.on("pageerror", lambda e: errors.append(f"uncaught exception: {e}"))
                page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED" else
                        errors.append(f"request failed: {r.url} ({r.failure})"))
                page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
                try:
                    page.goto(url, wait_until="load", timeout=timeout * 1000)
                except PlaywrightError as e:
                    raise ReviewError(f"cannot open {url}: {str(e).splitlines()[0]}") from None
                _mount_viewers(page, min(10.0, timeout))
                while True:
                    state = page.evaluate(_MEDIA_STATE)
                    viewers = tracker.update(state["viewers"])
                    done = (state["ready"] == "complete"
                            and all(v["currentTime"] >= min_play_s or v["error"] is not None for v in state["videos"])
                            and all(i["complete"] for i in state["images"])
                            and len(viewers) >= state["viewerHosts"]
                            and all(v["played"] or v["error"] for v in viewers))
                    if done or time.monotonic() - t0 > timeout:
                        break
                    page.wait_for_timeout(250)
                page.wait_for_timeout(200)  # late console messages
            finally:
                browser.close()
    except PlaywrightError as e:
        raise ReviewError(f"Chromium ({exe}) via Playwright: {str(e).splitlines()[0]}") from None
    videos = [{**v, "played": v["error"] is None and v["currentTime"] >= min_play_s} for v in state["videos"]]
    return PageCheck(url, videos, state["images"], errors, time.monotonic() - t0, viewers)
