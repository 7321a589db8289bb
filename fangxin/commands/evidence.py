"""`fangxin evidence`: export and verify evidence bundles."""

from __future__ import annotations

import click

from fangxin.commands.common import db_option, not_yet


@click.group()
def evidence() -> None:
    """Evidence bundles and the capture hash chain."""


@evidence.command("export")
@click.argument("ident")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Bundle zip to write.")
@db_option
def evidence_export(ident: str, out: str, db: str) -> None:
    """Export the evidence bundle of a hit or lead ID to a zip file."""
    not_yet("evidence export", "evidence issue")


@evidence.command("verify")
@click.argument("bundle", required=False, type=click.Path(dir_okay=False))
@click.option("--db", "db", default=None, type=click.Path(dir_okay=False), help="Verify a database's chain and WARC digests instead of a bundle.")
def evidence_verify(bundle: str | None, db: str | None) -> None:
    """Verify a bundle zip (BUNDLE) or a database's capture chain (--db PATH)."""
    not_yet("evidence verify", "evidence issue")
