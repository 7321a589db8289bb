"""Distributed mode: crawler processes on many hosts share one Redis frontier; one writer stores.

Engine: scrapy-redis (pinned to 0.9.1, tested against this Scrapy in
tests/test_distributed.py) over a real Redis server. Every worker runs

    fangxin crawl PLAN.yaml --redis redis://HOST:6379/0 [--crawl-id ID]

with the same plan and crawl id. The workers share scrapy-redis' request queue
(`fangxin:<id>:requests`) and dupefilter (`fangxin:<id>:dupefilter`), so each
page is fetched by exactly one of them. Seeds go through the shared dupefilter
as well (they are not `dont_filter`), so every worker may start from the same
seeds. A worker extracts, flags and screenshots its pages, then pushes each
capture to the Redis list `fangxin:items`; it touches no database. One
`fangxin ingest --redis URL --db PATH` process drains that list into the
SQLite store (WARC evidence and captures), the single writer.

Delivery is at-least-once from Redis and exactly-once into the store: ingest
moves an item to `fangxin:items:processing` (LMOVE), stores it, then removes
it; at start it puts back what a killed ingest left in processing, and the
store records an unchanged page fetched again as seen, not as a new capture.

scrapy-redis 0.9.1 on Scrapy 2.19: the scheduler and dupefilter work; we do not
use its RedisSpider (whose start_requests() Scrapy >= 2.16 no longer calls).
An idle worker waits FANGXIN_REDIS_IDLE_SECONDS for the other workers'
requests before it closes.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import datetime

from scrapy import signals
from scrapy.exceptions import DontCloseSpider

logger = logging.getLogger(__name__)

ITEMS_KEY = "fangxin:items"


def default_crawl_id(plan_name: str) -> str:
    """Workers started the same day with the same plan share a crawl unless told otherwise."""
    return f"{plan_name}-{datetime.now():%Y%m%d}"


def worker_settings(redis_url: str, crawl_id: str, items_key: str = ITEMS_KEY) -> dict:
    """Settings that turn a plan crawl into a distributed worker."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": f"fangxin:{crawl_id}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"fangxin:{crawl_id}:dupefilter",
        # Never flush the shared queue when one worker closes: the others are still working.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
        "FANGXIN_REDIS_ITEMS_KEY": items_key,
        "FANGXIN_DB": "",
        "FANGXIN_CRAWL_ID": crawl_id,
        "ITEM_PIPELINES": {
            "pipelines.extract.ExtractPipeline": 100,
            "pipelines.flag.FlagPipeline": 200,
            "crawlers.pipelines.HitScreenshot": 250,
            "crawlers.distributed.PushToRedis": 300,
        },
        "EXTENSIONS": {
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scrapy.extensions.remote_control.RemoteControl": None,
            "crawlers.extensions.BodyLimit": 10,
            "crawlers.extensions.Progress": 20,
            "crawlers.distributed.IdleWait": 30,
        },
    }


# -- item (de)serialisation -------------------------------------------------------------
def _encode(value):
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps_item(item) -> str:
    return json.dumps(_encode(dict(item)), ensure_ascii=False)


def loads_item(text: str | bytes):
    from crawlers.items import Capture

    data = _decode(json.loads(text))
    return Capture(**{k: v for k, v in data.items() if k in Capture.fields})


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url)


# -- worker side -----------------------------------------------------------------------------
class PushToRedis:
    """Last pipeline of a worker: push the capture to the shared items list."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.key = crawler.settings.get("FANGXIN_REDIS_ITEMS_KEY", ITEMS_KEY)
        self.client = redis_client(crawler.settings.get("REDIS_URL"))

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item, spider=None):
        self.client.rpush(self.key, dumps_item(item))
        self.crawler.stats.inc_value("fangxin/items_pushed")
        return item


class IdleWait:
    """Keep an idle worker open while other workers may still add requests to the shared queue.

    Scrapy's engine looks at an empty scheduler again only every 5 s (its heartbeat); an
    idle worker here checks the shared queue twice a second and wakes the engine when
    another worker queued requests, so all workers share the crawl from the start.
    """

    def __init__(self, crawler, seconds: float):
        self.crawler = crawler
        self.seconds = seconds
        self.idle_since: float | None = None
        self.loop = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler, crawler.settings.getfloat("FANGXIN_REDIS_IDLE_SECONDS", 8.0))
        crawler.signals.connect(ext.idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.busy, signal=signals.request_scheduled)
        crawler.signals.connect(ext.busy, signal=signals.response_received)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider=None):
        from twisted.internet import task

        self.loop = task.LoopingCall(self.wake)
        self.loop.start(0.5, now=False)

    def closed(self, spider=None, reason=None):
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def wake(self):
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        scheduler = getattr(slot, "scheduler", None)
        try:
            if scheduler is not None and scheduler.has_pending_requests():
                slot.nextcall.schedule()
        except Exception as exc:  # Redis away for a moment: the heartbeat still runs
            logger.debug("idle wake: %s", exc)

    def busy(self, *args, **kwargs):
        self.idle_since = None

    def idle(self, spider=None):
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.seconds:
            raise DontCloseSpider


# -- the single writer ---------------------------------------------------------------------
class _Crawler:
    """Just enough of a Scrapy crawler for the evidence and save pipelines."""

    def __init__(self, settings):
        from scrapy.signalmanager import SignalManager
        from scrapy.statscollectors import MemoryStatsCollector

        self.settings = settings
        self.signals = SignalManager(self)
        self.stats = MemoryStatsCollector(self)
        self.spider = None


def ingest(redis_url: str, db: str, items_key: str = ITEMS_KEY, idle_exit: float | None = None,
           overrides: dict | None = None, echo=print) -> dict:
    """Drain captures from Redis into the store until Ctrl-C, or until the list stayed empty for
    `idle_exit` seconds. One crawl_runs row per plan seen. Returns counts."""
    from crawlers.run import build_settings

    client = redis_client(redis_url)
    processing = items_key + ":processing"
    returned = 0
    while client.lmove(processing, items_key, "RIGHT", "LEFT") is not None:
        returned += 1
    if returned:
        echo(f"放回 {returned} 条未完成的记录 put back {returned} items a stopped ingest left in processing")
    runs: dict[str, tuple] = {}
    counts = {"items": 0, "stored": 0, "seen": 0}
    last = time.monotonic()

    def pipelines_for(plan: str):
        if plan not in runs:
            from pipelines.evidence import EvidencePipeline
            from pipelines.save import SavePipeline

            settings = build_settings(db, {"FANGXIN_PLAN": plan, **(overrides or {})})
            crawler = _Crawler(settings)
            stages = [EvidencePipeline.from_crawler(crawler), SavePipeline.from_crawler(crawler)]
            for stage in stages:
                stage.open_spider(None)
            runs[plan] = (crawler, stages)
        return runs[plan]

    try:
        while True:
            raw = client.blmove(items_key, processing, 1.0, "LEFT", "RIGHT")
            if raw is None:
                if idle_exit is not None and time.monotonic() - last >= idle_exit:
                    break
                continue
            last = time.monotonic()
            item = loads_item(raw)
            crawler, stages = pipelines_for(item.get("plan") or "distributed")
            for stage in stages:
                item = stage.process_item(item, None)
            client.lrem(processing, 1, raw)
            counts["items"] += 1
            if crawler.stats.get_value("fangxin/captures_stored", 0) > counts["stored"]:
                counts["stored"] = crawler.stats.get_value("fangxin/captures_stored", 0)
    except KeyboardInterrupt:
        pass
    finally:
        for crawler, stages in runs.values():
            for stage in stages:
                if hasattr(stage, "close_spider"):
                    stage.close_spider(None)
            crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="finished")
    counts["stored"] = sum(c.stats.get_value("fangxin/captures_stored", 0) for c, _ in runs.values())
    counts["seen"] = sum(c.stats.get_value("fangxin/seen_unchanged", 0) for c, _ in runs.values())
    return counts
