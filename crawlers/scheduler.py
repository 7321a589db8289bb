"""`fangxin schedule`: run plans on their cron schedules, in the foreground.

Times come from croniter (a maintained cron library; 5 fields, or 6 with
seconds last). Each run is a `fangxin crawl PLAN` child process (a Twisted
reactor runs once per process), which records its run in `crawl_runs` through
the store: start, end, status (the finish reason), and the stats with pages,
hits and errors.

A plan never overlaps itself: when its time comes while its previous run is
still going, the new run is skipped and recorded as a `skipped` run. A lock
file per plan (`crawlers.run.plan_lock`) also stops a manual `fangxin crawl`
or a second scheduler from starting the same plan beside it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime

from croniter import croniter

logger = logging.getLogger(__name__)


@dataclass
class Entry:
    path: str
    name: str
    cron: str
    next_at: float = 0.0
    process: subprocess.Popen | None = None
    runs: int = 0
    skipped: int = 0
    history: list = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # a watch entry: these pages, every `interval` seconds
    interval: float | None = None
    kind: str = "crawl"  # "live": a live-room plan, run by the room monitor

    def advance(self, after: float) -> None:
        if self.interval:
            self.next_at = after + self.interval
            return
        self.next_at = croniter(self.cron, datetime.fromtimestamp(after)).get_next(float)


def say(message: str) -> None:
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    sys.stderr.write(f"[{stamp}] {message}\n")
    sys.stderr.flush()


class Scheduler:
    def __init__(self, plans, db: str, extra_args: list[str] | None = None, env: dict | None = None):
        """`plans`: (path, Plan) pairs; each must have a `schedule`."""
        self.db = db
        self.extra_args = list(extra_args or [])
        self.env = env
        self.entries = [Entry(path, plan.name, plan.schedule, kind=getattr(plan, "kind", "crawl"))
                        for path, plan in plans if plan.schedule]
        # watched products (plan `watch`): their own entry, recrawled every interval, so the price
        # series stay dense enough for the series rules whatever the plan's cron schedule is
        self.entries += [
            Entry(path, f"{plan.name}-watch", f"every {plan.watch_interval:g}s", urls=list(plan.watch_products),
                  interval=plan.watch_interval)
            for path, plan in plans if getattr(plan, "watch_products", None) and plan.watch_interval
        ]  # fmt: skip
        self.stopping = False

    def command(self, entry: Entry) -> list[str]:
        if entry.kind == "live":
            return [sys.executable, "-m", "crawlers.live.plan", entry.path, "--db", self.db]
        if entry.urls:
            urls = [arg for url in entry.urls for arg in ("--url", url)]
            return [sys.executable, "-m", "fangxin.cli", "crawl", *urls, "--db", self.db, *self.extra_args]
        return [sys.executable, "-m", "fangxin.cli", "crawl", entry.path, "--db", self.db, *self.extra_args]

    def launch(self, entry: Entry) -> None:
        entry.process = subprocess.Popen(  # noqa: S603 - our own command line
            self.command(entry), env=dict(os.environ, **(self.env or {})),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        entry.runs += 1
        entry.history.append(("started", time.time()))
        say(f"开始 start {entry.name} (pid {entry.process.pid})")

    def record_skip(self, entry: Entry) -> None:
        entry.skipped += 1
        entry.history.append(("skipped", time.time()))
        say(f"跳过 skipped {entry.name}: 上一次运行仍在进行 the previous run is still going")
        try:
            from pipelines.store import Store

            store = Store(self.db)
            try:
                run_id = store.start_run(entry.name, _user(), {"schedule": entry.cron, "skipped": True})
                store.finish_run(run_id, "skipped", {"reason": "previous run still going"})
            finally:
                store.close()
        except Exception as exc:  # recording a skip must not stop the scheduler
            logger.warning("could not record the skipped run: %s", exc)

    def reap(self) -> None:
        for entry in self.entries:
            if entry.process is not None and entry.process.poll() is not None:
                code = entry.process.returncode
                entry.history.append(("finished", time.time()))
                say(f"结束 end {entry.name}: exit {code}")
                entry.process = None

    def tick(self, now: float) -> None:
        self.reap()
        for entry in self.entries:
            if now >= entry.next_at:
                if entry.process is not None:
                    self.record_skip(entry)
                else:
                    self.launch(entry)
                entry.advance(now)

    def run(self, duration: float | None = None, max_runs: int | None = None) -> None:
        """Loop until Ctrl-C/SIGTERM, `duration` seconds, or `max_runs` started runs in all."""
        started = time.time()
        for entry in self.entries:
            entry.advance(started)
            say(f"计划 plan {entry.name}: '{entry.cron}', next {datetime.fromtimestamp(entry.next_at):%Y-%m-%d %H:%M:%S}")

        def stop(signum, frame):
            self.stopping = True

        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not self.stopping:
                now = time.time()
                if duration is not None and now - started >= duration:
                    break
                if max_runs is not None and sum(e.runs for e in self.entries) >= max_runs:
                    break
                self.tick(now)
                wake = min(e.next_at for e in self.entries) - time.time()
                time.sleep(max(0.05, min(wake, 1.0)))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.shutdown()

    def shutdown(self) -> None:
        """Let running crawls stop cleanly (SIGINT: their frontier is kept, the next run resumes)."""
        for entry in self.entries:
            if entry.process is not None and entry.process.poll() is None and self.stopping:
                entry.process.send_signal(signal.SIGINT)
        for entry in self.entries:
            if entry.process is not None:
                try:
                    entry.process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    entry.process.kill()
                    entry.process.wait()
        self.reap()


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "scheduler"
