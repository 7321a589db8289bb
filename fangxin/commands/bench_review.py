"""`fangxin bench review`."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.command("review")
def review_bench() -> None:
    """Benchmark the review path against its baseline (not available yet)."""
    not_yet("bench review", "review UI issue")
