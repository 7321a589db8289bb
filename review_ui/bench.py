"""Review UI benchmark: server time of the queue and detail pages on a large database, with a baseline.

    from review_ui.bench import run
    report = run("bench.db", hits=1_000_000)

Seeds synthetic hits if the database holds fewer than asked (a benchmark
database only), starts the real app with uvicorn on a free port, logs in and
times requests from the client side (localhost: the HTTP overhead is well under
a millisecond). The baseline, in the same run, is the queue as one GROUP BY over
all open hits, timed as a bare SQL query without any HTML.
"""

from __future__ import annotations

import http.cookiejar
import random
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request

from pipelines.store import Store
from review_ui import security

BENCH_USER = "bench-inspector"
BENCH_PASSWORD = "bench password 1"  # noqa: S105 - a throwaway account in a benchmark database


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}  # fmt: skip


def prepare(db_path: str, hits: int) -> int:
    """Make sure the database holds at least `hits` hits and the bench account; returns the hit count."""
    store = Store(db_path, durable=False)
    try:
        have = store.conn.execute("SELECT COUNT(*) FROM hits").fetchone()[0]
        if have < hits:
            store.seed_synthetic_hits(hits - have)
        if store.get_user(BENCH_USER) is None:
            store.add_user(BENCH_USER, "inspector", security.hash_password(BENCH_PASSWORD), actor="bench")
        return store.conn.execute("SELECT COUNT(*) FROM hits").fetchone()[0]
    finally:
        store.close()


def _start(db_path: str):
    import uvicorn

    from review_ui.app import _bind, create_app

    sock = _bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(db_path), log_level="warning", access_log=False))
    server.capture_signals = __import__("contextlib").nullcontext
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def run(db_path: str, hits: int = 1_000_000, samples: int = 100, seed: int = 0) -> dict:
    """Seed if needed, then time /queue, a filtered queue and /hit/{id}; returns a report dict."""
    total = prepare(db_path, hits)
    base, server, thread = _start(db_path)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        opener.open(base + "/login", data=urllib.parse.urlencode(
            {"username": BENCH_USER, "password": BENCH_PASSWORD, "csrf": token}).encode()).read()  # fmt: skip
        rnd = random.Random(seed)
        paths = {
            "queue": lambda: "/queue",
            "queue_page_3": lambda: "/queue?page=3",
            "queue_high": lambda: "/queue?severity=high",
            "hit_detail": lambda: f"/hit/{rnd.randint(1, total)}",
        }
        report: dict = {"hits": total, "pages": {}}
        for name, path in paths.items():
            opener.open(base + path()).read()  # warm-up
            times = []
            for _ in range(samples):
                t = time.perf_counter()
                body = opener.open(base + path()).read()
                times.append(time.perf_counter() - t)
            assert b"data-hit-id" in body or name == "hit_detail"
            report["pages"][name] = _stats(times)
        store = Store(db_path)
        try:
            times = []
            for _ in range(max(3, samples // 20)):
                t = time.perf_counter()
                store.naive_queue()
                times.append(time.perf_counter() - t)
        finally:
            store.close()
        report["baseline_group_by_sql"] = _stats(times)
        report["p95_under_300ms"] = all(p["p95_ms"] < 300 for p in report["pages"].values())
        return report
    finally:
        server.should_exit = True
        thread.join(timeout=10)
