"""Crawl benchmark workers (`fangxin bench crawl` runs each in its own process).

    python -m crawlers.bench MODE --base URL --pages N [--concurrency C] [--db PATH]

Modes:
    bare      a bare Scrapy spider: fetch the pages, no pipeline (the baseline)
    full      the plan spider through the full pipeline: extract, rules, evidence (WARC), store
    nowarc    the same without the evidence pipeline (evidence cost = full vs nowarc)
    shots     full, plus a full-page screenshot of every page with a hit
    render    the plan spider in browser mode through the full pipeline, no screenshots
    pwloop    a bare Playwright loop over the same pages (the rendering baseline)

Prints one JSON line: pages, seconds, pages_per_s, peak_mb (PSS of this process and
its Chromium), memory samples by page count (--marks), CPU seconds of this process and
its Chromium (cpu_s, cpu_ms_per_page: steadier than wall-clock on a shared machine) and
the load average at the end (load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time

import psutil

TAG = "FANGXIN_BENCH_TAG"


def tree_procs(root: int) -> dict[int, psutil.Process]:
    """`root`, its descendants, and every Chromium/driver process that inherited its tag.

    Chromium's zygote and renderers re-parent to PID 1, so a process tree misses them;
    they keep the environment, and the tag set in main() finds exactly ours."""
    tag = os.environ.get(TAG, "")
    procs = {}
    try:
        top = psutil.Process(root)
        procs[top.pid] = top
        for child in top.children(recursive=True):
            procs[child.pid] = child
    except psutil.Error:
        return {}
    for proc in psutil.process_iter(["name"]):
        name = proc.info.get("name") or ""
        if proc.pid in procs or not ("chrom" in name or "node" in name or "playwright" in name):
            continue
        try:
            if tag and proc.environ().get(TAG) == tag:
                procs[proc.pid] = proc
        except psutil.Error:
            continue
    return procs


def tree_mb(root: int, procs: dict[int, psutil.Process] | None = None) -> float:
    """PSS (falling back to RSS) of `root` and every process that inherited its tag, in MB."""
    total = 0
    for proc in (tree_procs(root) if procs is None else procs).values():
        try:
            info = proc.memory_full_info()
            total += getattr(info, "pss", 0) or info.rss
        except psutil.Error:
            continue
    return total / 2**20


class Sampler:
    """Samples memory in a thread: peak, and the value when a page count is first reached.

    Also the CPU time of every process of the tree (user + system, by PID, the latest
    value seen): processes that exit between two samples lose at most 0.5 s of it."""

    def __init__(self, marks=()):
        self.peak = 0.0
        self.marks = sorted(marks)
        self.at: dict[int, float] = {}
        self.pages = 0
        self.samples: list[tuple[int, float]] = []  # (pages done, MB)
        self.cpu: dict[tuple[int, float], float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            procs = tree_procs(os.getpid())
            self.sample_cpu(procs)
            mb = tree_mb(os.getpid(), procs)
            self.peak = max(self.peak, mb)
            self.samples.append((self.pages, mb))
            for mark in self.marks:
                if mark not in self.at and self.pages >= mark:
                    self.at[mark] = round(mb, 1)
            self.stop.wait(0.5)

    def window_mean(self, mark: int, window: int) -> float | None:
        """Mean memory over the pages (mark - window, mark]: with `window` the context lifetime,
        one whole recycling cycle, so two marks compare like with like (a single sample may
        fall just after a context was closed, or just before)."""
        values = [mb for pages, mb in self.samples if mark - window < pages <= mark]
        return round(sum(values) / len(values), 1) if values else None

    def sample_cpu(self, procs) -> None:
        for proc in procs.values():
            try:
                times = proc.cpu_times()
                key = (proc.pid, proc.create_time())
            except psutil.Error:
                continue
            self.cpu[key] = times.user + times.system

    def cpu_seconds(self) -> float:
        self.sample_cpu(tree_procs(os.getpid()))
        return sum(self.cpu.values())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def urls(base: str, pages: int, offset: int = 0) -> list[str]:
    return [f"{base}/mall/p/{n}.html" for n in range(1 + offset, pages + 1 + offset)]


def run_bare(args, sampler) -> int:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    todo = urls(args.base, args.pages)

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self):
            for url in todo:
                yield scrapy.Request(url, dont_filter=True)

        def parse(self, response):
            sampler.pages += 1

    process = CrawlerProcess({
        "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
        "CONCURRENT_REQUESTS": args.concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0,
    })
    process.crawl(Bare)
    process.start()
    return sampler.pages


def run_plan_mode(args, sampler) -> int:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawlers.plans import Plan
    from crawlers.run import build_settings, plan_settings
    from crawlers.spiders.plan import PlanSpider

    render = args.mode == "render"
    plan = Plan(name=f"bench-{args.mode}", path="bench", sector="ecommerce", seeds=urls(args.base, args.pages),
                allowed_domains=["127.0.0.1"], max_pages=args.pages + 10, max_depth=0,
                render="browser" if render else "static", delay=0.0, concurrency=args.concurrency,
                autothrottle=False, allow_private=True, obey_robots=True,
                screenshots="hits" if args.mode == "shots" else "none",
                context_pages=args.context_pages, restart_after=args.restart_after, browser_pages=args.concurrency)
    overrides = plan_settings(plan) | {
        "FANGXIN_PROGRESS": False, "LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": args.concurrency,
        **({"FANGXIN_CHROMIUM": args.chromium} if args.chromium else {}),
        "FANGXIN_FRONTIER": os.path.join(os.path.dirname(os.path.abspath(args.db)), f"frontier-{args.mode}.sqlite"),
    }
    if args.mode == "nowarc":
        overrides["ITEM_PIPELINES"] = {"pipelines.extract.ExtractPipeline": 100, "pipelines.flag.FlagPipeline": 200,
                                       "crawlers.pipelines.HitScreenshot": 250, "pipelines.save.SavePipeline": 400}
    settings = build_settings(args.db, overrides, render=render or args.mode == "shots")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PlanSpider)

    def scraped(item, response=None, spider=None):
        sampler.pages += 1

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    process.crawl(crawler, plan=plan)
    process.start()
    return sampler.pages


async def pw_loop(args, sampler) -> int:
    from playwright.async_api import async_playwright

    from crawlers.browser import launch_options

    todo = urls(args.base, args.pages)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch_options(args.chromium or None))
        context = await browser.new_context()
        queue = list(reversed(todo))

        async def worker():
            page = await context.new_page()
            while queue:
                url = queue.pop()
                await page.goto(url, wait_until="networkidle")
                await page.content()
                sampler.pages += 1
            await page.close()

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        await context.close()
        await browser.close()
    return sampler.pages


def chromium_used(args) -> str | None:
    if args.mode in ("render", "pwloop", "shots"):
        from crawlers.browser import chromium_path

        return os.path.basename(chromium_path(args.chromium or None))
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawlers.bench")
    parser.add_argument("mode", choices=["bare", "full", "nowarc", "shots", "render", "pwloop"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--db", default="bench.db")
    parser.add_argument("--marks", default="", help="page counts at which to record memory, e.g. 200,2000")
    parser.add_argument("--context-pages", type=int, default=100)
    parser.add_argument("--restart-after", type=int, default=200)
    parser.add_argument("--chromium", default="", help="Chromium binary (default: crawlers.browser's choice)")
    args = parser.parse_args(argv)
    os.environ[TAG] = f"{os.getpid()}-{time.time()}"  # inherited by Chromium, see tree_mb()
    marks = [int(m) for m in args.marks.split(",") if m]
    with Sampler(marks) as sampler:
        cpu0 = sampler.cpu_seconds()
        started = time.monotonic()
        if args.mode == "bare":
            pages = run_bare(args, sampler)
        elif args.mode == "pwloop":
            pages = asyncio.run(pw_loop(args, sampler))
        else:
            pages = run_plan_mode(args, sampler)
        seconds = time.monotonic() - started
        cpu = sampler.cpu_seconds() - cpu0
    result = {"mode": args.mode, "chromium": chromium_used(args), "pages": pages, "seconds": round(seconds, 2),
              "pages_per_s": round(pages / seconds, 2) if seconds else 0.0, "peak_mb": round(sampler.peak, 1),
              "memory_at": sampler.at,
              "memory_window": {m: sampler.window_mean(m, args.context_pages) for m in marks}, "cpu_s": round(cpu, 1),
              "cpu_ms_per_page": round(1000 * cpu / pages, 1) if pages else None,
              "load": [round(x, 2) for x in os.getloadavg()]}
    if os.path.exists(args.db) and args.mode not in ("bare", "pwloop"):
        evidence = os.path.join(os.path.dirname(os.path.abspath(args.db)), "warc")
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(evidence) for f in fs)
        result["db_mb"] = round(os.path.getsize(args.db) / 2**20, 2)
        result["warc_mb"] = round(size / 2**20, 2)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
