"""The review web app: login and the inspectors' hit queue.

Server-rendered (Starlette + Jinja2, autoescaping on), Chinese by default.
It reads and writes the store only through `pipelines.store.Store`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pipelines.store import CST, HIT_STATES, DecisionRefused, Store, StoreError, to_cst
from review_ui import i18n, publish, replay, risk, rulebench, security, workflow
from review_ui.price_chart import price_chart_svg

HERE = Path(__file__).resolve().parent
COOKIE = "fangxin_session"
IDLE_TIMEOUT = 30 * 60  # seconds without a request before a session ends
ABSOLUTE_TIMEOUT = 10 * 60 * 60  # a session never lives longer than a working day
SEVERITY_ZH = {"high": "严重", "medium": "一般", "low": "轻微"}
STATE_ZH = {
    "new": "待审核", "triaged": "已上报主管", "confirmed": "确认违法", "false_positive": "误报", "ignored": "已跳过",
    "promoted": "已转线索",
}
LEAD_STATE_ZH = {
    "registered": "登记", "verifying": "核查", "filed": "立案", "not_filed": "不予立案", "transferred": "移送",
    "investigating": "调查", "decided": "处罚决定", "closed": "结案", "withdrawn": "已撤回",
}
ROLE_ZH = {"inspector": "执法人员", "supervisor": "主管", "rule_author": "规则编写", "auditor": "审计", "admin": "管理员"}
# Who may record triage decisions (checked on the server for every request; auditors are read-only).
DECIDE_ROLES = frozenset({"inspector", "supervisor", "admin"})
ALL_ROLES = frozenset(ROLE_ZH)
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})
ESCALATED_TO = "role:supervisor"
# Triage actions: URL name -> (hit state, message shown after the decision).
ACTIONS = {
    "confirm": ("confirmed", "已确认违法，并登记到线索"),
    "false-positive": ("false_positive", "已标记为误报"),
    "skip": ("ignored", "已跳过"),
    "escalate": ("triaged", "已上报主管"),
}
OPEN_STATES = ("new", "triaged")
MAX_REASON = 500
MAX_BULK = 500
AUDIT_ROLES = frozenset({"auditor", "supervisor", "admin"})
AUDIT_PAGE = 100
MERCHANT_PAGE = 200
MERCHANT_CHARTS = 10
MAX_TRY_TEXT = 20_000
RULE_EDIT_ROLES = frozenset({"rule_author", "admin"})
DASHBOARD_WEEKS = 8
EXPORT_ROLES = frozenset({"inspector", "supervisor", "auditor", "admin"})
# Why the store refused a decision (codes from the per-hit check) -> HTTP status and message.
REFUSALS = {
    "decided": (409, "该命中已有结论；如需更改，请先撤销。"),
    "supervisor_only": (403, "该命中已上报主管，只能由主管决定。"),
    "escalated": (409, "该命中已上报主管。"),
    "not found": (404, "没有这条命中记录。"),
}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CATEGORY_ZH = {
    "absolute_terms": "绝对化用语", "medical_health": "医疗健康", "health_food": "保健食品", "drug_device": "药品器械",
    "education": "教育培训", "finance": "金融理财", "real_estate": "房地产", "price_fraud": "价格欺诈",
    "false_urgency": "虚假紧迫", "unfair_terms": "霸王条款", "false_advertising": "虚假宣传", "livestream": "直播营销",
    "other": "其他",
}
PAGE_SIZE = 100
# Behind a TLS-terminating proxy set FANGXIN_REVIEW_HTTPS=1: cookies are then Secure and HSTS is sent.
HTTPS = os.environ.get("FANGXIN_REVIEW_HTTPS") == "1"


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def working_days_left(due: dt.date, today: dt.date) -> int:
    """Working days (Mon-Fri) from `today` to `due`: 0 on the due day, negative once overdue."""
    if due == today:
        return 0
    step = 1 if due > today else -1
    count, day = 0, today
    while day != due:
        day += dt.timedelta(days=step)
        if day.weekday() < 5:
            count += step
    return count


def deadline_info(due_at: str | None, today: dt.date | None = None, calendar: bool = False) -> dict | None:
    """The countdown shown for a deadline: {"due", "left", "overdue", "label"}.

    Working days by default (核查); `calendar` counts calendar days (the 90-day decision clock).
    """
    if not due_at:
        return None
    try:
        due = dt.date.fromisoformat(due_at[:10])
    except ValueError:
        return None
    today = today or dt.datetime.now(CST).date()
    left = (due - today).days if calendar else working_days_left(due, today)
    if left < 0:
        label = i18n.gettext("已超期 {n} 天" if calendar else "已超期 {n} 个工作日", n=-left)
    elif left == 0:
        label = i18n.gettext("今日到期")
    else:
        label = i18n.gettext("剩余 {n} 天" if calendar else "剩余 {n} 个工作日", n=left)
    return {"due": due.isoformat(), "left": left, "overdue": left < 0, "label": label}


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
        lang = request.cookies.get(i18n.COOKIE)
        i18n.LANG.set(lang if lang in i18n.LANGS else "zh")
        response = await call_next(request)
        for name, value in security.SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if HTTPS:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def create_app(db_path: str, secret: str | None = None, replay_port: int | None = None) -> Starlette:
    """The review app. With `replay_port`, archived pages are replayed from that port (a separate origin)."""
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    templates.globals.update(SEVERITY_ZH=SEVERITY_ZH, STATE_ZH=STATE_ZH, CATEGORY_ZH=CATEGORY_ZH,
                             LEAD_STATE_ZH=LEAD_STATE_ZH, ROLE_ZH=ROLE_ZH, DECIDE_ROLES=DECIDE_ROLES,
                             ESCALATED_TO=ESCALATED_TO, AUDIT_ROLES=AUDIT_ROLES,
                             EXPORT_ROLES=EXPORT_ROLES, SUPERVISOR_ROLES=SUPERVISOR_ROLES)  # fmt: skip
    templates.globals.update(_=i18n.gettext, lang=i18n.LANG.get, state_label=lambda st: i18n.state_label(st, STATE_ZH))
    templates.filters["cst"] = to_cst
    templates.filters["deadline"] = deadline_info
    templates.filters["jsontext"] = lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)  # escaped on output
    secret = secret or security.new_token()
    signer = URLSafeTimedSerializer(secret, salt="fangxin-session")
    replay_tokens = replay.signer(secret)

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
        response.set_cookie(COOKIE, signer.dumps(data), httponly=True, samesite="strict", max_age=IDLE_TIMEOUT,
                            secure=HTTPS)  # fmt: skip
        return response

    def logged_in(handler):
        """Send a visitor without a valid session to /login; otherwise call handler(request, session)."""

        async def guarded(request: Request):
            session = session_of(request)
            if session is None:
                return RedirectResponse("/login", status_code=303)
            return await handler(request, session)

        return guarded

    failed_logins: dict[str, list[float]] = {}

    def throttled(name: str) -> bool:
        recent = [t for t in failed_logins.get(name, []) if time.time() - t < 15 * 60]
        failed_logins[name] = recent
        return len(recent) >= 5

    async def login_form(request: Request):
        csrf = security.new_token()
        response = render("login.html", csrf=csrf, error=None)
        response.set_cookie("fangxin_login_csrf", csrf, httponly=True, samesite="strict", secure=HTTPS)
        return response

    async def login(request: Request):
        form = await request.form()
        if not security.same_token(form.get("csrf"), request.cookies.get("fangxin_login_csrf")):
            return render("login.html", status=403, csrf=security.new_token(), error=i18n.gettext("表单已过期，请重新登录。"))
        name = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        if throttled(name):
            return render("login.html", status=429, csrf=form.get("csrf"), error=i18n.gettext("登录失败次数过多，请 15 分钟后再试。"))
        with store() as s:
            user = s.get_user(name)
        if not user or not security.verify_password(user["password_hash"], password):
            failed_logins.setdefault(name, []).append(time.time())
            return render("login.html", status=401, csrf=form.get("csrf"), error=i18n.gettext("用户名或密码错误。"))
        failed_logins.pop(name, None)
        data = {"user": user["username"], "role": user["role"], "csrf": security.new_token(), "login_at": time.time()}
        return with_session(RedirectResponse("/queue", status_code=303), data)

    async def logout(request: Request):
        session = session_of(request)
        if session is not None:
            form = await request.form()
            if not security.same_token(str(form.get("csrf") or ""), session.get("csrf")):
                return render("error.html", status=403, session=session, message="请求校验失败（CSRF），请刷新页面后重试。")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def queue_filters(params) -> dict:
        """Queue filters from the query string; unknown values are dropped, every value is a bound parameter."""
        f: dict = {}
        state = params.get("state") or "open"
        f["state"] = state if state in (*HIT_STATES, "all") else "open"
        if params.get("category") in CATEGORY_ZH:
            f["category"] = params["category"]
        if params.get("severity") in SEVERITY_ZH:
            f["severity"] = params["severity"]
        for key in ("sector", "site"):
            value = (params.get(key) or "").strip()[:200]
            if value:
                f[key] = value
        for key in ("since", "until"):
            value = (params.get(key) or "").strip()
            if DATE_RE.fullmatch(value):
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    continue
                f[key] = value
        if (params.get("merchant") or "").isdigit():
            f["merchant"] = int(params["merchant"])
        if params.get("assignee") == ESCALATED_TO:
            f["assignee"] = ESCALATED_TO
        return f

    def load_queue(s: Store, f: dict, limit: int = PAGE_SIZE, offset: int = 0) -> list[dict]:
        states = {"open": OPEN_STATES, "all": None}.get(f["state"], (f["state"],))
        return s.queue_groups(states=states, category=f.get("category"), severity=f.get("severity"),
                              sector=f.get("sector"), site=f.get("site"), merchant_id=f.get("merchant"),
                              since=f.get("since"), until=f.get("until"), assignee=f.get("assignee"),
                              limit=limit, offset=offset)  # fmt: skip

    @logged_in
    async def queue(request: Request, session: dict):
        f = queue_filters(request.query_params)
        page = int(request.query_params["page"]) if (request.query_params.get("page") or "").isdigit() else 1
        page = max(1, min(page, 10_000))
        with store() as s:
            hits = load_queue(s, f, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
            sectors = s.queue_sectors()
            recent = s.recent_decisions(session["user"]) if session.get("role") in DECIDE_ROLES else []
            views = s.list_views(session["user"])
        more = len(hits) > PAGE_SIZE
        hits = hits[:PAGE_SIZE]
        query = filter_query(f)
        return with_session(render("queue.html", hits=hits, session=session, filters=f, sectors=sectors,
                                   recent=recent, page=page, more=more, query=query, views=views,
                                   query_string=urlencode(query),
                                   can_decide=session.get("role") in DECIDE_ROLES), session)  # fmt: skip

    def filter_query(f: dict) -> dict:
        return {k: v for k, v in f.items() if not (k == "state" and v == "open")}

    async def save_view(request: Request):
        """Save the current queue filters under a name, for this user only."""
        auth = await authorize(request, ALL_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, form = auth
        name = str(form.get("name") or "").strip()
        if not 1 <= len(name) <= 40:
            return refuse(request, session, 400, "视图名称须为 1 至 40 个字。")
        f = queue_filters(dict(parse_qsl(str(form.get("query") or ""))))  # re-validated, never stored raw
        query = urlencode(filter_query(f))
        with store() as s:
            s.save_view(user["username"], name, query)
        return with_session(RedirectResponse("/queue" + (f"?{query}" if query else ""), status_code=303), session)

    async def delete_view(request: Request):
        auth = await authorize(request, ALL_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, _form = auth
        view_id = request.path_params["view_id"]
        with store() as s:
            deleted = s.delete_view(user["username"], view_id)
        if not deleted:
            return refuse(request, session, 404, "没有这个视图。")
        return with_session(RedirectResponse("/queue", status_code=303), session)

    @logged_in
    async def hit_detail(request: Request, session: dict):
        hit_id = request.path_params["hit_id"]
        with store() as s:
            hit = s.get_hit(hit_id)
            capture = s.get_capture(hit["capture_id"]) if hit else None
            history = s.hit_history(hit_id) if hit else []
            proving = s.hit_capture_ids(hit_id) if hit else []
            product = (capture or {}).get("final_url") or (capture or {}).get("url") or ""  # a series record's product
            chart = (Markup(price_chart_svg(s.price_observations(product), highlight=set(proving)))
                     if proving and capture else None)  # a series hit: its price series, proving captures ringed
        if not hit or not capture:
            return render("error.html", status=404, session=session, message="没有这条命中记录。")
        before, matched, after = marked_context(capture.get("fields", {}).get(hit["field"] or "", ""),
                                                hit["span_start"], hit["span_end"], hit["match"] or "")
        can_decide = session.get("role") in DECIDE_ROLES and hit["state"] in OPEN_STATES and (
            hit["assignee"] != ESCALATED_TO or session.get("role") in SUPERVISOR_ROLES)
        replay_src = None
        if replay_port and capture.get("warc_file"):
            origin = f"{request.url.scheme}://{request.url.hostname}:{replay_port}"
            replay_src = f"{origin}/capture/{capture['id']}?t={replay_tokens.dumps(capture['id'])}"
        from pipelines.bundle import events_around_rows

        extracted = hit.get("extracted") or {}
        event_cst = to_cst(extracted["event_time"]) if extracted.get("event_time") else None
        response = render("hit.html", hit=hit, capture=capture, session=session, before=before, matched=matched,
                          after=after, captured_cst=to_cst(capture["fetched_at"]), can_decide=can_decide,
                          history=history, replay_src=replay_src, price_chart=chart, event_cst=event_cst,
                          events_around=events_around_rows(extracted), image_url=extracted.get("image_url"))  # fmt: skip
        if replay_src:
            response.headers["Content-Security-Policy"] = security.csp_framing(origin)
        return with_session(response, session)

    @logged_in
    async def hit_screenshot(request: Request, session: dict):
        """The capture's full-page screenshot (PNG made by our own Chromium), from its WARC record."""
        hit_id = request.path_params["hit_id"]
        s = store()
        try:
            hit = s.get_hit(hit_id)
            capture = s.get_capture(hit["capture_id"]) if hit else None
            data = await run_in_threadpool(replay.screenshot, s, capture) if capture else None
        except replay.ArchiveError:
            data = None
        finally:
            s.close()
        if data is None:
            return Response("没有截图。", status_code=404, media_type="text/plain; charset=utf-8")
        return with_session(Response(data, media_type="image/png"), session)

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def refuse(request: Request, session: dict | None, status: int, message: str) -> Response:
        message = i18n.gettext(message)
        if wants_json(request):
            return JSONResponse({"ok": False, "error": message}, status_code=status)
        return render("error.html", status=status, session=session, message=message)

    async def authorize(request: Request, roles: frozenset[str]) -> tuple[dict, dict, object] | Response:
        """Session, CSRF token and role for a state-changing request, all checked on the server.

        Returns (session, user row, form) or the refusal to send. The role is read
        from the database, so a changed or deactivated account takes effect at once.
        """
        session = session_of(request)
        if session is None:
            if wants_json(request):
                return JSONResponse({"ok": False, "error": "登录已过期，请重新登录。"}, status_code=401)
            return RedirectResponse("/login", status_code=303)
        form = await request.form()
        token = request.headers.get("x-csrf-token") or form.get("csrf")
        if not security.same_token(str(token or ""), session.get("csrf")):
            return refuse(request, session, 403, "请求校验失败（CSRF），请刷新页面后重试。")
        with store() as s:
            user = s.get_user(session["user"])
        if not user or not user["active"] or user["role"] not in roles:
            return refuse(request, session, 403, "您的角色无权执行此操作。")
        return session, user, form

    def lead_title(hit: dict) -> str:
        who = hit.get("merchant_name") or hit.get("merchant_domain") or host_of(hit.get("url") or "") or "未知商家"
        return f"{who}：涉嫌{CATEGORY_ZH.get(hit['category'], hit['category'] or '违法')}广告"

    def decision_check(action: str, role: str):
        """The per-hit rules of a decision, run by the store inside its write transaction."""

        def check(hit: dict) -> str | None:
            if hit["state"] not in OPEN_STATES:
                return "decided"
            if hit["assignee"] == ESCALATED_TO and role not in SUPERVISOR_ROLES:
                return "supervisor_only"
            if action == "escalate" and hit["assignee"] == ESCALATED_TO:
                return "escalated"
            return None

        return check

    def read_reason(form, required: bool) -> tuple[str, str | None]:
        reason = str(form.get("reason") or "").strip()
        if len(reason) > MAX_REASON:
            return reason, f"理由不能超过 {MAX_REASON} 字。"
        if required and not reason:
            return reason, "必须填写理由。"
        return reason, None

    async def decide(request: Request):
        auth = await authorize(request, DECIDE_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, form = auth
        action = request.path_params["action"]
        if action not in ACTIONS:
            return refuse(request, session, 404, "没有这个操作。")
        state, done = ACTIONS[action]
        hit_id = request.path_params["hit_id"]
        reason, problem = read_reason(form, required=action == "false-positive")
        if problem:
            return refuse(request, session, 400, "标记误报必须填写理由。" if not reason else problem)
        with store() as s:
            try:
                result = s.decide_hits(hit_id, state, user["username"], user_id=user["id"], note=reason or None,
                                       assignee=ESCALATED_TO if action == "escalate" else None,
                                       lead_title=lead_title if action == "confirm" else None,
                                       check=decision_check(action, user["role"]))  # fmt: skip
            except DecisionRefused as refused:
                status, message = REFUSALS.get(str(refused), (409, str(refused)))
                return refuse(request, session, status, message)
            except StoreError:
                return refuse(request, session, 404, "没有这条命中记录。")
            next_hit = None
            if not wants_json(request):
                nxt = load_queue(s, {"state": "open"}, 1)
                next_hit = nxt[0]["id"] if nxt else None
        message = i18n.gettext(done) + (f"（{i18n.gettext('线索 #{id}', id=result['lead_id'])}）"
                                         if result["lead_id"] else "")  # fmt: skip
        if wants_json(request):
            payload = {"ok": True, "action": action, "state": state, "state_label": i18n.state_label(state, STATE_ZH),
                       "hit_ids": result["hit_ids"], "lead_id": result["lead_id"], "message": message}
            return with_session(JSONResponse(payload), session)
        if form.get("from") == "detail" and next_hit is not None:
            return with_session(RedirectResponse(f"/hit/{next_hit}", status_code=303), session)
        return with_session(RedirectResponse("/queue", status_code=303), session)

    async def bulk(request: Request):
        """One decision on the selected queue rows: a reason is required, each item is checked on its own,
        and the skipped ones are reported."""
        auth = await authorize(request, DECIDE_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, form = auth
        action = str(form.get("action") or "")
        if action not in ACTIONS:
            return refuse(request, session, 400, "请选择批量操作。")
        reason, problem = read_reason(form, required=True)
        if problem:
            return refuse(request, session, 400, "批量操作" + problem)
        ids = [int(v) for v in form.getlist("hit") if str(v).isdigit()]
        if not ids:
            return refuse(request, session, 400, "请至少选择一条命中。")
        if len(ids) > MAX_BULK:
            return refuse(request, session, 400, f"一次最多处理 {MAX_BULK} 条。")
        state, done = ACTIONS[action]
        with store() as s:
            result = s.decide_bulk(ids, state, user["username"], user_id=user["id"], note=reason,
                                   assignee=ESCALATED_TO if action == "escalate" else None,
                                   lead_title=lead_title if action == "confirm" else None,
                                   check=decision_check(action, user["role"]))  # fmt: skip
        skipped = [{"hit_id": item["hit_id"], "reason": REFUSALS.get(item["reason"], (409, item["reason"]))[1]}
                   for item in result["skipped"]]  # fmt: skip
        applied = result["applied"]
        if wants_json(request):
            return with_session(JSONResponse({"ok": True, "action": action, "state": state, "applied": applied,
                                              "skipped": skipped}), session)  # fmt: skip
        return with_session(render("bulk.html", session=session, action_label=done, applied=applied,
                                   skipped=skipped, reason=reason), session)  # fmt: skip

    async def undo(request: Request):
        auth = await authorize(request, DECIDE_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, _form = auth
        s = store()
        try:
            result = s.undo_last_decision(user["username"], user_id=user["id"])
        except StoreError:
            return refuse(request, session, 409, "该决定之后命中已被他人更改，无法撤销。")
        finally:
            s.close()
        if result is None:
            return refuse(request, session, 409, "没有可撤销的决定（仅可撤销最近十次）。")
        restored = STATE_ZH.get(result["restored_state"], result["restored_state"])
        message = f"已撤销，{len(result['hit_ids'])} 条命中恢复为“{restored}”"
        if wants_json(request):
            return with_session(JSONResponse({"ok": True, "hit_ids": result["hit_ids"], "message": message,
                                              "restored_state": result["restored_state"]}), session)  # fmt: skip
        return with_session(RedirectResponse("/queue", status_code=303), session)

    @logged_in
    async def leads(request: Request, session: dict):
        show = request.query_params.get("state") or "open"
        states = {"open": workflow.OPEN_LEAD_STATES, "all": None}.get(show, (show,) if show in LEAD_STATE_ZH else None)
        with store() as s:
            rows = s.list_leads(states)
        return with_session(render("leads.html", leads=rows, session=session, show=show), session)

    @logged_in
    async def lead_detail(request: Request, session: dict):
        lead_id = request.path_params["lead_id"]
        with store() as s:
            lead = s.get_lead_full(lead_id)
            hits = s.lead_hits_detail(lead_id) if lead else []
            merchant = s.get_merchant(lead["merchant_id"]) if lead and lead["merchant_id"] else None
            officers = s.active_users(workflow.OFFICER_ROLES)
        if not lead:
            return render("error.html", status=404, session=session, message="没有这条线索。")
        steps = workflow.available(lead, session.get("role", ""), session.get("user", ""))
        return with_session(render("lead.html", lead=lead, hits=hits, merchant=merchant, session=session,
                                   steps=steps, officers=officers, wf=workflow,
                                   error=request.query_params.get("error")), session)  # fmt: skip

    async def lead_step(request: Request):
        """One workflow step on a lead; role, state and approval rules checked on the server."""
        name = request.path_params["action"]
        if name not in workflow.STEPS:
            return refuse(request, session_of(request), 404, "没有这个操作。")
        auth = await authorize(request, workflow.STEPS[name].roles)
        if isinstance(auth, Response):
            return auth
        session, user, form = auth
        lead_id = request.path_params["lead_id"]
        with store() as s:
            names = {u["username"] for u in s.active_users(workflow.OFFICER_ROLES)}
            values, problem = workflow.validate(name, form, names)
            if problem:
                return refuse(request, session, 400, problem)
            step = workflow.STEPS[name]
            try:
                lead = s.transition_lead(
                    lead_id, name, user["username"], to_state=step.to_state, reason=values["reason"],
                    legal_basis=values["basis"],
                    updates=lambda current: workflow.updates_for(name, current, user["username"], values),
                    detail={k: values[k] for k in ("officers", "date") if values.get(k)} or None,
                    check=lambda current: workflow.check(name, current, user["role"], user["username"]),
                )
            except DecisionRefused as refused:
                return refuse(request, session, 409, str(refused))
            except StoreError:
                return refuse(request, session, 404, "没有这条线索。")
        if wants_json(request):
            return with_session(JSONResponse({"ok": True, "state": lead["state"],
                                              "label": LEAD_STATE_ZH.get(lead["state"], lead["state"])}), session)
        return with_session(RedirectResponse(f"/lead/{lead_id}", status_code=303), session)

    async def export(request: Request):
        """Download the evidence bundle (zip) of a hit or a lead; the export is audit-logged as its user."""
        auth = await authorize(request, EXPORT_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, _form = auth
        kind = "lead" if request.url.path.startswith("/lead/") else "hit"
        number = request.path_params["object_id"]
        from pipelines.bundle import BundleError, export_bundle

        with store() as s:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / f"fangxin-{kind}-{number}.zip"
                try:
                    await run_in_threadpool(export_bundle, s, f"{kind}:{number}", out, actor=user["username"])
                except BundleError as exc:
                    return refuse(request, session, 404 if "no " in str(exc) else 409, str(exc))
                data = out.read_bytes()
        return with_session(Response(data, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="fangxin-{kind}-{number}.zip"'}), session)  # fmt: skip

    @logged_in
    async def merchants(request: Request, session: dict):
        """Merchants ranked by risk score (the basis for 行政约谈)."""
        with store() as s:
            ranked = risk.scores(s.merchant_hit_counts(), s.merchant_lead_counts(), workflow.today_cst())
            top = sorted(ranked.items(), key=lambda kv: (-kv[1]["score"], kv[0]))[:MERCHANT_PAGE]
            info = s.merchants_by_id([m for m, _ in top])
        rows = [dict(info.get(m, {"id": m}), **score) for m, score in top]
        return with_session(render("merchants.html", session=session, rows=rows), session)

    @logged_in
    async def merchant_detail(request: Request, session: dict):
        merchant_id = request.path_params["merchant_id"]
        with store() as s:
            merchant = s.get_merchant(merchant_id)
            counts = s.merchant_hit_counts(merchant_id) if merchant else []
            lead_rows = s.merchant_leads(merchant_id) if merchant else []
            hit_rows = s.merchant_hits(merchant_id) if merchant else []
            lead_counts = s.merchant_lead_counts().get(merchant_id, {}) if merchant else {}
            charts = [(url, Markup(price_chart_svg(s.price_observations(url), title=url)))  # escaped inside
                      for url in (s.merchant_products(merchant_id, limit=MERCHANT_CHARTS) if merchant else [])]
        if not merchant:
            return render("error.html", status=404, session=session, message="没有这个商家。")
        today = workflow.today_cst()
        score = risk.scores(counts, {merchant_id: lead_counts}, today).get(merchant_id)
        return with_session(render("merchant.html", session=session, merchant=merchant, score=score,
                                   leads=lead_rows, hits=hit_rows, weeks=risk.weekly(counts, today),
                                   charts=charts), session)  # fmt: skip

    @logged_in
    async def rules_index(request: Request, session: dict):
        holder = await run_in_threadpool(rulebench.engine)
        with store() as s:
            verdicts = s.rule_verdicts()
        rows = rulebench.rule_rows(holder.engine, verdicts)
        category = request.query_params.get("category")
        if category in CATEGORY_ZH:
            rows = [r for r in rows if r["category"] == category]
        return with_session(render("rules.html", session=session, rows=rows, category=category,
                                   pack_error=holder.last_error), session)  # fmt: skip

    @logged_in
    async def rules_try(request: Request, session: dict):
        """Run the crawl's rule engine on a text typed by the user (no state change; POST keeps long text out of URLs)."""
        text, hits = "", None
        if request.method == "POST":
            form = await request.form()
            if not security.same_token(str(form.get("csrf") or ""), session.get("csrf")):
                return render("error.html", status=403, session=session, message="请求校验失败（CSRF），请刷新页面后重试。")
            text = str(form.get("text") or "")[:MAX_TRY_TEXT]
            holder = await run_in_threadpool(rulebench.engine)
            hits = rulebench.try_text(holder.engine, text)
        return with_session(render("rules_try.html", session=session, text=text, hits=hits), session)

    @logged_in
    async def rules_false_positives(request: Request, session: dict):
        rule = (request.query_params.get("rule") or "").strip()[:100] or None
        with store() as s:
            rows = s.false_positives(rule)
        groups: dict[str, list[dict]] = {}
        for row in rows:
            row["example"] = rulebench.example_sentence(row["text"], row["span_start"], row["span_end"],
                                                        row["match"] or "", row["excerpt"])  # fmt: skip
            groups.setdefault(row["rule"], []).append(row)
        snippets = {r: rulebench.yaml_snippet(r, [x["example"] for x in items]) for r, items in groups.items()}
        return with_session(render("rules_fp.html", session=session, groups=groups, snippets=snippets,
                                   rule=rule, can_edit=session.get("role") in RULE_EDIT_ROLES), session)  # fmt: skip

    @logged_in
    async def dashboard(request: Request, session: dict):
        """Hits by sector and category over recent weeks, open leads by deadline, rule precision."""
        today = workflow.today_cst()
        first_week = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=DASHBOARD_WEEKS - 1)
        with store() as s:
            counts = s.hit_counts_since(first_week.isoformat())
            open_leads = s.list_leads(workflow.OPEN_LEAD_STATES, limit=1000)
            verdicts = s.rule_verdicts()
        weeks = [(first_week + dt.timedelta(weeks=i)).isoformat() for i in range(DASHBOARD_WEEKS)]
        by_category: dict[str, list[int]] = {}
        by_sector: dict[str, dict[str, int]] = {}
        for r in counts:
            index = (dt.date.fromisoformat(r["day"]) - first_week).days // 7
            if 0 <= index < DASHBOARD_WEEKS:
                by_category.setdefault(r["category"] or "other", [0] * DASHBOARD_WEEKS)[index] += r["n"]
            sector = by_sector.setdefault(r["sector"] or "—", {})
            sector[r["category"] or "other"] = sector.get(r["category"] or "other", 0) + r["n"]
        buckets = {"overdue": [], "soon": [], "later": []}
        for lead in open_leads:
            clock = lead["decision_due_at"] if lead["state"] in ("filed", "investigating") else lead["due_at"]
            info = deadline_info(clock, today, calendar=lead["state"] in ("filed", "investigating"))
            lead["clock"] = info
            key = "later" if info is None else ("overdue" if info["overdue"] else ("soon" if info["left"] <= 3 else "later"))
            buckets[key].append(lead)
        precision = sorted(
            ({"rule": rule, **rulebench.precision(c), "total": sum(c.values())} for rule, c in verdicts.items()),
            key=lambda r: (-r["total"], r["rule"]),
        )[:30]
        categories = sorted({c for sector in by_sector.values() for c in sector}, key=lambda c: list(CATEGORY_ZH).index(c)
                            if c in CATEGORY_ZH else 99)  # fmt: skip
        return with_session(render("dashboard.html", session=session, weeks=weeks, by_category=by_category,
                                   by_sector=by_sector, categories=categories, buckets=buckets,
                                   precision=precision), session)  # fmt: skip

    async def publish_lead(request: Request):
        """A supervisor publishes a closed lead as a typical case or consumer warning (redacted, audited)."""
        auth = await authorize(request, workflow.APPROVER_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, form = auth
        lead_id = request.path_params["lead_id"]
        kind = str(form.get("kind") or "")
        title = publish.redact(str(form.get("title") or "").strip())[:100]
        summary = publish.redact(str(form.get("summary") or "").strip())[:2000]
        if kind not in publish.KINDS or not title or not summary:
            return refuse(request, session, 400, "请选择发布类型并填写标题和摘要。")
        with store() as s:
            lead = s.get_lead_full(lead_id)
            if not lead:
                return refuse(request, session, 404, "没有这条线索。")
            merchant = s.get_merchant(lead["merchant_id"]) if lead["merchant_id"] else None
            body = publish.body_for(lead, merchant, s.lead_hits_detail(lead_id), host_of)
            try:
                pub_id = s.publish(lead_id, kind, title, summary, body, user["username"],
                                   check=lambda cur: None if cur["state"] == "closed" else "只有已结案的线索可以发布。")
            except DecisionRefused as refused:
                return refuse(request, session, 409, str(refused))
        if wants_json(request):
            return with_session(JSONResponse({"ok": True, "publication": pub_id}), session)
        return with_session(RedirectResponse(f"/public/{pub_id}", status_code=303), session)

    async def public_index(request: Request):
        with store() as s:
            items = s.list_publications()
        return render("public.html", session=None, items=items, kinds=publish.KINDS)

    async def public_item(request: Request):
        pub_id = request.path_params["pub_id"]
        with store() as s:
            item = s.get_publication(pub_id)
        if not item:
            return render("error.html", status=404, session=None, message="没有这条公告。")
        return render("public_item.html", session=None, item=item, kinds=publish.KINDS)

    async def public_feed(request: Request):
        with store() as s:
            items = s.list_publications()
        base = f"{request.url.scheme}://{request.url.netloc}"
        updated = items[0]["published_at"] if items else "1970-01-01T00:00:00.000Z"
        return Response(publish.atom(items, base, updated), media_type="application/atom+xml; charset=utf-8")

    async def rules_add_example(request: Request):
        """A rule author turns a dismissed hit's sentence into a must_not_match case (validated before writing)."""
        auth = await authorize(request, RULE_EDIT_ROLES)
        if isinstance(auth, Response):
            return auth
        session, user, form = auth
        rule_id = str(form.get("rule") or "").strip()[:100]
        example = str(form.get("example") or "")
        try:
            path = await run_in_threadpool(rulebench.write_example, rule_id, example, rulebench.pack_sources())
        except rulebench.ExampleError as exc:
            return refuse(request, session, 409, str(exc))
        with store() as s:
            s.append_audit(user["username"], "rule.example.add", "rule", rule_id,
                           {"must_not_match": example.strip(), "file": Path(path).name})  # fmt: skip
        await run_in_threadpool(rulebench.engine)  # reload now that the pack changed
        if wants_json(request):
            return with_session(JSONResponse({"ok": True, "rule": rule_id}), session)
        return with_session(render("notice.html", session=session, back="/rules/false-positives",
                                   message=f"已将样例加入规则 {rule_id} 的 must_not_match，规则测试全部通过。"), session)

    @logged_in
    async def audit(request: Request, session: dict):
        """The audit log, read-only, for auditors, supervisors and admins."""
        if session.get("role") not in AUDIT_ROLES:
            return render("error.html", status=403, session=session, message="您的角色无权查看审计日志。")
        q = request.query_params
        filters = {k: (q.get(k) or "").strip()[:100] or None for k in ("actor", "action", "object_type", "object_id")}
        before = int(q["before"]) if (q.get("before") or "").isdigit() else None
        with store() as s:
            rows = s.audit_page(**filters, before_id=before, limit=AUDIT_PAGE + 1)
            report = s.verify_audit() if q.get("verify") == "1" else None
        more = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
        query = {k: v for k, v in filters.items() if v}
        return with_session(render("audit.html", session=session, rows=rows, filters=filters, report=report,
                                   more=more, query=query), session)  # fmt: skip

    async def set_lang(request: Request):
        """Choose Chinese or English (a cookie); back to `next` if it is a path of this app."""
        code = request.path_params["code"]
        target = request.query_params.get("next") or "/queue"
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = "/queue"
        response = RedirectResponse(target, status_code=303)
        if code in i18n.LANGS:
            response.set_cookie(i18n.COOKIE, code, httponly=True, samesite="strict", max_age=365 * 86400,
                                secure=HTTPS)  # fmt: skip
        return response

    async def home(request: Request):
        return RedirectResponse("/queue", status_code=303)

    async def not_found(request: Request, _exc):
        """Any path no route matches, an id that is not a number among them (the routes convert
        ids to integers, so a handler never sees one that is not)."""
        return render("error.html", status=404, session=session_of(request), message="没有这个页面。")

    routes = [
        Route("/", home),
        Route("/lang/{code}", set_lang),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", queue),
        Route("/hit/{hit_id:int}", hit_detail),
        Route("/hit/{object_id:int}/export", export, methods=["POST"]),
        Route("/hit/{hit_id:int}/screenshot", hit_screenshot),
        Route("/hit/{hit_id:int}/{action}", decide, methods=["POST"]),
        Route("/bulk", bulk, methods=["POST"]),
        Route("/views", save_view, methods=["POST"]),
        Route("/views/{view_id:int}/delete", delete_view, methods=["POST"]),
        Route("/undo", undo, methods=["POST"]),
        Route("/leads", leads),
        Route("/audit", audit),
        Route("/public", public_index),
        Route("/public/feed.xml", public_feed),
        Route("/public/{pub_id:int}", public_item),
        Route("/dashboard", dashboard),
        Route("/rules", rules_index),
        Route("/rules/try", rules_try, methods=["GET", "POST"]),
        Route("/rules/false-positives", rules_false_positives),
        Route("/rules/examples", rules_add_example, methods=["POST"]),
        Route("/merchants", merchants),
        Route("/merchant/{merchant_id:int}", merchant_detail),
        Route("/lead/{lead_id:int}", lead_detail),
        Route("/lead/{object_id:int}/export", export, methods=["POST"]),
        Route("/lead/{lead_id:int}/publish", publish_lead, methods=["POST"]),
        Route("/lead/{lead_id:int}/{action}", lead_step, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], exception_handlers={404: not_found})


def _bind(host: str, port: int):
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8000, on_ready=None,
          replay_port: int | None = None) -> None:  # fmt: skip
    """Run the review UI with uvicorn until interrupted, and the replay server on a second port.

    The replay port is `replay_port`, or port + 1 (a free one when `port` is 0 or port + 1 is taken).
    """
    import asyncio
    import contextlib

    import uvicorn

    app_sock = _bind(host, port)
    if replay_port is not None:
        replay_sock = _bind(host, replay_port)
    else:
        try:
            replay_sock = _bind(host, port + 1 if port else 0)
        except OSError:  # the next port is taken: any free one will do
            replay_sock = _bind(host, 0)
    bound = app_sock.getsockname()[1]
    secret = security.new_token()
    app = create_app(db_path, secret=secret, replay_port=replay_sock.getsockname()[1])
    replay_app = replay.create_replay_app(db_path, secret, app_port=bound)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    replay_server = uvicorn.Server(uvicorn.Config(replay_app, log_level="warning", access_log=False))
    replay_server.capture_signals = contextlib.nullcontext  # signals stop the app server, which stops this one
    if on_ready is not None:
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            on_ready(host, bound)

        server.startup = startup

    async def run_both():
        replay_task = asyncio.create_task(replay_server.serve(sockets=[replay_sock]))
        try:
            await server.serve(sockets=[app_sock])
        finally:
            replay_server.should_exit = True
            await replay_task

    asyncio.run(run_both())
