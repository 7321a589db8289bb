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
        from crawlers.run import run_plan

        try:
            loaded = load_plan(plan)
        except PlanError as exc:
            fail(str(exc), 2)
        stats = run_plan(loaded, db, overrides)
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
@db_option
def schedule(plans: tuple[str, ...], db: str) -> None:
    """Run PLAN.yaml files on their cron schedules, in the foreground (not available yet: crawl issue)."""
    not_yet("schedule", "crawl issue")


@click.command()
@db_option
def ingest(db: str) -> None:
    """Distributed mode: drain crawled items from Redis into the store (not available yet: crawl issue)."""
    not_yet("ingest", "crawl issue")
