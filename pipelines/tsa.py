"""RFC 3161 trusted timestamps over a chain head.

A TimeStampReq is small enough to encode by hand (RFC 3161 §2.4.1):

    TimeStampReq ::= SEQUENCE { version INTEGER (1), messageImprint MessageImprint,
                                reqPolicy OID OPTIONAL, nonce INTEGER OPTIONAL,
                                certReq BOOLEAN DEFAULT FALSE, extensions [0] OPTIONAL }
    MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }

The request is POSTed as `application/timestamp-query`; the TSA answers a
DER `TimeStampResp` (`application/timestamp-reply`), which we store whole. It
verifies offline with `openssl ts -verify -digest HEX -in token.tsr -CAfile
tsa-ca.pem`. Here we only check the status, the imprint and the nonce, and
read the generation time; the signature is the verifier's business.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.request
from dataclasses import dataclass

SHA256_OID = bytes.fromhex("0609608648016503040201")  # DER OID 2.16.840.1.101.3.4.2.1
TIMEOUT = 15


class TimestampError(RuntimeError):
    pass


# ---------------------------------------------------------------- minimal DER


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def _int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return _tlv(0x02, body)


def _read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """One TLV at `pos`: (tag, content, next position)."""
    if pos + 2 > len(data):
        raise TimestampError("truncated DER")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    end = pos + length
    if end > len(data):
        raise TimestampError("truncated DER")
    return tag, data[pos:end], end


def _children(content: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(content):
        tag, value, pos = _read(content, pos)
        out.append((tag, value))
    return out


# ---------------------------------------------------------------- request / response


def build_request(digest: bytes, nonce: int) -> bytes:
    """DER TimeStampReq for a SHA-256 digest, asking for the TSA certificate in the token."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    algorithm = _tlv(0x30, SHA256_OID + b"\x05\x00")
    imprint = _tlv(0x30, algorithm + _tlv(0x04, digest))
    return _tlv(0x30, _int(1) + imprint + _int(nonce) + _tlv(0x01, b"\xff"))


@dataclass(frozen=True)
class Token:
    response: bytes  # the whole DER TimeStampResp
    gen_time: str  # UTC, ISO 8601 "Z"
    serial: int


def parse_response(response: bytes, digest: bytes, nonce: int | None) -> Token:
    tag, body, _ = _read(response)
    if tag != 0x30:
        raise TimestampError("not a TimeStampResp")
    parts = _children(body)
    status_info = _children(parts[0][1])
    status = int.from_bytes(status_info[0][1], "big")
    if status not in (0, 1):  # granted, grantedWithMods
        raise TimestampError(f"TSA refused the request (PKIStatus {status}) / 时间戳服务拒绝请求")
    if len(parts) < 2:
        raise TimestampError("TSA granted but sent no token")
    # ContentInfo { contentType, [0] SignedData }
    content_info = _children(parts[1][1])
    signed_data = _children(_children(content_info[1][1])[0][1])
    encap = _children(signed_data[2][1])  # encapContentInfo { eContentType, [0] OCTET STRING }
    octets = _children(encap[1][1])[0][1]
    tst_info = _children(_read(octets)[1])
    # TSTInfo { version, policy, messageImprint, serialNumber, genTime, accuracy?, ordering?, nonce?, ... }
    imprint = _children(tst_info[2][1])
    if imprint[1][1] != digest:
        raise TimestampError("token does not cover the requested digest / 时间戳与请求的哈希不符")
    serial = int.from_bytes(tst_info[3][1], "big")
    gen_raw = tst_info[4][1].decode("ascii")
    if nonce is not None:
        nonces = [int.from_bytes(v, "big", signed=True) for t, v in tst_info[5:] if t == 0x02]
        if nonce not in nonces:
            raise TimestampError("token nonce does not match the request")
    return Token(response, _gentime(gen_raw), serial)


def _gentime(raw: str) -> str:
    """GeneralizedTime (YYYYMMDDHHMMSS[.fff]Z) → ISO 8601 UTC."""
    main, _, frac = raw.rstrip("Z").partition(".")
    moment = dt.datetime.strptime(main, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{frac[:3].ljust(3, '0')}Z" if frac else f"{text}Z"


def request_timestamp(url: str, digest_hex: str, timeout: float = TIMEOUT) -> Token:
    """Ask the TSA at `url` for a token over a SHA-256 digest given in hex."""
    digest = bytes.fromhex(digest_hex)
    nonce = secrets.randbits(63)
    req = urllib.request.Request(
        url,
        data=build_request(digest, nonce),
        headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-configured TSA URL
            body = resp.read()
    except OSError as exc:
        raise TimestampError(f"TSA {url} unreachable: {exc} / 无法连接时间戳服务") from exc
    return parse_response(body, digest, nonce)
