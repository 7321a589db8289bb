"""`fangxin schedule`: runs on the cron schedule, recorded in crawl_runs, never overlapping."""

from __future__ import annotations

from tests.conftest import run_fangxin
from tests.test_crawl_plans import rows

PLAN = """name: every2s
sector: other
seeds: [${SANDBOX}/, ${SANDBOX}/notice/, ${SANDBOX}/edu/, ${SANDBOX}/fund/, ${SANDBOX}/health/, ${SANDBOX}/estate/]
sampling: {max_pages: 6, max_depth: 0}
render: static
browser: {screenshots: none}
politeness: {delay: 0.7, concurrency: 1, autothrottle: false, allow_private_addresses: true}
schedule: "* * * * * */2"
"""


def test_schedule_runs_recorded_and_never_overlapping(sandbox_url, tmp_path):
    plan = tmp_path / "every2s.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    db = str(tmp_path / "fangxin.db")
    result = run_fangxin("schedule", str(plan), "--db", db, "--duration", "7", env={"SANDBOX": sandbox_url},
                         timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = rows(db, "SELECT * FROM crawl_runs WHERE plan = 'every2s' ORDER BY id")
    done = [r for r in runs if r["status"] != "skipped"]
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert done and all(r["status"] == "finished" and r["finished_at"] for r in done)
    assert skipped, "a time that came while the previous run was going must be skipped"
    for a, b in zip(done, done[1:], strict=False):
        assert b["started_at"] >= a["finished_at"], "two runs of one plan overlapped"
    assert rows(db, "SELECT count(*) n FROM captures")[0]["n"] == 6
    assert "跳过 skipped" in result.stderr


def test_schedule_refuses_plan_without_schedule(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text("sector: other\nseeds: [http://example.org/]\n", encoding="utf-8")
    result = run_fangxin("schedule", str(plan), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "schedule" in result.stderr


LIVE_PLAN = """kind: live
name: live-rooms
sector: livestream
seeds: ["${SANDBOX}/live/room/1001?speed=8"]
live: {seconds: 2, shot_every: 0, ocr: false}
schedule: "* * * * * */2"
"""


def test_schedule_runs_live_plans_with_the_room_monitor(sandbox_url, tmp_path):
    plan = tmp_path / "live.yaml"
    plan.write_text(LIVE_PLAN, encoding="utf-8")
    db = str(tmp_path / "fangxin.db")
    result = run_fangxin("schedule", str(plan), "--db", db, "--duration", "8", "--max-runs", "1",
                         env={"SANDBOX": sandbox_url}, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = rows(db, "SELECT * FROM crawl_runs WHERE status != 'skipped' ORDER BY id")
    assert runs and runs[0]["status"] == "finished"
    captures = rows(db, "SELECT url FROM captures")
    assert any("/live/room/1001" in c["url"] for c in captures)
    assert rows(db, "SELECT count(*) n FROM hits WHERE field = 'chat'")[0]["n"] > 0
