"""`fangxin`: the single entry point of Fangxin Watch.

Each command group lives in its own module under `fangxin.commands`; this file
only assembles them, so `fangxin --help` lists every command of DESIGN.md.
A command's module is imported when that command runs (or when help lists it),
so `fangxin rules check` does not pay for importing the crawler or the web UI.
"""

from __future__ import annotations

import importlib

import click

from fangxin import __version__

# command name -> "module:attribute" under fangxin.commands, in the order help lists them
COMMANDS: dict[str, str] = {
    "demo": "demo:demo",
    "sandbox": "sandbox:sandbox",
    "crawl": "crawl:crawl",
    "schedule": "crawl:schedule",
    "live": "live:live",
    "ingest": "crawl:ingest",
    "hits": "hits:hits",
    "rules": "rules:rules",
    "review": "review:review",
    "user": "user:user",
    "evidence": "evidence:evidence",
    "audit": "audit:audit",
    "bench": "bench:bench",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.lazy) + [n for n in super().list_commands(ctx) if n not in self.lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"fangxin.commands.{module}"), attr)


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fangxin")
def main() -> None:
    """Fangxin Watch (放心消费监测): crawl, check and review online advertising.

    \b
    Crawl sampled pages, flag illegal claims with cited rules, store evidence,
    and triage the hits in a review web UI.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
