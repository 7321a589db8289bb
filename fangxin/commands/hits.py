"""`fangxin hits`."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.command()
def hits() -> None:
    """(not available yet)"""
    not_yet("hits", "foundation issue")
