"""Plans can watch products: `watch: {products, interval}` gives the scheduler a dense recrawl entry."""

from __future__ import annotations

import sqlite3

import pytest

from crawlers.plans import PlanError, load_plan
from crawlers.scheduler import Scheduler

PLAN = """name: watcher
sector: ecommerce
seeds: [{base}/pricing/]
schedule: "30 2 * * *"
politeness: {{delay: 0, allow_private_addresses: true}}
"""


def write(tmp_path, text: str):
    path = tmp_path / "watcher.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_watch_section_is_loaded(tmp_path):
    path = write(tmp_path, PLAN.format(base="http://127.0.0.1:9") + (
        "watch:\n  products: [http://127.0.0.1:9/pricing/item/2.html, http://127.0.0.1:9/pricing/item/4.html]\n"
        "  interval: 6h\n"
    ))  # fmt: skip
    plan = load_plan(path)
    assert plan.watch_products == [
        "http://127.0.0.1:9/pricing/item/2.html",
        "http://127.0.0.1:9/pricing/item/4.html",
    ]
    assert plan.watch_interval == 6 * 3600
    default = load_plan(
        write(tmp_path, PLAN.format(base="http://x") + "watch: {products: [http://x/p/1.html]}\n")
    )
    assert default.watch_interval == 86400
    legacy = load_plan(write(tmp_path, PLAN.format(base="http://x") + "watch: [some merchant]\n"))
    assert legacy.watch_products == [] and legacy.watch_interval is None


def test_watch_interval_longer_than_a_day_is_refused(tmp_path):
    path = write(
        tmp_path, PLAN.format(base="http://x") + "watch: {products: [http://x/p/1.html], interval: 2d}\n"
    )
    with pytest.raises(PlanError, match=r"watcher.yaml:\d+: watch.interval"):
        load_plan(path)


def test_scheduler_recrawls_watched_products_on_their_interval(tmp_path, sandbox_url):
    path = write(tmp_path, PLAN.format(base=sandbox_url) + (
        f"watch: {{products: ['{sandbox_url}/pricing/item/2.html', '{sandbox_url}/pricing/item/5.html'], "
        "interval: 30m}\n"
    ))  # fmt: skip
    plan = load_plan(path)
    db = str(tmp_path / "fangxin.db")
    sched = Scheduler([(str(path), plan)], db)
    assert [e.name for e in sched.entries] == ["watcher", "watcher-watch"]
    watch = sched.entries[1]
    watch.advance(1000.0)
    assert watch.next_at == 1000.0 + 1800
    cmd = sched.command(watch)
    assert cmd.count("--url") == 2 and "--db" in cmd
    sched.launch(watch)  # one real recrawl of the watched pages
    assert watch.process.wait(timeout=240) == 0
    conn = sqlite3.connect(db)
    try:
        urls = {r[0] for r in conn.execute("SELECT url FROM prices")}
    finally:
        conn.close()
    assert urls == {f"{sandbox_url}/pricing/item/2.html", f"{sandbox_url}/pricing/item/5.html"}
