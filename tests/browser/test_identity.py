"""Accounts in real Chromium (issue 11 point 4, issue 12 points 6 and 7): a new person sets
their own first password with the code an administrator hands them; a reset, an unlock and
a role a second administrator approves, from the Users page; and the small things that made
signing in and the header feel unfinished, on a desktop and on a 390 px phone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from custody.tools.screenshots import VIEWPORT
from tests.browser.conftest import PASSWORD, Portal, _ok, sign_in

PHONE = {"width": 390, "height": 844}


def add_person(portal: Portal, name: str, role: str = "officer") -> None:
    """admin adds `name` on the command line; they set PASSWORD with the code it printed."""
    code = _ok(portal.data_dir, "users", "add", name, "--role", role)
    _ok(portal.data_dir, "users", "complete-reset", stdin=f"{code}\n{PASSWORD}\n")


def to_users(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users and roles")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?signed_out=1")


def set_password(page: Page, portal: Portal, code: str, password: str) -> None:
    page.goto(f"{portal.url}/password-reset")
    page.get_by_label("Code").fill(code)
    page.get_by_label("New password").fill(password)
    page.get_by_label("The same password again").fill(password)
    page.get_by_role("button", name="Set my password").click()


def try_password(page: Page, portal: Portal, username: str, password: str) -> None:
    page.goto(f"{portal.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_new_user_sets_their_own_first_password_with_the_code_handed_to_them(
    page: Page, portal: Portal
) -> None:
    sign_in(page, portal, "root")
    to_users(page)
    expect(page.locator("input[type=password]")).to_have_count(0)
    page.get_by_label("Username").fill("pc.fresh")
    page.get_by_label("Role", exact=True).select_option("officer")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("heading", name="Set-up code for pc.fresh")).to_be_visible()
    code = page.get_by_label("The one-time code").input_value()
    assert code.startswith("cpr_")
    row = page.locator("tr", has_text="pc.fresh")
    expect(row).to_contain_text("Waiting for them to set a password")
    # Shown once: the next visit to the page has no code on it.
    page.reload()
    expect(page.get_by_label("The one-time code")).to_have_count(0)
    sign_out(page)

    # pc.fresh, at a computer of their own.
    set_password(page, portal, code, "short")
    expect(page.locator("#password-error")).to_contain_text("at least 10 characters")
    set_password(page, portal, code, "pc fresh's own words")
    expect(page.locator("p.flash")).to_have_text("Your password is set: sign in with it.")
    try_password(page, portal, "pc.fresh", "pc fresh's own words")
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator(".who .person")).to_contain_text("pc.fresh")
    # The code worked once.
    sign_out(page)
    set_password(page, portal, code, "another long password")
    expect(page.locator("#code-error")).to_contain_text("unknown, used or expired")


def test_an_administrator_unlocks_an_account_and_issues_a_reset(page: Page, portal: Portal) -> None:
    add_person(portal, "pc.fumble")
    for _ in range(5):
        try_password(page, portal, "pc.fumble", "not my password")
        expect(page.locator("#form-error")).to_have_text("Wrong username or password.")
    try_password(page, portal, "pc.fumble", PASSWORD)
    # Said once, plainly, with what to do.
    error = page.locator("#form-error")
    expect(error).to_contain_text(
        re.compile(r"^Too many failed sign-ins: try again in \d+ (seconds|minutes), or ")
    )
    expect(error).to_contain_text("ask an administrator to unlock your account")
    assert page.content().count("Too many failed sign-ins") == 1

    sign_in(page, portal, "root")
    to_users(page)
    row = page.locator("tr", has_text="pc.fumble")
    expect(row).to_contain_text("Held back after failed sign-ins")
    row.get_by_role("button", name="Unlock pc.fumble").click()
    expect(page.locator("p.flash")).to_have_text("pc.fumble may sign in again now.")
    expect(page.locator("tr", has_text="pc.fumble")).not_to_contain_text("Held back")
    page.locator("tr", has_text="pc.fumble").get_by_role(
        "button", name="Reset password of pc.fumble"
    ).click()
    expect(page.get_by_role("heading", name="Password reset code for pc.fumble")).to_be_visible()
    assert page.get_by_label("The one-time code").input_value().startswith("cpr_")
    sign_out(page)
    # Unlocked: the right password gets in now (the reset changes nothing until completed).
    try_password(page, portal, "pc.fumble", PASSWORD)
    page.wait_for_url(lambda url: "/login" not in url)


def test_a_wide_role_waits_for_a_second_administrator(page: Page, portal: Portal) -> None:
    add_person(portal, "pc.audit")
    add_person(portal, "pc.standards")
    # admin, the first administrator, asks; root, whom the installation made, approves.
    _ok(portal.data_dir, "users", "request-role", "pc.audit", "auditor", "--as", "admin")
    sign_in(page, portal, "root")
    to_users(page)
    requests = page.locator("section", has_text="Roles waiting for approval")
    expect(requests).to_contain_text("pc.audit")
    expect(requests).to_contain_text("admin")
    requests.get_by_role("button", name="Approve auditor for pc.audit").click()
    expect(page.locator("p.flash")).to_have_text("pc.audit is now auditor.")
    expect(page.locator("tr", has_text="pc.audit").locator("select")).to_have_value("auditor")
    # root asks in turn, and may not approve it themselves.
    row = page.locator("tr", has_text="pc.standards")
    row.get_by_label("Role of pc.standards").select_option("professional_standards")
    row.get_by_role("button", name="Change the role of pc.standards").click()
    expect(page.locator("p.flash")).to_contain_text("another administrator must approve it")
    page.locator("section", has_text="Roles waiting for approval").get_by_role(
        "button", name="Approve professional standards for pc.standards"
    ).click()
    expect(page.locator("p.flash")).to_contain_text("cannot approve it")
    expect(page.locator("tr", has_text="pc.standards").locator("select")).to_have_value("officer")


def test_a_long_username_on_the_sign_in_form_gets_the_page_not_json(
    page: Page, portal: Portal
) -> None:
    try_password(page, portal, "x" * 300, "whatever it is")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("#form-error")).to_have_text("Wrong username or password.")
    assert "invalid_request" not in page.content()


def test_a_120_character_username_does_not_stretch_the_users_table(
    page: Page, portal: Portal
) -> None:
    long_name = "pc." + "l" * 117
    add_person(portal, long_name)
    sign_in(page, portal, "root")
    to_users(page)
    expect(page.locator("td.name", has_text=long_name)).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], width


def test_a_tag_mistake_keeps_the_title_and_is_shown_beside_tags(page: Page, portal: Portal) -> None:
    sign_in(page, portal, "charlie")
    page.goto(f"{portal.url}/recordings/{portal.charlie}")
    page.get_by_role("textbox", name="Title", exact=True).fill("Bus stop dispute")
    page.get_by_role("textbox", name="Tags").fill("dispute, Not A Tag!")
    page.get_by_role("button", name="Save details").click()
    error = page.locator("#tags-error")
    expect(error).to_contain_text("lower-case letters")
    tags = page.get_by_role("textbox", name="Tags")
    expect(tags).to_have_value("dispute, Not A Tag!")
    expect(tags).to_have_attribute("aria-invalid", "true")
    # Beside the field it is about, below Title, not above the form.
    title_box = page.get_by_role("textbox", name="Title", exact=True).bounding_box()
    error_box = error.bounding_box()
    assert title_box is not None and error_box is not None
    assert error_box["y"] > title_box["y"]
    # The title was saved all the same.
    page.goto(f"{portal.url}/recordings/{portal.charlie}")
    expect(page.get_by_role("textbox", name="Title", exact=True)).to_have_value("Bus stop dispute")


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A fresh browser context the size of a 390 px phone."""
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_on_a_390_px_phone_the_header_fits_and_sign_out_is_on_screen(
    phone: Page, portal: Portal
) -> None:
    sign_in(phone, portal, "root")
    to_users(phone)
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    box = phone.get_by_role("button", name="Sign out").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    for link in phone.get_by_role("navigation", name="Main").get_by_role("link").all():
        seen = link.bounding_box()
        assert seen is not None and seen["x"] + seen["width"] <= PHONE["width"]
    sign_out(phone)
