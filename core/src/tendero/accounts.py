"""Merchant accounts, API tokens, panel sessions and the one-time owner set-up link.

Passwords are hashed with argon2id; API tokens, panel session ids and set-up links are
random secrets of which only a SHA-256 digest is stored, so a database leak does not
leak credentials.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.db.models import ApiToken, OneTimeToken, User
from tendero.db.types import utcnow
from tendero.errors import Conflict, ValidationFailed

_hasher = PasswordHasher()
TOKEN_PREFIX = "tdr_"
SETUP_PURPOSE = "owner_setup"
PANEL_SESSION_PURPOSE = "panel_session"
MIN_PASSWORD_LENGTH = 10


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        raise ValidationFailed(f"not a valid email address: {email!r}")
    return email


async def create_user(
    session: AsyncSession, email: str, password: str, *, is_owner: bool = False
) -> User:
    """Create a merchant account; refuses short passwords and duplicate emails."""
    email = normalize_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    exists = await session.scalar(sa.select(User.id).where(User.email == email))
    if exists is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, password_hash=_hasher.hash(password), is_owner=is_owner)
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The user when email and password match, else ``None`` (same cost either way)."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        return None
    user = await session.scalar(sa.select(User).where(User.email == email))
    stored = user.password_hash if user else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return user


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown emails, so both paths cost the same."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class IssuedToken:
    id: int
    name: str
    secret: str  # shown once, never stored


async def create_api_token(session: AsyncSession, name: str = "") -> IssuedToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, prefix=secret[:10], token_hash=_digest(secret))
    session.add(token)
    await session.flush()
    return IssuedToken(token.id, name, secret)


async def verify_api_token(session: AsyncSession, secret: str) -> ApiToken | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = await session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None)
        )
    )
    if token is not None:
        token.last_used_at = utcnow()
    return token


async def has_users(session: AsyncSession) -> bool:
    return (await session.scalar(sa.select(sa.func.count()).select_from(User))) > 0


async def create_setup_token(
    session: AsyncSession, *, valid_for: timedelta = timedelta(days=7)
) -> str:
    """A one-time secret for the owner set-up link; older unused links stop working."""
    await session.execute(
        sa.update(OneTimeToken)
        .where(OneTimeToken.purpose == SETUP_PURPOSE, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        OneTimeToken(
            purpose=SETUP_PURPOSE, token_hash=_digest(secret), expires_at=utcnow() + valid_for
        )
    )
    await session.flush()
    return secret


async def consume_setup_token(session: AsyncSession, secret: str) -> bool:
    """Mark the set-up secret used; ``True`` only for a valid, unused, unexpired one."""
    result = await session.execute(
        sa.update(OneTimeToken)
        .where(
            OneTimeToken.purpose == SETUP_PURPOSE,
            OneTimeToken.token_hash == _digest(secret),
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


async def start_panel_session(session: AsyncSession, *, valid_for: timedelta) -> str:
    """A new panel session id (kept in the encrypted session cookie); only its digest is
    stored, so ending it on the server (log-out) makes a copied cookie worthless.
    Sessions that expired are forgotten here."""
    now = utcnow()
    await session.execute(
        sa.delete(OneTimeToken).where(
            OneTimeToken.purpose == PANEL_SESSION_PURPOSE, OneTimeToken.expires_at <= now
        )
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        OneTimeToken(
            purpose=PANEL_SESSION_PURPOSE, token_hash=_digest(secret), expires_at=now + valid_for
        )
    )
    await session.flush()
    return secret


async def panel_session_active(session: AsyncSession, secret: str) -> bool:
    """``True`` while the panel session ``secret`` was started and not ended or expired."""
    found = await session.scalar(
        sa.select(OneTimeToken.id).where(
            OneTimeToken.purpose == PANEL_SESSION_PURPOSE,
            OneTimeToken.token_hash == _digest(secret),
            OneTimeToken.expires_at > utcnow(),
        )
    )
    return found is not None


async def end_panel_session(session: AsyncSession, secret: str) -> None:
    """End the panel session ``secret`` (log-out); unknown ids are ignored."""
    await session.execute(
        sa.delete(OneTimeToken).where(
            OneTimeToken.purpose == PANEL_SESSION_PURPOSE,
            OneTimeToken.token_hash == _digest(secret),
        )
    )
