"""scrapy-playwright's download handler, made cheaper per rendered page.

scrapy-playwright (pinned 0.0.48) opens a new page for every request and routes
every request of that page through Python (`page.route("**")`) to copy Scrapy's
headers onto it. Routing costs a round trip to the Playwright driver per request
and turns Chromium's HTTP cache off, so every page fetches its stylesheet again.
On the sandbox mall this doubled the CPU per rendered page against a bare
Playwright loop.

FangxinPlaywrightHandler keeps the open pages of each context and navigates them
again (at most PLAYWRIGHT_MAX_PAGES_PER_CONTEXT per context, as before), and
skips the routing when nothing needs it: a GET without a body, no
PLAYWRIGHT_ABORT_REQUEST, and PLAYWRIGHT_PROCESS_REQUEST_HEADERS set to None.
Our identity then travels as the context's user agent (BrowserPages sets it) and
the Referer as `page.goto(referer=...)`; the request headers Chromium actually
sent are copied onto the Scrapy request, as scrapy-playwright does, so the WARC
request record stays true.

Requests that bring their own page (`playwright_page`) or keep it
(`playwright_include_page`) take scrapy-playwright's own path unchanged.
"""

from __future__ import annotations

import asyncio

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler


class FangxinPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.idle_pages: dict[str, list] = {}  # context name -> open pages not in use
        self.open_pages: dict[str, int] = {}  # context name -> pages we hold open (idle or in use)
        self.page_freed: asyncio.Condition | None = None

    def _plain(self, request) -> bool:
        meta = request.meta
        return not (meta.get("playwright_page") or meta.get("playwright_include_page")
                    or meta.get("playwright_page_event_handlers") or meta.get("playwright_page_init_callback"))

    def _routing_needed(self, request) -> bool:
        return bool(self.abort_request or self.process_request_headers is not None
                    or request.method.upper() != "GET" or request.body)

    async def _download_request_with_retry(self, request, spider):
        if not self._plain(request):
            return await super()._download_request_with_retry(request, spider)
        name = request.meta.setdefault("playwright_context", "default")
        page = await self._take_page(request, spider, name)
        request.meta["playwright_include_page"] = True  # scrapy-playwright leaves the page open for us
        reuse = False
        try:
            if self._routing_needed(request):
                await page.unroute("**")
                response = await super()._download_request_with_retry(request, spider)
            else:
                response = await self._download_unrouted(request, page, spider)
            reuse = not page.is_closed()
            return response
        finally:
            request.meta.pop("playwright_include_page", None)
            request.meta.pop("playwright_page", None)
            await self._give_back(name, page, reuse)

    async def _download_unrouted(self, request, page, spider):
        sent: dict = {}

        def on_request(pw_request) -> None:
            if not sent and pw_request.is_navigation_request():
                sent.update(pw_request.headers)

        referer = request.headers.get("Referer")
        kwargs = dict(request.meta.get("playwright_page_goto_kwargs") or {})
        if referer and "referer" not in kwargs:
            kwargs["referer"] = referer.decode("latin-1")
        request.meta["playwright_page_goto_kwargs"] = kwargs
        page.on("request", on_request)
        try:
            response = await self._download_request_with_page(request, page, spider)
        except Exception:
            if not page.is_closed():
                await page.close()
            raise
        finally:
            page.remove_listener("request", on_request)
        if sent:  # the headers Chromium sent, as scrapy-playwright's routing records them
            request.headers.clear()
            request.headers.update({key: _wire_bytes(value) for key, value in sent.items()})
        return response

    async def _take_page(self, request, spider, name: str):
        if self.page_freed is None:
            self.page_freed = asyncio.Condition()
        limit = self.config.max_pages_per_context
        async with self.page_freed:
            while True:
                idle = self.idle_pages.get(name) or []
                while idle:
                    page = idle.pop()
                    if not page.is_closed():
                        return page
                    self.open_pages[name] -= 1
                if self.open_pages.get(name, 0) < limit:
                    self.open_pages[name] = self.open_pages.get(name, 0) + 1
                    break
                await self.page_freed.wait()
        try:
            return await self._create_page(request=request, spider=spider)
        except BaseException:
            await self._give_back(name, None, False)
            raise

    async def _give_back(self, name: str, page, reuse: bool) -> None:
        async with self.page_freed:
            if reuse and page is not None and not page.is_closed():
                self.idle_pages.setdefault(name, []).append(page)
            else:
                if page is not None and not page.is_closed():
                    await page.close()
                self.open_pages[name] = max(0, self.open_pages.get(name, 0) - 1)
            self.page_freed.notify_all()

    def forget(self, name: str) -> None:
        """Drop the pool of a context that was closed (BrowserPages recycles contexts by name)."""
        self.open_pages.pop(name, None)
        self.idle_pages.pop(name, None)


def _wire_bytes(value: str) -> bytes:
    """Playwright reports header bytes decoded as Latin-1 (a UTF-8 user agent such as
    "…测试局…" arrives as mojibake): encode them back to the bytes on the wire."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
