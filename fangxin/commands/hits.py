"""`fangxin hits`: export stored hits as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from fangxin.commands.common import db_option, fail

COLUMNS = [
    "id",
    "url",
    "rule",
    "category",
    "severity",
    "law",
    "field",
    "match",
    "excerpt",
    "state",
    "captured_at",
]
# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_safe(value: object) -> object:
    """Neutralise a text cell a spreadsheet would run as a formula, by prefixing an apostrophe."""
    if (
        isinstance(value, str)
        and value
        and (value[0] in FORMULA_PREFIXES or value.lstrip()[:1] in FORMULA_PREFIXES)
    ):
        return "'" + value
    return value


@click.command()
@db_option
@click.option(
    "--state",
    default=None,
    help="Only hits in this state (new, triaged, confirmed, false_positive, ignored, promoted).",
)
@click.option(
    "--since",
    default=None,
    metavar="TIME",
    help="Only hits captured at or after TIME (ISO 8601 date or time; no offset means +08:00).",
)
@click.option("--jsonl", "fmt", flag_value="jsonl", help="One JSON object per line.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row, safe to open in a spreadsheet.")
def hits(db: str, state: str | None, since: str | None, fmt: str | None) -> None:
    """Export stored hits (导出命中记录) to standard output.

    \b
    Each hit: id, url, rule, category, severity, law, field, match, excerpt,
    state, captured_at (UTC). Choose --jsonl or --csv.
    CSV cells that start with = + - @ are prefixed with ' so that a
    spreadsheet shows them as text instead of running them.
    """
    if fmt is None:
        fail("choose an output format: --jsonl or --csv / 请指定输出格式 --jsonl 或 --csv", 2)
    if not Path(db).is_file():
        fail(f"database not found: {db} / 数据库不存在")
    from pipelines.store import Store

    store = Store(db)
    try:
        if since:
            from pipelines.store import normalize_time

            try:
                normalize_time(since)
            except ValueError:
                fail(f"--since: not an ISO 8601 date or time: {since!r} / 时间格式无效", 2)
        rows = store.iter_hits(state=state, since=since)
        out = sys.stdout
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow([csv_safe(row[c]) for c in COLUMNS])
        out.flush()
    finally:
        store.close()
