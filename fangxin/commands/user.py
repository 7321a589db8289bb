"""`fangxin user`: review UI accounts."""

from __future__ import annotations

import click

from fangxin.commands.common import db_option, not_yet

ROLES = ["inspector", "supervisor", "rule_author", "auditor", "admin"]


@click.group()
def user() -> None:
    """Manage review UI accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The account's role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@db_option
def user_add(name: str, role: str, password_stdin: bool, db: str) -> None:
    """Create an account NAME with ROLE; the password is read from stdin."""
    not_yet("user add", "review UI issue")
