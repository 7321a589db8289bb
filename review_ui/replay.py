"""Replay of archived pages on a separate origin (another port), never in the app's origin.

Crawled pages are hostile. The replay server serves an archived response body
only with a signed, short-lived link made by the app for a logged-in user, under
a Content-Security-Policy with `sandbox` (no scripts, no forms, an opaque
origin) and `default-src 'none'` (nothing is fetched, so the merchant's live
site never sees an inspector looking), framable only by the app's origin. The
app embeds it in an `<iframe sandbox>` as a second fence.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pipelines.store import Store
from pipelines.warc import iter_records, read_bytes

TOKEN_SECONDS = 10 * 60
SALT = "fangxin-replay"
REPLAY_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'"
)


def signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


class ArchiveError(RuntimeError):
    pass


def capture_records(store: Store, capture: dict) -> list:
    """The WARC records of a capture, after checking its bytes against the stored SHA-256."""
    path = store.warc_path(capture.get("warc_file"))
    if path is None:
        raise ArchiveError("no WARC for this capture")
    try:
        group = read_bytes(path, capture["warc_offset"], capture["warc_length"])
    except (OSError, ValueError, TypeError) as exc:
        raise ArchiveError(f"WARC unreadable: {exc}") from exc
    if hashlib.sha256(group).hexdigest() != capture.get("warc_sha256"):
        raise ArchiveError("WARC bytes do not match the stored hash")
    return list(iter_records(group))


def archived_body(store: Store, capture: dict) -> bytes:
    for rec in capture_records(store, capture):
        if rec.type == "response":
            return rec.content
    raise ArchiveError("no response record")


def screenshot(store: Store, capture: dict) -> bytes:
    for rec in capture_records(store, capture):
        if rec.type == "resource" and rec.uri.startswith("urn:screenshot:"):
            return rec.content
    raise ArchiveError("no screenshot record")


def create_replay_app(db_path: str, secret: str, app_port: int | None) -> Starlette:
    """The replay server's app. `app_port` is the review app's port (the only origin allowed to frame it)."""
    tokens = signer(secret)

    async def replay(request: Request) -> Response:
        try:
            capture_id = int(request.path_params["capture_id"])
            granted = tokens.loads(request.query_params.get("t", ""), max_age=TOKEN_SECONDS)
        except (ValueError, BadSignature):
            return PlainTextResponse("链接无效或已过期。", status_code=403)
        if granted != capture_id:
            return PlainTextResponse("链接无效或已过期。", status_code=403)
        store = Store(db_path)
        try:
            capture = store.get_capture(capture_id)
            body = archived_body(store, capture) if capture else None
        except ArchiveError:
            body = None
        finally:
            store.close()
        if body is None:
            return PlainTextResponse("没有这个存档页面。", status_code=404)
        content_type = (capture.get("content_type") or "").lower()
        charset = capture.get("encoding") or "utf-8"
        media = "text/html" if "html" in content_type or not content_type else "text/plain"
        ancestor = f"{request.url.scheme}://{request.url.hostname}:{app_port}" if app_port else "'none'"
        headers = {
            "Content-Security-Policy": f"{REPLAY_CSP}; frame-ancestors {ancestor}",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "Cross-Origin-Resource-Policy": "same-site",
        }
        return Response(body, media_type=f"{media}; charset={charset}", headers=headers)

    async def nothing(request: Request) -> Response:
        return PlainTextResponse("", status_code=404)

    return Starlette(routes=[Route("/capture/{capture_id}", replay), Route("/{path:path}", nothing)])
