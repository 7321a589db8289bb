"""WARC 1.1 evidence files: writing captures, rotating files, reading records back.

Layout of one capture in a WARC file (each record its own gzip member, SHA-256
block and payload digests on every record):

    static fetch:    request, response, [resource screenshot], metadata
    rendered page:   [request], response, resource rendered DOM, resource screenshot, metadata
    unchanged page:  revisit (identical-payload-digest profile) pointing at the stored version

Every file starts with a `warcinfo` record naming the operator, software and
versions, host name, IP address, user agent and crawl plan. A capture's
records are contiguous: the store keeps (file, offset, length, sha256) for the
whole group, so a bundle can copy them byte for byte and a verifier can check
both the WARC digests and the group's SHA-256 recorded in the hash chain.

Files are named `<run>-<timestamp>-<pid>-<serial>.warc.gz` inside the evidence
folder and rotate once they reach `max_bytes`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.client import responses as HTTP_REASONS
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

WARC_VERSION = "1.1"
DIGEST_ALGORITHM = "sha256"
# Headers describing a transfer encoding that Scrapy has already undone: kept under another name.
HOP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class Sha256WARCWriter(WARCWriter):
    """warcio's writer with SHA-256 (base32) digests instead of SHA-1."""

    @staticmethod
    def _create_digester():  # noqa: D401 - warcio hook
        return Digester(DIGEST_ALGORITHM)


@dataclass
class Location:
    file: str  # file name relative to the evidence folder
    offset: int
    length: int
    sha256: str  # SHA-256 of the bytes [offset, offset + length)

    def as_dict(self) -> dict:
        return {"file": self.file, "offset": self.offset, "length": self.length, "sha256": self.sha256}


def warc_date(value: str | None) -> str:
    """An ISO 8601 time as a WARC 1.1 date (UTC, microseconds)."""
    if value:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime.now(dt.UTC)
    return datetime_to_iso_date(moment.astimezone(dt.UTC).replace(tzinfo=None), use_micros=True)


def local_ip() -> str:
    """The address this host uses for outbound traffic (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, nothing sent for UDP connect
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def _headers_list(headers: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, bytes):
                v = v.decode("latin-1")
            out.append((str(name), str(v)))
    return out


def _response_headers(headers: Mapping[str, Any] | None, body_len: int) -> list[tuple[str, str]]:
    out = []
    for name, value in _headers_list(headers):
        if name.lower() in HOP_HEADERS:
            out.append((f"X-Archive-Orig-{name}", value))
        else:
            out.append((name, value))
    out.append(("Content-Length", str(body_len)))
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest(), "length": len(value)}
    return str(value)


class WarcFiles:
    """The WARC files of one crawl run: append capture record groups, rotate by size."""

    def __init__(
        self,
        directory: str | os.PathLike,
        run_id: int,
        info: Mapping[str, Any],
        max_bytes: int = 256 * 1024 * 1024,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.info = dict(info)
        self.max_bytes = max(int(max_bytes or 0), 64 * 1024)
        self.builder = RecordBuilder(warc_version=WARC_VERSION)
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.serial = 0
        self.fh: io.BufferedWriter | None = None
        self.name: str | None = None
        self.files: list[str] = []

    # -- files -------------------------------------------------------------
    def _open_next(self) -> None:
        self.close()
        self.serial += 1
        self.name = f"run{self.run_id:05d}-{self.stamp}-{os.getpid()}-{self.serial:05d}.warc.gz"
        self.fh = open(self.directory / self.name, "xb")  # noqa: SIM115 - kept open across captures
        self.files.append(self.name)
        record = self.builder.create_warcinfo_record(self.name, self.info)
        self._write_group([record])

    def close(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None

    def _ensure_open(self) -> None:
        if self.fh is None or self.fh.tell() >= self.max_bytes:
            self._open_next()

    def _write_group(self, records: list) -> Location:
        assert self.fh is not None and self.name is not None
        buf = io.BytesIO()
        writer = Sha256WARCWriter(buf, gzip=True, warc_version=WARC_VERSION)
        for record in records:
            writer.write_record(record)
        data = buf.getvalue()
        offset = self.fh.tell()
        self.fh.write(data)
        self.fh.flush()  # in the OS before the store commits: a killed process loses nothing it reported
        return Location(self.name, offset, len(data), hashlib.sha256(data).hexdigest())

    # -- captures ------------------------------------------------------------
    def write_capture(self, item: Mapping[str, Any], hits: list[dict] | None = None) -> Location:
        """Write the records of one capture; returns where they are."""
        self._ensure_open()
        b = self.builder
        url = item.get("final_url") or item.get("url")
        date = warc_date(item.get("fetched_at"))
        body: bytes = item.get("body") or b""
        render = item.get("render") or "static"
        status = int(item.get("status") or 0)
        records = []
        common = {"WARC-Date": date}
        if item.get("remote_ip"):
            common["WARC-IP-Address"] = str(item["remote_ip"])

        resp_headers = StatusAndHeaders(
            f"{status} {HTTP_REASONS.get(status, 'Unknown')}",
            _response_headers(item.get("response_headers"), len(body)),
            protocol="HTTP/1.1",
        )
        response = b.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=resp_headers,
            warc_headers_dict=dict(common),
        )  # fmt: skip
        if item.get("truncated"):
            response.rec_headers.add_header("WARC-Truncated", "length")
        response_id = response.rec_headers.get_header("WARC-Record-ID")

        if render != "browser" or item.get("request_headers"):
            parts = urlsplit(url)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            req_headers = _headers_list(item.get("request_headers"))
            if not any(n.lower() == "host" for n, _ in req_headers):
                req_headers.insert(0, ("Host", parts.netloc))
            request = b.create_warc_record(
                url, "request", payload=io.BytesIO(b""), length=0,
                http_headers=StatusAndHeaders(f"{item.get('method') or 'GET'} {path} HTTP/1.1", req_headers,
                                              protocol="", is_http_request=True),
                warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
            )  # fmt: skip
            records.append(request)
        records.append(response)

        dom = item.get("dom")
        if isinstance(dom, str) and dom:
            data = dom.encode("utf-8")
            records.append(
                b.create_warc_record(
                    f"urn:dom:{url}", "resource", payload=io.BytesIO(data), length=len(data),
                    warc_content_type="text/html; charset=utf-8",
                    warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
                )
            )  # fmt: skip
        shot = item.get("screenshot")
        if shot:
            records.append(
                b.create_warc_record(
                    f"urn:screenshot:{url}", "resource", payload=io.BytesIO(shot), length=len(shot),
                    warc_content_type="image/png",
                    warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
                )
            )  # fmt: skip

        meta = {
            "url": item.get("url"),
            "final_url": item.get("final_url"),
            "fetched_at": item.get("fetched_at"),
            "render": render,
            "plan": item.get("plan"),
            "sector": item.get("sector"),
            "body_sha256": item.get("body_sha256") or hashlib.sha256(body).hexdigest(),
            "truncated": bool(item.get("truncated")),
            "encoding": item.get("encoding"),
            "error": item.get("error"),
            "title": item.get("title"),
            "merchant": item.get("merchant"),
            "prices": item.get("prices"),
            "fields": item.get("fields"),
            "hits": hits if hits is not None else item.get("hits") or [],
        }
        data = json.dumps(meta, ensure_ascii=False, sort_keys=True, default=_json_default).encode("utf-8")
        records.append(
            b.create_warc_record(
                url, "metadata", payload=io.BytesIO(data), length=len(data), warc_content_type="application/json",
                warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
            )
        )  # fmt: skip
        return self._write_group(records)

    def write_revisit(
        self, item: Mapping[str, Any], original_uri: str, original_date: str, payload_digest: str
    ) -> Location:
        """A revisit record for a page whose body is identical to the stored version."""
        self._ensure_open()
        status = int(item.get("status") or 0)
        body_len = len(item.get("body") or b"")
        headers = StatusAndHeaders(
            f"{status} {HTTP_REASONS.get(status, 'Unknown')}",
            _response_headers(item.get("response_headers"), body_len),
            protocol="HTTP/1.1",
        )
        record = self.builder.create_revisit_record(
            item.get("final_url") or item.get("url"), payload_digest, original_uri, warc_date(original_date),
            http_headers=headers, warc_headers_dict={"WARC-Date": warc_date(item.get("fetched_at"))},
        )  # fmt: skip
        return self._write_group([record])


def payload_digest(body: bytes) -> str:
    d = Digester(DIGEST_ALGORITHM)
    d.update(body)
    return str(d)


# ------------------------------------------------------------------ reading


def read_bytes(path: str | os.PathLike, offset: int, length: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise ValueError(
            f"{Path(path).name}: only {len(data)} of {length} bytes at offset {offset} (file cut short)"
        )
    return data


@dataclass
class Record:
    type: str
    uri: str
    headers: dict[str, str]
    http_status: int | None
    content: bytes
    digest_ok: bool | None  # None: no digest to check (revisit, warcinfo payload)
    problems: list[str]


def iter_records(data: bytes | io.BufferedIOBase) -> Iterator[Record]:
    """Read WARC records (gzipped or not), checking their digests."""
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    for rec in ArchiveIterator(stream, check_digests=True):
        content = rec.content_stream().read()
        status = None
        if rec.http_headers is not None and rec.rec_type in ("response", "revisit"):
            try:
                status = int(rec.http_headers.get_statuscode())
            except (TypeError, ValueError):
                status = None
        yield Record(
            rec.rec_type,
            rec.rec_headers.get_header("WARC-Target-URI") or "",
            dict(rec.rec_headers.headers),
            status,
            content,
            rec.digest_checker.passed,
            list(rec.digest_checker.problems),
        )


def first_record_span(path: str | os.PathLike) -> tuple[int, int]:
    """(offset, length) of the first record of a WARC file (its warcinfo)."""
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for _ in it:
            it.read_to_end()
            return 0, it.get_record_length() or it.member_info[1]
    raise ValueError(f"{Path(path).name}: no WARC record")


def check_group(data: bytes) -> list[str]:
    """Problems found in a capture's record group (digest mismatches, parse errors); empty when sound."""
    problems: list[str] = []
    try:
        for rec in iter_records(data):
            if rec.digest_ok is False:
                problems.append(f"{rec.type} {rec.uri}: " + "; ".join(rec.problems))
    except Exception as exc:  # warcio raises several types on damaged input
        problems.append(f"unreadable WARC data: {exc}".splitlines()[0])
    return problems


# ------------------------------------------------------------------ resource groups (live rooms)
#
# A live-room session has no single HTTP response: it is an event log, stage screenshots and the
# final DOM. They are written as one contiguous group of `resource` records followed by a
# `metadata` record, all concurrent to the first resource, so the store, bundles and verifiers
# treat the group exactly like a page capture's records.


def write_resource_group(
    files: WarcFiles,
    url: str,
    fetched_at: str | None,
    resources: list[tuple[str, str, bytes]],
    metadata: Mapping[str, Any],
) -> Location:
    """Write resources [(target URI, content type, bytes)] and a JSON metadata record as one group."""
    if not resources:
        raise ValueError("a resource group needs at least one resource")
    files._ensure_open()
    b = files.builder
    date = warc_date(fetched_at)
    records = []
    first_id = None
    for uri, ctype, data in resources:
        headers = {"WARC-Date": date}
        if first_id:
            headers["WARC-Concurrent-To"] = first_id
        record = b.create_warc_record(
            uri, "resource", payload=io.BytesIO(data), length=len(data), warc_content_type=ctype,
            warc_headers_dict=headers,
        )  # fmt: skip
        first_id = first_id or record.rec_headers.get_header("WARC-Record-ID")
        records.append(record)
    meta = json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True, default=_json_default).encode("utf-8")
    records.append(
        b.create_warc_record(
            url, "metadata", payload=io.BytesIO(meta), length=len(meta), warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": first_id},
        )
    )  # fmt: skip
    return files._write_group(records)
