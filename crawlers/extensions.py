"""Scrapy extensions: cut oversized bodies, print live progress."""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.exceptions import StopDownload
from twisted.internet import task


class BodyLimit:
    """Cut a response at FANGXIN_MAX_BODY_BYTES instead of dropping it.

    The cut response keeps what arrived and carries the flag "download_stopped",
    which the capture records as `truncated`.
    """

    def __init__(self, limit: int, stats):
        self.limit = limit
        self.stats = stats
        self.received: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler.settings.getint("FANGXIN_MAX_BODY_BYTES"), crawler.stats)
        crawler.signals.connect(ext.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def bytes_received(self, data, request, spider):
        key = id(request)
        total = self.received.get(key, 0) + len(data)
        self.received[key] = total
        if self.limit and total > self.limit:
            self.received.pop(key, None)
            self.stats.inc_value("fangxin/truncated")
            raise StopDownload(fail=False)

    def response_received(self, response, request, spider):
        self.received.pop(id(request), None)


class Progress:
    """Print a live progress line (pages, pages/s, hits, errors) and a summary at the end."""

    def __init__(self, crawler, enabled: bool):
        self.crawler = crawler
        self.enabled = enabled
        self.started = time.monotonic()
        self.loop = None
        self.tty = False

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler, crawler.settings.getbool("FANGXIN_PROGRESS", True))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def figures(self) -> dict:
        stats = self.crawler.stats
        # Stored captures; a distributed worker counts the captures it pushed to Redis.
        pages = (stats.get_value("fangxin/captures_stored", 0) or 0) + (stats.get_value("fangxin/items_pushed", 0) or 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            "pages": pages,
            "rate": pages / elapsed,
            "hits": stats.get_value("fangxin/hits", 0) or 0,
            "errors": (stats.get_value("fangxin/page_errors", 0) or 0) + (stats.get_value("log_count/ERROR", 0) or 0),
            "unchanged": stats.get_value("fangxin/seen_unchanged", 0) or 0,
            "elapsed": elapsed,
        }

    def line(self) -> str:
        f = self.figures()
        return (
            f"页面 pages {f['pages']} | {f['rate']:.1f} pages/s | 命中 hits {f['hits']} | "
            f"错误 errors {f['errors']} | 未变 unchanged {f['unchanged']}"
        )

    def opened(self, spider):
        self.started = time.monotonic()
        # On a terminal the line is redrawn every second; into a log file (CI, `fangxin demo` under a
        # service manager) a whole line is written every 10 seconds instead.
        self.tty = sys.stderr.isatty()
        if self.enabled:
            self.loop = task.LoopingCall(self.tick)
            self.loop.start(1.0 if self.tty else 10.0, now=False)

    def tick(self):
        sys.stderr.write(("\r" + self.line() + " ") if self.tty else (self.line() + "\n"))
        sys.stderr.flush()

    def closed(self, spider, reason):
        if self.loop and self.loop.running:
            self.loop.stop()
        if self.enabled:
            f = self.figures()
            sys.stderr.write(
                ("\r" if self.tty else "") + self.line() + "\n"
                + f"完成 done: {f['pages']} pages in {f['elapsed']:.1f} s, {f['hits']} hits, "
                + f"{f['errors']} errors ({reason})\n"
            )
            sys.stderr.flush()
