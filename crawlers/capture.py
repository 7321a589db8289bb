"""Turn a Scrapy response (or a failed request) into a Capture item."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from scrapy.http import Response, TextResponse

from crawlers.items import Capture

HTML_TYPES = ("text/html", "application/xhtml+xml")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _headers(headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, values in headers.items():
        name = key.decode("latin-1")
        out[name] = ", ".join(v.decode("latin-1") for v in values)
    return out


def capture_from_response(
    response: Response, *, plan: str, sector: str | None = None, render: str = "static"
) -> Capture:
    """Build the Capture of one fetched page. Non-HTML bodies are kept but flagged with `error`."""
    body = response.body or b""
    content_type = response.headers.get("Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()
    is_html = isinstance(response, TextResponse) and (
        content_type in HTML_TYPES or (not content_type and b"<html" in body[:2048].lower())
    )
    ip = getattr(response, "ip_address", None)
    item = Capture(
        url=response.request.url if response.request else response.url,
        final_url=response.url,
        method=response.request.method if response.request else "GET",
        status=response.status,
        request_headers=_headers(response.request.headers) if response.request else {},
        response_headers=_headers(response.headers),
        body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
        truncated="download_stopped" in (response.flags or []),
        content_type=content_type or None,
        encoding=response.encoding if isinstance(response, TextResponse) else None,
        fetched_at=utc_now(),
        render=render,
        remote_ip=str(ip) if ip else None,
        plan=plan,
        sector=sector,
        error=None,
        dom=None,
        screenshot=None,
    )
    if not is_html:
        item["error"] = f"非 HTML 内容，未提取 (non-HTML content skipped: {content_type or 'unknown'})"
    return item


def capture_from_failure(failure, *, plan: str, sector: str | None = None, render: str = "static") -> Capture:
    """A request that produced no response still becomes a capture with its error, so nothing is silently lost."""
    request = failure.request
    message = failure.getErrorMessage().splitlines()[0] if failure.getErrorMessage() else repr(failure.value)
    return Capture(
        url=request.url,
        final_url=request.url,
        method=request.method,
        status=None,
        request_headers=_headers(request.headers),
        response_headers={},
        body=b"",
        body_sha256=hashlib.sha256(b"").hexdigest(),
        truncated=False,
        content_type=None,
        encoding=None,
        fetched_at=utc_now(),
        render=render,
        remote_ip=None,
        plan=plan,
        sector=sector,
        error=f"抓取失败 (fetch failed): {type(failure.value).__name__}: {message}"[:500],
        dom=None,
        screenshot=None,
    )
