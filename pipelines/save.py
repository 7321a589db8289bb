"""SavePipeline (400): store each capture and its hits in one transaction.

Sets item["capture_id"] and counts `fangxin/captures_stored`,
`fangxin/hits_stored` and `fangxin/seen_unchanged` in the crawler stats. Items
with item["error"] set are stored as captures with their error and no hits.
The crawl run row is shared with `pipelines.evidence` (see RunContext); this
pipeline also works alone, without WARC files.
"""

from __future__ import annotations

from typing import Any

from pipelines.evidence import RunContext


class SavePipeline:
    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.ctx: RunContext | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SavePipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        self.ctx = RunContext.of(self.crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        ctx = self.ctx or RunContext.of(self.crawler)
        self.ctx = ctx
        capture = dict(item)
        hits = [] if capture.get("error") else list(capture.get("hits") or [])
        result = ctx.store.save_capture_result(ctx.run_id, capture, hits)
        item["capture_id"] = result.capture_id
        stats = self.crawler.stats
        if stats:
            if result.new:
                stats.inc_value("fangxin/captures_stored")
                stats.inc_value("fangxin/hits_stored", result.hits_stored)
            else:
                stats.inc_value("fangxin/seen_unchanged")
        return item
