"""Triage over the real review server: decisions, undo, permissions, CSRF, grouping, filters, leads."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse

import pytest

from pipelines.store import Store
from review_ui.app import deadline_info, working_days_left
from review_ui.security import hash_password
from tests.conftest import ROOT
from tests.test_review_login import client, login

PASSWORD = "correct horse battery"
USERS = {"wang": "inspector", "zhao": "supervisor", "sun": "auditor", "qian": "rule_author"}


def seed(db_path: str, pages: list[dict]) -> list[int]:
    """Store one capture per page dict (url, match, rule, category, severity, merchant, sector, fetched_at)."""
    store = Store(db_path)
    try:
        run = store.start_run("test", "tester", {})
        ids = []
        for p in pages:
            body = f"本店{p['match']}，欢迎选购 {p['url']}"
            start = body.index(p["match"])
            capture = {"url": p["url"], "final_url": p["url"], "status": 200, "body": body.encode(),
                       "fetched_at": p.get("fetched_at", "2026-11-26T01:00:00Z"), "fields": {"body": body},
                       "title": "t", "sector": p.get("sector", "ecommerce")}
            if p.get("merchant"):
                capture["merchant"] = {"name": p["merchant"], "domain": urllib.parse.urlsplit(p["url"]).hostname}
            store.save_capture(run, capture, [{
                "rule": p.get("rule", "ABS-BEST"), "pack": "t", "pack_version": "1",
                "category": p.get("category", "absolute_terms"), "severity": p.get("severity", "medium"),
                "confidence": p.get("confidence", 0.9), "law": "《中华人民共和国广告法》第九条第（三）项", "legal": [],
                "message": "m", "field": "body", "start": start, "end": start + len(p["match"]),
                "match": p["match"], "excerpt": body, "extracted": {}, "exceptions": []}])
            ids.append(max(h["id"] for h in store.iter_hits()))
        return ids
    finally:
        store.close()


@pytest.fixture()
def server(db_path):
    store = Store(db_path)
    try:
        pw = hash_password(PASSWORD)
        for name, role in USERS.items():
            store.add_user(name, role, pw, actor="test")
    finally:
        store.close()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fangxin.cli", "review", "--port", "0", "--db", db_path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"review UI at (http://127\.0\.0\.1:\d+)/", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None else "")
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Session:
    """A logged-in user: cookie jar plus the CSRF token from the queue page."""

    def __init__(self, base: str, username: str):
        self.base = base
        self.opener = client()
        status, url, _ = login(self.opener, base, username, PASSWORD)
        assert status == 200 and url.endswith("/queue")
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', self.get("/queue")).group(1)

    def get(self, path: str) -> str:
        return self.opener.open(self.base + path).read().decode()

    def post(self, path: str, fields: dict | None = None, csrf: str | None = None, as_json: bool = True):
        data = dict(fields or {})
        data["csrf"] = self.csrf if csrf is None else csrf
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(data, doseq=True).encode(), method="POST")
        if as_json:
            req.add_header("Accept", "application/json")
        try:
            resp = self.opener.open(req)
            body, status, url = resp.read().decode(), resp.status, resp.geturl()
        except urllib.error.HTTPError as err:
            body, status, url = err.read().decode(), err.code, err.geturl()
        return status, (json.loads(body) if as_json and body.startswith("{") else body), url


def db_rows(db_path: str, sql: str, params: tuple = ()) -> list[tuple]:
    store = Store(db_path)
    try:
        return store.conn.execute(sql, params).fetchall()
    finally:
        store.close()


def hit_state(db_path: str, hit_id: int) -> str:
    return db_rows(db_path, "SELECT state FROM hits WHERE id = ?", (hit_id,))[0][0]


PAGES = [
    {"url": "http://a.shop.test/1", "match": "全网最佳", "merchant": "甲商店", "severity": "high"},
    {"url": "http://b.shop.test/1", "match": "国家级产品", "merchant": "乙商店", "rule": "ABS-NATIONAL"},
    {"url": "http://c.shop.test/1", "match": "独一无二", "merchant": "丙商店", "rule": "ABS-UNIQUE"},
    {"url": "http://d.shop.test/1", "match": "顶级享受", "merchant": "丁商店", "rule": "ABS-TOP"},
]


def test_each_decision_changes_the_database_and_undo_restores_it(server, db_path):
    a, b, c, d = seed(db_path, PAGES)
    wang = Session(server, "wang")
    audit_before = db_rows(db_path, "SELECT COUNT(*) FROM audit_log")[0][0]

    status, data, _ = wang.post(f"/hit/{a}/confirm")
    assert status == 200 and data["ok"] and data["hit_ids"] == [a] and data["lead_id"]
    assert hit_state(db_path, a) == "confirmed"
    assert db_rows(db_path, "SELECT actor, verdict, previous_state FROM decisions WHERE hit_id = ?", (a,)) == [
        ("wang", "confirmed", "new")]
    assert db_rows(db_path, "SELECT lead_id FROM lead_hits WHERE hit_id = ?", (a,)) == [(data["lead_id"],)]

    status, data, _ = wang.post(f"/hit/{b}/false-positive")  # a reason is required
    assert status == 400 and "理由" in data["error"] and hit_state(db_path, b) == "new"
    status, data, _ = wang.post(f"/hit/{b}/false-positive", {"reason": "产品名称中的专有名词"})
    assert status == 200 and hit_state(db_path, b) == "false_positive"
    assert db_rows(db_path, "SELECT note FROM decisions WHERE hit_id = ?", (b,)) == [("产品名称中的专有名词",)]

    status, _, _ = wang.post(f"/hit/{c}/skip")
    assert status == 200 and hit_state(db_path, c) == "ignored"
    status, _, _ = wang.post(f"/hit/{d}/escalate")
    assert status == 200 and hit_state(db_path, d) == "triaged"
    assert db_rows(db_path, "SELECT assignee FROM hits WHERE id = ?", (d,)) == [("role:supervisor",)]

    actions = db_rows(db_path, "SELECT action, object_id FROM audit_log WHERE id > ? AND action = 'hit.state'",
                      (audit_before,))
    assert actions == [("hit.state", str(i)) for i in (a, b, c, d)]
    status, data, _ = wang.post(f"/hit/{a}/skip")  # already decided: undo first
    assert status == 409

    page = wang.get("/queue")
    assert "我的最近决定" in page and "产品名称中的专有名词" in page

    for hit_id in (d, c, b, a):  # newest first
        status, data, _ = wang.post("/undo")
        assert status == 200 and data["hit_ids"] == [hit_id], data
        assert hit_state(db_path, hit_id) == "new"
    assert db_rows(db_path, "SELECT assignee FROM hits WHERE id = ?", (d,)) == [(None,)]
    assert db_rows(db_path, "SELECT COUNT(*) FROM lead_hits WHERE hit_id = ?", (a,)) == [(0,)]
    assert db_rows(db_path, "SELECT state FROM leads") == [("withdrawn",)]
    undo_audit = db_rows(db_path, "SELECT object_id FROM audit_log WHERE action = 'hit.undo' ORDER BY id")
    assert undo_audit == [(str(i),) for i in (d, c, b, a)]
    assert db_rows(db_path, "SELECT COUNT(*) FROM decisions WHERE undo_of IS NOT NULL") == [(4,)]
    status, data, _ = wang.post("/undo")
    assert status == 409 and "没有可撤销" in data["error"]
    store = Store(db_path)
    try:
        assert store.verify_audit().ok
    finally:
        store.close()


def test_undo_reaches_back_ten_decisions_only(server, db_path):
    ids = seed(db_path, [{"url": f"http://shop{i}.test/", "match": "最佳", "merchant": f"店{i}"} for i in range(12)])
    wang = Session(server, "wang")
    for hit_id in ids:
        assert wang.post(f"/hit/{hit_id}/skip")[0] == 200
    for _ in range(10):
        assert wang.post("/undo")[0] == 200
    assert wang.post("/undo")[0] == 409
    assert [hit_state(db_path, i) for i in ids] == ["ignored", "ignored"] + ["new"] * 10


def test_read_only_roles_get_403_and_nothing_changes(server, db_path):
    (a,) = seed(db_path, PAGES[:1])
    for name in ("sun", "qian"):  # auditor, rule author
        who = Session(server, name)
        assert "a</kbd> 确认违法" not in who.get("/queue")
        for action in ("confirm", "skip", "escalate"):
            status, data, _ = who.post(f"/hit/{a}/{action}")
            assert status == 403 and "无权" in data["error"]
        assert who.post(f"/hit/{a}/false-positive", {"reason": "x"})[0] == 403
        assert who.post("/undo")[0] == 403
    assert hit_state(db_path, a) == "new"
    assert db_rows(db_path, "SELECT COUNT(*) FROM decisions") == [(0,)]


def test_forged_or_missing_csrf_token_gets_403(server, db_path):
    (a,) = seed(db_path, PAGES[:1])
    wang = Session(server, "wang")
    assert wang.post(f"/hit/{a}/confirm", csrf="forged")[0] == 403
    assert wang.post(f"/hit/{a}/confirm", csrf="")[0] == 403
    assert wang.post("/undo", csrf="forged")[0] == 403
    status, page, _ = wang.post(f"/hit/{a}/confirm", csrf="forged", as_json=False)
    assert status == 403 and "CSRF" in page
    assert hit_state(db_path, a) == "new" and db_rows(db_path, "SELECT COUNT(*) FROM leads") == [(0,)]
    # no session at all: refused, never a decision
    anonymous = Session.__new__(Session)
    anonymous.base, anonymous.opener, anonymous.csrf = server, client(), "x"
    assert anonymous.post(f"/hit/{a}/confirm")[0] == 401 and hit_state(db_path, a) == "new"


def test_an_escalated_hit_is_decided_by_a_supervisor_only(server, db_path):
    (a,) = seed(db_path, PAGES[:1])
    wang, zhao = Session(server, "wang"), Session(server, "zhao")
    assert wang.post(f"/hit/{a}/escalate")[0] == 200
    assert "已上报主管" in zhao.get("/queue?assignee=role:supervisor")
    status, data, _ = wang.post(f"/hit/{a}/confirm")
    assert status == 403 and "主管" in data["error"]
    status, data, _ = zhao.post(f"/hit/{a}/confirm")
    assert status == 200 and hit_state(db_path, a) == "confirmed"
    assert db_rows(db_path, "SELECT actor, previous_state FROM decisions WHERE hit_id = ? ORDER BY id DESC LIMIT 1",
                   (a,)) == [("zhao", "triaged")]


def test_detail_page_form_decides_and_opens_the_next_item(server, db_path):
    a, b = seed(db_path, PAGES[:2])  # a is high severity: first in the queue
    wang = Session(server, "wang")
    page = wang.get(f"/hit/{a}")
    assert f'action="/hit/{a}/confirm"' in page
    status, _, url = wang.post(f"/hit/{a}/skip", {"from": "detail"}, as_json=False)
    assert status == 200 and url.endswith(f"/hit/{b}")
    assert hit_state(db_path, a) == "ignored"
    auditor_page = Session(server, "sun").get(f"/hit/{b}")
    assert f'action="/hit/{b}/confirm"' not in auditor_page and f'action="/hit/{b}/skip"' not in auditor_page


def test_queue_groups_one_claim_on_many_pages_and_decides_the_group(server, db_path):
    ids = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "全网最佳", "merchant": "甲商店"},
        {"url": "http://a.shop.test/2", "match": "全网 最佳", "merchant": "甲商店"},  # same claim, normalised
        {"url": "http://a.shop.test/3", "match": "全网最佳", "merchant": "甲商店"},
        {"url": "http://b.shop.test/1", "match": "全网最佳", "merchant": "乙商店"},  # another merchant
    ])
    wang = Session(server, "wang")
    page = wang.get("/queue")
    rows = re.findall(r'<tr data-hit-id="(\d+)" data-count="(\d+)"', page)
    assert rows == [(str(ids[0]), "3"), (str(ids[3]), "1")]
    assert "同一宣传共 3 处，3 个页面" in page
    status, data, _ = wang.post(f"/hit/{ids[0]}/confirm")
    assert status == 200 and data["hit_ids"] == ids[:3]
    assert [hit_state(db_path, i) for i in ids] == ["confirmed"] * 3 + ["new"]
    assert db_rows(db_path, "SELECT COUNT(DISTINCT batch_id), COUNT(*) FROM decisions") == [(1, 3)]
    assert wang.post("/undo")[2] and [hit_state(db_path, i) for i in ids] == ["new"] * 4


def test_queue_order_and_filters(server, db_path):
    ids = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "最佳", "severity": "low", "category": "absolute_terms",
         "sector": "ecommerce", "fetched_at": "2026-11-20T01:00:00Z"},
        {"url": "http://m.health.test/1", "match": "根治", "severity": "high", "category": "medical_health",
         "rule": "MED-CURE", "sector": "health", "fetched_at": "2026-11-24T01:00:00Z", "confidence": 0.5},
        {"url": "http://x.edu.test/1", "match": "包过", "severity": "high", "category": "education",
         "rule": "EDU-PASS", "sector": "education", "fetched_at": "2026-11-24T01:00:00Z", "confidence": 0.95},
        {"url": "http://b.shop.test/1", "match": "第一", "severity": "medium", "category": "absolute_terms",
         "rule": "ABS-FIRST", "sector": "ecommerce", "fetched_at": "2026-11-25T17:00:00Z"},
    ])
    wang = Session(server, "wang")

    def shown(query: str = "") -> list[int]:
        return [int(i) for i in re.findall(r'<tr data-hit-id="(\d+)"', wang.get("/queue" + query))]

    # severity first, then due date (from capture time), then confidence
    assert shown() == [ids[2], ids[1], ids[3], ids[0]]
    assert shown("?category=absolute_terms") == [ids[3], ids[0]]
    assert shown("?severity=high") == [ids[2], ids[1]]
    assert shown("?sector=health") == [ids[1]]
    assert shown("?site=shop.test") == [ids[3], ids[0]]
    assert shown("?site=a.shop.test") == [ids[0]]
    assert shown("?since=2026-11-24&until=2026-11-25") == [ids[2], ids[1]]
    assert shown("?since=2026-11-26") == [ids[3]]  # 17:00Z on the 25th is the 26th in China time
    assert shown("?site=%27%20OR%201%3D1%20--") == []  # bound parameters: a quote is just text
    assert shown("?category=bogus&since=not-a-date") == shown()  # unknown filter values are dropped
    wang.post(f"/hit/{ids[2]}/skip")
    assert ids[2] not in shown() and shown("?state=ignored") == [ids[2]]
    assert set(shown("?state=all")) == set(ids)


def test_confirming_creates_then_extends_the_merchants_lead_with_its_deadline(server, db_path):
    a, b, c = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "全网最佳", "merchant": "甲商店"},
        {"url": "http://a.shop.test/2", "match": "国家级", "merchant": "甲商店", "rule": "ABS-NATIONAL"},
        {"url": "http://b.shop.test/1", "match": "全网最佳", "merchant": "乙商店"},
    ])
    wang = Session(server, "wang")
    lead_a = wang.post(f"/hit/{a}/confirm")[1]["lead_id"]
    assert wang.post(f"/hit/{b}/confirm")[1]["lead_id"] == lead_a  # same merchant: the open lead grows
    lead_c = wang.post(f"/hit/{c}/confirm")[1]["lead_id"]
    assert lead_c != lead_a
    assert db_rows(db_path, "SELECT hit_id FROM lead_hits WHERE lead_id = ? ORDER BY hit_id", (lead_a,)) == [
        (a,), (b,)]
    actions = [r[0] for r in db_rows(db_path, "SELECT action FROM audit_log WHERE object_type = 'lead' ORDER BY id")]
    assert actions == ["lead.create", "lead.extend", "lead.create"]

    due = db_rows(db_path, "SELECT due_at FROM leads WHERE id = ?", (lead_a,))[0][0]
    listing = wang.get("/leads")
    assert f'data-lead-id="{lead_a}"' in listing and "甲商店：涉嫌绝对化用语广告" in listing
    assert due in listing and "剩余 15 个工作日" in listing
    detail = wang.get(f"/lead/{lead_a}")
    assert f'href="/hit/{a}"' in detail and f'href="/hit/{b}"' in detail and f'href="/hit/{c}"' not in detail
    assert "第十八条" in detail and "剩余 15 个工作日" in detail

    store = Store(db_path)
    try:
        late = store.create_lead("逾期线索", [], "test", due_at="2026-01-05")
    finally:
        store.close()
    assert re.search(r'class="overdue">核查 2026-01-05<br>已超期 \d+ 个工作日', wang.get("/leads"))
    assert 'class="overdue"' in wang.get(f"/lead/{late}")
    with pytest.raises(urllib.error.HTTPError) as missing:
        wang.opener.open(server + "/lead/99999")
    assert missing.value.code == 404
    assert "甲商店" in Session(server, "sun").get("/leads")  # an auditor may read


def test_working_day_countdown():
    fri, mon = dt.date(2026, 11, 27), dt.date(2026, 11, 30)
    assert working_days_left(mon, fri) == 1
    assert working_days_left(fri, fri) == 0
    assert working_days_left(fri, mon) == -1
    assert working_days_left(dt.date(2026, 12, 18), dt.date(2026, 11, 27)) == 15
    assert deadline_info("2026-11-26", dt.date(2026, 11, 30)) == {
        "due": "2026-11-26", "left": -2, "overdue": True, "label": "已超期 2 个工作日"}
    assert deadline_info(None) is None and deadline_info("garbage") is None


def test_bulk_action_needs_a_reason_checks_each_item_and_reports_the_skipped(server, db_path):
    a, b, c, d = seed(db_path, PAGES)
    wang, zhao = Session(server, "wang"), Session(server, "zhao")
    assert wang.post(f"/hit/{c}/skip")[0] == 200  # already decided
    assert wang.post(f"/hit/{d}/escalate")[0] == 200  # only a supervisor may decide it now

    status, data, _ = wang.post("/bulk", {"action": "false-positive", "hit": [a, b]})
    assert status == 400 and "理由" in data["error"]
    assert Session(server, "sun").post("/bulk", {"action": "skip", "reason": "r", "hit": [a]})[0] == 403
    assert wang.post("/bulk", {"action": "skip", "reason": "r", "hit": [a]}, csrf="forged")[0] == 403

    status, data, _ = wang.post("/bulk", {"action": "false-positive", "reason": "示例页面", "hit": [a, b, c, d, 999]})
    assert status == 200 and [x["hit_id"] for x in data["applied"]] == [a, b]
    assert {x["hit_id"]: x["reason"] for x in data["skipped"]} == {
        c: "该命中已有结论；如需更改，请先撤销。", d: "该命中已上报主管，只能由主管决定。", 999: "没有这条命中记录。"}
    assert [hit_state(db_path, i) for i in (a, b)] == ["false_positive"] * 2
    assert db_rows(db_path, "SELECT COUNT(DISTINCT batch_id) FROM decisions WHERE hit_id IN (?, ?)", (a, b)) == [(1,)]

    # the HTML form reports the same way, and the supervisor may decide the escalated hit
    status, page, _ = zhao.post("/bulk", {"action": "confirm", "reason": "证据充分", "hit": [c, d]}, as_json=False)
    assert status == 200 and "已处理 1 项" in page and "跳过 1 项" in page
    assert f'data-skipped-id="{c}"' in page and hit_state(db_path, d) == "confirmed"

    assert wang.post("/undo")[1]["hit_ids"] == [a, b]  # a bulk action is undone as one
    assert [hit_state(db_path, i) for i in (a, b)] == ["new", "new"]


def test_audit_log_is_readable_by_auditors_only_and_verifies_its_chain(server, db_path):
    (a,) = seed(db_path, [{"url": "http://a.shop.test/1", "match": "<b>最佳</b>", "merchant": "甲商店"}])
    wang = Session(server, "wang")
    wang.post(f"/hit/{a}/false-positive", {"reason": "<script>alert(1)</script>专有名词"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        wang.opener.open(server + "/audit")
    assert refused.value.code == 403 and "审计日志" not in wang.get("/queue").split("<main>")[0]
    sun = Session(server, "sun")
    assert 'href="/audit"' in sun.get("/queue")
    page = sun.get("/audit?object_type=hit")
    assert f'<a href="/hit/{a}">命中 #{a}</a>' in page and "hit.state" in page and "user.add" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;专有名词" in page and "<script>alert(1)" not in page
    assert "哈希链完整" in sun.get("/audit?verify=1")
    assert "专有名词" in wang.get(f"/hit/{a}") and "审核记录" in wang.get(f"/hit/{a}")


def test_logout_needs_the_csrf_token(server):
    wang = Session(server, "wang")
    status, page, _ = wang.post("/logout", csrf="forged", as_json=False)
    assert status == 403
    assert "审核队列" in wang.get("/queue")  # still logged in
    status, page, url = wang.post("/logout", as_json=False)
    assert url.endswith("/login")


def test_saved_views_are_per_user_and_revalidated(server, db_path):
    seed(db_path, PAGES)
    wang, zhao = Session(server, "wang"), Session(server, "zhao")
    status, _, url = wang.post("/views", {"name": "严重违法", "query": "severity=high&category=bogus&x=<b>"},
                               as_json=False)
    assert status == 200 and url.endswith("/queue?severity=high")
    page = wang.get("/queue")
    assert '<a href="/queue?severity=high">严重违法</a>' in page
    assert "严重违法" not in zhao.get("/queue")
    assert db_rows(db_path, "SELECT username, query FROM saved_views") == [("wang", "severity=high")]
    view_id = db_rows(db_path, "SELECT id FROM saved_views")[0][0]
    assert zhao.post(f"/views/{view_id}/delete")[0] == 404  # not hers
    assert wang.post("/views", {"name": "", "query": ""})[0] == 400
    assert wang.post("/views", {"name": "x", "query": ""}, csrf="forged")[0] == 403
    assert wang.post(f"/views/{view_id}/delete", as_json=False)[0] == 200
    assert db_rows(db_path, "SELECT COUNT(*) FROM saved_views") == [(0,)]
    assert [r[0] for r in db_rows(db_path, "SELECT action FROM audit_log WHERE object_type = 'view'")] == [
        "view.save", "view.delete"]


def test_unknown_severities_are_queued_after_the_known_ones(db_path):
    ids = seed(db_path, [
        {"url": "http://a.test/1", "match": "甲", "severity": "critical", "rule": "R1"},
        {"url": "http://a.test/2", "match": "乙", "severity": "low", "rule": "R2"},
        {"url": "http://a.test/3", "match": "丙", "severity": "", "rule": "R3"},
        {"url": "http://a.test/4", "match": "丁", "severity": "zzz", "rule": "R4"},
        {"url": "http://a.test/5", "match": "戊", "severity": "high", "rule": "R5"},
    ])
    store = Store(db_path)
    try:
        store.conn.execute("UPDATE hits SET severity = NULL WHERE id = ?", (ids[2],))
        shown = [g["id"] for g in store.queue_groups()]
    finally:
        store.close()
    assert shown[:2] == [ids[4], ids[1]] and sorted(shown[2:]) == sorted([ids[0], ids[2], ids[3]])


def test_supervisor_sees_the_escalated_queue_link_and_filter_chips(server, db_path):
    a, b = seed(db_path, PAGES[:2])
    wang, zhao = Session(server, "wang"), Session(server, "zhao")
    wang.post(f"/hit/{b}/escalate")
    assert "上报给主管的命中" not in wang.get("/queue")
    page = zhao.get("/queue")
    assert 'href="/queue?assignee=role%3Asupervisor"' in page
    escalated = zhao.get("/queue?assignee=role%3Asupervisor")
    assert re.findall(r'<tr data-hit-id="(\d+)"', escalated) == [str(b)] and "已上报主管</span>" in escalated
    merchant_id = db_rows(db_path, "SELECT merchant_id FROM hits WHERE id = ?", (a,))[0][0]
    filtered = wang.get(f"/queue?merchant={merchant_id}")
    assert re.findall(r'<tr data-hit-id="(\d+)"', filtered) == [str(a)] and f"商家 #{merchant_id}" in filtered


def test_english_is_selectable_and_chinese_is_the_default(server, db_path):
    (a,) = seed(db_path, PAGES[:1])
    wang = Session(server, "wang")
    page = wang.get("/queue")
    assert '<html lang="zh-CN">' in page and "审核队列" in page and 'href="/lang/en"' in page
    resp = wang.opener.open(server + "/lang/en?next=/queue%3Fstate%3Dall")
    assert resp.geturl().endswith("/queue?state=all")
    page = resp.read().decode()
    assert '<html lang="en">' in page and "<h1>Queue <small>1 groups" in page and "Confirm violation" in page
    assert "Escalated to supervisors" not in page and 'href="/lang/zh"' in page
    status, data, _ = wang.post(f"/hit/{a}/false-positive")
    assert status == 400 and data["error"] == "A false positive needs a reason."
    status, data, _ = wang.post(f"/hit/{a}/skip")
    assert data["state_label"] == "skipped" and data["message"] == "skipped"
    assert wang.opener.open(server + "/lang/zh?next=//evil.example/").geturl() == server + "/queue"
    assert "审核队列" in wang.get("/queue")
