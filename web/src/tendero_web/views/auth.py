"""Getting in and out: the owner set-up link, log-in, log-out and the language switch."""

from __future__ import annotations

import aiohttp_session
from aiohttp import web
from tendero import accounts
from tendero.app import DATABASE
from tendero.errors import Conflict, ValidationFailed

from tendero_web import i18n, panel, security

routes = web.RouteTableDef()


@routes.get("/", name="home")
async def home(request: web.Request) -> web.StreamResponse:
    raise panel.redirect(request, "orders")


@routes.get("/login", name="login")
async def login_form(request: web.Request) -> web.StreamResponse:
    if await security.current_user(request) is not None:
        raise web.HTTPSeeOther(security.safe_next(request.query.get("next")))
    async with request.app[DATABASE].read_session() as session:
        if not await accounts.has_users(session):
            return await panel.render(request, "auth/no_owner.html", status=200)
    return await panel.render(
        request, "auth/login.html", {"email": "", "next": request.query.get("next", "")}
    )


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    target = security.safe_next(str(form.get("next", "")))
    _ = await panel.gettext(request)
    limiter = request.app[security.LOGIN_LIMITER]
    address = request.remote or "unknown"
    wait = limiter.retry_after(address, email)
    context = {"email": email, "next": target}
    if wait:
        minutes = max(1, round(wait / 60))
        context["error"] = _(
            "Too many failed attempts. Try again in {minutes} min.", minutes=minutes
        )
        response = await panel.render(request, "auth/login.html", context, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    async with request.app[DATABASE].session() as session:
        user = await accounts.authenticate(session, email, password)
    if user is None:
        limiter.failed(address, email)
        context["error"] = _("Wrong email or password.")
        return await panel.render(request, "auth/login.html", context, status=401)
    limiter.succeeded(email)
    await security.log_in(request, user)
    raise web.HTTPSeeOther(target)


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await security.log_out(request)
    _ = await panel.gettext(request)
    await panel.flash(request, _("You have logged out."), "info")
    raise panel.redirect(request, "login")


async def _setup_allowed(request: web.Request, token: str) -> str | None:
    """Why the set-up page cannot be used, or ``None`` when it can."""
    _ = await panel.gettext(request)
    async with request.app[DATABASE].read_session() as session:
        if await accounts.has_users(session):
            return _("The owner account already exists. Log in instead.")
    if not token:
        return _("Open the one-time set-up link that `tendero serve` printed.")
    return None


@routes.get("/setup", name="setup")
async def setup_form(request: web.Request) -> web.StreamResponse:
    token = request.query.get("token", "")
    problem = await _setup_allowed(request, token)
    if problem:
        await panel.flash(request, problem, "error")
        raise panel.redirect(request, "login")
    return await panel.render(request, "auth/setup.html", {"token": token, "email": ""})


@routes.post("/setup")
async def setup(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = str(form.get("token", ""))
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    _ = await panel.gettext(request)
    problem = await _setup_allowed(request, token)
    if problem:
        await panel.flash(request, problem, "error")
        raise panel.redirect(request, "login")
    context = {"token": token, "email": email}
    if password != form.get("password_again"):
        context["error"] = _("The two passwords are not the same.")
        return await panel.render(request, "auth/setup.html", context, status=422)
    try:
        async with request.app[DATABASE].session() as session:
            if not await accounts.consume_setup_token(session, token):
                context["error"] = _(
                    "This set-up link is not valid any more. Restart `tendero serve` for a new one."
                )
                return await panel.render(request, "auth/setup.html", context, status=403)
            user = await accounts.create_user(session, email, password, is_owner=True)
    except ValidationFailed as exc:
        context["error"] = _setup_error(exc, _)
        return await panel.render(request, "auth/setup.html", context, status=422)
    except Conflict:
        context["error"] = _("The owner account already exists. Log in instead.")
        return await panel.render(request, "auth/setup.html", context, status=409)
    await security.log_in(request, user)
    await panel.flash(request, _("Welcome! Your owner account is ready."), "success")
    raise panel.redirect(request, "orders")


def _setup_error(exc: ValidationFailed, _: object) -> str:
    message = str(exc)
    if "password" in message:
        return _(  # type: ignore[operator]
            "The password needs at least {count} characters.",
            count=accounts.MIN_PASSWORD_LENGTH,
        )
    return _("That email address is not valid.")  # type: ignore[operator]


@routes.get("/lang", name="language")
async def switch_language(request: web.Request) -> web.StreamResponse:
    """Switch the panel's language (``?to=es&next=/orders``); remembered in the session."""
    choice = request.query.get("to", "")
    if choice in i18n.LANGUAGES:
        session = await aiohttp_session.get_session(request)
        session["lang"] = choice
    raise web.HTTPSeeOther(security.safe_next(request.query.get("next"), "/orders"))
