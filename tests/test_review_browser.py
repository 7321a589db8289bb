"""The review UI in real Chromium: log in and triage with the keyboard only, with hostile hits on the page.

Every browser dialog and console error is recorded: a hostile hit that ran
script (alert) or a Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_review_triage import PASSWORD, db_rows, hit_state, seed, server  # noqa: F401 - fixture

pytest.importorskip("playwright")

HOSTILE = '<img src=x onerror=alert(1)><script>alert(2)</script>最佳'


@pytest.fixture()
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    from crawlers.browser import BrowserNotFound, launch_options

    try:
        options = launch_options()
    except BrowserNotFound as exc:
        pytest.skip(str(exc))
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(**options)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            yield page, problems
        finally:
            browser.close()


def artefact_dir(tmp_path: Path) -> Path:
    """Screenshots go to $FANGXIN_TEST_ARTEFACTS if set, else the test's temporary folder."""
    out = Path(os.environ.get("FANGXIN_TEST_ARTEFACTS") or tmp_path) / "review"
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_keyboard_only_triage_in_chromium(server, db_path, browser_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page, problems = browser_page
    shots = artefact_dir(tmp_path)
    ids = seed(db_path, [
        {"url": "http://a.shop.test/1", "match": "全网最佳", "merchant": "甲商店", "severity": "high"},
        {"url": "http://b.shop.test/1", "match": HOSTILE, "merchant": "乙商店", "severity": "high",
         "rule": "ABS-HOSTILE", "confidence": 0.5},
        {"url": "http://c.shop.test/1", "match": "国家级", "merchant": "丙商店", "severity": "medium"},
        {"url": "http://d.shop.test/1", "match": "顶级", "merchant": "丁商店", "severity": "low"},
    ])

    # log in with the keyboard: the user name field has autofocus
    page.goto(server + "/login")
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type("wang")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/queue")
    rows = page.locator("tr[data-hit-id]")
    expect(rows).to_have_count(4)
    assert rows.first.get_attribute("data-hit-id") == str(ids[0])
    expect(rows.first).to_have_class("sev-high selected")
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    page.screenshot(path=str(shots / "queue-help.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()

    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")

    status = page.locator("#status")
    page.keyboard.press("a")  # confirm the first; the next row is selected by itself
    expect(status).to_contain_text("已确认违法")
    expect(rows).to_have_count(3)
    expect(page.locator(f'tr[data-hit-id="{ids[1]}"]')).to_have_attribute("aria-selected", "true")
    assert hit_state(db_path, ids[0]) == "confirmed"
    assert db_rows(db_path, "SELECT COUNT(*) FROM lead_hits WHERE hit_id = ?", (ids[0],)) == [(1,)]

    page.keyboard.press("x")  # false positive: the dialog asks for a reason
    dialog = page.locator("#fp-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Enter")  # empty reason is refused in the dialog
    expect(page.locator("#fp-error")).to_contain_text("请填写误报理由")
    page.keyboard.type("测试页面中的示例文字")
    page.screenshot(path=str(shots / "false-positive-dialog.png"))
    page.keyboard.press("Enter")
    expect(status).to_contain_text("误报")
    assert hit_state(db_path, ids[1]) == "false_positive"
    assert db_rows(db_path, "SELECT note FROM decisions WHERE hit_id = ?", (ids[1],)) == [("测试页面中的示例文字",)]

    page.keyboard.press("s")
    expect(status).to_contain_text("已跳过")
    assert hit_state(db_path, ids[2]) == "ignored"
    page.keyboard.press("e")
    expect(status).to_contain_text("已上报主管")
    assert hit_state(db_path, ids[3]) == "triaged"
    expect(rows).to_have_count(0)

    page.keyboard.press("u")  # undo reloads the queue with the restored item
    expect(status).to_contain_text("已撤销")
    assert hit_state(db_path, ids[3]) == "new"
    expect(rows).to_have_count(1)
    page.keyboard.press("u")
    expect(rows).to_have_count(2)
    assert hit_state(db_path, ids[2]) == "new"
    expect(rows.first).to_have_attribute("data-hit-id", str(ids[2]))  # medium before low

    expect(rows.first).to_have_attribute("aria-selected", "true")  # the reloaded page's script is running
    page.keyboard.press("Enter")  # open the selected hit's detail page
    page.wait_for_url(f"**/hit/{ids[2]}")
    page.screenshot(path=str(shots / "hit.png"), full_page=True)

    page.goto(server + f"/hit/{ids[1]}")  # the hostile hit's detail page
    expect(page.locator("section.claim mark")).to_contain_text("<script>alert(2)</script>")
    page.goto(server + "/leads")
    expect(page.locator("tr[data-lead-id]")).to_have_count(1)
    page.screenshot(path=str(shots / "leads.png"), full_page=True)

    assert problems == []


def test_archived_hostile_page_replays_sandboxed_without_running_or_fetching(server, db_path, browser_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    from tests.test_review_replay import seed_archived

    page, problems = browser_page
    hit_id = seed_archived(db_path)
    failed: dict[str, str] = {}
    page.on("requestfailed", lambda r: failed.__setitem__(r.url, r.failure or ""))
    responses: list[str] = []
    page.on("response", lambda r: responses.append(r.url))
    page.goto(server + "/login")
    page.fill("input[name=username]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/queue")
    page.goto(f"{server}/hit/{hit_id}")
    frame = page.frame_locator("iframe.replay")
    expect(frame.locator("body")).to_contain_text("本店产品全网最佳")
    expect(page.locator("img.shot")).to_be_visible()
    page.screenshot(path=str(artefact_dir(tmp_path) / "hit-replay.png"), full_page=True)
    frame.locator("a").click()  # a javascript: link inside the sandbox does nothing
    page.wait_for_timeout(300)
    assert not [p for p in problems if p.startswith(("dialog", "pageerror"))], problems
    # the only console errors are the replay frame's own refusals (sandbox, CSP)
    assert all("/capture/" in p or "Content Security Policy" in p for p in problems), problems
    # the live site is never contacted: the replay's CSP blocks the page's own resources
    assert not [u for u in responses if "merchant.test" in u]
    assert {u: f for u, f in failed.items() if "merchant.test" in u} == {
        "http://merchant.test/track.gif": "csp"}


HOSTILE_PAGES = ("/shop/item/1107.html", "/shop/seller/sugou.html", "/shop/list/beauty/3.html")


def login_as(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/queue")


def test_crawled_hostile_pages_bulk_lead_filing_and_export_in_chromium(  # noqa: PLR0915
        server, db_path, browser_page, sandbox_url, tmp_path):  # noqa: F811
    import io
    import zipfile

    from playwright.sync_api import expect

    from tests.conftest import run_fangxin

    page, problems = browser_page
    shots = artefact_dir(tmp_path)
    urls = [a for p in HOSTILE_PAGES for a in ("--url", sandbox_url + p)]
    crawl = run_fangxin("crawl", *urls, "--db", db_path)
    assert crawl.returncode == 0, crawl.stderr
    hits = db_rows(db_path, "SELECT id, state FROM hits ORDER BY id")
    assert len(hits) >= 2

    # hostile crawled content in the queue and on every hit page (with its sandboxed replay): nothing runs
    login_as(page, server, "wang")
    rows = page.locator("tr[data-hit-id]")
    expect(rows.first).to_have_attribute("aria-selected", "true")
    page.screenshot(path=str(shots / "queue-crawled.png"), full_page=True)
    for hit_id, _ in hits:
        page.goto(f"{server}/hit/{hit_id}")
        expect(page.frame_locator("iframe.replay").locator("body")).to_contain_text("放心购商城")
    page.locator("iframe.replay").screenshot(path=str(shots / "replay-crawled.png"))
    page.screenshot(path=str(shots / "hit-crawled.png"), full_page=True)
    assert not [p for p in problems if p.startswith(("dialog", "pageerror"))], problems
    assert all("/capture/" in p or "Content Security Policy" in p for p in problems), problems
    problems.clear()

    # bulk: mark the first row with m, skip it with a reason, then undo the bulk as one
    page.goto(server + "/queue")
    expect(rows.first).to_have_attribute("aria-selected", "true")
    first = int(rows.first.get_attribute("data-hit-id"))
    page.keyboard.press("m")
    expect(rows.first.locator("input[type=checkbox]")).to_be_checked()
    page.select_option("form.bulk select[name=action]", "skip")
    page.fill("form.bulk input[name=reason]", "批量测试")
    page.click("form.bulk button[type=submit]")
    expect(page.locator("h1")).to_contain_text("批量处理结果")
    expect(page.locator("p[role=status]")).to_contain_text("已处理 1 项")
    assert hit_state(db_path, first) == "ignored"
    page.screenshot(path=str(shots / "bulk-result.png"), full_page=True)
    page.click("text=整体撤销本次批量处理")
    page.wait_for_url("**/queue")
    assert hit_state(db_path, first) == "new"

    # confirm with the keyboard: the hit joins a new lead for its merchant
    expect(rows.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("a")
    expect(page.locator("#status")).to_contain_text("已确认违法")
    (lead_id,) = db_rows(db_path, "SELECT lead_id FROM lead_hits WHERE hit_id = ?", (first,))[0]
    page.goto(f"{server}/lead/{lead_id}")
    page.screenshot(path=str(shots / "lead.png"), full_page=True)
    page.click("form[data-step=verify] button")
    expect(page.locator("h1 small")).to_have_text("核查")
    form = page.locator("form[data-step=request-filing]")
    form.locator("input[name=basis]").fill("《中华人民共和国广告法》第九条、第五十七条")
    form.locator("select[name=officer]").nth(0).select_option("wang")
    form.locator("select[name=officer]").nth(1).select_option("zhao")
    form.locator("input[name=reason]").fill("证据确凿，申请立案")
    form.locator("button").click()
    expect(page.locator("dd.pending")).to_contain_text("待主管审批")
    assert db_rows(db_path, "SELECT state FROM leads WHERE id = ?", (lead_id,)) == [("verifying",)]
    assert page.locator("form[data-step=approve-filing]").count() == 0  # not for the requester

    # a supervisor approves: 立案 with two officers and the 90-day decision clock
    page.click("header form button")  # 退出
    page.wait_for_url("**/login")
    login_as(page, server, "zhao")
    page.goto(f"{server}/lead/{lead_id}")
    page.locator("form[data-step=approve-filing] input[name=reason]").fill("同意立案")
    page.click("form[data-step=approve-filing] button")
    expect(page.locator("h1 small")).to_have_text("立案")
    expect(page.locator("body")).to_contain_text("剩余 90 天")
    assert db_rows(db_path, "SELECT state, officers FROM leads WHERE id = ?", (lead_id,)) == [
        ("filed", '["wang", "zhao"]')]
    page.screenshot(path=str(shots / "lead-filed.png"), full_page=True)

    # export the lead's evidence bundle from the UI
    with page.expect_download() as download:
        page.click("form.export button")
    bundle = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))  # noqa: SIM115
    assert "manifest.json" in bundle.namelist() and any(n.endswith(".warc.gz") for n in bundle.namelist())
    assert db_rows(db_path, "SELECT actor FROM audit_log WHERE action = 'evidence.export'") == [("zhao",)]
    assert problems == []
