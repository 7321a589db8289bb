"""Run the rule engine over each capture's document fields."""

from __future__ import annotations

import rules


class FlagPipeline:
    """Attach `hits` (rules.Hit.to_dict()) to every capture with fields.

    The engine is loaded once per crawl from FANGXIN_RULE_PACKS (empty: every
    pack under rules/packs/); a malformed pack stops the crawl before the first
    page, with the pack's one-line error.
    """

    def __init__(self, packs: list[str], stats=None):
        self.packs = packs
        self.stats = stats
        self.engine = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getlist("FANGXIN_RULE_PACKS"), crawler.stats)

    def open_spider(self, spider=None):
        self.engine = rules.load_engine(self.packs or None)

    def process_item(self, item, spider=None):
        fields = item.get("fields") or {}
        if item.get("unchanged"):  # seen again: the store keeps the hits of the stored version
            fields = {}
        hits = [h.to_dict() for h in self.engine.check(fields)] if fields else []
        item["hits"] = hits
        if self.stats and hits:
            self.stats.inc_value("fangxin/hits", len(hits))
        return item
