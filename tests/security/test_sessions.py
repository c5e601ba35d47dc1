"""Sessions and log-in: a new session identity at log-in (no fixation), log-out ends
the session on the server (a copied cookie stops working), a password change signs out
the other sessions, and log-in attempts are limited per address and per email."""

from __future__ import annotations

import aiohttp
import sqlalchemy as sa
from tendero import accounts
from tendero.db.models import OneTimeToken
from tendero_web.security import LOGIN_LIMITER
from yarl import URL

from tests.web.harness import OWNER_EMAIL, OWNER_PASSWORD, Panel, csrf_of

COOKIE = "tendero_session"


def session_cookie(client: aiohttp.ClientSession) -> str:
    return next(c.value for c in client.cookie_jar if c.key == COOKIE)


def client_with_cookie(panel: Panel, value: str) -> aiohttp.ClientSession:
    client = panel.client()
    client.cookie_jar.update_cookies({COOKIE: value}, response_url=URL(panel.url))
    return client


async def status_of(client: aiohttp.ClientSession, path: str = "/orders") -> int:
    async with client.get(path, allow_redirects=False) as resp:
        return resp.status


async def log_in(panel: Panel, client: aiohttp.ClientSession, password: str = OWNER_PASSWORD):
    token = await panel.csrf(client)
    return await client.post(
        "/login",
        data={"email": OWNER_EMAIL, "password": password, "csrf_token": token},
        allow_redirects=False,
    )


async def test_a_session_planted_before_login_never_becomes_logged_in(panel: Panel) -> None:
    attacker = panel.client()
    await panel.csrf(attacker)  # the attacker's own anonymous session
    planted = session_cookie(attacker)
    victim = client_with_cookie(panel, planted)
    resp = await log_in(panel, victim)
    assert resp.status == 303
    after = session_cookie(victim)
    assert after != planted
    assert await status_of(victim) == 200
    # The planted cookie (and the victim's pre-login one) is still a logged-out session.
    assert await status_of(client_with_cookie(panel, planted)) == 303
    assert await status_of(attacker) == 303


async def test_log_out_ends_the_session_even_for_a_copied_cookie(panel: Panel) -> None:
    client = await panel.logged_in()
    stolen = session_cookie(client)
    thief = client_with_cookie(panel, stolen)
    assert await status_of(thief) == 200  # a copy works while the session is open
    async with client.get("/orders") as resp:
        token = csrf_of(await resp.text())
    async with client.post("/logout", data={"csrf_token": token}, allow_redirects=False) as resp:
        assert resp.status == 303
    assert await status_of(client) == 303
    assert await status_of(thief) == 303
    assert await status_of(client_with_cookie(panel, stolen), "/channels") == 303
    # Another device's session stays open.
    other = await panel.logged_in()
    assert await status_of(other) == 200


async def test_session_ids_are_stored_hashed_and_forgotten_at_log_out(panel: Panel) -> None:
    client = await panel.logged_in()
    async with panel.db.read_session() as session:
        rows = (
            await session.scalars(
                sa.select(OneTimeToken).where(OneTimeToken.purpose == "panel_session")
            )
        ).all()
    assert len(rows) == 1 and len(rows[0].token_hash) == 64
    async with client.get("/orders") as resp:
        token = csrf_of(await resp.text())
    await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    async with panel.db.read_session() as session:
        left = await session.scalar(
            sa.select(sa.func.count())
            .select_from(OneTimeToken)
            .where(OneTimeToken.purpose == "panel_session")
        )
    assert left == 0


async def test_a_password_change_signs_out_every_other_session(panel: Panel) -> None:
    first, second = await panel.logged_in(), await panel.logged_in()
    assert await status_of(first) == 200 and await status_of(second) == 200
    async with panel.db.session() as session:
        user = await accounts.authenticate(session, OWNER_EMAIL, OWNER_PASSWORD)
        assert user is not None
        user.password_hash = accounts._hasher.hash("a brand new password")
    assert await status_of(first) == 303 and await status_of(second) == 303
    fresh = panel.client()
    assert (await log_in(panel, fresh, "a brand new password")).status == 303
    assert await status_of(fresh) == 200


def client_from(panel: Panel, address: str) -> aiohttp.ClientSession:
    """A browser whose connections come from ``address`` (another loopback address)."""
    session = aiohttp.ClientSession(
        panel.url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(local_addr=(address, 0)),
    )
    panel.clients.append(session)
    return session


async def attempt(
    panel: Panel, client: aiohttp.ClientSession, email: str, password: str, **headers: str
) -> aiohttp.ClientResponse:
    token = await panel.csrf(client)
    resp = await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
        allow_redirects=False,
    )
    await resp.read()
    return resp


async def test_failed_logins_are_limited_per_email_from_any_address(panel: Panel) -> None:
    here, elsewhere = panel.client(), client_from(panel, "127.0.0.2")
    statuses = [(await attempt(panel, here, OWNER_EMAIL, "wrong")).status for _ in range(5)]
    assert statuses == [401] * 5
    # The sixth try for that email is refused, from another address too, right
    # password or not, and says how long to wait.
    for client, password in ((here, "wrong"), (elsewhere, OWNER_PASSWORD)):
        resp = await attempt(panel, client, OWNER_EMAIL, password)
        assert resp.status == 429
        wait = int(resp.headers["Retry-After"])
        assert 0 < wait <= 15 * 60
    assert await status_of(elsewhere) == 303  # not logged in
    # Other accounts are not locked by it.
    async with panel.db.session() as session:
        await accounts.create_user(session, "staff@tienda.test", "staff password 123")
    assert (await attempt(panel, here, "staff@tienda.test", "staff password 123")).status == 303


async def test_failed_logins_are_limited_per_address(panel: Panel) -> None:
    limiter = panel.app[LOGIN_LIMITER]
    assert (limiter.per_address, limiter.per_email) == (20, 5)
    limiter.per_address = 6  # fewer (slow, argon2-checked) tries; the same rule
    guesser, owner = client_from(panel, "127.0.0.3"), panel.client()
    for n in range(6):  # two tries each on three emails: under the per-email limit
        resp = await attempt(panel, guesser, f"user{n % 3}@tienda.test", "guess")
        assert resp.status == 401, n
    # The address is out of tries, for any email, even with a forged client address.
    for email in ("new@tienda.test", OWNER_EMAIL):
        resp = await attempt(
            panel, guesser, email, OWNER_PASSWORD, **{"X-Forwarded-For": "1.2.3.4"}
        )
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    # Someone at another address logs in as usual.
    assert (await attempt(panel, owner, OWNER_EMAIL, OWNER_PASSWORD)).status == 303
