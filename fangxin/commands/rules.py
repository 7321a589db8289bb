"""`fangxin rules`: test, lint, check and explain rule packs."""

from __future__ import annotations

import click

from fangxin.commands.common import not_yet


@click.group()
def rules() -> None:
    """Rule packs: test, lint, check, explain."""


@rules.command("test")
@click.argument("packs", nargs=-1)
def rules_test(packs: tuple[str, ...]) -> None:
    """Run every rule's embedded must_match / must_not_match examples."""
    not_yet("rules test", "rule-engine issue")


@rules.command("lint")
@click.argument("packs", nargs=-1)
def rules_lint(packs: tuple[str, ...]) -> None:
    """Schema and regex-safety checks."""
    not_yet("rules lint", "rule-engine issue")


@rules.command("check")
@click.argument("text", required=False)
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False), help="Read {id, text[, field]} lines from FILE.")
def rules_check(text: str | None, jsonl: str | None) -> None:
    """Print hits for TEXT or for each line of --jsonl FILE as JSON lines."""
    not_yet("rules check", "rule-engine issue")


@rules.command("explain")
@click.argument("rule_id")
def rules_explain(rule_id: str) -> None:
    """Show a rule, its citation and its examples."""
    not_yet("rules explain", "rule-engine issue")
