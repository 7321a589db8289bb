"""`plan`: crawl sites as a plan describes.

Seeds and sitemaps start the crawl; links are classified as listing pages
(`links.follow`, `follow_css`, `follow_xpath`) or detail pages (`links.detail`,
`detail_css`, `detail_xpath`); a plan without any pattern follows every link of
its allowed domains. Caps: `sampling.max_pages` per site, `max_depth`,
`links.limits` per URL pattern (the calendar trap), `links.deny`.

Sampling: with `sampling.detail_sample: N`, detail pages are not fetched when
found; they are collected, and when the listing crawl runs dry the N detail
pages per site with the smallest keyed hash (`crawlers.urls.sample_key`, keyed
by `sampling.seed`) are fetched. The same seed over the same site selects the
same pages whatever order the crawl found them in.

Render modes: `static` (HTTP only), `browser` (every page in Chromium) and
`auto` (HTTP first; a page whose text is empty or built by scripts is fetched
again in Chromium). Requests carry only `meta["fangxin_render"]`; the
`BrowserPages` middleware adds the scrapy-playwright meta at download time.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor

from crawlers.capture import capture_from_failure, capture_from_response
from crawlers.spiders.pages import attach_rendering
from crawlers.urls import canonical, sample_key, site_of

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
        self.allowed_domains = sorted({d.split(":")[0] for d in plan.allowed_domains})
        self.follow = [re.compile(p) for p in plan.follow]
        self.detail = [re.compile(p) for p in plan.detail]
        self.deny = [re.compile(p) for p in plan.deny]
        self.limits = [(re.compile(p), n) for p, n in plan.limits.items()]
        self.has_patterns = bool(self.follow or self.detail or plan.follow_css or plan.detail_css
                                 or plan.follow_xpath or plan.detail_xpath)
        # Hosts are checked in _links (LinkExtractor's allow_domains compares host:port).
        common = {"deny": plan.deny, "unique": True}
        self.links = LinkExtractor(**common)
        self.follow_areas = (LinkExtractor(restrict_css=plan.follow_css, restrict_xpaths=plan.follow_xpath, **common)
                             if plan.follow_css or plan.follow_xpath else None)
        self.detail_areas = (LinkExtractor(restrict_css=plan.detail_css, restrict_xpaths=plan.detail_xpath, **common)
                             if plan.detail_css or plan.detail_xpath else None)
        self.scheduled: set[str] = set()  # canonical URLs admitted (the per-site cap counts these)
        self.per_site: dict[str, int] = {}
        self.per_limit: dict[int, int] = {}
        self.candidates: dict[str, dict[str, tuple[str, int]]] = {}  # site -> key -> (url, depth)
        self.sampled: dict[str, int] = {}
        self.frontier = None  # set by crawlers.frontier.SqliteScheduler when it is the scheduler

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    # -- admission: caps, limits, dedupe ------------------------------------------------
    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + ("?" + parts.query if parts.query else "")

    def _matches(self, patterns, url: str) -> bool:
        path = self._path(url)
        return any(p.search(url) or p.search(path) for p in patterns)

    def _allowed_host(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def _admit(self, url: str, count_only: bool = False) -> bool:
        key = canonical(url)
        if key in self.scheduled:
            return False
        if self._matches(self.deny, url):
            self.crawler.stats.inc_value("fangxin/denied")
            return False
        site = site_of(key)
        if self.per_site.get(site, 0) >= self.plan.max_pages:
            self.crawler.stats.inc_value("fangxin/site_cap_reached")
            return False
        for i, (pattern, limit) in enumerate(self.limits):
            if pattern.search(url) or pattern.search(self._path(url)):
                if self.per_limit.get(i, 0) >= limit:
                    self.crawler.stats.inc_value("fangxin/limit_reached")
                    return False
        for i, (pattern, _) in enumerate(self.limits):
            if pattern.search(url) or pattern.search(self._path(url)):
                self.per_limit[i] = self.per_limit.get(i, 0) + 1
        self.scheduled.add(key)
        self.per_site[site] = self.per_site.get(site, 0) + 1
        return True

    def _request(self, url: str, kind: str, render: bool | None = None, **kwargs) -> scrapy.Request:
        browser = self.plan.render == "browser" if render is None else render
        meta = {"fangxin_kind": kind, **kwargs.pop("meta", {})}
        if browser:
            meta["fangxin_render"] = True
            if self.plan.screenshots != "all":
                meta["fangxin_screenshot"] = True  # taken now, kept only when the page has a hit
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta, **kwargs)

    def _restore(self) -> None:
        """After a restart, count what the frontier already holds against the caps."""
        if self.frontier is None or not self.frontier.frontier.resumed:
            return
        for url in self.frontier.frontier.urls():
            self._admit(url)

    # -- the crawl ----------------------------------------------------------------------------
    async def start(self):
        self._restore()
        for sitemap in self.plan.sitemaps:
            yield scrapy.Request(sitemap, callback=self.parse_sitemap, errback=self.failed,
                                 meta={"fangxin_kind": "sitemap"}, dont_filter=True)
        for seed in self.plan.seeds:
            if self._admit(seed):
                yield self._request(seed, "seed")
            elif self.frontier is not None:
                # Resuming: the seed is in the frontier already; yield it so the frontier dedupes it.
                yield self._request(seed, "seed")

    def parse_sitemap(self, response):
        from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

        if self.frontier is not None:
            self.frontier.done(response.request)
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.text, base_url=response.url):
                yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.failed, dont_filter=True)
            return
        try:
            sitemap = Sitemap(response.body)
        except Exception:  # a malformed sitemap is skipped, not fatal
            self.logger.warning("unreadable sitemap %s", response.url)
            return
        for entry in sitemap:
            loc = entry.get("loc")
            if not loc:
                continue
            if sitemap.type == "sitemapindex":
                yield scrapy.Request(loc, callback=self.parse_sitemap, errback=self.failed, dont_filter=True)
            elif self._allowed_host(loc):
                yield from self._consider(loc, depth=1)

    def parse(self, response):
        rendered = bool(response.meta.get("playwright"))
        if self.plan.render == "auto" and not rendered and needs_browser(response):
            self.crawler.stats.inc_value("fangxin/auto_rendered")
            yield self._request(response.url, response.meta.get("fangxin_kind", "page"), render=True,
                                meta={"depth": response.meta.get("depth", 0)}, dont_filter=True)
            if self.frontier is not None:
                self.frontier.done(response.request)
            return
        # Links first: they reach the frontier before this page's capture is stored (crash safety).
        if isinstance(response, TextResponse):
            yield from self._links(response)
        item = capture_from_response(response, plan=self.plan.name, sector=self.plan.sector,
                                     render="browser" if rendered else "static")
        if rendered:
            attach_rendering(item, response)
        if self.frontier is not None:
            self.frontier.producing(response.request)
        yield item

    def _links(self, response):
        depth = response.meta.get("depth", 0)
        if depth >= self.plan.max_depth:  # 0: the seeds only (Scrapy's DEPTH_LIMIT=0 would mean no limit)
            return
        details = set()
        if self.detail_areas is not None:
            details = {link.url for link in self.detail_areas.extract_links(response)}
        follows = set()
        if self.follow_areas is not None:
            follows = {link.url for link in self.follow_areas.extract_links(response)}
        for link in self.links.extract_links(response):
            url = link.url
            if not self._allowed_host(url):
                continue
            if url in details or self._matches(self.detail, url):
                yield from self._consider(url, depth + 1)
            elif url in follows or self._matches(self.follow, url) or not self.has_patterns:
                if self._admit(url):
                    yield self._request(url, "listing")

    def _consider(self, url: str, depth: int):
        """A detail page: fetched now, or held for the sample."""
        if self.plan.detail_sample is None:
            if self._admit(url):
                yield self._request(url, "detail")
            return
        key = canonical(url)
        if key in self.scheduled:
            return
        self.candidates.setdefault(site_of(key), {}).setdefault(key, (url, depth))

    def idle(self, spider=None):
        """The listing crawl ran dry: schedule each site's sample of detail pages."""
        if self.plan.detail_sample is None or not self.candidates:
            return
        scheduled = 0
        for site, found in self.candidates.items():
            want = self.plan.detail_sample - self.sampled.get(site, 0)
            if want <= 0:
                continue
            ranked = sorted(found, key=lambda k: sample_key(self.plan.sample_seed, k))
            for key in ranked:
                if want <= 0:
                    break
                url, depth = found[key]
                if depth > self.plan.max_depth:
                    continue
                if not self._admit(url):
                    continue
                request = self._request(url, "detail", meta={"depth": depth}, priority=-depth)
                self.crawler.engine.crawl(request)
                self.sampled[site] = self.sampled.get(site, 0) + 1
                want -= 1
                scheduled += 1
            found.clear()
        self.crawler.stats.set_value("fangxin/detail_sampled", sum(self.sampled.values()))
        if scheduled:
            raise DontCloseSpider

    def failed(self, failure):
        request = failure.request
        if self.frontier is not None and failure.check(IgnoreRequest):
            self.frontier.done(request)
        if failure.check(IgnoreRequest):  # robots.txt or the private-address guard said no: not a page
            self.crawler.stats.inc_value("fangxin/refused")
            self.logger.info("ignored %s: %s", request.url, failure.value)
            return
        self.crawler.stats.inc_value("fangxin/page_errors")
        if self.frontier is not None:
            self.frontier.producing(request)
        yield capture_from_failure(failure, plan=self.plan.name, sector=self.plan.sector,
                                   render="browser" if request.meta.get("fangxin_render") else "static")
