"""The messages between the live page and the server: validated input in, binary frames out.

Client -> server: one JSON object per WebSocket text message (at most :data:`MAX_MESSAGE_BYTES`)::

    {"type": "move",     "character": 0, "seq": 12, "dir": [x, z], "run": false}
        walk in world direction (x, z) (its length, at most 1, scales the speed: a gamepad stick);
        [0, 0] stops. Speed = |dir| * (run ? run speed : walking speed) of the character.
    {"type": "target",   "character": 0, "seq": 13, "point": [x, z]}     walk to a floor point (m) and stop
    {"type": "wander",   "character": 0, "on": true}                     random paths / back to user control
    {"type": "settings", "character": 0, "speed": 1.3, "run_speed": 3.0, "temperature": 0.8, "style": 2}
        any subset of the keys (speeds m/s, temperature >= 0, style id, -1: none)
    {"type": "reset",    "character": 0}                                 (-1: every character)
    {"type": "record",   "character": 0, "seconds": 10}                  BVH + npz of the last seconds
    {"type": "ping",     "t": 123.4}                                     answered with {"type": "pong", "t": ...}

Anything else (not JSON, not an object, an unknown type, a missing or out-of-range field) raises
:class:`ProtocolError`; the server answers ``{"type": "error", "message": ...}``, logs it and
carries on.

Server -> client: JSON text messages (``hello``, ``stats``, ``recorded``, ``error``, ``pong``)
and one binary message per frame (:func:`encode_frame`), little-endian::

    uint32 magic 0x464C474D ("MGLF"), uint32 frame, uint32 characters B, uint32 joints J
    float32[B, 3*J + 8]: joint positions (x, y, z) metres, then root x, z (m), heading (rad),
                         speed (m/s), intended velocity x, z (m/s), last input seq applied, mode
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from data_pipeline.errors import MoglowError

__all__ = ["ProtocolError", "Command", "parse_message", "encode_frame", "FRAME_MAGIC", "FRAME_EXTRA",
           "MAX_MESSAGE_BYTES", "MAX_RECORD_SECONDS"]

FRAME_MAGIC = 0x464C474D
#: floats per character after the joint positions
FRAME_EXTRA = 8
#: the largest client message accepted (bytes); larger ones close the connection (code 1009)
MAX_MESSAGE_BYTES = 4096
MAX_RECORD_SECONDS = 120.0
MAX_SPEED_FIELD = 20.0  # m/s, sanity bound on a speed field (the steering clips to the data's range)
MAX_COORD = 1.0e4  # m
MAX_SEQ = 2 ** 24  # seqs travel back as float32: exact up to here (the page wraps)

_TYPES = ("move", "target", "wander", "settings", "reset", "record", "ping")


class ProtocolError(MoglowError, ValueError):
    """A client message that cannot be used (the message says why)."""


@dataclass
class Command:
    """A validated client message: ``type``, ``character`` (-1: all, for reset) and its fields."""

    type: str
    character: int
    fields: dict[str, Any]


def _number(msg: dict, key: str, lo: float, hi: float, default: Any = None) -> Any:
    if key not in msg:
        if default is None:
            raise ProtocolError(f"missing field {key!r}")
        return default
    v = msg[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise ProtocolError(f"field {key!r} must be a number in [{lo:g}, {hi:g}], got {v!r:.40}")
    return float(v)


def _pair(msg: dict, key: str, bound: float) -> list[float]:
    v = msg.get(key)
    if not (isinstance(v, list) and len(v) == 2):
        raise ProtocolError(f"field {key!r} must be a list [x, z]")
    return [_number({"v": x}, "v", -bound, bound) for x in v]


def parse_message(text: str | bytes, num_characters: int) -> Command:
    """Validate one client message.

    Args:
        text: the WebSocket message (binary messages are refused).
        num_characters: characters in the world (bounds ``character``).
    Raises:
        ProtocolError: the message is malformed (the error names the field).
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        raise ProtocolError("binary messages are not accepted; send JSON text")
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(text)} characters exceeds {MAX_MESSAGE_BYTES}")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("a message must be a JSON object")
    kind = msg.get("type")
    if kind not in _TYPES:
        raise ProtocolError(f"unknown message type {kind!r:.40}; use one of {', '.join(_TYPES)}")
    if kind == "ping":
        return Command("ping", -1, {"t": _number(msg, "t", -1e15, 1e15, 0.0)})
    lowest = -1 if kind == "reset" else 0
    ch = msg.get("character", 0)
    if isinstance(ch, bool) or not isinstance(ch, int) or not lowest <= ch < num_characters:
        raise ProtocolError(f"field 'character' must be an integer in [{lowest}, {num_characters - 1}], got {ch!r:.40}")
    fields: dict[str, Any] = {}
    if kind in ("move", "target"):
        seq = msg.get("seq", 0)
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < MAX_SEQ:
            raise ProtocolError(f"field 'seq' must be an integer in [0, {MAX_SEQ})")
        fields["seq"] = seq
    if kind == "move":
        d = _pair(msg, "dir", 1e3)
        n = math.hypot(*d)
        fields["dir"] = d if n <= 1.0 else [d[0] / n, d[1] / n]
        run = msg.get("run", False)
        if not isinstance(run, bool):
            raise ProtocolError("field 'run' must be true or false")
        fields["run"] = run
    elif kind == "target":
        fields["point"] = _pair(msg, "point", MAX_COORD)
    elif kind == "wander":
        on = msg.get("on", True)
        if not isinstance(on, bool):
            raise ProtocolError("field 'on' must be true or false")
        fields["on"] = on
    elif kind == "settings":
        for key, lo, hi in (("speed", 0.0, MAX_SPEED_FIELD), ("run_speed", 0.0, MAX_SPEED_FIELD),
                            ("temperature", 0.0, 5.0)):
            if key in msg:
                fields[key] = _number(msg, key, lo, hi)
        if "style" in msg:
            s = msg["style"]
            if isinstance(s, bool) or not isinstance(s, int) or s < -1:
                raise ProtocolError("field 'style' must be an integer >= -1")
            fields["style"] = s
        if not fields:
            raise ProtocolError("settings without any of speed, run_speed, temperature, style")
    elif kind == "record":
        fields["seconds"] = _number(msg, "seconds", 0.1, MAX_RECORD_SECONDS, 10.0)
    return Command(kind, ch, fields)


def encode_frame(frame: int, positions: np.ndarray, root: np.ndarray, speed: np.ndarray, intended: np.ndarray,
                 ack: np.ndarray, mode: np.ndarray) -> bytes:
    """One binary frame message (layout in the module docstring).

    Args:
        frame: frame number.
        positions: (B, J, 3) metres; root: (B, 3) x, z, heading; speed: (B,) m/s;
        intended: (B, 2) m/s; ack: (B,) last input seq applied; mode: (B,) steering mode.
    """
    B, J = positions.shape[:2]
    head = np.array([FRAME_MAGIC, frame & 0xFFFFFFFF, B, J], dtype="<u4")
    body = np.concatenate([positions.reshape(B, 3 * J), root, speed[:, None], intended, ack[:, None],
                           mode[:, None]], axis=1).astype("<f4")
    return head.tobytes() + body.tobytes()
