"""`plan`: crawl a site as a plan describes (seeds, link patterns, caps, render mode)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor
from w3lib.url import canonicalize_url

from crawlers.capture import capture_from_failure, capture_from_response
from crawlers.spiders.pages import attach_rendering, playwright_meta

# A page whose visible text is shorter than this, or that is mostly script, is re-rendered in `auto` mode.
AUTO_MIN_TEXT = 40


def needs_browser(response) -> bool:
    """Heuristic for `auto`: the static HTML shows (almost) no text, or scripts build the content."""
    if not isinstance(response, TextResponse):
        return False
    texts = response.xpath("//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]").getall()
    visible = "".join(t.strip() for t in texts)
    if len(visible) < AUTO_MIN_TEXT:
        return True
    scripts = "".join(response.xpath("//body//script[not(@type) or @type='text/javascript' or @type='module']/text()").getall())
    return len(scripts) > 4 * len(visible) and bool(re.search(r"innerHTML|textContent|createElement|render\(", scripts))


class PlanSpider(scrapy.Spider):
    name = "plan"

    def __init__(self, plan=None, **kwargs):
        super().__init__(**kwargs)
        self.plan = plan
        self.allowed_domains = list(plan.allowed_domains)
        self.follow = [re.compile(p) for p in plan.follow]
        self.detail = [re.compile(p) for p in plan.detail]
        self.links = LinkExtractor(allow_domains=self.allowed_domains, deny=plan.deny, unique=True)
        self.scheduled: set[str] = set()

    def _request(self, url: str, depth_hint: int = 0, render: bool | None = None):
        key = canonicalize_url(url)
        if render is None:
            if key in self.scheduled or len(self.scheduled) >= self.plan.max_pages:
                return None
            self.scheduled.add(key)
        browser = self.plan.render == "browser" if render is None else render
        meta = playwright_meta() if browser else {}
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta, dont_filter=render is not None)

    async def start(self):
        for seed in self.plan.seeds:
            request = self._request(seed)
            if request is not None:
                yield request

    def parse(self, response):
        rendered = bool(response.meta.get("playwright"))
        if self.plan.render == "auto" and not rendered and needs_browser(response):
            self.crawler.stats.inc_value("fangxin/auto_rendered")
            yield self._request(response.url, render=True)
            return
        item = capture_from_response(response, plan=self.plan.name, sector=self.plan.sector,
                                     render="browser" if rendered else "static")
        if rendered:
            attach_rendering(item, response)
        yield item
        if not isinstance(response, TextResponse):
            return
        for link in self.links.extract_links(response):
            path = urlsplit(link.url).path + ("?" + urlsplit(link.url).query if urlsplit(link.url).query else "")
            wanted = any(p.search(link.url) or p.search(path) for p in self.follow + self.detail)
            if (self.follow or self.detail) and not wanted:
                continue
            request = self._request(link.url)
            if request is not None:
                yield request

    def failed(self, failure):
        if failure.check(IgnoreRequest):
            self.logger.info("ignored %s: %s", failure.request.url, failure.value)
            return
        self.crawler.stats.inc_value("fangxin/page_errors")
        yield capture_from_failure(failure, plan=self.plan.name, sector=self.plan.sector)
