"""`fangxin review`."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.command()
def review() -> None:
    """(not available yet)"""
    not_yet("review", "foundation issue")
