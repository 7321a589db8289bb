"""Plan crawls of the sandbox web in static, browser and auto modes (each crawl a `fangxin crawl` process)."""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest

from tests.conftest import POLITE_FAST, run_fangxin


def crawl(tmp_path, sandbox_url, body: str, name: str = "t", db: str | None = None, *extra: str):
    plan = tmp_path / f"{name}.yaml"
    plan.write_text(f"name: {name}\n" + textwrap.dedent(body) + POLITE_FAST, encoding="utf-8")
    db = db or str(tmp_path / "fangxin.db")
    result = run_fangxin("crawl", str(plan), "--db", db, *extra, env={"SANDBOX": sandbox_url}, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return db, result


def rows(db: str, sql: str, *params):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def static_crawl(sandbox_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("static")
    db, result = crawl(tmp, sandbox_url, """
        sector: ecommerce
        seeds:
          - ${SANDBOX}/
          - ${SANDBOX}/shop/private/
          - ${SANDBOX}/enc/gbk.html
          - ${SANDBOX}/big/catalog.html
          - ${SANDBOX}/shop/files/license-xinghe.pdf
          - ${SANDBOX}/calendar/2026/11
        links:
          deny: [/mall/, /static/, /live/]
          limits: {/calendar/: 3}
        sampling: {max_pages: 60, max_depth: 2}
        render: static
        browser: {screenshots: hits}
        limits: {max_bytes: 200000}
        """)
    return {"db": db, "base": sandbox_url, "stderr": result.stderr}


def test_static_fields_hits_and_merchant(static_crawl):
    db, base = static_crawl["db"], static_crawl["base"]
    caps = rows(db, "SELECT * FROM captures WHERE url LIKE ?", base + "/shop/item/%")
    assert caps, "no product page captured"
    assert all(c["render"] == "static" and c["status"] == 200 for c in caps)
    assert any(c["merchant_id"] for c in caps)
    hits = rows(db, "SELECT h.*, c.url FROM hits h JOIN captures c ON c.id = h.capture_id")
    assert hits
    assert "absolute_terms" in {h["category"] for h in hits}


def test_robots_txt_obeyed(static_crawl):
    urls = [r["url"] for r in rows(static_crawl["db"], "SELECT url FROM captures")]
    assert not [u for u in urls if "/shop/private/" in u or "/admin/" in u]


def test_gbk_page_decoded(static_crawl):
    (cap,) = rows(static_crawl["db"], "SELECT * FROM captures WHERE url = ?", static_crawl["base"] + "/enc/gbk.html")
    assert cap["encoding"].lower() in ("gbk", "gb18030", "cp936")
    assert "湖南特产销量第一" in cap["text"]
    assert any(h["match"] for h in rows(static_crawl["db"], "SELECT match FROM hits WHERE capture_id = ?", cap["id"]))


def test_calendar_trap_cut_off(static_crawl):
    cal = rows(static_crawl["db"], "SELECT url FROM captures WHERE url LIKE '%/calendar/%'")
    assert 1 <= len(cal) <= 3


def test_oversized_page_cut_and_non_html_skipped(static_crawl):
    base = static_crawl["base"]
    (big,) = rows(static_crawl["db"], "SELECT * FROM captures WHERE url = ?", base + "/big/catalog.html")
    assert big["truncated"] == 1 and big["body_length"] <= 200000 + 65536
    (pdf,) = rows(static_crawl["db"], "SELECT * FROM captures WHERE url LIKE '%license-xinghe.pdf'")
    assert pdf["error"] and "HTML" in pdf["error"]
    assert not rows(static_crawl["db"], "SELECT id FROM hits WHERE capture_id = ?", pdf["id"])


@pytest.mark.browser
def test_static_pages_with_hits_get_a_screenshot(static_crawl):
    db = static_crawl["db"]
    with_hits = rows(db, "SELECT DISTINCT c.* FROM captures c JOIN hits h ON h.capture_id = c.id WHERE c.truncated = 0")
    assert with_hits and all(c["screenshot_sha256"] for c in with_hits)
    clean = rows(db, "SELECT * FROM captures c WHERE NOT EXISTS (SELECT 1 FROM hits h WHERE h.capture_id = c.id)")
    assert clean and not any(c["screenshot_sha256"] for c in clean)


def test_progress_line_and_summary(static_crawl):
    assert "pages/s" in static_crawl["stderr"] and "完成 done:" in static_crawl["stderr"]


def test_recrawl_unchanged_recorded_as_seen(static_crawl, tmp_path):
    db = static_crawl["db"]
    before = rows(db, "SELECT count(*) n FROM captures")[0]["n"]
    hits_before = rows(db, "SELECT count(*) n FROM hits")[0]["n"]
    crawl(tmp_path, static_crawl["base"], """
        sector: ecommerce
        seeds: [${SANDBOX}/, ${SANDBOX}/enc/gbk.html]
        sampling: {max_pages: 2, max_depth: 0}
        render: static
        """, db=db)
    assert rows(db, "SELECT count(*) n FROM captures")[0]["n"] == before
    assert rows(db, "SELECT count(*) n FROM hits")[0]["n"] == hits_before
    assert rows(db, "SELECT count(*) n FROM captures_seen")[0]["n"] >= 2


@pytest.mark.browser
def test_browser_mode_renders_script_page(sandbox_url, tmp_path):
    db, _ = crawl(tmp_path, sandbox_url, """
        sector: ecommerce
        seeds: [${SANDBOX}/js/app.html, ${SANDBOX}/shop/item/1001.html]
        sampling: {max_pages: 2, max_depth: 0}
        render: browser
        browser: {context_pages: 1, restart_after: 1}
        """)
    caps = {c["url"].rsplit("/", 1)[-1]: c for c in rows(db, "SELECT * FROM captures")}
    assert caps["app.html"]["render"] == "browser"
    assert "国家级科研团队" in caps["app.html"]["text"]
    assert caps["app.html"]["screenshot_sha256"]
    assert rows(db, "SELECT count(*) n FROM hits WHERE capture_id = ?", caps["app.html"]["id"])[0]["n"] >= 2


@pytest.mark.browser
def test_auto_mode_renders_only_script_pages(sandbox_url, tmp_path):
    db, _ = crawl(tmp_path, sandbox_url, """
        sector: ecommerce
        seeds: [${SANDBOX}/js/app.html, ${SANDBOX}/enc/gbk.html]
        sampling: {max_pages: 2, max_depth: 0}
        render: auto
        """)
    caps = {c["url"].rsplit("/", 1)[-1]: c for c in rows(db, "SELECT * FROM captures")}
    assert caps["app.html"]["render"] == "browser" and "全网最低价" in caps["app.html"]["text"]
    assert caps["gbk.html"]["render"] == "static"
    assert len(rows(db, "SELECT id FROM captures WHERE url LIKE '%app.html'")) == 1


def test_detail_sample_is_reproducible(sandbox_url, tmp_path):
    body = """
        sector: ecommerce
        seeds: [${SANDBOX}/shop/]
        links:
          follow: ['/shop/list/[a-z]+/\\d+\\.html$']
          detail: ['/shop/item/\\d+\\.html$']
        sampling: {max_pages: 40, max_depth: 3, detail_sample: 3, seed: SEED}
        render: static
        browser: {screenshots: none}
        """
    picked = []
    for i, seed in enumerate((7, 7, 8)):
        db, _ = crawl(tmp_path, sandbox_url, body.replace("SEED", str(seed)), name=f"s{i}",
                      db=str(tmp_path / f"s{i}.db"))
        picked.append(sorted(r["url"] for r in rows(db, "SELECT url FROM captures WHERE url LIKE '%/shop/item/%'")))
    assert len(picked[0]) == 3
    assert picked[0] == picked[1]
    assert picked[0] != picked[2]


@pytest.mark.browser
def test_browser_pages_reused_across_recycling_with_our_user_agent(sandbox_url, tmp_path):
    """Pages are navigated again within a context (crawlers.handler); contexts and Chromium are
    recycled on schedule; every page is rendered once and the WARC request record carries the
    plan's user agent, which travels on the browser context instead of per-request routing."""
    from urllib.parse import unquote

    from warcio.archiveiterator import ArchiveIterator

    db, _ = crawl(tmp_path, sandbox_url, """
        sector: ecommerce
        seeds: [""" + ", ".join(f"${{SANDBOX}}/mall/p/{n}.html" for n in range(1, 13)) + """]
        sampling: {max_pages: 12, max_depth: 0}
        render: browser
        browser: {context_pages: 5, restart_after: 10, max_pages: 2, screenshots: none}
        """)
    caps = rows(db, "SELECT url, render, text FROM captures")
    assert len(caps) == 12 and len({c["url"] for c in caps}) == 12
    assert all(c["render"] == "browser" and "现价" in c["text"] for c in caps)
    stats = json.loads(rows(db, "SELECT stats FROM crawl_runs")[0]["stats"])
    assert stats["fangxin/browser_contexts_recycled"] >= 2 and stats["fangxin/browser_restarts"] >= 1
    assert stats["playwright/page_count"] <= 2 * stats["playwright/context_count"] < 12  # pages reused
    agents = []
    for path in (tmp_path / "warc").glob("*.warc*"):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "request" and "/mall/p/" in record.rec_headers.get_header("WARC-Target-URI"):
                    agents.append(record.http_headers.get_header("User-Agent") or "")
    assert len(agents) == 12
    # Header bytes are kept as Latin-1 text (crawlers.capture) and warcio percent-encodes them.
    agents = [unquote(a).encode("latin-1").decode("utf-8") for a in agents]
    assert all(a.startswith("FangxinWatch/") and "测试局 (test authority)" in a for a in agents), agents[:2]
