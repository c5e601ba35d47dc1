"""``tendero users`` and ``tendero tokens``: merchant accounts and API tokens."""

from __future__ import annotations

import sys

import click

from tendero import accounts
from tendero.cli.common import console, open_database, run_async


@click.group()
def users() -> None:
    """Merchant user accounts (all have the same rights)."""


@users.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email: str, password_stdin: bool) -> None:
    """Create a merchant account that can log in to the panel."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _create_user(email, password)


@run_async
async def _create_user(email: str, password: str) -> None:
    async with open_database() as db, db.session() as session:
        first = not await accounts.has_users(session)
        user = await accounts.create_user(session, email, password, is_owner=first)
    console.print(f"Created user {user.email}" + (" (owner)" if user.is_owner else ""))


@click.group()
def tokens() -> None:
    """API bearer tokens for /api/v1/."""


@tokens.command("create")
@click.option("--name", default="", help="A label to recognise the token by.")
@run_async
async def tokens_create(name: str) -> None:
    """Create an API token and print it (shown only this once)."""
    async with open_database() as db, db.session() as session:
        issued = await accounts.create_api_token(session, name)
    click.echo(issued.secret)
    console.print(f"Token {issued.id} created{f' ({name})' if name else ''}; store it now.")
