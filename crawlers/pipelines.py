"""Crawl-side item pipeline: the full-page screenshot of every page with a hit.

HitScreenshot runs after the rule engine (flag, 200) and before the evidence
writer (300). FANGXIN_SCREENSHOTS says which pages keep a screenshot:

    hits  (default) pages with at least one hit. A page fetched by plain HTTP
          that has a hit is rendered once more in Chromium for its screenshot;
          rendered pages without a hit drop the screenshot they took.
    all   every rendered page keeps its screenshot; static pages with a hit are
          rendered for one.
    none  no screenshots.

A page whose content is unchanged since its latest stored capture is marked by
pipelines.recrawl before the rule engine, gets no hits, and so is not rendered again.
"""

from __future__ import annotations

import logging

import scrapy

logger = logging.getLogger(__name__)


class HitScreenshot:
    def __init__(self, crawler):
        self.crawler = crawler
        self.mode = crawler.settings.get("FANGXIN_SCREENSHOTS", "hits")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item, spider=None):
        if self.mode == "none":
            item["screenshot"] = None
            return item
        hits = item.get("hits") or []
        if not hits:
            if self.mode == "hits":
                item["screenshot"] = None
            return item
        if item.get("screenshot") or item.get("error"):
            return item
        url = item.get("final_url") or item.get("url")
        for full_page in (True, False):  # a page too tall for one image gets its first screen
            request = scrapy.Request(url, meta={"fangxin_render": True, "fangxin_full_page": full_page},
                                     dont_filter=True)
            try:
                response = await self.crawler.engine.download_async(request)
                break
            except Exception as exc:
                error = exc
        else:
            self.crawler.stats.inc_value("fangxin/screenshot_failed")
            logger.warning("截图失败 screenshot of %s failed: %s", url, error)
            return item
        for method in response.meta.get("playwright_page_methods", []) or request.meta.get("playwright_page_methods", []):
            if getattr(method, "method", None) == "screenshot" and isinstance(getattr(method, "result", None), bytes):
                item["screenshot"] = method.result
                self.crawler.stats.inc_value("fangxin/screenshots_for_hits")
        return item
