"""Merchant users, API tokens and the one-time set-up link, on both engines and via CLI."""

from __future__ import annotations

import sqlalchemy as sa
from tendero import accounts
from tendero.db import Database
from tendero.db.models import ApiToken, User
from tendero.errors import Conflict, ValidationFailed

from tests.conftest import CLI


async def test_users_hash_passwords_and_authenticate(db: Database) -> None:
    async with db.session() as session:
        user = await accounts.create_user(session, " Ana@Example.com ", "correct horse battery")
    assert user.email == "ana@example.com"
    assert user.password_hash.startswith("$argon2id$")
    async with db.session() as session:
        assert await accounts.authenticate(session, "ana@example.com", "correct horse battery")
        assert await accounts.authenticate(session, "ana@example.com", "wrong password!!") is None
        assert await accounts.authenticate(session, "nobody@example.com", "whatever123") is None


async def test_user_creation_refuses_bad_input(db: Database) -> None:
    async with db.session() as session:
        await accounts.create_user(session, "a@b.mx", "long enough pw")
    for email, password, error in [
        ("a@b.mx", "another long pw", Conflict),
        ("not-an-email", "long enough pw", ValidationFailed),
        ("c@d.mx", "short", ValidationFailed),
    ]:
        try:
            async with db.session() as session:
                await accounts.create_user(session, email, password)
        except error:
            continue
        raise AssertionError(f"{email}/{password} was accepted")


async def test_api_tokens_are_stored_hashed_and_verified(db: Database) -> None:
    async with db.session() as session:
        issued = await accounts.create_api_token(session, "erp")
    async with db.read_session() as session:
        stored = (await session.scalars(sa.select(ApiToken.token_hash))).all()
    assert issued.secret not in stored and len(stored) == 1
    async with db.session() as session:
        token = await accounts.verify_api_token(session, issued.secret)
        assert token is not None and token.name == "erp"
        assert await accounts.verify_api_token(session, issued.secret + "x") is None
        assert await accounts.verify_api_token(session, "garbage") is None


async def test_setup_token_is_single_use_and_replaced_by_a_new_one(db: Database) -> None:
    async with db.session() as session:
        first = await accounts.create_setup_token(session)
        second = await accounts.create_setup_token(session)
    async with db.session() as session:
        assert not await accounts.consume_setup_token(session, first)  # superseded
        assert await accounts.consume_setup_token(session, second)
        assert not await accounts.consume_setup_token(session, second)  # used


def test_cli_users_and_tokens(cli: CLI, database_url: str) -> None:
    created = cli(
        "users", "create", "owner@tienda.mx", "--password-stdin", input="s3cret-password\n"
    )
    assert created.returncode == 0, created.stderr
    assert "owner" in created.stderr
    again = cli("users", "create", "owner@tienda.mx", "--password-stdin", input="s3cret-password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = cli("users", "create", "b@tienda.mx", "--password-stdin", input="short\n")
    assert short.returncode == 1 and "at least" in short.stderr

    token = cli("tokens", "create", "--name", "erp")
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith(accounts.TOKEN_PREFIX) and "\n" not in secret  # only data on stdout

    async def check() -> tuple[int, bool]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                users = await session.scalar(sa.select(sa.func.count()).select_from(User))
                ok = await accounts.verify_api_token(session, secret) is not None
            return users, ok
        finally:
            await db.dispose()

    import asyncio

    assert asyncio.run(check()) == (1, True)
