"""Bearer-token authentication for the API (tokens from ``tendero tokens create``).

The API never looks at cookies: a request is the merchant's exactly when it carries
``Authorization: Bearer <token>`` with a token that exists and is not revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from tendero.accounts import verify_api_token
from tendero.app import DATABASE

from tendero_web.api.errors import unauthorized


@dataclass(frozen=True)
class ApiClient:
    """Who is calling: the token's id and name (recorded as the actor's name)."""

    token_id: int
    token_name: str

    @property
    def actor_name(self) -> str:
        """How status history names this caller: ``API token "name"`` (or its id)."""
        return (
            f'API token "{self.token_name}"' if self.token_name else f"API token #{self.token_id}"
        )


API_CLIENT = "tendero_web.api.client"  # request key of the ApiClient


def bearer_secret(request: web.Request) -> str | None:
    """The token in the ``Authorization: Bearer`` header, or ``None`` if there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


async def authenticate(request: web.Request) -> ApiClient:
    """The caller of ``request``; raises a 401 :class:`ApiError` for a missing,
    unknown or revoked token."""
    secret = bearer_secret(request)
    if secret is None:
        raise unauthorized(
            "authentication required: send Authorization: Bearer <token> "
            "(create one with `tendero tokens create`)",
            token_given=False,
        )
    # A write session: verifying records the token's last use.
    async with request.app[DATABASE].session() as session:
        token = await verify_api_token(session, secret)
        client = ApiClient(token.id, token.name) if token is not None else None
    if client is None:
        raise unauthorized("the token is not valid (unknown or revoked)", token_given=True)
    return client


def client_of(request: web.Request) -> ApiClient:
    """The authenticated caller (set by the API middleware)."""
    return request[API_CLIENT]
