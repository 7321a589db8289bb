"""An unchanged page on recrawl is marked before the rule engine and gets no new hits."""

from __future__ import annotations

import hashlib

from crawlers.items import Capture
from pipelines.flag import FlagPipeline
from pipelines.recrawl import UnchangedPipeline
from pipelines.store import Store

BODY = "<html><body><p>本店产品全网最佳</p></body></html>".encode()


def capture(body: bytes) -> Capture:
    return Capture(url="http://127.0.0.1/p.html", final_url="http://127.0.0.1/p.html", status=200, body=body,
                   body_sha256=hashlib.sha256(body).hexdigest(), fetched_at="2026-11-26T01:00:00Z",
                   fields={"body": "本店产品全网最佳"}, error=None)


def test_unchanged_page_is_not_flagged_again_but_a_changed_one_is(db_path):
    store = Store(db_path)
    run = store.start_run("t", "tester", {})
    store.save_capture(run, dict(capture(BODY)), [])
    store.close()

    marker = UnchangedPipeline(db_path)
    marker.open_spider()
    flag = FlagPipeline([])
    flag.open_spider()
    try:
        same = flag.process_item(marker.process_item(capture(BODY)))
        assert same["unchanged"] is True and same["hits"] == []
        changed = flag.process_item(marker.process_item(capture(BODY + b" ")))
        assert changed["unchanged"] is False and any(h["match"] == "最佳" for h in changed["hits"])
    finally:
        marker.close_spider()


def test_no_database_yet_means_nothing_is_unchanged(tmp_path):
    marker = UnchangedPipeline(str(tmp_path / "missing.db"))
    marker.open_spider()
    assert marker.process_item(capture(BODY))["unchanged"] is False
    assert not (tmp_path / "missing.db").exists()
