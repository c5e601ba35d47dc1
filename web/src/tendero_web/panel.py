"""The panel's frame: templates, sessions, the login gate, static files and page routes.

Pages render through :func:`render`, which gives every template the same context:

* ``_(text, **values)`` — the text in the request's language (see :mod:`tendero_web.i18n`)
* ``fmt`` — :class:`~tendero_web.i18n.Formats` (``fmt.money(x)``, ``fmt.datetime(x)``)
* ``store`` — the published settings document; ``user`` — the logged-in user
* ``csrf_token`` — put it in every form as ``{{ csrf_field() }}``
* ``flashes`` — messages queued with :func:`flash` by the previous request
* ``lang``, ``languages``, ``request``, ``nav`` (the sections of the top bar)

Templates autoescape everything: customer-supplied text (names, messages, addresses) is
always shown as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import aiohttp_session
import jinja2
from aiohttp import web
from markupsafe import Markup, escape
from tendero.app import DATABASE, SETTINGS
from tendero.store.document import StoreDocument
from tendero.store.service import get_published

from tendero_web import i18n, security

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

STORE = web.RequestKey("store", StoreDocument)
LANGUAGE = web.RequestKey("language", str)
FORMATS = web.RequestKey("formats", i18n.Formats)

# (path, English label) of the top bar, in order.
NAV = (
    ("/orders", "Orders"),
    ("/conversations", "Conversations"),
    ("/products", "Products"),
    ("/settings", "Settings"),
    ("/channels", "Channels"),
)


def setup(app: web.Application, route_tables: list[web.RouteTableDef]) -> None:
    """Install the panel on ``app``: templates, sessions, the guard, static files, pages."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["csrf_field"] = _csrf_field
    env.globals["static"] = lambda name: str(app.router["static"].url_for(filename=name))
    security.setup_sessions(app, secure=app[SETTINGS].cookie_secure)
    app.middlewares.append(security.panel_guard)
    app[security.LOGIN_LIMITER] = security.LoginLimiter()
    app.router.add_static("/static/", STATIC, name="static", append_version=True)
    app.router.add_get("/favicon.ico", _no_favicon)
    for table in route_tables:
        app.router.add_routes(table)


async def _no_favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def store(request: web.Request) -> StoreDocument:
    """The published store settings, read once per request."""
    if STORE not in request:
        async with request.app[DATABASE].read_session() as session:
            request[STORE] = await get_published(session)
    return request[STORE]


async def language(request: web.Request) -> str:
    """The panel language of this request (``es`` or ``en``)."""
    if LANGUAGE not in request:
        session = await aiohttp_session.get_session(request)
        doc = await store(request)
        request[LANGUAGE] = i18n.pick_language(
            session.get("lang"), request.headers.get("Accept-Language"), doc.company.language
        )
    return request[LANGUAGE]


async def formats(request: web.Request) -> i18n.Formats:
    """Money and date formatting for this request (language, store currency and zone)."""
    if FORMATS not in request:
        doc = await store(request)
        request[FORMATS] = i18n.Formats(
            await language(request), doc.company.country, doc.currency, doc.company.timezone
        )
    return request[FORMATS]


async def gettext(request: web.Request) -> Any:
    """A ``_(text, **values)`` function for this request's language."""
    lang = await language(request)
    return lambda text, **values: i18n.translate(lang, text, **values)


async def flash(request: web.Request, message: str, kind: str = "info") -> None:
    """Queue ``message`` (already translated) for the next page; ``kind``: ``info``,
    ``success``, ``error``."""
    session = await aiohttp_session.get_session(request)
    session["flash"] = [*session.get("flash", []), [kind, message]]


async def _context(request: web.Request) -> dict[str, Any]:
    session = await aiohttp_session.get_session(request)
    flashes = session.pop("flash", [])
    lang = await language(request)
    return {
        "_": await gettext(request),
        "fmt": await formats(request),
        "store": await store(request),
        "user": request.get(security.USER),
        "csrf_token": await security.csrf_token(request),
        "flashes": flashes,
        "lang": lang,
        "languages": i18n.LANGUAGE_NAMES,
        "nav": NAV,
        "request": request,
    }


@jinja2.pass_context
def _csrf_field(context: Any) -> Markup:
    token = escape(context["csrf_token"])
    return Markup(f'<input type="hidden" name="{security.CSRF_FIELD}" value="{token}">')


async def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    """Render ``template`` with the panel's context plus ``context``."""
    merged = {**await _context(request), **(context or {})}
    return aiohttp_jinja2.render_template(template, request, merged, status=status)


def redirect(
    request: web.Request, route: str, query: dict[str, str] | None = None, **parts: str
) -> web.HTTPSeeOther:
    """A 303 to the named route (raise it)."""
    url = request.app.router[route].url_for(**parts)
    if query:
        url = url.with_query(query)
    return web.HTTPSeeOther(url)
