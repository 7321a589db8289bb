"""Start crawls in this process: settings assembly and the Scrapy CrawlerProcess."""

from __future__ import annotations

import fcntl
import getpass
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawlers.browser import launch_options


def build_settings(db: str, overrides: dict | None = None, render: bool = False) -> Settings:
    """Project settings, then per-crawl values, then explicit overrides (highest priority)."""
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("FANGXIN_DB", db, priority="cmdline")
    if not settings.get("FANGXIN_OPERATOR"):
        try:
            settings.set("FANGXIN_OPERATOR", getpass.getuser(), priority="project")
        except (KeyError, OSError):
            settings.set("FANGXIN_OPERATOR", "unknown", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    # Chromium is needed for rendered pages and for the screenshot of a static page with a hit;
    # scrapy-playwright launches it only when the first such page comes.
    if render or settings.get("FANGXIN_SCREENSHOTS", "hits") != "none":
        settings.set("PLAYWRIGHT_LAUNCH_OPTIONS", launch_options(settings.get("FANGXIN_CHROMIUM")),
                     priority="cmdline")
    else:
        # No page needs the browser: keep Scrapy's own HTTP handlers and start no Playwright.
        settings.set("DOWNLOAD_HANDLERS", {}, priority="cmdline")
    return settings


def url_hosts(urls) -> list[str]:
    return sorted({(urlsplit(u).hostname or "").lower() for u in urls if urlsplit(u).hostname})


def run_urls(urls: list[str], db: str, render: bool = False, overrides: dict | None = None) -> dict:
    """Fetch each URL once through the full pipeline; return the crawl's stats."""
    from crawlers.spiders.pages import PagesSpider

    overrides = dict(overrides or {})
    # Hosts the operator named explicitly are allowed even when private (e.g. the sandbox on 127.0.0.1).
    allowed = list(overrides.get("FANGXIN_ALLOW_PRIVATE_HOSTS", [])) + url_hosts(urls)
    overrides["FANGXIN_ALLOW_PRIVATE_HOSTS"] = allowed
    settings = build_settings(db, overrides, render=render)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PagesSpider)
    process.crawl(crawler, urls=urls, render=render, plan=settings.get("FANGXIN_PLAN"))
    process.start()
    return dict(crawler.stats.get_stats())


def plan_settings(plan) -> dict:
    """Scrapy settings a plan sets for its crawl."""
    out = {
        "FANGXIN_PLAN": plan.name,
        "ROBOTSTXT_OBEY": plan.obey_robots,
        "DOWNLOAD_DELAY": plan.delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": plan.concurrency,
        "CONCURRENT_REQUESTS": max(16, plan.concurrency * max(1, len(plan.allowed_domains))),
        "DEPTH_LIMIT": plan.max_depth,
        "AUTOTHROTTLE_ENABLED": plan.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(plan.delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(plan.concurrency),
        "FANGXIN_CONTEXT_PAGES": plan.context_pages,
        "FANGXIN_BROWSER_RESTART_PAGES": plan.restart_after,
        "FANGXIN_WAIT_UNTIL": plan.wait_until,
        "FANGXIN_SCREENSHOTS": plan.screenshots,
        "FANGXIN_OCR": plan.ocr,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": plan.browser_pages,
        # The crash-safe frontier: a crawl killed and started again resumes (crawlers/frontier.py).
        "SCHEDULER": "crawlers.frontier.SqliteScheduler",
    }
    if plan.user_agent:
        out["USER_AGENT"] = plan.user_agent
    if plan.allow_private:
        out["FANGXIN_ALLOW_PRIVATE_HOSTS"] = sorted({d.split(":")[0] for d in plan.allowed_domains})
    if plan.max_bytes:
        out["FANGXIN_MAX_BODY_BYTES"] = plan.max_bytes
    if plan.timeout:
        out["DOWNLOAD_TIMEOUT"] = plan.timeout
        out["PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"] = int(plan.timeout * 1000)
    if plan.max_redirects is not None:
        out["REDIRECT_MAX_TIMES"] = plan.max_redirects
    if not plan.obey_robots:
        out["FANGXIN_ROBOTS_OVERRIDDEN"] = True  # recorded with the run's settings
    return out


class PlanBusy(RuntimeError):
    """The plan is being crawled by another process right now."""


@contextmanager
def plan_lock(db: str, name: str):
    """Hold an exclusive lock for plan `name` against database `db` (released when the process dies)."""
    path = Path(db).resolve().parent / "frontier" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PlanBusy(f"计划 {name} 正在运行 plan {name} is already running ({path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def run_plan(plan, db: str, overrides: dict | None = None) -> dict:
    """Run one plan now through the full pipeline; return the crawl's stats.

    A crawl of the same plan and database killed earlier resumes from its frontier;
    raises PlanBusy when the plan is running in another process."""
    from crawlers.spiders.plan import PlanSpider

    merged = plan_settings(plan) | dict(overrides or {})
    settings = build_settings(db, merged, render=plan.render in ("browser", "auto"))
    distributed = bool(settings.get("REDIS_URL"))  # workers of one crawl share a plan on purpose
    with plan_lock(db, plan.name) if not distributed else _no_lock():
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(PlanSpider)
        process.crawl(crawler, plan=plan)
        process.start()
    return dict(crawler.stats.get_stats())


@contextmanager
def _no_lock():
    yield
