"""`fangxin crawl`, `fangxin schedule` and `fangxin ingest`."""

from __future__ import annotations

import click

from fangxin.commands.common import db_option, not_yet


@click.command()
@click.argument("plan", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", "urls", multiple=True, help="Crawl this page (repeatable); ad-hoc crawl without a plan.")
@click.option("--render", is_flag=True, help="Render --url pages in Chromium (scrapy-playwright).")
@db_option
def crawl(plan: str | None, urls: tuple[str, ...], render: bool, db: str) -> None:
    """Run a crawl plan now, or fetch the given --url pages."""
    not_yet("crawl", "foundation issue")


@click.command()
@click.argument("plans", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@db_option
def schedule(plans: tuple[str, ...], db: str) -> None:
    """Run PLAN.yaml files on their cron schedules, in the foreground."""
    not_yet("schedule", "crawl issue")


@click.command()
@db_option
def ingest(db: str) -> None:
    """Distributed mode: drain crawled items from Redis into the store."""
    not_yet("ingest", "crawl issue")
