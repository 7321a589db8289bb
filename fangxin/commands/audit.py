"""`fangxin audit`: the audit log's hash chain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fangxin.commands.common import db_option, fail


@click.group()
def audit() -> None:
    """Audit log commands (审计日志)."""


@audit.command("verify")
@db_option
def audit_verify(db: str) -> None:
    """Check the audit log's hash chain and report the first broken link (校验审计日志哈希链).

    \b
    Each audit row's SHA-256 folds in the previous row's, so an edited,
    removed, inserted or reordered row breaks the chain at that row.
    Exit 0 when intact, 1 at the first break.
    """
    from pipelines.store import Store

    if not Path(db).is_file():
        fail(f"database not found: {db} / 数据库不存在")
    store = Store(db)
    try:
        report = store.verify_audit()
    finally:
        store.close()
    if not report.ok:
        click.echo(f"FAILED audit row {report.broken.entry_id}: {report.broken.reason}", err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {report.checked} row(s); head {report.head} / 审计日志哈希链完整")
