"""The web transport of ``moglow play``: static files and a WebSocket on one port (``websockets``).

One asyncio event loop runs everything:

- HTTP ``GET``s are answered by :class:`moglow.live.http_routes.StaticRoutes`: ``/`` is the live
  page, ``/static/...`` the page's files (:data:`visualize.web.STATIC_DIR`), ``/out/...`` the
  recordings in the output folder; nothing outside those two folders is ever served. ``/ws``
  upgrades to the WebSocket.
- The tick loop applies the queued client commands, runs one batched model step
  (:meth:`moglow.live.characters.LiveCharacters.step`, in a worker thread so the loop keeps
  reading sockets meanwhile) every ``1 / fps`` seconds and offers the encoded frame to every
  client. Commands are applied only here, between steps, so the model state has one writer.
- Each client (:class:`moglow.live.page_client.PageClient`) has one sender task and a one-frame
  slot: a newer frame replaces an unsent one (a slow client sees fewer frames, counted in
  ``dropped``; nothing queues without bound). Its JSON messages (hello, stats, errors,
  recordings) go through a short bounded queue.
- Client messages are validated (:func:`moglow.live.protocol.parse_message`); a malformed one is
  answered with an error, logged (at most once a second per client) and dropped; a message over
  :data:`moglow.live.protocol.MAX_MESSAGE_BYTES` closes that connection (code 1009); more than
  ``rate_limit`` messages per second are dropped; a page from another origin is refused (403).
- :meth:`LiveServer.stop` (Ctrl-C in the command) ends the tick loop, waits for a recording in
  progress, and closes every connection with code 1001.

A steering input (``move``) holds for :data:`INPUT_HOLD_S` seconds: the page repeats it while a key
is held, so a character whose page vanished stops by itself.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from data_pipeline.errors import InputError
from moglow.live.characters import LiveCharacters
from moglow.live.http_routes import StaticRoutes
from moglow.live.page_client import PageClient
from moglow.live.protocol import (FRAME_EXTRA, MAX_MESSAGE_BYTES, Command, ProtocolError, encode_frame,
                                  parse_message)
from moglow.live.recording import save_recording
from moglow.live.steering import MODE_WANDER
from visualize.web import STATIC_DIR, THREE_VERSION

__all__ = ["LiveServer", "ServerStats", "INPUT_HOLD_S"]

log = logging.getLogger("moglow.play")

#: a move input lapses after this long without a repeat (the page repeats it 4 times a second)
INPUT_HOLD_S = 1.0
#: commands waiting for the next tick at most (more are dropped and counted)
MAX_PENDING = 4096


@dataclass
class ServerStats:
    """Counters for tests and the stats message."""

    frames: int = 0
    late_ticks: int = 0
    step_seconds: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))
    rejected: int = 0
    flood_dropped: int = 0
    oversized_closed: int = 0
    connections: int = 0
    http_refused: int = 0
    recordings: int = 0


class LiveServer:
    """Serve the live page and stream ``characters`` to every connected page.

    Args:
        characters: the simulation (:class:`moglow.live.characters.LiveCharacters`).
        out_dir: recordings go here and are served under ``/out/``.
        host, port: where to listen (port 0: any free port; see :attr:`port` once started).
        walk_speed, run_speed: default speeds (m/s) of every character (clipped to the data's range).
        wander: characters that start wandering (the rest follow their page's input).
        rate_limit: messages per second accepted from one client.
        max_clients: connections beyond this are refused (code 1013).
        static_dir: the page's files (default :data:`visualize.web.STATIC_DIR`).
        info: extra fields for the hello message (checkpoint name, ...).
    """

    def __init__(self, characters: LiveCharacters, out_dir: str | Path, host: str = "127.0.0.1", port: int = 8765,
                 walk_speed: float = 1.2, run_speed: float | None = None, wander: tuple[int, ...] = (),
                 rate_limit: float = 200.0, max_clients: int = 64, static_dir: Path = STATIC_DIR,
                 info: dict | None = None):
        self.chars = characters
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.host, self.port = host, int(port)
        self.static_dir = Path(static_dir)
        self.rate_limit, self.max_clients = float(rate_limit), int(max_clients)
        self.info = dict(info or {})
        n = characters.num
        lim = characters.limits
        self.walk_speed = np.full(n, min(walk_speed, lim.max_speed))
        self.run_speed = np.full(n, lim.max_speed if run_speed is None else min(run_speed, lim.max_speed))
        self.ack = np.zeros(n)
        self.input_time = np.zeros(n)
        if wander:
            characters.steering.set_wander(list(wander))
        self.clients: dict[int, PageClient] = {}
        self.pending: collections.deque = collections.deque()
        self.stats = ServerStats()
        self._next_id = 0
        self._stop: asyncio.Event | None = None
        self._started: asyncio.Event | None = None
        self._recording: asyncio.Task | None = None
        self._server: Any = None
        self.routes = StaticRoutes(self.out_dir, self.static_dir, on_refused=self._count_refused)

    def _count_refused(self) -> None:
        self.stats.http_refused += 1

    # ------------------------------------------------------------------ WebSocket
    def _hello(self, client: PageClient) -> dict[str, Any]:
        c = self.chars
        fdef = c.meta.feature_def
        lim = c.limits
        return {"type": "hello", "client": client.id, "fps": c.fps, "characters": c.num,
                "joints": list(fdef.joints), "parents": [int(p) for p in fdef.parents],
                "styles": list(c.meta.style_names), "frame_extra": FRAME_EXTRA,
                "max_message_bytes": MAX_MESSAGE_BYTES, "history_seconds": c.history / c.fps,
                "limits": {"max_speed": lim.max_speed, "max_accel": lim.max_accel, "max_turn_rate": lim.max_turn_rate},
                "walk_speed": self.walk_speed.tolist(), "run_speed": self.run_speed.tolist(),
                "temperature": c.temperature.tolist(), "style": c.style.tolist(),
                "wander": (c.steering.mode == MODE_WANDER).tolist(), "input_hold_s": INPUT_HOLD_S,
                "three": THREE_VERSION, **self.info}

    async def _handler(self, ws: ServerConnection) -> None:
        if ws.request is None or urlsplit(ws.request.path).path != "/ws":
            await ws.close(1008, "WebSocket only at /ws")
            return
        if len(self.clients) >= self.max_clients:
            log.warning("refused a connection: %d clients already", len(self.clients))
            await ws.close(1013, "too many clients")
            return
        self._next_id += 1
        client = PageClient(ws, self._next_id, self.rate_limit)
        self.clients[client.id] = client
        self.stats.connections += 1
        log.info("client %d connected from %s (%d connected)", client.id, ws.remote_address, len(self.clients))
        sender = asyncio.create_task(client.run_sender())
        client.send_json(self._hello(client))
        try:
            async for message in ws:
                if not client.take_token():
                    self.stats.flood_dropped += 1
                    if client.should_log():
                        log.warning("client %d: more than %g messages/s; dropping", client.id, self.rate_limit)
                    continue
                try:
                    cmd = parse_message(message, self.chars.num)
                except ProtocolError as e:
                    self.stats.rejected += 1
                    client.errors += 1
                    if client.should_log():
                        log.warning("client %d: rejected message: %s", client.id, e)
                    client.send_json({"type": "error", "message": str(e)})
                    continue
                if cmd.type == "ping":
                    client.send_json({"type": "pong", "t": cmd.fields["t"], "frame": self.stats.frames})
                elif len(self.pending) < MAX_PENDING:
                    self.pending.append((client, cmd))
                else:
                    self.stats.flood_dropped += 1
        except ConnectionClosed as e:
            if e.rcvd is None and e.sent is not None and e.sent.code == 1009:
                self.stats.oversized_closed += 1
                log.warning("client %d: message over %d bytes; connection closed", client.id, MAX_MESSAGE_BYTES)
        finally:
            self.clients.pop(client.id, None)
            sender.cancel()
            log.info("client %d disconnected (%d sent, %d dropped; %d connected)", client.id, client.sent,
                     client.dropped, len(self.clients))

    # ------------------------------------------------------------------ commands
    def _apply(self, client: PageClient, cmd: Command) -> None:
        c, ch, f = self.chars, cmd.character, cmd.fields
        steer = c.steering
        if cmd.type == "move":
            speed = (self.run_speed[ch] if f["run"] else self.walk_speed[ch]) * float(np.hypot(*f["dir"]))
            steer.set_velocity([ch], np.array([f["dir"]]), np.array([speed]))
            self.ack[ch] = f["seq"]
            self.input_time[ch] = time.monotonic()
        elif cmd.type == "target":
            steer.set_target([ch], np.array([f["point"]]), np.array([self.walk_speed[ch]]))
            self.ack[ch] = f["seq"]
        elif cmd.type == "wander":
            if f["on"]:
                steer.set_wander([ch], np.array([self.walk_speed[ch]]))
            else:
                steer.set_velocity([ch], np.zeros((1, 2)), np.zeros(1))
        elif cmd.type == "settings":
            if "speed" in f:
                self.walk_speed[ch] = min(f["speed"], c.limits.max_speed)
            if "run_speed" in f:
                self.run_speed[ch] = min(f["run_speed"], c.limits.max_speed)
            if "temperature" in f:
                c.set_temperature([ch], f["temperature"])
            if "style" in f:
                try:
                    c.set_style([ch], f["style"])
                except InputError as e:
                    client.send_json({"type": "error", "message": str(e)})
        elif cmd.type == "reset":
            c.reset(None if ch < 0 else [ch])
        elif cmd.type == "record":
            self._start_recording(client, ch, f["seconds"])

    def _start_recording(self, client: PageClient, ch: int, seconds: float) -> None:
        if self._recording is not None and not self._recording.done():
            client.send_json({"type": "error", "message": "a recording is being written; try again in a moment"})
            return
        try:
            clip = self.chars.clip(ch, seconds)  # copied now, between steps
        except InputError as e:
            client.send_json({"type": "error", "message": str(e)})
            return
        fdef = self.chars.meta.feature_def

        async def write() -> None:
            try:
                rec = await asyncio.to_thread(save_recording, clip, fdef, self.out_dir, ch, dict(self.info))
            except Exception as e:  # noqa: BLE001 - report, keep serving
                log.exception("recording failed")
                client.send_json({"type": "error", "message": f"recording failed: {type(e).__name__}: {e}"})
                return
            self.stats.recordings += 1
            msg = rec.to_message(ch)
            msg["bvh"], msg["npz"] = "/out/" + msg["bvh"], "/out/" + msg["npz"]
            log.info("recorded character %d: %d frames -> %s", ch, rec.frames, rec.folder)
            client.send_json(msg)

        self._recording = asyncio.create_task(write())

    def _expire_inputs(self) -> None:
        """Stop characters whose page stopped repeating its move input."""
        steer = self.chars.steering
        now = time.monotonic()
        stale = (steer.mode == 0) & (steer.desired_speed > 0) & (now - self.input_time > INPUT_HOLD_S)
        if stale.any():
            idx = np.flatnonzero(stale)
            steer.set_velocity(idx, np.zeros((len(idx), 2)), np.zeros(len(idx)))

    # ------------------------------------------------------------------ the loop
    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.chars.fps
        next_t = loop.time()
        last_stats = loop.time()
        assert self._stop is not None
        while not self._stop.is_set():
            while self.pending:
                client, cmd = self.pending.popleft()
                self._apply(client, cmd)
            self._expire_inputs()
            frame = await asyncio.to_thread(self.chars.step)
            self.stats.frames += 1
            self.stats.step_seconds.append(frame.step_seconds)
            data = encode_frame(frame.index, frame.positions, frame.root, frame.speed, frame.intended, self.ack,
                                frame.mode)
            for client in list(self.clients.values()):
                client.offer_frame(data)
            now = loop.time()
            if now - last_stats >= 1.0:
                last_stats = now
                steps = self.stats.step_seconds
                for client in list(self.clients.values()):
                    client.send_json({"type": "stats", "frame": frame.index, "clients": len(self.clients),
                                      "step_ms": 1000.0 * float(np.mean(steps)) if steps else 0.0,
                                      "late_ticks": self.stats.late_ticks, "dropped": client.dropped,
                                      "sent": client.sent})
            next_t += period
            delay = next_t - loop.time()
            if delay < -period:  # more than a frame behind: skip ahead instead of bursting
                self.stats.late_ticks += 1
                next_t = loop.time()
                delay = 0.0
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(delay, 0.0))
            except TimeoutError:
                pass

    async def serve(self) -> None:
        """Run until :meth:`stop` is called (from the same event loop)."""
        self._stop = asyncio.Event()
        self._started = self._started or asyncio.Event()
        async with serve(self._handler, self.host, self.port, process_request=self.routes.process_request,
                         max_size=MAX_MESSAGE_BYTES, max_queue=16, write_limit=2 ** 16,
                         ping_interval=20, ping_timeout=20, server_header="moglow-play") as server:
            self._server = server
            sockets = list(server.sockets)
            self.port = int(sockets[0].getsockname()[1]) if sockets else self.port
            self._started.set()
            ticks = asyncio.create_task(self._tick_loop())
            try:
                await self._stop.wait()
            finally:
                ticks.cancel()
                with _suppress():
                    await ticks
                if self._recording is not None and not self._recording.done():
                    with _suppress():
                        await asyncio.wait_for(self._recording, timeout=30)
                server.close(close_connections=True, code=1001, reason="server shutting down")
                with _suppress():
                    await asyncio.wait_for(server.wait_closed(), timeout=5)
        log.info("server stopped after %d frames", self.stats.frames)

    async def wait_started(self) -> int:
        """Wait until the server listens; returns the port."""
        self._started = self._started or asyncio.Event()
        await self._started.wait()
        return self.port

    def stop(self) -> None:
        """Ask :meth:`serve` to finish (call from the event loop's thread)."""
        if self._stop is not None:
            self._stop.set()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}/"


def _suppress() -> contextlib.suppress:
    """Ignore cancellation and errors while shutting down."""
    return contextlib.suppress(asyncio.CancelledError, Exception)
