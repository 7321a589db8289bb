"""`fangxin audit`: the audit log's hash chain."""

from __future__ import annotations

import click

from fangxin.commands.common import db_option, not_yet


@click.group()
def audit() -> None:
    """Audit log commands."""


@audit.command("verify")
@db_option
def audit_verify(db: str) -> None:
    """Check the audit log's hash chain and report the first broken link."""
    not_yet("audit verify", "evidence issue")
