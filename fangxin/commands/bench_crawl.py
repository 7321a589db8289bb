"""`fangxin bench crawl`: crawl throughput and memory, each beside its baseline in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import click


def _run(mode: str, base: str, pages: int, workdir: str, *extra: str) -> dict:
    folder = os.path.join(workdir, mode)
    os.makedirs(folder, exist_ok=True)
    cmd = [sys.executable, "-m", "crawlers.bench", mode, "--base", base, "--pages", str(pages),
           "--db", os.path.join(folder, "bench.db"), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)  # noqa: S603 - our own module
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise click.ClickException(f"bench {mode} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")
    return json.loads(lines[-1])


@click.command("crawl")
@click.option("--pages", type=int, default=2000, show_default=True,
              help="Static pages of the sandbox mall fetched by the pipeline and by the bare Scrapy baseline.")
@click.option("--rendered", type=int, default=250, show_default=True,
              help="Pages rendered in Chromium by the pipeline and by the bare Playwright baseline "
                   "(2000 measures memory after 2,000 rendered pages against 200).")
@click.option("--evidence-pages", type=int, default=200, show_default=True,
              help="Pages for the evidence-cost runs (with and without WARC, with screenshots of hits).")
@click.option("--concurrency", type=int, default=8, show_default=True, help="Requests in flight (static runs).")
@click.option("--browser-pages", type=int, default=4, show_default=True, help="Pages open in Chromium at once.")
@click.option("--context-pages", type=int, default=100, show_default=True,
              help="Fresh browser context after this many rendered pages.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def crawl_bench(pages: int, rendered: int, evidence_pages: int, concurrency: int, browser_pages: int,
                context_pages: int, as_json: bool) -> None:
    """Benchmark the crawl path against bare Scrapy and bare Playwright on the sandbox mall.

    \b
    Runs, each in its own process, against the sandbox's generated mall
    (SANDBOX_MALL_PAGES, default 2000 product pages) on 127.0.0.1:
      static   full pipeline (extract, rules, WARC evidence, store) vs a bare
               Scrapy spider with no pipeline: pages/min and their ratio (goal >= 0.6)
      rendered the pipeline in browser mode vs a bare Playwright loop over the
               same pages with the same Chromium: pages/s and ratio (goal >= 0.8)
      memory   peak PSS of the crawler and its Chromium; memory after N rendered
               pages vs after the first 100-200 (goal: within 20%)
      evidence pipeline without WARC, with WARC, and with screenshots of hits
    The default run takes about 3 minutes on 2 cores; --pages/--rendered scale it.
    """
    from tests.sites.server import start_in_thread

    need = max(pages, rendered, evidence_pages)
    os.environ["SANDBOX_MALL_PAGES"] = str(max(need, int(os.environ.get("SANDBOX_MALL_PAGES", "2000"))))
    base, stop = start_in_thread(0)
    out: dict = {"pages": pages, "rendered": rendered, "concurrency": concurrency, "browser_pages": browser_pages}
    early = 200 if rendered >= 1000 else max(20, rendered // 3)
    late = max(early + 1, rendered - 2 * browser_pages)
    say = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    try:
        with tempfile.TemporaryDirectory(prefix="fangxin-bench-") as work:
            say(f"static: bare Scrapy, {pages} pages …")
            bare = _run("bare", base, pages, work, "--concurrency", str(concurrency))
            say(f"static: full pipeline, {pages} pages …")
            full = _run("full", base, pages, work, "--concurrency", str(concurrency))
            say(f"evidence: {evidence_pages} pages without WARC, with WARC, with screenshots of hits …")
            nowarc = _run("nowarc", base, evidence_pages, work, "--concurrency", str(concurrency))
            withwarc = _run("full", base, evidence_pages, os.path.join(work, "ev"), "--concurrency", str(concurrency))
            shots = _run("shots", base, evidence_pages, work, "--concurrency", str(concurrency))
            say(f"rendered: pipeline in Chromium, {rendered} pages …")
            render = _run("render", base, rendered, work, "--concurrency", str(browser_pages),
                          "--marks", f"{early},{late}", "--context-pages", str(context_pages))
            say(f"rendered: bare Playwright loop, {rendered} pages …")
            loop = _run("pwloop", base, rendered, work, "--concurrency", str(browser_pages),
                        "--marks", f"{early},{late}")
    finally:
        stop()
    out["static"] = {
        "pipeline_pages_per_min": round(full["pages_per_s"] * 60),
        "bare_scrapy_pages_per_min": round(bare["pages_per_s"] * 60),
        "ratio": round(full["pages_per_s"] / bare["pages_per_s"], 2) if bare["pages_per_s"] else None,
        "pipeline_peak_mb": full["peak_mb"], "bare_peak_mb": bare["peak_mb"],
    }
    mem = render.get("memory_at", {})
    m_early, m_late = mem.get(str(early)), mem.get(str(late))
    out["rendered"] = {
        "pipeline_pages_per_s": render["pages_per_s"], "bare_playwright_pages_per_s": loop["pages_per_s"],
        "ratio": round(render["pages_per_s"] / loop["pages_per_s"], 2) if loop["pages_per_s"] else None,
        "pipeline_peak_mb": render["peak_mb"], "bare_peak_mb": loop["peak_mb"],
        "memory_mb": {f"after_{early}": m_early, f"after_{late}": m_late},
        "memory_growth": round(m_late / m_early - 1, 3) if m_early and m_late else None,
        "bare_memory_mb": loop.get("memory_at", {}),
    }
    out["evidence"] = {
        "pages": evidence_pages,
        "no_warc_pages_per_s": nowarc["pages_per_s"], "warc_pages_per_s": withwarc["pages_per_s"],
        "warc_and_hit_screenshots_pages_per_s": shots["pages_per_s"],
        "warc_mb": withwarc.get("warc_mb"), "warc_and_screenshots_mb": shots.get("warc_mb"),
        "db_mb": withwarc.get("db_mb"),
    }
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    s, r, e = out["static"], out["rendered"], out["evidence"]
    click.echo(f"静态 static ({pages} pages, concurrency {concurrency}): pipeline {s['pipeline_pages_per_min']} pages/min"
               f" vs bare Scrapy {s['bare_scrapy_pages_per_min']} pages/min = {s['ratio']} (goal >= 0.6);"
               f" peak {s['pipeline_peak_mb']} MB vs {s['bare_peak_mb']} MB")
    click.echo(f"渲染 rendered ({rendered} pages, {browser_pages} at once): pipeline {r['pipeline_pages_per_s']} pages/s"
               f" vs bare Playwright {r['bare_playwright_pages_per_s']} pages/s = {r['ratio']} (goal >= 0.8);"
               f" peak {r['pipeline_peak_mb']} MB vs {r['bare_peak_mb']} MB")
    click.echo(f"内存 memory (pipeline, context recycled every {context_pages} pages): after {early} pages {m_early} MB,"
               f" after {late} pages {m_late} MB, growth {r['memory_growth']} (goal <= 0.2);"
               f" bare loop without recycling: {r['bare_memory_mb']}")
    click.echo(f"证据 evidence ({evidence_pages} pages): no WARC {e['no_warc_pages_per_s']} pages/s, WARC"
               f" {e['warc_pages_per_s']} pages/s ({e['warc_mb']} MB), WARC + screenshots of hits"
               f" {e['warc_and_hit_screenshots_pages_per_s']} pages/s ({e['warc_and_screenshots_mb']} MB)")
