"""The SQLite store: migrations, one-transaction captures, recrawls, hash chains, SIGKILL safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.store import SCHEMA_VERSION, Store

ROOT = Path(__file__).resolve().parent.parent


def capture(
    url="http://shop.test/item/1.html", body=b"<html><body>\xe6\x9c\x80\xe4\xbd\xb3</body></html>", **kw
):
    base = {
        "url": url,
        "final_url": url,
        "status": 200,
        "body": body,
        "fetched_at": "2025-06-02T01:00:00Z",
        "render": "static",
        "title": "最佳商品",
        "fields": {"title": "最佳商品", "body": "全网最佳，国家级品质"},
        "merchant": {"name": "某某旗舰店", "credit_code": None, "domain": "shop.test"},
        "prices": [{"label": "现价", "amount": 99.0, "kind": "current"}],
    }
    base.update(kw)
    return base


def hit(match="最佳", rule="abs.best", start=2):
    return {
        "rule": rule, "pack": "ad", "pack_version": "2025.1", "category": "absolute_terms", "severity": "high",
        "confidence": 0.9, "law": "广告法 第九条第三项", "legal": {"law": "广告法", "article": "9(3)"},
        "message": "绝对化用语", "field": "body", "start": start, "end": start + len(match), "match": match,
        "excerpt": "全网最佳，国家级品质", "extracted": None, "exceptions": [],
    }  # fmt: skip


def test_save_capture_and_export_lines(tmp_path):
    store = Store(tmp_path / "sub" / "f.db")
    run = store.start_run("adhoc", "tester", {"USER_AGENT": "x"})
    cid = store.save_capture(run, capture(), [hit(), hit("国家级", "abs.national", 5)])
    assert cid == 1
    rows = list(store.iter_hits())
    assert [r["rule"] for r in rows] == ["abs.best", "abs.national"]
    assert set(rows[0]) == {
        "id",
        "url",
        "rule",
        "category",
        "severity",
        "law",
        "field",
        "match",
        "excerpt",
        "state",
        "captured_at",
    }
    assert rows[0]["state"] == "new" and rows[0]["captured_at"] == "2025-06-02T01:00:00.000Z"
    assert list(store.iter_hits(since="2025-06-02T09:00:01+08:00")) == []
    assert len(list(store.iter_hits(since="2025-06-02"))) == 2
    assert list(store.iter_hits(state="confirmed")) == []
    h = store.get_hit(1)
    assert (
        h["fingerprint"] and h["due_at"] == "2025-06-23"
    )  # 15 working days after Monday 2025-06-02 (+08:00)
    assert store.db["prices"].count == 1 and store.db["merchants"].count == 1
    assert store.search_captures("国家级")[0]["id"] == cid
    store.finish_run(run, "finished", {"item_scraped_count": 1})
    assert store.get_run(run)["status"] == "finished"
    store.close()


def test_recrawl_unchanged_is_seen_again_changed_is_new_version(tmp_path):
    store = Store(tmp_path / "f.db")
    run = store.start_run("p", "t", {})
    first = store.save_capture_result(run, capture(), [hit()])
    again = store.save_capture_result(run, capture(fetched_at="2025-06-03T01:00:00Z"), [hit()])
    assert again.capture_id == first.capture_id and not again.new and again.hits_stored == 0
    latest = store.latest_capture("http://shop.test/item/1.html")
    assert latest["seen_count"] == 2 and latest["last_seen_at"].startswith("2025-06-03")
    changed = store.save_capture_result(run, capture(body=b"<html>new</html>"), [hit()])
    assert changed.new and changed.capture_id != first.capture_id
    assert store.latest_capture("http://shop.test/item/1.html")["previous_id"] == first.capture_id
    # the same claim by the same merchant again: same fingerprint, marked as a duplicate of the first
    hits = [store.get_hit(r["id"]) for r in store.iter_hits()]
    assert hits[1]["fingerprint"] == hits[0]["fingerprint"] and hits[1]["duplicate_of"] == hits[0]["id"]
    assert store.db["captures_seen"].count == 1
    store.close()


def test_error_capture_stored_without_hits(tmp_path):
    store = Store(tmp_path / "f.db")
    run = store.start_run("p", "t", {})
    result = store.save_capture_result(run, capture(error="non-HTML content (application/pdf)"), [hit()])
    assert result.new and result.hits_stored == 0
    assert store.get_capture(result.capture_id)["error"].startswith("non-HTML")
    store.close()


def test_capture_chain_detects_alteration_and_removal(tmp_path):
    store = Store(tmp_path / "f.db")
    run = store.start_run("p", "t", {})
    for i in range(4):
        store.save_capture(run, capture(url=f"http://shop.test/{i}.html"), [hit()])
    assert store.verify_captures().ok and store.verify_captures().checked == 4
    store.conn.execute("UPDATE hits SET match = '较好' WHERE capture_id = 2")
    report = store.verify_captures()
    assert not report.ok and report.broken.entry_id == 2
    store.conn.execute("UPDATE hits SET match = '最佳' WHERE capture_id = 2")
    assert store.verify_captures().ok
    store.conn.execute("PRAGMA foreign_keys = OFF")
    store.conn.execute("DELETE FROM hits WHERE capture_id = 3")
    store.conn.execute("DELETE FROM captures WHERE id = 3")
    report = store.verify_captures()
    assert not report.ok and report.broken.entry_id == 4 and "previous" in report.broken.reason
    store.close()


def test_audit_log_chain(tmp_path):
    store = Store(tmp_path / "f.db")
    run = store.start_run("p", "t", {})
    store.save_capture(run, capture(), [hit()])
    store.set_hit_state(1, "confirmed", "inspector1", note="核实属实")
    lead = store.create_lead("某某旗舰店 绝对化用语", [1], "inspector1")
    store.add_user("auditor1", "auditor", None)
    report = store.verify_audit()
    assert report.ok and report.checked == 3
    assert store.get_lead(lead)["hit_ids"] == [1] and store.get_hit(1)["state"] == "promoted"
    store.conn.execute("UPDATE audit_log SET actor = 'someone' WHERE id = 2")
    report = store.verify_audit()
    assert not report.ok and report.broken.entry_id == 2
    store.close()


def test_older_schema_database_upgrades(tmp_path):
    path = tmp_path / "old.db"
    old = Store(path, migrate=False)
    assert old.migrate(upto=1) == [1]
    old.conn.execute(
        "INSERT INTO crawl_runs(id, plan, operator, started_at, status) VALUES (1, 'p', 'old', '2024-01-01T00:00:00.000Z', 'finished')"
    )
    old.conn.execute(
        "INSERT INTO captures(id, run_id, url, fetched_at, title, text, body_sha256) "
        "VALUES (1, 1, 'http://old.test/', '2024-01-01T00:00:00.000Z', '旧页面', '保本保息 无风险', 'ab')"
    )
    old.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    assert [r["version"] for r in store.db["schema_migrations"].rows] == list(range(1, SCHEMA_VERSION + 1))
    cap = store.latest_capture("http://old.test/")
    assert cap["seen_count"] == 1 and cap["last_seen_at"] == "2024-01-01T00:00:00.000Z"
    assert store.search_captures("保本保息")[0]["id"] == 1  # backfilled into the full-text index
    run = store.start_run("p", "t", {})
    assert store.save_capture(run, capture(), [hit()]) == 2
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()
    assert Store(path).migrate() == []  # opening again applies nothing


WRITER = textwrap.dedent(
    """
    import sys
    from pipelines.store import Store
    from pipelines.warc import WarcFiles
    db, warc_dir = sys.argv[1], sys.argv[2]
    store = Store(db)
    run = store.start_run("kill-test", "tester", {})
    warcs = WarcFiles(warc_dir, run, {"operator": "tester"}, max_bytes=64 * 1024)
    body = ("<html><body>" + "全网最佳 " * 200 + "</body></html>").encode()
    i = 0
    while True:
        item = {"url": f"http://shop.test/{i}.html", "status": 200, "body": body + str(i).encode(),
                "fetched_at": "2025-06-02T01:00:00Z", "fields": {"body": "全网最佳"}, "response_headers": {"Content-Type": "text/html"}}
        loc = warcs.write_capture(item, [])
        item["warc"] = {**loc.as_dict(), "file": "warc/" + loc.file}
        cid = store.save_capture(run, item, [{"rule": "abs.best", "match": "最佳", "field": "body", "start": 2, "end": 4}])
        print(cid, flush=True)
        i += 1
    """
)


def test_sigkill_mid_stream_leaves_intact_database(tmp_path):
    from pipelines.bundle import verify_database

    db = tmp_path / "kill.db"
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", WRITER, str(db), str(tmp_path / "warc")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    reported = []
    try:
        for line in proc.stdout:
            reported.append(int(line))
            if len(reported) >= 60:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    store = Store(db)
    stored = {r[0] for r in store.conn.execute("SELECT id FROM captures")}
    assert set(reported) <= stored
    assert store.db["hits"].count == len(stored)  # no capture without its hit: one transaction each
    report = verify_database(store)
    assert report.ok, report.captures.broken
    assert report.warc_groups == len(stored)
    assert len(list((tmp_path / "warc").iterdir())) > 1  # rotated by size
    store.close()


@pytest.mark.parametrize("durable", [True, False])
def test_save_rate_smoke(tmp_path, durable):
    """Not a benchmark: a floor that catches a pathological slowdown."""
    import time

    store = Store(tmp_path / "rate.db", durable=durable)
    run = store.start_run("p", "t", {})
    t0 = time.perf_counter()
    for i in range(50):
        store.save_capture(run, capture(url=f"http://shop.test/{i}.html"), [hit()])
    assert time.perf_counter() - t0 < 20
    store.close()
