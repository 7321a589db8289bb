"""Downloader middlewares."""

from __future__ import annotations

import ipaddress
import logging
import socket
from functools import lru_cache
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def _addresses(host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ()
    return tuple(sorted({info[4][0] for info in infos}))


def is_private_host(host: str) -> bool:
    """True when `host` is or resolves to a private, loopback, link-local or reserved address."""
    for addr in _addresses(host.strip("[]")):
        ip = ipaddress.ip_address(addr.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            return True
    return False


class PrivateAddressGuard:
    """Refuse requests (links and redirects alike) to private, loopback or link-local addresses.

    Hosts listed in FANGXIN_ALLOW_PRIVATE_HOSTS pass: the sandbox plans list
    127.0.0.1, and hosts of URLs an operator passes with `--url` are added.
    """

    def __init__(self, allowed: list[str], stats=None):
        self.allowed = {h.lower() for h in allowed}
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getlist("FANGXIN_ALLOW_PRIVATE_HOSTS"), crawler.stats)

    def process_request(self, request, spider=None):
        host = (urlsplit(request.url).hostname or "").lower()
        if host in self.allowed:
            return None
        if is_private_host(host):
            if self.stats:
                self.stats.inc_value("fangxin/refused_private")
            raise IgnoreRequest(f"refused private address: {host}")
        return None


class BrowserPages:
    """Send requests marked `fangxin_render` through Chromium, with bounded, recycled contexts.

    Plans and spiders only set `meta["fangxin_render"] = True` (plain data, so the
    request can be stored in the frontier); this middleware adds scrapy-playwright's
    meta at download time: the load state page.goto waits for (FANGXIN_WAIT_UNTIL),
    a full-page screenshot unless FANGXIN_SCREENSHOTS is "none", and the browser
    context with our user agent.

    Playwright keeps every request and response of a context until the context
    closes (playwright#6319), so memory grows over a long crawl. After
    FANGXIN_CONTEXT_PAGES pages the middleware holds new pages back, lets the
    pages in flight finish, closes the context and opens a fresh one; after
    FANGXIN_BROWSER_RESTART_PAGES pages it closes Chromium too, and
    scrapy-playwright launches a new one for the next page.

    Placed after Scrapy's RetryMiddleware (higher number) so it sees every
    response and exception of the download handler.
    """

    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.context_pages = max(1, settings.getint("FANGXIN_CONTEXT_PAGES", 100))
        self.restart_pages = max(self.context_pages, settings.getint("FANGXIN_BROWSER_RESTART_PAGES", 200))
        self.wait_until = settings.get("FANGXIN_WAIT_UNTIL", "networkidle")
        self.screenshots = settings.get("FANGXIN_SCREENSHOTS", "hits")
        self.generation = 0
        self.in_generation = 0
        self.since_restart = 0
        self.inflight: dict[str, int] = {}
        self.draining = False
        self.gate = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def context_name(self) -> str:
        return f"fangxin-{self.generation}"

    async def process_request(self, request, spider=None):
        if not request.meta.get("fangxin_render"):
            return None
        import asyncio

        from scrapy_playwright.page import PageMethod

        while self.draining:
            await self.gate.wait()
        # The wait is page.goto's own `wait_until` (one round trip to the driver, as a bare
        # Playwright loop does), not a page method: scrapy-playwright follows every page method
        # with another wait for the load state.
        methods = []
        if self.screenshots != "none" and request.meta.get("fangxin_screenshot", True):
            full = request.meta.get("fangxin_full_page", True)
            methods.append(PageMethod("screenshot", full_page=full, type="png"))
        name = self.context_name()
        request.meta["playwright"] = True
        request.meta["playwright_context"] = name
        request.meta["playwright_page_methods"] = methods
        request.meta["playwright_page_goto_kwargs"] = {"wait_until": self.wait_until}
        # Our identity goes with the context: crawlers.handler sends pages without
        # scrapy-playwright's per-request header routing (read when the context is created).
        agent = request.headers.get("User-Agent")
        if agent:
            request.meta["playwright_context_kwargs"] = {"user_agent": agent.decode("utf-8", "replace")}
        request.meta["fangxin_context"] = name
        self.inflight[name] = self.inflight.get(name, 0) + 1
        self.in_generation += 1
        if self.in_generation >= self.context_pages:
            self.draining = True
            self.gate = asyncio.Event()
        return None

    def process_response(self, request, response, spider=None):
        self._release(request)
        return response

    def process_exception(self, request, exception, spider=None):
        self._release(request)
        return None

    def _release(self, request) -> None:
        name = request.meta.pop("fangxin_context", None)
        if name is None:
            return
        self.inflight[name] -= 1
        if not self.inflight[name]:
            del self.inflight[name]
        if self.draining and not self.inflight:
            import asyncio

            asyncio.ensure_future(self._recycle())

    def _handler(self):
        handlers = getattr(self.crawler.engine.downloader, "handlers", None)
        return getattr(handlers, "_handlers", {}).get("http") if handlers else None

    async def _recycle(self) -> None:
        old = self.context_name()
        handler = self._handler()
        try:
            wrapper = getattr(handler, "context_wrappers", {}).get(old)
            if wrapper is not None:
                await wrapper.context.close()
                self.crawler.stats.inc_value("fangxin/browser_contexts_recycled")
            if hasattr(handler, "forget"):  # crawlers.handler keeps the pages of each context
                handler.forget(old)
            self.since_restart += self.in_generation
            if self.since_restart >= self.restart_pages and hasattr(handler, "browser"):
                await handler.browser.close()  # scrapy-playwright relaunches on the next page
                import asyncio

                for _ in range(100):  # its "disconnected" callback forgets the old browser
                    if not hasattr(handler, "browser"):
                        break
                    await asyncio.sleep(0.05)
                self.crawler.stats.inc_value("fangxin/browser_restarts")
                self.since_restart = 0
        except Exception as exc:  # a browser that already went away is what we wanted anyway
            logger.warning("browser recycle: %s", exc)
        finally:
            self.generation += 1
            self.in_generation = 0
            self.draining = False
            self.gate.set()
