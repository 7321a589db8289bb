"""A crash-safe frontier: Scrapy scheduler and dupefilter in one SQLite file.

Scrapy's JOBDIR survives only a clean stop (scrapy#7978): its disk queues and
`requests.seen` can be lost or corrupted by SIGKILL. Here every request the
spider yields is one row of an SQLite table written in WAL mode before it is
handed to the engine, so a killed crawl started again continues where it
stopped:

    pending   queued, not yet handed out
    inflight  handed to the downloader (requeued when the crawl restarts)
    done      its capture was stored (or it was refused, e.g. by robots.txt)

The table's primary key is the canonical URL (plus "#browser" for a page
re-requested through Chromium), which makes it the dupefilter as well: a URL
is queued once per crawl, across restarts.

No page lost: a row becomes `done` only after the item pipelines stored its
capture (Scrapy's `item_scraped`), and the links a page yields are written
before its capture. None stored twice: when the crawl restarts, an `inflight`
row whose URL the store already holds from this crawl (stored after the
frontier was created) is marked done instead of being fetched again.

The file lives beside the database (`frontier/<plan>.sqlite`, or the
FANGXIN_FRONTIER setting) and is removed when the crawl finishes; a crawl
stopped by Ctrl-C or killed keeps it and resumes from it.
"""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
import time
from pathlib import Path

from scrapy import signals
from scrapy.utils.request import request_from_dict

from crawlers.urls import canonical

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier (
    key TEXT PRIMARY KEY,          -- canonical URL, "#browser" appended for rendered re-requests
    url TEXT NOT NULL,
    state TEXT NOT NULL,           -- pending | inflight | done
    priority INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    request BLOB,                  -- pickled Request.to_dict()
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS frontier_next ON frontier(state, priority DESC, seq);
CREATE INDEX IF NOT EXISTS frontier_url ON frontier(url);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


def frontier_key(request) -> str:
    key = canonical(request.url)
    if request.meta.get("fangxin_render"):
        key += "#browser"
    return key


class Frontier:
    """The SQLite table behind the scheduler (usable on its own in tests)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.resumed = self.path.exists() and self.path.stat().st_size > 0
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against a killed process (the OS holds the WAL); FULL adds power-loss safety.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        row = self.conn.execute("SELECT value FROM meta WHERE name='created'").fetchone()
        if row is None:
            self.created = time.time()
            self.conn.execute("INSERT INTO meta VALUES ('created', ?)", (repr(self.created),))
        else:
            self.created = float(row[0])
        self.seq = (self.conn.execute("SELECT max(seq) FROM frontier").fetchone()[0] or 0) + 1

    # -- writing ---------------------------------------------------------------
    def add(self, key: str, url: str, priority: int, data: bytes, force: bool = False) -> bool:
        """Queue a request; False when its key was queued before (the dupefilter) unless `force`."""
        self.seq += 1
        if force:
            cur = self.conn.execute(
                "INSERT INTO frontier VALUES (?,?,'pending',?,?,?,?) ON CONFLICT(key) DO UPDATE SET "
                "state='pending', priority=excluded.priority, seq=excluded.seq, request=excluded.request, "
                "updated=excluded.updated WHERE frontier.state='done'",
                (key, url, priority, self.seq, data, time.time()))
        else:
            cur = self.conn.execute("INSERT OR IGNORE INTO frontier VALUES (?,?,'pending',?,?,?,?)",
                                    (key, url, priority, self.seq, data, time.time()))
        return cur.rowcount > 0

    def take(self, limit: int) -> list[tuple[str, bytes]]:
        """Hand out up to `limit` pending requests (highest priority, then oldest) as inflight."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self.conn.execute(
                "SELECT key, request FROM frontier WHERE state='pending' ORDER BY priority DESC, seq LIMIT ?",
                (limit,)).fetchall()
            self.conn.executemany("UPDATE frontier SET state='inflight', updated=? WHERE key=?",
                                  [(time.time(), k) for k, _ in rows])
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return rows

    def done(self, key: str) -> None:
        self.conn.execute("UPDATE frontier SET state='done', request=NULL, updated=? WHERE key=?", (time.time(), key))

    def requeue_inflight(self, already_stored=None) -> tuple[int, int]:
        """After a restart: inflight rows go back to pending, unless `already_stored(url)` says the
        store holds their capture already. Returns (requeued, settled)."""
        rows = self.conn.execute("SELECT key, url FROM frontier WHERE state='inflight'").fetchall()
        requeued = settled = 0
        for key, url in rows:
            if already_stored is not None and not key.endswith("#browser") and already_stored(url):
                self.done(key)
                settled += 1
            else:
                self.conn.execute("UPDATE frontier SET state='pending' WHERE key=?", (key,))
                requeued += 1
        return requeued, settled

    # -- reading ---------------------------------------------------------------
    def pending(self) -> int:
        return self.conn.execute("SELECT count(*) FROM frontier WHERE state='pending'").fetchone()[0]

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT state, count(*) FROM frontier GROUP BY state").fetchall())

    def urls(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT url FROM frontier WHERE key NOT LIKE '%#browser'")]

    def close(self, remove: bool = False) -> None:
        self.conn.close()
        if remove:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)


class SqliteScheduler:
    """Scrapy scheduler over `Frontier` (set SCHEDULER = "crawlers.frontier.SqliteScheduler")."""

    BATCH = 32

    def __init__(self, crawler, path: str):
        self.crawler = crawler
        self.stats = crawler.stats
        self.path = path
        self.frontier: Frontier | None = None
        self.buffer: list = []
        self.keys: dict[str, str] = {}  # URL of a request in flight -> its frontier key
        self.spider = None

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("FANGXIN_FRONTIER")
        if not path:
            db = crawler.settings.get("FANGXIN_DB") or "data/fangxin.db"
            plan = crawler.settings.get("FANGXIN_PLAN") or "adhoc"
            path = str(Path(db).resolve().parent / "frontier" / f"{plan}.sqlite")
        scheduler = cls(crawler, path)
        crawler.signals.connect(scheduler.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(scheduler.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(scheduler.item_error, signal=signals.item_error)
        return scheduler

    # -- the engine's interface ----------------------------------------------------
    def open(self, spider):
        self.spider = spider
        self.frontier = Frontier(self.path)
        spider.frontier = self  # the spider marks refused requests done and reads the resume state
        if self.frontier.resumed:
            requeued, settled = self.frontier.requeue_inflight(self._already_stored)
            counts = self.frontier.counts()
            self.stats.set_value("fangxin/resumed", 1)
            logger.warning(
                "继续上次中断的抓取 resuming the interrupted crawl from %s: %s pending, %s done, "
                "%s in flight requeued, %s already stored", self.path, counts.get("pending", 0),
                counts.get("done", 0), requeued, settled)
        return None

    def close(self, reason):
        if self.frontier is None:
            return None
        finished = reason in ("finished", "closespider_pagecount", "closespider_itemcount", "closespider_timeout")
        finished = finished and self.frontier.pending() == 0 and not self.buffer
        self.stats.set_value("fangxin/frontier", self.frontier.counts())
        self.frontier.close(remove=finished)
        if not finished:
            logger.warning("抓取未完成，下次运行将继续 crawl not finished (%s); the next run resumes from %s",
                           reason, self.path)
        return None

    def has_pending_requests(self) -> bool:
        return bool(self.buffer) or self.frontier.pending() > 0

    def enqueue_request(self, request) -> bool:
        key = frontier_key(request)
        request.meta["fangxin_key"] = key
        data = pickle.dumps(request.to_dict(spider=self.spider), protocol=pickle.HIGHEST_PROTOCOL)
        added = self.frontier.add(key, request.url, request.priority, data, force=request.dont_filter)
        if added:
            self.stats.inc_value("scheduler/enqueued/sqlite")
        else:
            self.stats.inc_value("dupefilter/filtered")
        return added

    def next_request(self):
        if not self.buffer:
            self.buffer = self.frontier.take(self.BATCH)[::-1]
        if not self.buffer:
            return None
        key, data = self.buffer.pop()
        request = request_from_dict(pickle.loads(data), spider=self.spider)  # noqa: S301 - our own file
        request.meta["fangxin_key"] = key
        self.stats.inc_value("scheduler/dequeued/sqlite")
        return request

    def __len__(self) -> int:
        return len(self.buffer) + (self.frontier.pending() if self.frontier else 0)

    # -- completion ------------------------------------------------------------------
    def done(self, request) -> None:
        """The request is settled without a capture (robots.txt, a refused address, a re-render)."""
        key = request.meta.get("fangxin_key") or frontier_key(request)
        self.frontier.done(key)

    def producing(self, request) -> None:
        """The callback of `request` is about to yield its capture."""
        self.keys[request.url] = request.meta.get("fangxin_key") or frontier_key(request)

    def _settle(self, item) -> None:
        key = self.keys.pop(item.get("url"), None) if hasattr(item, "get") else None
        if key and self.frontier is not None:
            self.frontier.done(key)

    def item_scraped(self, item, response=None, spider=None):
        self._settle(item)

    def item_dropped(self, item, response=None, exception=None, spider=None):
        self._settle(item)

    def item_error(self, item, response=None, spider=None, failure=None):
        self._settle(item)

    def _already_stored(self, url: str) -> bool:
        """True when the store holds a capture of `url` stored (or seen) since this frontier began."""
        db = self.crawler.settings.get("FANGXIN_DB")
        if not db or not Path(db).exists():
            return False
        try:
            from pipelines.store import Store

            if not hasattr(self, "_store"):
                self._store = Store(db)
            row = self._store.latest_capture(url)
        except Exception as exc:  # the store is another component: never let it stop a resume
            logger.warning("store lookup failed for %s: %s", url, exc)
            return False
        if not row:
            return False
        from datetime import datetime

        seen = row.get("last_seen_at") or row.get("fetched_at") or ""
        try:
            when = datetime.fromisoformat(seen.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return False
        return when >= self.frontier.created - 1
