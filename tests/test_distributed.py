"""Distributed mode: two crawler processes share a real Redis server; `fangxin ingest` stores every page once."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_fangxin
from tests.test_crawl_plans import rows

PLAN = """name: dist
sector: ecommerce
seeds: [${SANDBOX}/shop/]
links:
  deny: [/shop/files/]
sampling: {max_pages: 40, max_depth: 3}
render: static
browser: {screenshots: none}
politeness: {delay: 0.05, concurrency: 1, autothrottle: false, allow_private_addresses: true}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def redis_url(tmp_path):
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(server):
        pytest.skip("redis-server is not installed (make test installs Debian's redis-server)")
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def test_two_workers_capture_every_page_exactly_once(sandbox_url, tmp_path, redis_url):
    plan = tmp_path / "dist.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    env = dict(os.environ, SANDBOX=sandbox_url)
    workers = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "fangxin.cli", "crawl", str(plan), "--redis", redis_url, "--crawl-id", "t1",
             "-s", "FANGXIN_REDIS_IDLE_SECONDS=3", "-s", "LOG_LEVEL=INFO"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errs = [w.communicate(timeout=120)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], errs[0][-2000:] + errs[1][-2000:]
    import redis

    client = redis.Redis.from_url(redis_url)
    pushed = client.llen("fangxin:items")
    fingerprints = client.scard("fangxin:t1:dupefilter")

    db = str(tmp_path / "fangxin.db")
    result = run_fangxin("ingest", "--redis", redis_url, "--db", db, "--idle-exit", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    urls = [r["url"] for r in rows(db, "SELECT url FROM captures")]
    assert len(urls) == pushed == len(set(urls)), "a page was captured twice"
    assert len(urls) >= 20
    assert fingerprints >= len(urls)
    assert client.llen("fangxin:items") == 0 and client.llen("fangxin:items:processing") == 0
    # Both processes worked on the crawl (each fetched pages from the shared queue).
    dequeued = [int(e.split("'scheduler/dequeued/redis': ")[1].split(",")[0]) if "scheduler/dequeued/redis" in e else 0
                for e in errs]
    assert sum(dequeued) >= len(urls) and all(d > 0 for d in dequeued), dequeued
    runs = rows(db, "SELECT * FROM crawl_runs")
    assert len(runs) == 1 and runs[0]["plan"] == "dist" and runs[0]["status"] == "finished"
