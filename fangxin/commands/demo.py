"""`fangxin demo`: sandbox web + crawl + review UI, all on 127.0.0.1 (the main job)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from fangxin.paths import ROOT

DEMO_USER = "demo"
DEMO_PASSWORD = "fangxin-demo"


@click.command()
@click.option("--dir", "workdir", default="data/demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo's database and evidence; emptied at each start.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Review UI port (0: a free one).")
@click.option("--sandbox-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Sandbox web port (0: a free one).")
def demo(workdir: str, port: int, sandbox_port: int) -> None:
    """Start the sandbox web, crawl it with the bundled demo plan, and serve the review UI.

    \b
    Prints the review UI's address and a demo inspector login. Ctrl-C stops
    everything the demo started.
    """
    from pipelines.store import Store
    from review_ui.security import hash_password
    from tests.sites.server import start_in_thread

    work = Path(workdir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = str(work / "fangxin.db")

    base_url, stop_sandbox = start_in_thread(port=sandbox_port)
    click.echo(f"sandbox at {base_url}/")
    try:
        plan = ROOT / "crawlers" / "plans" / "demo.yaml"
        click.echo(f"crawling the sandbox with {plan.relative_to(ROOT)} …")
        # The crawl runs in its own process: Scrapy's reactor cannot be restarted within one.
        env = dict(os.environ, SANDBOX=base_url)
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [sys.executable, "-m", "fangxin.cli", "crawl", str(plan), "--db", db],
            env=env, check=False,
        )
        if result.returncode != 0:
            raise click.ClickException(f"demo crawl failed (exit {result.returncode})")

        store = Store(db)
        try:
            store.add_user(DEMO_USER, "inspector", hash_password(DEMO_PASSWORD))
            queued = sum(1 for _ in store.iter_hits(state="new"))
        finally:
            store.close()
        click.echo(f"{queued} hits queued for review (待审核命中 {queued} 条)")

        from review_ui.app import serve

        def ready(host, bound):
            click.echo(f"review UI at http://{host}:{bound}/  login 登录: {DEMO_USER} / {DEMO_PASSWORD}")
            click.echo("Ctrl-C stops the demo (按 Ctrl-C 退出).")
            sys.stdout.flush()

        serve(db, port=port, on_ready=ready)
    finally:
        stop_sandbox()
