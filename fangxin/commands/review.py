"""`fangxin review`: start the review web UI."""

from __future__ import annotations

import click

from fangxin.commands.common import db_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0 picks a free one).")
@db_option
def review(host: str, port: int, db: str) -> None:
    """Start the review UI (login at /login, the hit queue at /queue)."""
    from fangxin.paths import ensure_parent
    from review_ui.app import serve

    ensure_parent(db)

    def ready(h, p):
        click.echo(f"review UI at http://{h}:{p}/", err=False)

    serve(db, host=host, port=port, on_ready=ready)
