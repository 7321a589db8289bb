"""Mark a capture whose page is unchanged since its latest stored version.

The store records such a capture as "seen again" and keeps no new hits for it
(pipelines.store.Store.save_capture); marking it early spares the rule engine
and the screenshot renderer the work. The store's own check, inside its write
transaction, stays the authority.
"""

from __future__ import annotations

import logging
import os

from pipelines.store import Store

logger = logging.getLogger(__name__)


class UnchangedPipeline:
    """Set item["unchanged"] = True when URL, body hash and status equal the latest stored capture."""

    def __init__(self, db: str | None, stats=None):
        self.db = db
        self.stats = stats
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.get("FANGXIN_DB"), crawler.stats)

    def open_spider(self, spider=None):
        # No database (distributed workers) or none yet (first crawl): nothing can be unchanged.
        if self.db and os.path.exists(self.db):
            self.store = Store(self.db, migrate=False)

    def close_spider(self, spider=None):
        if self.store is not None:
            self.store.close()
            self.store = None

    def process_item(self, item, spider=None):
        item["unchanged"] = False
        if self.store is None or item.get("error"):
            return item
        latest = self.store.latest_capture(item.get("url"))
        if latest and latest.get("body_sha256") == item.get("body_sha256") and latest.get("status") == item.get("status"):
            item["unchanged"] = True
            if self.stats:
                self.stats.inc_value("fangxin/unchanged_skipped_rules")
        return item
