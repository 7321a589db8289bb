"""Every command works with --help and is documented in the README, option by option.

Like sqlite-utils and Datasette: adding a command or an option without
documenting it fails the suite.
"""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from fangxin.cli import main
from fangxin.paths import ROOT

DESIGN_COMMANDS = [
    "demo", "sandbox", "crawl", "schedule", "live", "ingest", "hits", "rules test", "rules lint", "rules check",
    "rules explain", "review", "user add", "evidence export", "evidence verify", "audit verify", "bench rules",
    "bench crawl", "bench review",
]


def leaf_commands(group: click.Group, prefix: str = ""):
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):  # the lazy top-level group imports on get_command
        cmd = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            yield from leaf_commands(cmd, path + " ")
        else:
            yield path, cmd


COMMANDS = dict(leaf_commands(main))


def readme_section(path: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"^#+ `fangxin {re.escape(path)}[ `].*?$(.*?)(?=^#+ `fangxin |\Z)", text, re.M | re.S)
    assert m, f"README.md has no section headed `fangxin {path} …`"
    return m.group(1)


def test_every_design_command_exists():
    """The names of DESIGN.md are a contract; commands beyond them are allowed (and documented below)."""
    assert not set(DESIGN_COMMANDS) - set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_works(path):
    result = CliRunner().invoke(main, path.split() + ["--help"], prog_name="fangxin")
    assert result.exit_code == 0, result.output
    assert "Usage: fangxin " + path in result.output


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_and_options_documented(path):
    section = readme_section(path)
    for param in COMMANDS[path].params:
        if isinstance(param, click.Option):
            longest = max(param.opts, key=len)
            assert longest in section, f"README section of `fangxin {path}` does not document {longest}"
        elif isinstance(param, click.Argument):
            assert param.name.upper().replace("_", "") in section.upper().replace("_", ""), (
                f"README section of `fangxin {path}` does not name its argument {param.name.upper()}"
            )


def test_unfinished_commands_say_so():
    """A command a later issue fills in exits 2 with one line, never pretends to work."""
    runner = CliRunner()
    for path, cmd in COMMANDS.items():
        if "not available yet" not in (cmd.help or ""):
            continue
        args = path.split()
        required = [p for p in cmd.params if p.required and isinstance(p, click.Argument)]
        args += [str(ROOT / "README.md")] * len(required)  # an existing path satisfies any argument type
        for p in cmd.params:
            if isinstance(p, click.Option) and p.required:
                args += [max(p.opts, key=len), "1"]
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (path, result.output)
        assert len(result.output.strip().splitlines()) == 1, (path, result.output)
