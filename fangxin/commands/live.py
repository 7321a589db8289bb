"""`fangxin live`: monitor one livestream room."""

from __future__ import annotations

import click

from fangxin.commands.common import db_option, not_yet


@click.command()
@click.argument("url")
@click.option("--seconds", type=click.IntRange(min=1), required=True, help="How long to watch the room.")
@db_option
def live(url: str, seconds: int, db: str) -> None:
    """Monitor one livestream room URL for N seconds (not available yet: livestream issue)."""
    not_yet("live", "livestream issue")
