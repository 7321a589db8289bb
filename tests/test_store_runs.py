"""A run whose process died without closing it is marked killed when the next run starts."""

from __future__ import annotations

import subprocess
import sys

from pipelines.store import Store


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    proc.wait()
    return proc.pid


def test_run_of_a_dead_process_is_marked_killed(db_path):
    store = Store(db_path)
    try:
        old = store.start_run("p", "tester", {})
        alive = store.start_run("q", "tester", {})  # this process: still alive
        store.conn.execute("UPDATE crawl_runs SET pid = ? WHERE id = ?", (dead_pid(), old))
        store.conn.commit()
        store.start_run("p", "tester", {})
        assert store.get_run(old)["status"] == "killed" and store.get_run(old)["finished_at"]
        assert store.get_run(alive)["status"] == "running"
    finally:
        store.close()
