"""`pages`: fetch a given list of URLs once each (what `fangxin crawl --url` runs)."""

from __future__ import annotations

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy_playwright.page import PageMethod

from crawlers.capture import capture_from_failure, capture_from_response


def playwright_meta(screenshot: bool = True) -> dict:
    """Request meta that sends a page through Chromium and takes a full-page screenshot."""
    methods = [PageMethod("wait_for_load_state", "networkidle")]
    if screenshot:
        methods.append(PageMethod("screenshot", full_page=True, type="png"))
    return {"playwright": True, "playwright_page_methods": methods}


class PagesSpider(scrapy.Spider):
    name = "pages"

    def __init__(self, urls: list[str] | None = None, render: bool = False, plan: str = "adhoc",
                 sector: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.urls = list(urls or [])
        self.render = bool(render)
        self.plan = plan
        self.sector = sector

    async def start(self):
        for url in self.urls:
            meta = {"fangxin_render": True} if self.render else {}
            yield scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta, dont_filter=True)

    def parse(self, response):
        mode = "browser" if response.meta.get("playwright") else "static"
        item = capture_from_response(response, plan=self.plan, sector=self.sector, render=mode)
        if mode == "browser":
            attach_rendering(item, response)
        yield item

    def failed(self, failure):
        if failure.check(IgnoreRequest):  # robots.txt or the private-address guard said no: not a page
            self.logger.info("ignored %s: %s", failure.request.url, failure.value)
            return
        self.crawler.stats.inc_value("fangxin/page_errors")
        yield capture_from_failure(failure, plan=self.plan, sector=self.sector,
                                   render="browser" if self.render else "static")


def attach_rendering(item, response) -> None:
    """Copy the rendered DOM and the screenshot taken by the page methods into the capture."""
    item["dom"] = response.text
    for method in response.meta.get("playwright_page_methods", []):
        if getattr(method, "method", None) == "screenshot" and isinstance(getattr(method, "result", None), bytes):
            item["screenshot"] = method.result
