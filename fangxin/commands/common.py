"""Options and helpers shared by several commands."""

from __future__ import annotations

import sys

import click

from fangxin.paths import default_db

db_option = click.option(
    "--db",
    "db",
    default=default_db,
    show_default="$FANGXIN_DB or data/fangxin.db",
    type=click.Path(dir_okay=False),
    help="SQLite database file.",
)


def not_yet(what: str, issue: str) -> None:
    """Exit 2 with one line for a command that a later issue fills in."""
    click.echo(f"fangxin {what}: not available yet ({issue}); 该功能尚未实现。", err=True)
    sys.exit(2)


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
