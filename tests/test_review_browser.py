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
