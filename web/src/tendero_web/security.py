"""Who may see the panel: sessions, the login gate, CSRF tokens, login rate limits.

* Sessions live in an encrypted, signed cookie (aiohttp-session's Fernet storage, key
  derived from ``TENDERO_SECRET_KEY``): ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when
  the panel is served over HTTPS (``TENDERO_COOKIE_SECURE``). The session remembers the
  user, a fingerprint of their password hash (a password change signs out every other
  session) and a random session id registered in the database at log-in: log-out
  deletes it, so a copy of the cookie is worthless afterwards, and a cookie from before
  log-in (one an attacker may have planted) never becomes a logged-in one.
* Every path is private unless it is listed as public (log-in, set-up, static files,
  health check) or belongs to a part with its own authentication (webhooks: Meta's
  signature; ``/api/``: bearer tokens). A logged-out browser is sent to the log-in page;
  anything else gets 401.
* Every state-changing request of the panel carries the session's CSRF token, as the
  ``csrf_token`` form field or the ``X-CSRF-Token`` header; one without it is refused
  with 403 before the handler runs.
* Log-in attempts are limited per address and per email within a window.
* Every answer of the app — pages, errors, static files, receipts, the API, webhooks —
  carries the security headers of :func:`secure_headers` (a Content-Security-Policy
  without inline scripts that forbids framing, ``nosniff``, a same-origin referrer).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from tendero import accounts
from tendero.app import DATABASE, SETTINGS
from tendero.db.models import User

SESSION_COOKIE = "tendero_session"
SESSION_MAX_AGE = 14 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PUBLIC_PATHS = frozenset({"/login", "/setup", "/healthz", "/favicon.ico", "/lang"})
# Parts of the app that authenticate on their own (or are public by nature).
SELF_AUTHENTICATED_PREFIXES = ("/webhooks/", "/api/", "/static/")

SESSION_ID = "sid"
# Scripts only from the app's own files (no inline code, no eval); inline style
# attributes stay allowed (channel icons carry their colour).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

USER = web.RequestKey("user", User)
LOGIN_LIMITER = web.AppKey("login_limiter", "LoginLimiter")


def session_key(secret_key: str) -> bytes:
    """The 32-byte key of the session cookie's Fernet, derived from the app's secret key
    (aiohttp-session base64-encodes raw bytes itself)."""
    return hashlib.sha256(b"tendero-panel-session\x00" + secret_key.encode()).digest()


def password_fingerprint(user: User) -> str:
    """Changes whenever the user's password hash does (signs out old sessions)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def setup_sessions(app: web.Application, *, secure: bool) -> None:
    storage = EncryptedCookieStorage(
        session_key(app[SETTINGS].ensure_secret_key()),
        cookie_name=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    aiohttp_session.setup(app, storage)
    app.on_response_prepare.append(secure_headers)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(SELF_AUTHENTICATED_PREFIXES)


def is_panel(path: str) -> bool:
    """Paths guarded by the panel's session and CSRF checks."""
    return not path.startswith(SELF_AUTHENTICATED_PREFIXES) and path != "/healthz"


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token (created on first use)."""
    session = await aiohttp_session.get_session(request)
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def _csrf_ok(request: web.Request) -> bool:
    session = await aiohttp_session.get_session(request)
    expected = session.get(CSRF_FIELD)
    if not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        try:
            sent = (await request.post()).get(CSRF_FIELD)
        except web.HTTPRequestEntityTooLarge:
            # The form cannot be read, so neither can its token: say why, in words.
            size = f"{request.client_max_size / (1024 * 1024):g}"
            raise web.HTTPRequestEntityTooLarge(
                max_size=request.client_max_size,
                text=f"The upload is too large: the panel accepts at most {size} MB. "
                "Go back and choose a smaller file.",
            ) from None
    return isinstance(sent, str) and hmac.compare_digest(sent, expected)


async def log_in(request: web.Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new session id and CSRF token, no data
    carried over but the language)."""
    session = await aiohttp_session.get_session(request)
    language = session.get("lang")
    session.invalidate()
    async with request.app[DATABASE].session() as db_session:
        session_id = await accounts.start_panel_session(
            db_session, valid_for=timedelta(seconds=SESSION_MAX_AGE)
        )
    session = await aiohttp_session.new_session(request)
    session["uid"] = user.id
    session["pw"] = password_fingerprint(user)
    session[SESSION_ID] = session_id
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    if language:
        session["lang"] = language


async def log_out(request: web.Request) -> None:
    """End the session on the server too: its cookie, even a copy, stops working."""
    session = await aiohttp_session.get_session(request)
    language = session.get("lang")
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        async with request.app[DATABASE].session() as db_session:
            await accounts.end_panel_session(db_session, session_id)
    session.invalidate()
    if language:
        (await aiohttp_session.new_session(request))["lang"] = language


async def current_user(request: web.Request) -> User | None:
    """The logged-in user of the request, read once and kept on the request."""
    if USER in request:
        return request[USER]
    session = await aiohttp_session.get_session(request)
    uid = session.get("uid")
    session_id = session.get(SESSION_ID)
    if not isinstance(uid, int) or not isinstance(session_id, str):
        return None
    async with request.app[DATABASE].read_session() as db_session:
        user = await db_session.get(User, uid)
        active = user is not None and await accounts.panel_session_active(db_session, session_id)
    if user is None or not active or session.get("pw") != password_fingerprint(user):
        session.invalidate()
        return None
    request[USER] = user
    return user


@web.middleware
async def panel_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The login gate and the CSRF check; panel answers are not cached."""
    path = request.path
    if path.startswith("/static/"):
        try:
            return await handler(request)
        except OSError:  # aiohttp's static files: a name too long for the file system
            raise web.HTTPNotFound() from None
    if not is_panel(path):
        return await handler(request)
    if request.method in UNSAFE_METHODS and not await _csrf_ok(request):
        raise web.HTTPForbidden(
            text="This form has expired or did not come from the panel. "
            "Reload the page and try again.",
        )
    if not is_public(path) and await current_user(request) is None:
        if request.method == "GET" and "text/event-stream" not in request.headers.get("Accept", ""):
            target = request.rel_url.path_qs
            raise web.HTTPSeeOther(request.app.router["login"].url_for().with_query(next=target))
        raise web.HTTPUnauthorized(text="Log in to the panel first.")
    response = await handler(request)
    if not response.prepared:  # a streamed response (events, exports) sent its own
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the security headers to every answer just before it is sent (an
    ``on_response_prepare`` signal, so errors raised anywhere, static files and
    streams get them too); a handler's own value of a header wins."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def safe_next(target: str | None, default: str = "/orders") -> str:
    """A local path to go to after logging in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass
class LoginLimiter:
    """At most ``per_address`` failed log-ins per address and ``per_email`` per email in
    ``window`` seconds; a success clears the email's record."""

    per_address: int = 20
    per_email: int = 5
    window: float = 15 * 60
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, email: str) -> int:
        """Seconds to wait before another attempt, or 0 when one is allowed now."""
        now = time.monotonic()
        waits = []
        for key, limit in ((f"ip:{address}", self.per_address), (f"email:{email}", self.per_email)):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(int(times[0] + self.window - now) + 1)
        return max(waits, default=0)

    def failed(self, address: str, email: str) -> None:
        now = time.monotonic()
        for key in (f"ip:{address}", f"email:{email}"):
            self._recent(key, now).append(now)
        if len(self._failures) > 10_000:  # forget idle keys so memory stays bounded
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]

    def succeeded(self, email: str) -> None:
        self._failures.pop(f"email:{email}", None)
