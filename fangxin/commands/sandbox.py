"""`fangxin sandbox`: serve the bundled sample sites on 127.0.0.1."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8800, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
def sandbox(port: int) -> None:
    """Serve the bundled sandbox sites (shop, courses, wealth, health, live room) on 127.0.0.1."""
    from tests.sites.server import serve

    serve(port=port)
