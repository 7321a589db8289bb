"""`fangxin demo`."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.command()
def demo() -> None:
    """(not available yet)"""
    not_yet("demo", "foundation issue")
