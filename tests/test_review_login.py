"""The review UI as a user meets it: a real uvicorn server, a real account, a browser-like client."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from pipelines.store import Store
from tests.conftest import ROOT, run_fangxin


@pytest.fixture()
def review_server(db_path):
    result = run_fangxin("user", "add", "wang", "--role", "inspector", "--password-stdin", "--db", db_path,
                         input="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fangxin.cli", "review", "--port", "0", "--db", db_path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"review UI at (http://127\.0\.0\.1:\d+)/", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def client():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def login(opener, base, username, password, csrf=None):
    page = opener.open(base + "/login").read().decode()
    token = csrf if csrf is not None else re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrf": token}).encode()
    try:
        resp = opener.open(base + "/login", data=data)
        return resp.status, resp.geturl(), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.geturl(), err.read().decode()


def test_user_add_refuses_short_password_and_duplicates(db_path):
    short = run_fangxin("user", "add", "li", "--role", "inspector", "--password-stdin", "--db", db_path, input="123\n")
    assert short.returncode == 2 and "too short" in short.stderr
    ok = run_fangxin("user", "add", "li", "--role", "supervisor", "--password-stdin", "--db", db_path,
                     input="long enough pw\n")
    assert ok.returncode == 0
    again = run_fangxin("user", "add", "li", "--role", "inspector", "--password-stdin", "--db", db_path,
                        input="long enough pw\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    store = Store(db_path)
    try:
        user = store.get_user("li")
        assert user["role"] == "supervisor"
        assert user["password_hash"].startswith("$argon2id$")  # memory-hard hash, never the password
    finally:
        store.close()


def test_login_page_has_the_contract_fields_and_a_strict_csp(review_server):
    resp = urllib.request.urlopen(review_server + "/login")
    page = resp.read().decode()
    assert 'name="username"' in page and 'name="password"' in page
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


def test_wrong_password_is_refused_and_right_one_opens_the_queue(review_server):
    opener = client()
    status, _, page = login(opener, review_server, "wang", "wrong password")
    assert status == 401 and "用户名或密码错误" in page
    status, url, page = login(opener, review_server, "wang", "correct horse battery")
    assert status == 200 and url.endswith("/queue")
    assert "审核队列" in page


def test_login_without_csrf_token_is_refused(review_server):
    status, _, _ = login(client(), review_server, "wang", "correct horse battery", csrf="forged")
    assert status == 403


def test_queue_requires_login(review_server):
    resp = client().open(review_server + "/queue")
    assert resp.geturl().endswith("/login")


def test_ids_that_are_not_numbers_or_not_there_get_a_chinese_404_page(review_server):
    opener = client()
    login(opener, review_server, "wang", "correct horse battery")
    for path, message in [("/hit/abc", "没有这个页面"), ("/lead/1x", "没有这个页面"), ("/merchant/-", "没有这个页面"),
                          ("/no/such/page", "没有这个页面"), ("/hit/999999", "没有这条命中记录"),
                          ("/lead/999999", "没有这条线索")]:
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(review_server + path)
        body = info.value.read().decode()
        assert info.value.code == 404, path
        assert message in body and "返回审核队列" in body, (path, body[:200])


def test_hostile_hit_text_is_escaped_in_the_queue(review_server, db_path):
    store = Store(db_path)
    try:
        run = store.start_run("test", "tester", {})
        hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>最佳'
        store.save_capture(run, {"url": "http://127.0.0.1/x", "final_url": "http://127.0.0.1/x", "status": 200,
                                 "body": hostile.encode(), "fetched_at": "2026-11-26T01:00:00Z",
                                 "fields": {"body": hostile}, "title": hostile, "sector": "other"},
                           [{"rule": "test.hostile", "pack": "t", "pack_version": "1", "category": "absolute_terms",
                             "severity": "high", "confidence": 0.9, "law": "《广告法》第九条", "legal": [],
                             "message": "m", "field": "body", "start": 0, "end": len(hostile), "match": hostile,
                             "excerpt": hostile, "extracted": {}, "exceptions": []}])
    finally:
        store.close()
    opener = client()
    login(opener, review_server, "wang", "correct horse battery")
    page = opener.open(review_server + "/queue").read().decode()
    assert "data-hit-id" in page
    assert "<script>alert(1)</script>" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_hit_detail_marks_the_match_in_its_context_escaped(review_server, db_path):
    store = Store(db_path)
    try:
        run = store.start_run("test", "tester", {})
        body = "<b onmouseover=alert(3)>好货</b> 本店产品全网最佳，欢迎选购"
        start = body.index("最佳")
        store.save_capture(run, {"url": "http://127.0.0.1/y", "final_url": "http://127.0.0.1/y", "status": 200,
                                 "body": body.encode(), "fetched_at": "2026-11-26T01:00:00Z",
                                 "fields": {"body": body}, "title": "t", "sector": "ecommerce"},
                           [{"rule": "ABS-TEST", "pack": "t", "pack_version": "1", "category": "absolute_terms",
                             "severity": "medium", "confidence": 0.9, "law": "《中华人民共和国广告法》第九条第（三）项",
                             "legal": [], "message": "广告使用绝对化用语", "field": "body", "start": start,
                             "end": start + 2, "match": "最佳", "excerpt": body, "extracted": {}, "exceptions": []}])
        hit_id = max(h["id"] for h in store.iter_hits())
    finally:
        store.close()
    opener = client()
    login(opener, review_server, "wang", "correct horse battery")
    page = opener.open(f"{review_server}/hit/{hit_id}").read().decode()
    assert "全网<mark>最佳</mark>，欢迎选购" in page
    assert "&lt;b onmouseover=alert(3)&gt;" in page and "<b onmouseover" not in page
    assert "2026-11-26 09:00:00 +08:00" in page  # capture time shown in China time


def test_live_hit_shows_its_event_time_and_the_events_around_it(review_server, db_path):
    store = Store(db_path)
    try:
        run = store.start_run("live", "tester", {})
        chat = "加我微信私下交易更便宜"
        extracted = {"event_time": "2026-11-26T12:00:05.000Z", "event_offset": 5.0, "event_source": "ws:webcast",
                     "event_id": 1, "events_around": [
                         {"id": 0, "at": "2026-11-26T12:00:01.000Z", "t": 1.0, "field": "chat", "text": "主播好<b>"},
                         {"id": 1, "at": "2026-11-26T12:00:05.000Z", "t": 5.0, "field": "chat", "text": chat}]}
        store.save_capture(run, {"url": "http://127.0.0.1/live/room/1", "status": 200, "body": b"{}",
                                 "fetched_at": "2026-11-26T12:00:00Z", "fields": {"chat": chat}, "render": "live"},
                           [{"rule": "LIVE-PRIVATE-DEAL", "pack": "t", "pack_version": "1", "category": "livestream",
                             "severity": "high", "confidence": 0.9, "law": "《网络直播营销管理办法（试行）》", "legal": [],
                             "message": "诱导私下交易", "field": "chat", "start": 0, "end": len(chat), "match": chat,
                             "excerpt": chat, "extracted": extracted, "exceptions": []}])
        hit_id = max(h["id"] for h in store.iter_hits())
    finally:
        store.close()
    opener = client()
    login(opener, review_server, "wang", "correct horse battery")
    page = opener.open(f"{review_server}/hit/{hit_id}").read().decode()
    assert "事件时间" in page and "2026-11-26 20:00:05 +08:00" in page
    assert 'class="hit-event"' in page and "主播好&lt;b&gt;" in page
