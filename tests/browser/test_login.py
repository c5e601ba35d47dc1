"""Getting in: the one-time set-up link, logging out and in, the language switch."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import OWNER_EMAIL, Server, log_in

NEW_OWNER = "duena@tienda.test"
NEW_PASSWORD = "una clave muy larga"


def test_set_up_with_the_printed_link_then_log_out_and_in(
    page: Any, fresh_server: Server, shot: Any
) -> None:
    setup_url = fresh_server.setup_url
    assert setup_url, f"tendero serve printed no set-up link:\n{fresh_server.log}"

    # Without the link, the panel explains how to get in.
    page.goto(fresh_server.url("/orders"))
    expect(page.get_by_role("heading", name="Welcome to Tendero")).to_be_visible()

    page.goto(setup_url)
    expect(page.get_by_role("heading", name="Create the owner account")).to_be_visible()
    page.get_by_label("Email").fill(NEW_OWNER)
    page.get_by_label(re.compile(r"^Password \(")).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD + "!")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords are not the same.")
    shot(page, "passwords-differ")

    page.get_by_label(re.compile(r"^Password \(")).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/orders"))
    expect(page.get_by_text("Welcome! Your owner account is ready.")).to_be_visible()
    shot(page, "account-ready")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("You have logged out.")).to_be_visible()
    page.goto(fresh_server.url("/orders"))
    expect(page).to_have_url(re.compile(r"/login\?next=%2Forders|/login\?next=/orders"))

    # A wrong password: a clear message, the email kept, still logged out.
    page.get_by_label("Email").fill(NEW_OWNER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(NEW_OWNER)
    shot(page, "wrong-password")

    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/orders$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "logged-in")

    # The link was used up: opening it again (logged in or not) only leads to the log-in.
    page.get_by_role("button", name="Log out").click()
    page.goto(setup_url)
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_text("The owner account already exists. Log in instead.")).to_be_visible()
    expect(page.get_by_role("heading", name="Create the owner account")).to_have_count(0)
    shot(page, "link-used")


def test_log_in_keeps_the_page_asked_for(page: Any, demo_server: Server) -> None:
    page.goto(demo_server.url("/products"))
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(OWNER_EMAIL.upper())
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/products$"))


def test_language_switch_changes_the_panel_texts(page: Any, demo_server: Server, shot: Any) -> None:
    log_in(page, demo_server)
    sections = page.get_by_role("navigation", name="Sections")
    expect(sections.get_by_role("link", name="Orders")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("link", name="ES", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    sections = page.get_by_role("navigation", name="Secciones")
    expect(sections.get_by_role("link", name="Pedidos")).to_be_visible()
    expect(sections.get_by_role("link", name="Conversaciones")).to_be_visible()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    shot(page, "spanish")

    # Remembered for the session: another page is in Spanish too.
    page.goto(demo_server.url("/products"))
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()

    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/products$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    shot(page, "english")


def test_the_log_in_page_speaks_spanish_too(page: Any, demo_server: Server) -> None:
    page.goto(demo_server.url("/login"))
    page.get_by_role("link", name="ES", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)
    page.get_by_label("Correo").fill(OWNER_EMAIL)
    page.get_by_label("Contraseña").fill("nope nope nope")
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("alert")).to_have_text("Correo o contraseña incorrectos.")
