"""`fangxin crawl`, `fangxin schedule` and `fangxin ingest`."""

from __future__ import annotations

import json
import sys

import click

from fangxin.commands.common import db_option, fail, not_yet


def parse_setting(values: tuple[str, ...]) -> dict:
    """`-s NAME=VALUE` pairs; VALUE is read as JSON when it parses (numbers, lists, booleans)."""
    out = {}
    for pair in values:
        if "=" not in pair:
            fail(f"-s {pair}: expected NAME=VALUE", 2)
        name, value = pair.split("=", 1)
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


def check_packs(packs) -> None:
    """Refuse to start a crawl on a malformed pack: one line naming file, line and field."""
    import rules

    try:
        rules.load_engine(packs or None)
    except rules.PackError as exc:
        fail(str(exc), 2)


@click.command()
@click.argument("plan", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", "urls", multiple=True, help="Crawl this page (repeatable); an ad-hoc crawl without a plan.")
@click.option("--render", is_flag=True, help="Render --url pages in Chromium (scrapy-playwright) with a full-page screenshot.")
@click.option("-s", "--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy or FANGXIN_ setting for this crawl (repeatable), e.g. -s DOWNLOAD_DELAY=0.")
@db_option
def crawl(plan: str | None, urls: tuple[str, ...], render: bool, sets: tuple[str, ...], db: str) -> None:
    """Run a crawl plan now, or fetch the given --url pages once each.

    \b
    Prints a live progress line (pages, pages/s, hits, errors) on stderr and a
    summary at the end. Exit status 0 when the crawl finished, 1 otherwise.
    """
    from fangxin.paths import ensure_parent

    overrides = parse_setting(sets)
    if plan and urls:
        fail("give either PLAN.yaml or --url, not both", 2)
    if not plan and not urls:
        fail("nothing to crawl: give PLAN.yaml or --url URL", 2)
    check_packs(overrides.get("FANGXIN_RULE_PACKS"))
    ensure_parent(db)
    if plan:
        from crawlers.plans import PlanError, load_plan
        from crawlers.run import PlanBusy, run_plan

        try:
            loaded = load_plan(plan)
        except PlanError as exc:
            fail(str(exc), 2)
        try:
            stats = run_plan(loaded, db, overrides)
        except PlanBusy as exc:
            fail(str(exc), 3)
    else:
        for u in urls:
            if not u.startswith(("http://", "https://")):
                fail(f"--url {u}: only http:// and https:// URLs can be crawled", 2)
        from crawlers.run import run_urls

        stats = run_urls(list(urls), db, render=render, overrides=overrides)
    if stats.get("finish_reason") not in ("finished", "closespider_pagecount", "closespider_itemcount"):
        click.echo(f"crawl ended: {stats.get('finish_reason')}", err=True)
        sys.exit(1)


@click.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-s", "--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Setting override passed to every crawl (repeatable).")
@click.option("--duration", type=float, default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--max-runs", type=int, default=None, help="Stop after starting this many runs in all.")
@db_option
def schedule(plans: tuple[str, ...], sets: tuple[str, ...], duration: float | None, max_runs: int | None,
             db: str) -> None:
    """Run PLAN.yaml files on their cron schedules, in the foreground.

    \b
    Each plan needs a `schedule:` cron expression (5 fields, or 6 with seconds
    last), read in the machine's local time. Each run is a `fangxin crawl`
    process recorded in crawl_runs (start, end, status, pages, hits, errors).
    A plan whose previous run is still going is not started again: that time
    is recorded as a `skipped` run. Ctrl-C stops the scheduler; running crawls
    stop cleanly and resume at their next run.
    """
    from crawlers.plans import PlanError, load_plan
    from crawlers.scheduler import Scheduler
    from fangxin.paths import ensure_parent

    loaded = []
    for path in plans:
        try:
            plan = load_plan(path)
        except PlanError as exc:
            fail(str(exc), 2)
        if not plan.schedule:
            fail(f"{path}: schedule: the plan has no cron schedule (计划缺少 schedule)", 2)
        loaded.append((path, plan))
    names = [p.name for _, p in loaded]
    if len(set(names)) != len(names):
        fail("two plans have the same name; names must differ (计划名称重复)", 2)
    ensure_parent(db)
    extra = [arg for pair in sets for arg in ("-s", pair)]
    Scheduler(loaded, db, extra).run(duration=duration, max_runs=max_runs)


@click.command()
@db_option
def ingest(db: str) -> None:
    """Distributed mode: drain crawled items from Redis into the store (not available yet: crawl issue)."""
    not_yet("ingest", "crawl issue")
