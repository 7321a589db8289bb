"""The review benchmark runs end to end on a small synthetic database."""

from __future__ import annotations

from pipelines.store import Store
from review_ui.bench import run


def test_review_bench_reports_page_times_and_a_baseline(tmp_path):
    db = str(tmp_path / "bench.db")
    report = run(db, hits=2000, samples=5)
    assert report["hits"] == 2000
    assert set(report["pages"]) == {"queue", "queue_page_3", "queue_high", "hit_detail"}
    assert all(p["n"] == 5 and p["p95_ms"] >= p["p50_ms"] > 0 for p in report["pages"].values())
    assert report["baseline_group_by_sql"]["n"] >= 3 and report["p95_under_300ms"] in (True, False)
    store = Store(db)
    try:
        groups = store.queue_groups(limit=500)
        assert any(g["hit_count"] > 1 for g in groups)  # synthetic claims repeat, so groups form
        assert store.naive_queue(limit=5)
    finally:
        store.close()


def test_bench_review_command_prints_each_page_beside_the_baseline(tmp_path):
    from tests.conftest import run_fangxin

    result = run_fangxin("bench", "review", "--db", str(tmp_path / "b.db"), "--hits", "500", "--samples", "5",
                         "--json")
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["hits"] >= 500
    assert {"queue", "hit_detail"} <= set(report["pages"]) and report["baseline_group_by_sql"]["n"] >= 3
