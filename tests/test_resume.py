"""Pause and resume: a plan crawl killed with SIGKILL and started again loses no page and stores none twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.test_crawl_plans import POLITE_FAST, rows

PLAN = """name: resume
sector: ecommerce
seeds: [${SANDBOX}/shop/]
links:
  follow: ['/shop/']
  deny: [/shop/files/]
sampling: {max_pages: 500, max_depth: 3}    # no cap binds: the crawled set does not depend on order
render: static
browser: {screenshots: none}
"""


def start(plan, db, sandbox_url, delay: float):
    text = PLAN + POLITE_FAST.replace("delay: 0", f"delay: {delay}").replace("concurrency: 4", "concurrency: 1")
    plan.write_text(text, encoding="utf-8")
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "fangxin.cli", "crawl", str(plan), "--db", db],
        cwd=ROOT, env=dict(os.environ, SANDBOX=sandbox_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)


def count(db: str) -> int:
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM captures").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_resume_after_sigkill(sandbox_url, tmp_path):
    # Reference: the same plan, uninterrupted.
    ref_db = str(tmp_path / "ref.db")
    ref = start(tmp_path / "ref.yaml", ref_db, sandbox_url, 0)
    assert ref.wait(timeout=120) == 0, ref.stderr.read()[-2000:]
    expected = {r["url"] for r in rows(ref_db, "SELECT url FROM captures")}
    assert len(expected) >= 20

    db = str(tmp_path / "fangxin.db")
    first = start(tmp_path / "resume.yaml", db, sandbox_url, 0.15)
    deadline = time.monotonic() + 60
    while count(db) < 8 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    assert first.poll() is None, "the crawl ended before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = count(db)
    assert 8 <= killed_at < len(expected)
    assert (tmp_path / "frontier" / "resume.sqlite").exists()

    second = start(tmp_path / "resume.yaml", db, sandbox_url, 0)
    assert second.wait(timeout=120) == 0
    assert "resuming" in second.stderr.read()

    urls = [r["url"] for r in rows(db, "SELECT url FROM captures")]
    assert len(urls) == len(set(urls)), "a page was stored twice"
    assert set(urls) == expected, f"lost: {sorted(expected - set(urls))[:5]} extra: {sorted(set(urls) - expected)[:5]}"
    assert rows(db, "SELECT count(*) n FROM captures_seen")[0]["n"] == 0, "a stored page was fetched again"
    assert not (tmp_path / "frontier" / "resume.sqlite").exists(), "a finished crawl leaves no frontier"
