"""One page connected to ``moglow play``: its socket, its one-frame slot (a newer frame replaces
an unsent one), its bounded JSON queue, its message rate limit and its sender task."""
from __future__ import annotations

import asyncio
import collections
import json
import time

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

__all__ = ["PageClient", "CLIENT_JSON_QUEUE"]

#: JSON messages waiting for one client at most (older ones are dropped)
CLIENT_JSON_QUEUE = 32


class PageClient:
    """One connected page: its socket, its frame slot and JSON queue, and its sender task."""

    def __init__(self, ws: ServerConnection, cid: int, rate_limit: float):
        self.ws, self.id = ws, cid
        self.frame: bytes | None = None
        self.json: collections.deque = collections.deque(maxlen=CLIENT_JSON_QUEUE)
        self.wake = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.rate, self.tokens, self.t_tokens = rate_limit, rate_limit, time.monotonic()
        self.last_log = 0.0
        self.errors = 0

    def offer_frame(self, data: bytes) -> None:
        if self.frame is not None:
            self.dropped += 1
        self.frame = data
        self.wake.set()

    def send_json(self, msg: dict) -> None:
        self.json.append(json.dumps(msg))
        self.wake.set()

    def take_token(self) -> bool:
        """Token bucket: ``rate`` messages per second, bursts up to ``rate``."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.t_tokens) * self.rate)
        self.t_tokens = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def should_log(self) -> bool:
        now = time.monotonic()
        if now - self.last_log >= 1.0:
            self.last_log = now
            return True
        return False

    async def run_sender(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.json:
                    await self.ws.send(self.json.popleft())
                if self.frame is not None:
                    data, self.frame = self.frame, None
                    await self.ws.send(data)
                    self.sent += 1
        except ConnectionClosed:
            pass
