"""The live server (``moglow play``) under bad conditions: path traversal, malformed, oversized and
flooding messages, many clients, clients that vanish or stop reading, shutdown (also by SIGINT).

One tiny random-weight checkpoint and one server (3 characters) are shared by the module."""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as _ws_connect

from conftest import REPO_ROOT
from live_testutils import ServerThread, live_checkpoint
from moglow.live.protocol import FRAME_EXTRA, FRAME_MAGIC, MAX_MESSAGE_BYTES
from moglow.live.server import INPUT_HOLD_S

FPS = 20.0


def connect(url: str, **kw):
    """A test client that buffers everything it is sent (so closing never waits behind unread frames)."""
    kw.setdefault("max_queue", None)
    kw.setdefault("close_timeout", 2)
    return _ws_connect(url, **kw)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return live_checkpoint(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    srv = ServerThread(checkpoint, out, characters=3, rate_limit=100.0)
    yield srv
    srv.stop()


def _get(srv: ServerThread, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)  # the path is sent as written
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def _hello(ws) -> dict:
    msg = json.loads(ws.recv(timeout=10))
    assert msg["type"] == "hello"
    return msg


def _frames(ws, n: int, timeout: float = 10.0) -> list[np.ndarray]:
    """The next n binary frames, each (B, 3J + FRAME_EXTRA) float32 with its header checked."""
    out, end = [], time.monotonic() + timeout
    while len(out) < n:
        msg = ws.recv(timeout=max(0.01, end - time.monotonic()))
        if isinstance(msg, bytes):
            head = np.frombuffer(msg[:16], "<u4")
            assert head[0] == FRAME_MAGIC
            out.append(np.frombuffer(msg[16:], "<f4").reshape(head[2], 3 * head[3] + FRAME_EXTRA))
    return out


def _until_json(ws, kind: str, timeout: float = 10.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        msg = ws.recv(timeout=max(0.01, end - time.monotonic()))
        if isinstance(msg, str):
            d = json.loads(msg)
            if d["type"] == kind:
                return d


def test_serves_the_page_and_three_js_and_nothing_outside(server, tmp_path):
    status, body = _get(server, "/")
    assert status == 200 and b"moglow play" in body
    status, body = _get(server, "/static/vendor/three/three.module.min.js")
    assert status == 200 and b"three.core.min.js" in body
    out = server.server.out_dir
    (out / "secret_link").symlink_to(REPO_ROOT / "setup.py")
    (out / ".hidden.bvh").write_text("x")
    for path in ["/static/../setup.py", "/static/../../setup.py", "/static/%2e%2e/%2e%2e/setup.py",
                 "/static/..%2f..%2fsetup.py", "/static/%252e%252e/%252e%252e/setup.py", "/static//etc/passwd",
                 "/out/../../../../etc/passwd", "/out/..%5c..%5cetc%5cpasswd", "/etc/passwd", "/../setup.py",
                 "/static/vendor/three/../../../../../moglow/cli.py", "/out/secret_link", "/out/.hidden.bvh",
                 "/static/%00live.html", "/out/C:%5cWindows", "/static/" + "a/" * 40 + "x"]:
        status, body = _get(server, path)
        assert status == 404, (path, status, body[:80])
        assert b"import" not in body and b"root:" not in body


def test_hello_then_binary_frames_at_the_model_rate(server):
    with connect(server.ws) as ws:
        hello = _hello(ws)
        assert hello["characters"] == 3 and hello["fps"] == FPS
        J = len(hello["parents"])
        frames = _frames(ws, 3)
        assert all(f.shape == (3, 3 * J + FRAME_EXTRA) and np.isfinite(f).all() for f in frames)
        t0, first = time.monotonic(), server.server.stats.frames
        time.sleep(1.0)
        rate = (server.server.stats.frames - first) / (time.monotonic() - t0)
        assert rate > 0.7 * FPS, rate


def test_move_steers_and_is_acknowledged_and_lapses_when_the_page_is_gone(server):
    with connect(server.ws) as ws:
        hello = _hello(ws)
        J = len(hello["parents"])
        ws.send(json.dumps({"type": "move", "character": 0, "seq": 7, "dir": [1.0, 0.0], "run": False}))
        frames = _frames(ws, 30)
        acked = [f for f in frames if f[0, 3 * J + 6] == 7]
        assert acked, "no frame acknowledged the input"
        assert max(f[0, 3 * J + 3] for f in acked) > 0.5, "the character did not start walking"
    # the page is gone and stopped repeating its input: the character stops by itself
    time.sleep(INPUT_HOLD_S + 1.0)
    assert server.chars.steering.desired_speed[0] == 0.0
    assert server.chars.steering.speed[0] < 0.2


@pytest.mark.parametrize("bad", [
    "not json", "[1, 2]", '"text"', "{}", '{"type": "nope"}', '{"type": "move", "character": 99, "dir": [1, 0]}',
    '{"type": "move", "character": 0, "dir": [NaN, 0]}', '{"type": "move", "character": 0, "dir": "north"}',
    '{"type": "move", "character": -1, "dir": [0, 1]}', '{"type": "settings", "character": 0, "temperature": -1}',
    '{"type": "settings", "character": 0}', '{"type": "record", "character": 0, "seconds": 1e9}',
    '{"type": "move", "character": true, "dir": [0, 1]}', pytest.param("[" * 3000 + "]" * 1000, id="deep-nesting"),
    b"\x00\x01binary"])
def test_malformed_messages_are_answered_and_the_connection_stays(server, bad):
    before = server.server.stats.rejected
    with connect(server.ws) as ws:
        _hello(ws)
        ws.send(bad)
        err = _until_json(ws, "error")
        assert err["message"]
        ws.send(json.dumps({"type": "ping", "t": 1.5}))
        assert _until_json(ws, "pong")["t"] == 1.5
    assert server.server.stats.rejected == before + 1


def test_oversized_message_closes_only_that_connection(server):
    with connect(server.ws) as other:
        _hello(other)
        with connect(server.ws, max_size=None) as ws:
            _hello(ws)
            ws.send(json.dumps({"type": "ping", "t": 0, "pad": "x" * (2 * MAX_MESSAGE_BYTES)}))
            with pytest.raises(ConnectionClosed) as info:
                for _ in range(200):
                    ws.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        assert _frames(other, 3)  # everyone else carries on
    assert server.server.stats.oversized_closed >= 1


def test_flood_is_rate_limited_and_the_server_keeps_its_pace(server):
    with connect(server.ws) as ws:
        _hello(ws)
        f0, t0 = server.server.stats.frames, time.monotonic()
        dropped0 = server.server.stats.flood_dropped
        for _i in range(3000):
            ws.send('{"type": "settings", "character": 1, "temperature": 0.5}')
        time.sleep(1.2)  # the bucket refills; the ping must not be dropped itself
        ws.send(json.dumps({"type": "ping", "t": 2.0}))
        _until_json(ws, "pong", timeout=20)
        assert server.server.stats.flood_dropped - dropped0 > 1000
        assert len(server.server.pending) < 4096
        time.sleep(0.5)
        rate = (server.server.stats.frames - f0) / (time.monotonic() - t0)
        assert rate > 0.6 * FPS, rate


def test_many_clients_and_abrupt_disconnects(server):
    stack = contextlib.ExitStack()
    clients = [stack.enter_context(connect(server.ws)) for _ in range(24)]
    try:
        for ws in clients:
            _hello(ws)
        for ws in clients:
            assert len(_frames(ws, 2)) == 2
        assert len(server.server.clients) >= 24
    finally:
        for ws in clients:
            ws.socket.shutdown(socket.SHUT_RDWR)  # vanish without a close frame
            ws.socket.close()
        with contextlib.suppress(Exception):
            stack.close()
    end = time.monotonic() + 10
    while server.server.clients and time.monotonic() < end:
        time.sleep(0.1)
    assert not server.server.clients
    f0 = server.server.stats.frames
    time.sleep(0.5)
    assert server.server.stats.frames > f0


def test_a_client_that_stops_reading_never_holds_more_than_one_frame(server):
    from moglow.live.page_client import PageClient

    slot = PageClient.__new__(PageClient)  # the slot logic on its own
    slot.frame, slot.dropped = None, 0
    slot.wake = __import__("asyncio").Event()
    for i in range(5):
        slot.offer_frame(bytes([i]))
    assert slot.frame == bytes([4]) and slot.dropped == 4
    # a real socket that reads nothing: the server keeps its rate for everyone else
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    raw.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    try:
        with connect(server.ws) as ws:
            _hello(ws)
            f0, t0 = server.server.stats.frames, time.monotonic()
            got = _frames(ws, 30)
            rate = (server.server.stats.frames - f0) / (time.monotonic() - t0)
            assert len(got) == 30 and rate > 0.7 * FPS, rate
            # whatever the non-reader has not taken, the server holds at most one frame and 32 messages for it
            assert all(len(c.json) <= 32 for c in server.server.clients.values())
    finally:
        raw.close()


def test_cross_origin_pages_are_refused(server):
    with pytest.raises(InvalidStatus) as info:
        with connect(server.ws, origin="http://evil.example"):
            pass
    assert info.value.response.status_code == 403


def test_record_writes_a_bvh_served_under_out(server):
    from data_pipeline.bvh import read_bvh

    with connect(server.ws) as ws:
        _hello(ws)
        _frames(ws, 45)  # more than the 2 s asked for
        ws.send(json.dumps({"type": "record", "character": 2, "seconds": 2.0}))
        rec = _until_json(ws, "recorded", timeout=30)
    assert rec["frames"] == 40 and rec["bvh"].startswith("/out/")
    status, body = _get(server, rec["bvh"])
    assert status == 200
    path = server.server.out_dir / rec["bvh"][len("/out/"):]
    assert read_bvh(path).num_frames == 40 and path.read_bytes() == body


def test_sigint_shuts_the_command_down_cleanly(checkpoint, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "moglow", "play", "--checkpoint", str(checkpoint), "--no-browser",
                             "--port", "0", "--out", str(tmp_path / "out"), "--characters", "2", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    try:
        url = None
        for line in proc.stdout:
            if "open http://" in line:
                url = line.split("open ", 1)[1].split()[0]
                break
        assert url, "the server never said where it listens"
        with connect(url.replace("http://", "ws://").rstrip("/") + "/ws") as ws:
            _hello(ws)
            _frames(ws, 2)
            proc.send_signal(signal.SIGINT)
            with pytest.raises(ConnectionClosed) as info:
                for _ in range(1000):
                    ws.recv(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        assert proc.wait(timeout=15) == 0
        assert "stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_reset_restarts_one_character_from_a_real_start_window(checkpoint):
    import torch

    from moglow.checkpoint import load_model
    from moglow.live.characters import LiveCharacters
    from moglow.sampling import SamplingMeta

    model, ckpt = load_model(checkpoint)
    meta = SamplingMeta.from_checkpoint(ckpt)
    chars = LiveCharacters(model, meta, 2, seed=1)
    chars.steering.set_velocity([0, 1], np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 1.0]))
    for _ in range(15):
        chars.step()
    other = chars.state.poses[1].clone()
    chars.reset([0])
    assert np.allclose(chars.steering.root()[0], chars.steering.spawn[0]) and chars.steering.speed[0] == 0
    bank = torch.as_tensor(meta.scaler.transform(meta.start_bank.poses.astype(np.float64)), dtype=torch.float32)
    assert torch.isclose(bank, chars.state.poses[0][None], atol=1e-5).flatten(1).all(1).any(), "not a bank window"
    assert torch.equal(chars.state.poses[1], other)  # the other character is untouched
    def tensors(state):  # every tensor of the nested recurrent state, batch on dim 1
        if isinstance(state, torch.Tensor):
            return [state]
        return [t for s in (state or ()) for t in tensors(s)]

    flow = tensors(chars.state.flow)
    assert flow and all(float(t[:, 0].abs().max()) == 0.0 for t in flow)  # fresh: zero state
    assert any(float(t[:, 1].abs().max()) > 0.0 for t in flow)
    assert chars.available_frames(0) == 0 and chars.available_frames(1) == 15
