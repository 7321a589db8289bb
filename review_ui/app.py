"""The review web app: login and the inspectors' hit queue.

Server-rendered (Starlette + Jinja2, autoescaping on), Chinese by default.
It reads and writes the store only through `pipelines.store.Store`.
"""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipelines.store import Store, to_cst
from review_ui import security

HERE = Path(__file__).resolve().parent
COOKIE = "fangxin_session"
IDLE_TIMEOUT = 30 * 60  # seconds without a request before a session ends
ABSOLUTE_TIMEOUT = 10 * 60 * 60  # a session never lives longer than a working day
SEVERITY_ZH = {"high": "严重", "medium": "一般", "low": "轻微"}
STATE_ZH = {"new": "待审核", "confirmed": "确认违法", "false_positive": "误报", "skipped": "跳过", "escalated": "已上报"}
CATEGORY_ZH = {
    "absolute_terms": "绝对化用语", "medical_health": "医疗健康", "health_food": "保健食品", "drug_device": "药品器械",
    "education": "教育培训", "finance": "金融理财", "real_estate": "房地产", "price_fraud": "价格欺诈",
    "false_urgency": "虚假紧迫", "unfair_terms": "霸王条款", "false_advertising": "虚假宣传", "livestream": "直播营销",
    "other": "其他",
}
PAGE_SIZE = 100


CONTEXT_CHARS = 120


def marked_context(text: str, start: int | None, end: int | None, match: str) -> tuple[str, str, str]:
    """Split a field's text into (before, matched, after) around the hit, trimmed to CONTEXT_CHARS each side.

    The template escapes all three parts and wraps the middle in <mark>; crawled
    text never reaches the page unescaped.
    """
    if start is None or end is None or not (0 <= start <= end <= len(text)) or (match and text[start:end] != match):
        i = text.find(match) if match else -1
        if i < 0:
            return "", match, ""
        start, end = i, i + len(match)
    before = text[max(0, start - CONTEXT_CHARS):start]
    after = text[end:end + CONTEXT_CHARS]
    return ("…" if start > CONTEXT_CHARS else "") + before, text[start:end], after + (
        "…" if end + CONTEXT_CHARS < len(text) else "")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        for name, value in security.SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def create_app(db_path: str, secret: str | None = None) -> Starlette:
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    templates.globals.update(SEVERITY_ZH=SEVERITY_ZH, STATE_ZH=STATE_ZH, CATEGORY_ZH=CATEGORY_ZH)
    templates.filters["cst"] = to_cst
    signer = URLSafeTimedSerializer(secret or security.new_token(), salt="fangxin-session")

    def store() -> Store:
        return Store(db_path)

    def render(name: str, status: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status)

    def session_of(request: Request) -> dict | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = signer.loads(raw, max_age=IDLE_TIMEOUT)
        except BadSignature:
            return None
        if time.time() - data.get("login_at", 0) > ABSOLUTE_TIMEOUT:
            return None
        return data

    def with_session(response: Response, data: dict) -> Response:
        response.set_cookie(COOKIE, signer.dumps(data), httponly=True, samesite="strict", max_age=IDLE_TIMEOUT)
        return response

    failed_logins: dict[str, list[float]] = {}

    def throttled(name: str) -> bool:
        recent = [t for t in failed_logins.get(name, []) if time.time() - t < 15 * 60]
        failed_logins[name] = recent
        return len(recent) >= 5

    async def login_form(request: Request):
        csrf = security.new_token()
        response = render("login.html", csrf=csrf, error=None)
        response.set_cookie("fangxin_login_csrf", csrf, httponly=True, samesite="strict")
        return response

    async def login(request: Request):
        form = await request.form()
        if not security.same_token(form.get("csrf"), request.cookies.get("fangxin_login_csrf")):
            return render("login.html", status=403, csrf=security.new_token(), error="表单已过期，请重新登录。")
        name = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        if throttled(name):
            return render("login.html", status=429, csrf=form.get("csrf"), error="登录失败次数过多，请 15 分钟后再试。")
        s = store()
        try:
            user = s.get_user(name)
        finally:
            s.close()
        if not user or not security.verify_password(user["password_hash"], password):
            failed_logins.setdefault(name, []).append(time.time())
            return render("login.html", status=401, csrf=form.get("csrf"), error="用户名或密码错误。")
        failed_logins.pop(name, None)
        data = {"user": user["username"], "role": user["role"], "csrf": security.new_token(), "login_at": time.time()}
        return with_session(RedirectResponse("/queue", status_code=303), data)

    async def logout(request: Request):
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    async def queue(request: Request):
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        state = request.query_params.get("state") or None
        s = store()
        try:
            hits = list(islice(s.iter_hits(state=state), PAGE_SIZE))
        finally:
            s.close()
        return with_session(render("queue.html", hits=hits, session=session, state=state), session)

    async def hit_detail(request: Request):
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        try:
            hit_id = int(request.path_params["hit_id"])
        except ValueError:
            return render("error.html", status=404, session=session, message="没有这条命中记录。")
        s = store()
        try:
            hit = s.get_hit(hit_id)
            capture = s.get_capture(hit["capture_id"]) if hit else None
        finally:
            s.close()
        if not hit or not capture:
            return render("error.html", status=404, session=session, message="没有这条命中记录。")
        before, matched, after = marked_context(capture.get("fields", {}).get(hit["field"] or "", ""),
                                                hit["span_start"], hit["span_end"], hit["match"] or "")
        return with_session(render("hit.html", hit=hit, capture=capture, session=session, before=before,
                                   matched=matched, after=after, captured_cst=to_cst(capture["fetched_at"])), session)

    async def home(request: Request):
        return RedirectResponse("/queue", status_code=303)

    routes = [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", queue),
        Route("/hit/{hit_id}", hit_detail),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8000, on_ready=None) -> None:
    """Run the review UI with uvicorn until interrupted."""
    import uvicorn

    config = uvicorn.Config(create_app(db_path), host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
            on_ready(host, bound)

        server.startup = startup
    server.run()
