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
@click.option("--restart-after", type=int, default=200, show_default=True,
              help="Fresh Chromium after this many rendered pages.")
@click.option("--repeat", type=int, default=1, show_default=True,
              help="Run the rendered pair (pipeline, bare loop) this many times, alternating; report the median.")
@click.option("--compare-chromium", is_flag=True,
              help="Also render with the full chromium browser and report its ratio to chromium-headless-shell.")
@click.option("--rendered-only", is_flag=True, help="Skip the static and evidence runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def crawl_bench(pages: int, rendered: int, evidence_pages: int, concurrency: int, browser_pages: int,
                context_pages: int, restart_after: int, repeat: int, compare_chromium: bool, rendered_only: bool,
                as_json: bool) -> None:
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
    CPU seconds per page (the crawler, its driver and Chromium) and the load
    average are printed beside each rendered figure: on a busy machine the CPU
    ratio is steadier than the pages/s ratio.
    The default run takes about 3 minutes on 2 cores; --pages/--rendered scale it.
    """
    from crawlers.browser import CANDIDATES
    from tests.sites.server import start_in_thread

    need = max(pages, rendered, evidence_pages)
    os.environ["SANDBOX_MALL_PAGES"] = str(max(need, int(os.environ.get("SANDBOX_MALL_PAGES", "2000"))))
    base, stop = start_in_thread(0)
    out: dict = {"pages": pages, "rendered": rendered, "concurrency": concurrency, "browser_pages": browser_pages}
    early = 200 if rendered >= 1000 else max(20, rendered // 3)
    late = max(early + 1, rendered - 2 * browser_pages)
    say = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    static: dict = {}
    render_extra = ["--concurrency", str(browser_pages), "--marks", f"{early},{late}",
                    "--context-pages", str(context_pages), "--restart-after", str(restart_after)]

    def pair(work: str, label: str, *extra: str) -> tuple[dict, dict, list[dict]]:
        runs = []
        for i in range(max(1, repeat)):
            say(f"rendered{label} {i + 1}/{max(1, repeat)}: pipeline in Chromium, {rendered} pages …")
            render = _run("render", base, rendered, work, *render_extra, *extra)
            say(f"rendered{label} {i + 1}/{max(1, repeat)}: bare Playwright loop, {rendered} pages …")
            loop = _run("pwloop", base, rendered, work, *render_extra, *extra)
            runs.append({"pipeline_pages_per_s": render["pages_per_s"], "bare_pages_per_s": loop["pages_per_s"],
                         "ratio": _ratio(render["pages_per_s"], loop["pages_per_s"]),
                         "pipeline_cpu_ms_per_page": render.get("cpu_ms_per_page"),
                         "bare_cpu_ms_per_page": loop.get("cpu_ms_per_page"),
                         "cpu_ratio": _ratio(loop.get("cpu_ms_per_page"), render.get("cpu_ms_per_page")),
                         "load": [render.get("load"), loop.get("load")], "_render": render, "_loop": loop})
        middle = sorted(runs, key=lambda r: r["ratio"] or 0)[len(runs) // 2]
        return middle["_render"], middle["_loop"], [{k: v for k, v in r.items() if not k.startswith("_")}
                                                    for r in runs]

    full_chromium = None
    try:
        with tempfile.TemporaryDirectory(prefix="fangxin-bench-") as work:
            if not rendered_only:
                say(f"static: bare Scrapy, {pages} pages …")
                static["bare"] = _run("bare", base, pages, work, "--concurrency", str(concurrency))
                say(f"static: full pipeline, {pages} pages …")
                static["full"] = _run("full", base, pages, work, "--concurrency", str(concurrency))
                say(f"evidence: {evidence_pages} pages without WARC, with WARC, with screenshots of hits …")
                static["nowarc"] = _run("nowarc", base, evidence_pages, work, "--concurrency", str(concurrency))
                static["withwarc"] = _run("full", base, evidence_pages, os.path.join(work, "ev"),
                                          "--concurrency", str(concurrency))
                static["shots"] = _run("shots", base, evidence_pages, work, "--concurrency", str(concurrency))
            render, loop, runs = pair(work, "")
            if compare_chromium:
                full_chromium = pair(os.path.join(work, "chromium"), " (full chromium)", "--chromium", CANDIDATES[1])
    finally:
        stop()
    mem = render.get("memory_at", {})
    m_early, m_late = mem.get(str(early)), mem.get(str(late))
    window = render.get("memory_window", {})
    w_early, w_late = window.get(str(early)), window.get(str(late))
    out["rendered"] = {
        "chromium": render.get("chromium"),
        "pipeline_pages_per_s": render["pages_per_s"], "bare_playwright_pages_per_s": loop["pages_per_s"],
        "ratio": _ratio(render["pages_per_s"], loop["pages_per_s"]),
        "pipeline_cpu_ms_per_page": render.get("cpu_ms_per_page"), "bare_cpu_ms_per_page": loop.get("cpu_ms_per_page"),
        "cpu_ratio": _ratio(loop.get("cpu_ms_per_page"), render.get("cpu_ms_per_page")),
        "load": [render.get("load"), loop.get("load")], "runs": runs,
        "pipeline_peak_mb": render["peak_mb"], "bare_peak_mb": loop["peak_mb"],
        "memory_mb": {f"after_{early}": m_early, f"after_{late}": m_late},
        "memory_growth": round(m_late / m_early - 1, 3) if m_early and m_late else None,
        # Mean over the last context lifetime before each mark: one whole recycling cycle each.
        "memory_cycle_mean_mb": {f"after_{early}": w_early, f"after_{late}": w_late},
        "memory_growth_cycle_mean": round(w_late / w_early - 1, 3) if w_early and w_late else None,
        "bare_memory_mb": loop.get("memory_at", {}),
    }
    if full_chromium:
        c_render, c_loop, c_runs = full_chromium
        out["full_chromium"] = {
            "pipeline_pages_per_s": c_render["pages_per_s"], "bare_playwright_pages_per_s": c_loop["pages_per_s"],
            "pipeline_cpu_ms_per_page": c_render.get("cpu_ms_per_page"),
            "bare_cpu_ms_per_page": c_loop.get("cpu_ms_per_page"),
            "pipeline_peak_mb": c_render["peak_mb"], "runs": c_runs,
            "headless_shell_speedup": _ratio(render["pages_per_s"], c_render["pages_per_s"]),
            "headless_shell_cpu_saving": _ratio(c_render.get("cpu_ms_per_page"), render.get("cpu_ms_per_page")),
        }
    if not rendered_only:
        _static_figures(out, static, evidence_pages)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    r = out["rendered"]
    if not rendered_only:
        s, e = out["static"], out["evidence"]
        click.echo(f"静态 static ({pages} pages, concurrency {concurrency}): pipeline {s['pipeline_pages_per_min']}"
                   f" pages/min vs bare Scrapy {s['bare_scrapy_pages_per_min']} pages/min = {s['ratio']} (goal >= 0.6);"
                   f" peak {s['pipeline_peak_mb']} MB vs {s['bare_peak_mb']} MB")
    click.echo(f"渲染 rendered ({rendered} pages, {browser_pages} at once, {r['chromium']}): pipeline"
               f" {r['pipeline_pages_per_s']} pages/s vs bare Playwright {r['bare_playwright_pages_per_s']} pages/s"
               f" = {r['ratio']} (goal >= 0.8); CPU {r['pipeline_cpu_ms_per_page']} vs {r['bare_cpu_ms_per_page']}"
               f" ms/page = {r['cpu_ratio']}; load {r['load']}; peak {r['pipeline_peak_mb']} MB vs {r['bare_peak_mb']} MB")
    if len(runs) > 1:
        click.echo("  runs (ratio, CPU ratio): " + ", ".join(f"{x['ratio']}/{x['cpu_ratio']}" for x in runs))
    click.echo(f"内存 memory (pipeline, context recycled every {context_pages} pages, Chromium every {restart_after}):"
               f" after {early} pages {m_early} MB, after {late} pages {m_late} MB, growth {r['memory_growth']}"
               f" (goal <= 0.2); mean over the {context_pages} pages before each: {w_early} MB, {w_late} MB,"
               f" growth {r['memory_growth_cycle_mean']}; bare loop without recycling: {r['bare_memory_mb']}")
    if full_chromium:
        c = out["full_chromium"]
        click.echo(f"完整浏览器 full chromium: pipeline {c['pipeline_pages_per_s']} pages/s"
                   f" ({c['pipeline_cpu_ms_per_page']} ms CPU/page), bare loop {c['bare_playwright_pages_per_s']} pages/s;"
                   f" headless-shell renders {c['headless_shell_speedup']}x the pages/s at"
                   f" {c['headless_shell_cpu_saving']}x less CPU per page")
    if not rendered_only:
        click.echo(f"证据 evidence ({evidence_pages} pages): no WARC {e['no_warc_pages_per_s']} pages/s, WARC"
                   f" {e['warc_pages_per_s']} pages/s ({e['warc_mb']} MB), WARC + screenshots of hits"
                   f" {e['warc_and_hit_screenshots_pages_per_s']} pages/s ({e['warc_and_screenshots_mb']} MB)")


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def _static_figures(out: dict, static: dict, evidence_pages: int) -> None:
    full, bare = static["full"], static["bare"]
    nowarc, withwarc, shots = static["nowarc"], static["withwarc"], static["shots"]
    out["static"] = {
        "pipeline_pages_per_min": round(full["pages_per_s"] * 60),
        "bare_scrapy_pages_per_min": round(bare["pages_per_s"] * 60),
        "ratio": round(full["pages_per_s"] / bare["pages_per_s"], 2) if bare["pages_per_s"] else None,
        "pipeline_peak_mb": full["peak_mb"], "bare_peak_mb": bare["peak_mb"],
    }
    out["evidence"] = {
        "pages": evidence_pages,
        "no_warc_pages_per_s": nowarc["pages_per_s"], "warc_pages_per_s": withwarc["pages_per_s"],
        "warc_and_hit_screenshots_pages_per_s": shots["pages_per_s"],
        "warc_mb": withwarc.get("warc_mb"), "warc_and_screenshots_mb": shots.get("warc_mb"),
        "db_mb": withwarc.get("db_mb"),
    }
