"""`fangxin bench rules`."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.command("rules")
def rules_bench() -> None:
    """Precision/recall per category on tests/corpus and throughput beside grep -F (not available yet)."""
    not_yet("bench rules", "rule-engine issue")
