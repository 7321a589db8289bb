"""Shared fixtures: the sandbox web on a free 127.0.0.1 port, a fresh database path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The politeness block of a test crawl plan: no delay, private (sandbox) addresses allowed.
POLITE_FAST = """
politeness:
  delay: 0
  concurrency: 4
  autothrottle: false
  allow_private_addresses: true
  authority: 测试局 (test authority)
  contact: test@example.org
"""


@pytest.fixture(scope="session")
def sandbox_url():
    """Base URL (no trailing slash) of the bundled sandbox web, served for the whole session."""
    from tests.sites.server import start_in_thread

    base, stop = start_in_thread(port=0)
    yield base
    stop()


@pytest.fixture()
def db_path(tmp_path) -> str:
    return str(tmp_path / "fangxin.db")


def run_fangxin(*args: str, timeout: float = 300, input: str | None = None, env: dict | None = None):
    """Run the installed `fangxin` command as a user would; returns the CompletedProcess."""
    return subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, "-m", "fangxin.cli", *args],
        capture_output=True, text=True, timeout=timeout, input=input, cwd=ROOT,
        env=dict(os.environ, **(env or {})),
    )
