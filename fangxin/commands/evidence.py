"""`fangxin evidence`: export and verify evidence bundles, verify a database's capture chain."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from fangxin.commands.common import db_option, fail


@click.group()
def evidence() -> None:
    """Evidence bundles and the capture hash chain (证据包与采集哈希链)."""


def render_pdf(html: str) -> bytes:
    """Print an HTML report to A4 PDF with Debian's Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    from crawlers.browser import launch_options

    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@evidence.command("export")
@click.argument("ident", metavar="HIT_ID|LEAD_ID")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Bundle zip to write.")
@click.option(
    "--no-pdf",
    is_flag=True,
    help="Skip the PDF report (no Chromium needed); the HTML report is always written.",
)
@click.option("--operator", default=None, help="Who exports, for the audit log (default: the OS user).")
@db_option
def evidence_export(ident: str, out: str, no_pdf: bool, operator: str | None, db: str) -> None:
    """Export the evidence bundle of a hit or a lead to a zip (导出证据包).

    \b
    HIT_ID is a number (12) or H12 / hit:12; a lead is L3 / lead:3.
    The zip holds the WARC records of the captures concerned, screenshots,
    hash-chain proofs, any RFC 3161 timestamp token, a Chinese report
    (电子数据提取笔录) as report.html and report.pdf, VERIFY.txt, and
    manifest.json with the SHA-256 of every file.
    """
    from pipelines.bundle import BundleError, export_bundle
    from pipelines.store import Store

    if not Path(db).is_file():
        fail(f"database not found: {db} / 数据库不存在")
    renderer = None if no_pdf else render_pdf
    store = Store(db)
    try:
        result = export_bundle(store, ident, out, actor=operator or _operator(), pdf_renderer=renderer)
    except BundleError as exc:
        fail(str(exc))
    except Exception as exc:  # Chromium or Playwright failures: one line with the fix
        if renderer is not None and type(exc).__module__.startswith(("playwright", "crawlers")):
            fail(f"PDF rendering failed ({str(exc).splitlines()[0]}); retry with --no-pdf / PDF 生成失败")
        raise
    finally:
        store.close()
    click.echo(
        f"wrote {result.path} ({len(result.files) + 1} files, {len(result.captures)} capture(s), "
        f"{len(result.hits)} hit(s){'' if result.pdf else ', no PDF'}) / 证据包已导出"
    )


@evidence.command("verify")
@click.argument("bundle", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--db",
    "db",
    default=None,
    type=click.Path(dir_okay=False),
    help="Verify a database's capture chain and WARC digests instead of a bundle.",
)
def evidence_verify(bundle: str | None, db: str | None) -> None:
    """Verify a bundle zip (BUNDLE) or a database's capture chain (--db PATH) (校验证据).

    \b
    BUNDLE: every file's SHA-256 against manifest.json, WARC record digests,
    hash-chain proofs and the zip structure. Exit 0 when intact; otherwise
    exit 1 and name each altered, missing or added file.
    --db: walk the capture hash chain in order, check each capture's WARC
    bytes and digests and the timestamped chain heads; report the first break.
    """
    if bool(bundle) == bool(db):
        fail("give either a BUNDLE zip or --db PATH / 请指定证据包或 --db 数据库之一", 2)
    if bundle:
        from pipelines.bundle import verify_bundle

        if not Path(bundle).is_file():
            fail(f"bundle not found: {bundle} / 证据包不存在")
        problems = verify_bundle(bundle)
        if problems:
            for problem in problems:
                click.echo(f"FAILED {problem}", err=True)
            click.echo(f"{bundle}: NOT intact, {len(problems)} problem(s) / 证据包校验未通过", err=True)
            sys.exit(1)
        click.echo(f"{bundle}: intact, every file matches its SHA-256 / 证据包完整，校验通过")
        return

    from pipelines.bundle import verify_database
    from pipelines.store import Store

    if not Path(db).is_file():
        fail(f"database not found: {db} / 数据库不存在")
    store = Store(db)
    try:
        report = verify_database(store)
    finally:
        store.close()
    chain_report = report.captures
    if not chain_report.ok:
        click.echo(f"FAILED capture {chain_report.broken.entry_id}: {chain_report.broken.reason}", err=True)
        click.echo(
            f"capture chain broken at capture {chain_report.broken.entry_id} / 采集哈希链断裂", err=True
        )
        sys.exit(1)
    if report.timestamp_problem:
        click.echo(f"FAILED {report.timestamp_problem}", err=True)
        sys.exit(1)
    click.echo(
        f"capture chain intact: {chain_report.checked} capture(s), {report.warc_groups} WARC record group(s) "
        f"digest-checked, {report.timestamps} timestamp(s); head {chain_report.head} / 采集哈希链完整"
    )
