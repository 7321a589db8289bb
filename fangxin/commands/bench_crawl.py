"""`fangxin bench crawl`."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.command("crawl")
def crawl_bench() -> None:
    """Benchmark the crawl path against its baseline (not available yet)."""
    not_yet("bench crawl", "crawl issue")
