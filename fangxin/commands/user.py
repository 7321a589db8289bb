"""`fangxin user`: review UI accounts."""

from __future__ import annotations

import sqlite3
import sys

import click

from fangxin.commands.common import db_option, fail

ROLES = ["inspector", "supervisor", "rule_author", "auditor", "admin"]
MIN_PASSWORD = 8


@click.group()
def user() -> None:
    """Manage review UI accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The account's role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (first line).")
@db_option
def user_add(name: str, role: str, password_stdin: bool, db: str) -> None:
    """Create an account NAME with ROLE; the password is read from stdin and stored as an Argon2id hash."""
    from fangxin.paths import ensure_parent
    from pipelines.store import Store
    from review_ui.security import hash_password

    if not password_stdin:
        fail("give the password on standard input with --password-stdin (never on the command line)", 2)
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        fail(f"password too short: at least {MIN_PASSWORD} characters (密码至少 {MIN_PASSWORD} 位)", 2)
    ensure_parent(db)
    store = Store(db)
    try:
        if store.get_user(name):
            fail(f"user {name!r} already exists (用户已存在)", 1)
        try:
            store.add_user(name, role, hash_password(password), actor="cli")
        except sqlite3.IntegrityError as exc:
            fail(f"user {name!r} not created: {exc}", 1)
    finally:
        store.close()
    click.echo(f"user {name} added with role {role} (已创建用户)")
