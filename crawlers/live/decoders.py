"""WebSocket frames and the pluggable decoders that turn them into text events.

A decoder looks at one captured frame and returns the room events it carries
(`list[Event]`), an empty list for a frame it understands but that carries no
text (heartbeats, gifts, counters), or None for a frame that is not its format.
Every frame is logged raw whatever the decoders make of it.

Decoders shipped:

``json``
    Text frames holding one JSON object (or a list of them). The profile maps
    the value of `type_key` to a document field and a text template, e.g.
    ``chat: {field: chat, text: "{text}", user: "{user}"}``.

``webcast``
    Binary frames in the protobuf-over-gzip layout of the large Chinese
    platforms' "webcast push" sockets, decoded from the wire format
    (`crawlers.live.protobuf`), no generated classes:

        PushFrame  1 seqId (varint)  2 logId (varint)  6 payloadEncoding (string, "gzip")
                   7 payloadType (string, "msg")  8 payload (bytes)
        Response   = gunzip(payload) when payloadEncoding is "gzip", else payload
                   1 messages (repeated Message)  2 cursor (string)  9 needAck (bool)
        Message    1 method (string, e.g. "WebcastChatMessage")  2 payload (bytes)  3 msgId (varint)

    The profile maps a method to a field and says where the text and the user
    name are inside the method's message, as paths of field numbers:
    ``WebcastChatMessage: {field: chat, text: [3], user: [2, 3]}`` reads
    ChatMessage.content (3) and ChatMessage.user (2) . nickName (3).

Add a platform by writing a profile; add a wire format by registering a class
in DECODERS with the same `decode(frame)` method.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from crawlers.live import protobuf

FIELDS = ("livestream_title", "chat", "product_cards", "pinned", "ocr", "transcript")
SPACES = re.compile(r"[ \t\u3000]+")


@dataclass
class Frame:
    """One WebSocket frame as the browser received (or sent) it."""

    index: int
    t: float  # seconds since the session started
    at: str  # UTC, ISO 8601 with milliseconds and "Z"
    socket: str  # the socket URL
    direction: str  # "in" | "out"
    data: str | bytes
    time_source: str = "receipt"  # "browser": Chromium's receive time; "receipt": when Playwright handed it over

    @property
    def binary(self) -> bool:
        return isinstance(self.data, bytes | bytearray)

    @property
    def raw(self) -> bytes:
        return bytes(self.data) if self.binary else str(self.data).encode("utf-8")

    def log_record(self) -> dict:
        raw = self.raw
        rec = {
            "record": "frame", "i": self.index, "t": round(self.t, 3), "at": self.at, "socket": self.socket,
            "dir": self.direction, "opcode": "binary" if self.binary else "text", "size": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(), "time_source": self.time_source,
        }  # fmt: skip
        if self.binary:
            rec["base64"] = base64.b64encode(raw).decode("ascii")
        else:
            rec["text"] = self.data
        return rec


@dataclass
class Event:
    """One piece of room text with the time it appeared."""

    t: float  # seconds since the session started
    at: str  # UTC ISO time
    field: str  # one of FIELDS
    text: str
    source: str  # ws:json | ws:webcast | dom | ocr | speech
    kind: str = ""  # what it was in the room: title, chat, product_card, pinned, countdown, stage, speech …
    meta: dict[str, Any] = field(default_factory=dict)
    id: int = -1  # position in the session's event list, set when the session is analysed

    def log_record(self) -> dict:
        return {"record": "event", "id": self.id, "t": round(self.t, 3), "at": self.at, "field": self.field,
                "kind": self.kind, "source": self.source, "text": self.text, "meta": self.meta}  # fmt: skip


def clean(text: str) -> str:
    lines = [SPACES.sub(" ", line).strip() for line in str(text).splitlines()]
    return "\n".join(line for line in lines if line)


class _Format(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, values: dict) -> str:
    try:
        return clean(template.format_map(_Format({k: "" if v is None else v for k, v in values.items()})))
    except (ValueError, IndexError, AttributeError):
        return ""


class JsonDecoder:
    name = "json"

    def __init__(self, config: dict | None = None):
        config = config or {}
        self.type_key = config.get("type_key", "type")
        self.types: dict[str, dict] = config.get("types") or {}

    def decode(self, frame: Frame) -> list[Event] | None:
        if frame.binary:
            return None
        try:
            data = json.loads(frame.data)
        except ValueError:
            return None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(x, dict) for x in items):
            return None
        out = []
        for obj in items:
            spec = self.types.get(str(obj.get(self.type_key)))
            if not spec:
                continue
            text = render(spec.get("text", "{text}"), obj)
            if not text:
                continue
            meta = {k: obj[k] for k in spec.get("meta", ()) if k in obj}
            if spec.get("user"):
                meta["user"] = render(spec["user"], obj)
            out.append(Event(frame.t, frame.at, spec["field"], text, "ws:json", spec.get("kind", str(obj.get(self.type_key))),
                             {**meta, "frame": frame.index}))  # fmt: skip
        return out


def _path_text(msg: protobuf.Message, path: list[int]) -> str:
    for number in path[:-1]:
        msg = protobuf.message(msg, number)
    return protobuf.text(msg, path[-1]) if path else ""


def unpack_payload(payload: bytes, encoding: str) -> bytes:
    if encoding == "gzip" or payload[:2] == b"\x1f\x8b":
        return gzip.decompress(payload)
    if encoding in ("deflate", "zlib"):
        return zlib.decompress(payload)
    return payload


class WebcastDecoder:
    name = "webcast"

    def __init__(self, config: dict | None = None):
        config = config or {}
        self.methods: dict[str, dict] = config.get("methods") or {}

    def decode(self, frame: Frame) -> list[Event] | None:
        if not frame.binary:
            return None
        try:
            push = protobuf.parse(frame.raw)
            payload = protobuf.first(push, 8, b"")
            if not isinstance(payload, bytes):
                return None
            response = protobuf.parse(unpack_payload(payload, protobuf.text(push, 6)))
        except (protobuf.WireError, OSError, EOFError, zlib.error):
            return None
        seq = protobuf.integer(push, 1)
        out = []
        for msg in protobuf.messages(response, 1):
            method = protobuf.text(msg, 1)
            spec = self.methods.get(method)
            if not spec:
                continue
            body = protobuf.first(msg, 2, b"")
            try:
                inner = protobuf.parse(body) if isinstance(body, bytes) else {}
            except protobuf.WireError:
                continue
            text = clean(_path_text(inner, list(spec.get("text", [3]))))
            if not text:
                continue
            meta: dict[str, Any] = {"method": method, "seq": seq, "msg_id": protobuf.integer(msg, 3), "frame": frame.index}
            if spec.get("user"):
                meta["user"] = _path_text(inner, list(spec["user"]))
            out.append(Event(frame.t, frame.at, spec["field"], text, "ws:webcast", spec.get("kind", method), meta))
        return out


DECODERS: dict[str, type] = {"json": JsonDecoder, "webcast": WebcastDecoder}


def build_decoders(specs: dict[str, dict] | None) -> list:
    """Decoder instances from a profile's `decoders:` mapping (name -> config), in the profile's order."""
    out = []
    for name, config in (specs or {}).items():
        if name not in DECODERS:
            raise ValueError(f"unknown frame decoder {name!r} (known: {', '.join(DECODERS)})")
        out.append(DECODERS[name](config or {}))
    return out


def decode_frame(decoders: list, frame: Frame) -> tuple[str | None, list[Event]]:
    """The first decoder that recognises the frame, and its events."""
    for decoder in decoders:
        try:
            events = decoder.decode(frame)
        except Exception:  # a decoder bug must not lose the session; the frame stays in the log
            continue
        if events is not None:
            return decoder.name, events
    return None, []
