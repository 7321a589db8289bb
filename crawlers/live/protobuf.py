"""Protocol Buffers wire format, decoded without generated classes or .proto files.

Large platforms push room messages as protobuf. We only need a few fields of a
few messages, and their schemas change without notice, so we read the wire
format directly (https://protobuf.dev/programming-guides/encoding/):

    message   = *(key value)
    key       = varint(field_number << 3 | wire_type)
    wire type 0 VARINT  value is a varint (int32/64, uint, bool, enum)
              1 I64     8 bytes little-endian (fixed64, double)
              2 LEN     varint length, then that many bytes (string, bytes, sub-message, packed)
              5 I32     4 bytes little-endian (fixed32, float)
              3/4       deprecated groups: not supported, decoding stops with an error

`parse(data)` returns {field_number: [values …]} with ints for wire types 0/1/5
and raw bytes for wire type 2; whether a LEN value is a string or a nested
message is the caller's knowledge (`text()`, `message()`). Unknown fields are
kept, never fatal, so a platform adding fields does not break decoding.
"""

from __future__ import annotations

from collections.abc import Mapping

Message = dict[int, list]


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the varint starting at `pos`."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def parse(data: bytes) -> Message:
    """Decode one message level: field number -> list of raw values, in wire order."""
    out: Message = {}
    pos = 0
    size = len(data)
    while pos < size:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1:
            if pos + 8 > size:
                raise WireError("truncated fixed64")
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = read_varint(data, pos)
            if pos + length > size:
                raise WireError("length-delimited field runs past the end")
            value, pos = bytes(data[pos:pos + length]), pos + length
        elif wire == 5:
            if pos + 4 > size:
                raise WireError("truncated fixed32")
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise WireError(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def first(msg: Mapping[int, list], number: int, default=None):
    values = msg.get(number)
    return values[0] if values else default


def text(msg: Mapping[int, list], number: int, default: str = "") -> str:
    """A string field (UTF-8; undecodable bytes replaced)."""
    value = first(msg, number)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return default


def message(msg: Mapping[int, list], number: int) -> Message:
    """A nested message field; empty when absent or not a message."""
    value = first(msg, number)
    if not isinstance(value, bytes | bytearray):
        return {}
    try:
        return parse(value)
    except WireError:
        return {}


def messages(msg: Mapping[int, list], number: int) -> list[Message]:
    """A repeated nested message field."""
    out = []
    for value in msg.get(number, []):
        if isinstance(value, bytes | bytearray):
            try:
                out.append(parse(value))
            except WireError:
                continue
    return out


def integer(msg: Mapping[int, list], number: int, default: int = 0) -> int:
    value = first(msg, number)
    return value if isinstance(value, int) else default
