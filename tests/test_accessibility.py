"""WCAG 2.1 AA in a real browser: axe-core audits, keyboard only, small screens, no JavaScript.

One app on SQLite with a live server and one headless Chromium serve the whole module; the pages
under test are the ones families and staff really see, in the states they really reach.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from survey.models import Comment, utcnow
from survey.quotes import operations as quotes
from tests.browser import axe_violations, chromium, screenshot
from tests.conftest import make_test_app
from tests.factories import make_comment, make_episode, make_invited
from tests.servers import live_server
from tests.staff_helpers import DEFAULT_PASSWORD, database, make_staff
from tests.test_report import fill_region


@dataclass
class Site:
    """The live site and what the tests need to reach its pages."""

    url: str
    browser: Any
    tokens: dict[str, str]
    staff: dict[str, str]  # role -> email
    new_token: Any  # (group="parent") -> the token of a fresh, unanswered invitation
    app: Any


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("a11y")
    url = f"sqlite:///{folder / 'site.db'}"
    from sqlalchemy import create_engine

    from survey.db import Base

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = make_test_app(url, folder, REQUIRE_MFA=False)
    with database(app) as db:
        fill_region(db)
        for text in ("Juf Anouk hielp ons echt.", "Thuis was het onveilig, nu niet meer."):
            make_comment(db, text)
        quotes.prepare_comments(db, app.config["PROVIDER_NAME"])
        tokens = {}
        for name, group, age in (("parent", "parent", 14), ("youth", "youth", 17)):
            episode = make_episode(db, youth_age=age)
            tokens[name] = make_invited(db, episode=episode, respondent_group=group)[1]
        answered, tokens["answered"] = make_invited(db)
        answered.responded_at = utcnow()
        expired, tokens["expired"] = make_invited(db)
        expired.expires_at = utcnow() - timedelta(days=1)
        tokens["opt_out"] = make_invited(db)[1]
        staff = {
            role: make_staff(db, role, with_totp=False)[0].email
            for role in ("quality", "communications")
        }
        db.commit()

    def new_token(group: str = "parent") -> str:
        with database(app) as db:
            episode = make_episode(db, youth_age=17)
            return make_invited(db, episode=episode, respondent_group=group)[1]

    with live_server(app) as base, chromium() as browser:
        yield Site(base, browser, tokens, staff, new_token, app)
    app.extensions["db_engine"].dispose()


def signed_in_page(site: Site, role: str, **context: Any) -> Any:
    """A new browser page signed in as `role` through the real sign-in form."""
    page = site.browser.new_context(**context).new_page()
    page.goto(f"{site.url}/staff/login")
    page.fill("input[name=email]", site.staff[role])
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/?$"))
    return page


def fill_marks(page: Any) -> None:
    page.check("#self_direction-8", force=True)
    page.check("#usefulness-7", force=True)


PAGES = {
    "parent survey": lambda site, page: page.goto(f"{site.url}/s/{site.tokens['parent']}"),
    "youth survey": lambda site, page: page.goto(f"{site.url}/s/{site.tokens['youth']}"),
    "survey with errors": lambda site, page: (
        page.goto(f"{site.url}/s/{site.new_token()}"),
        page.click("#submit"),
    ),
    "thank-you": lambda site, page: (
        page.goto(f"{site.url}/s/{site.new_token()}"),
        fill_marks(page),
        page.click("#submit"),
    ),
    "already answered": lambda site, page: page.goto(f"{site.url}/s/{site.tokens['answered']}"),
    "expired": lambda site, page: page.goto(f"{site.url}/s/{site.tokens['expired']}"),
    "unknown link": lambda site, page: page.goto(f"{site.url}/s/{'x' * 43}"),
    "opt-out": lambda site, page: page.goto(f"{site.url}/afmelden/{site.tokens['opt_out']}"),
    "staff sign-in": lambda site, page: page.goto(f"{site.url}/staff/login"),
    "accessibility statement": lambda site, page: page.goto(f"{site.url}/toegankelijkheid"),
    "privacy": lambda site, page: page.goto(f"{site.url}/privacy?lang=en"),
}
STAFF_PAGES = {
    "dashboard": ("quality", "/staff/dashboard/?by=team"),
    "comments": ("quality", "/staff/dashboard/comments"),
    "quotes queue": ("communications", "/staff/quotes/"),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_family_pages_have_no_wcag_21_aa_violations(site, name):
    page = site.browser.new_page()
    PAGES[name](site, page)
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") in ("nl", "en")
    assert page.title().strip()
    assert axe_violations(page) == []
    page.context.close()


@pytest.mark.parametrize("name", sorted(STAFF_PAGES))
def test_staff_pages_have_no_wcag_21_aa_violations(site, name):
    role, path = STAFF_PAGES[name]
    page = signed_in_page(site, role)
    page.goto(f"{site.url}{path}")
    page.wait_for_load_state("networkidle")
    if name == "dashboard":
        page.wait_for_selector(".chart svg")  # audit the drawn charts too
        page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []
    page.context.close()


def focused_id(page: Any) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def tab_to(page: Any, element_id: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused_id(page) == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_the_survey_can_be_filled_in_and_sent_with_the_keyboard_only(site):
    page = site.browser.new_page()
    page.goto(f"{site.url}/s/{site.new_token('youth')}")
    tab_to(page, "self_direction-1")
    for _ in range(7):
        page.keyboard.press("ArrowRight")  # arrows move through the group and choose
    assert focused_id(page) == "self_direction-8"
    tab_to(page, "usefulness-1")
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    tab_to(page, "comment")
    page.keyboard.type("Fijn dat ik zelf mocht kiezen.")
    tab_to(page, "quote_consent")
    page.keyboard.press("Space")
    tab_to(page, "submit")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/bedankt"))
    assert "Bedankt" in page.locator("h1").inner_text()
    page.context.close()


def test_the_error_summary_gets_focus_and_links_to_the_field(site):
    page = site.browser.new_page()
    page.goto(f"{site.url}/s/{site.new_token()}")
    page.click("#submit")
    # Focus moves by the autofocus attribute (no JavaScript); browsers apply it on rendering.
    # (Polled from here: wait_for_function would need 'unsafe-eval', which the CSP refuses.)
    for _ in range(30):
        if focused_id(page) == "error-summary":
            break
        page.wait_for_timeout(100)
    assert focused_id(page) == "error-summary"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the first link in the summary
    assert page.url.endswith("#self_direction-1")
    page.context.close()


def test_switching_language_keeps_the_answers(site):
    page = site.browser.new_page()
    page.goto(f"{site.url}/s/{site.new_token()}")
    fill_marks(page)
    page.fill("#comment", "Goede hulp.")
    page.click("button[name=switch_language]")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.is_checked("#self_direction-8") and page.is_checked("#usefulness-7")
    assert page.input_value("#comment") == "Goede hulp."
    assert "(required)" in page.locator("form").inner_text()
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/bedankt"))
    assert page.locator("html").get_attribute("lang") == "en"
    page.context.close()


def test_the_survey_works_without_javascript(site):
    context = site.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site.url}/s/{site.new_token()}")
    fill_marks(page)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/bedankt"))
    context.close()


@pytest.mark.parametrize(("width", "height", "scale"), [(320, 640, 1), (640, 400, 2)])
def test_no_sideways_scrolling_at_320_px_or_at_200_percent_zoom(site, width, height, scale):
    """640 CSS pixels at scale 2 is a 1280-pixel window zoomed to 200%."""
    context = site.browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale
    )
    page = context.new_page()
    for path in (f"/s/{site.tokens['parent']}", "/staff/login", "/toegankelijkheid"):
        page.goto(f"{site.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
    context.close()


def test_touch_targets_are_at_least_44_px_and_focus_is_visible(site):
    context = site.browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.goto(f"{site.url}/s/{site.tokens['parent']}")
    targets = page.locator(".scale-option label, button:visible, .checkbox label, footer a")
    assert targets.count() > 20
    for index in range(targets.count()):
        box = targets.nth(index).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, (index, box)
    tab_to(page, "self_direction-1")
    outline = page.evaluate(
        "getComputedStyle(document.querySelector('label[for=\"self_direction-1\"]')).outlineStyle"
    )
    assert outline not in ("none", "")
    context.close()


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1280, 800)])
def test_screenshots_of_the_survey_and_the_dashboard(site, width, height):
    size = {"viewport": {"width": width, "height": height}}
    page = site.browser.new_context(**size).new_page()
    page.goto(f"{site.url}/s/{site.new_token('youth')}")
    survey = screenshot(page, f"survey-{width}x{height}")
    dashboard_page = signed_in_page(site, "quality", **size)
    dashboard_page.goto(f"{site.url}/staff/dashboard/")
    dashboard_page.wait_for_selector(".chart svg")
    dashboard_page.wait_for_load_state("networkidle")  # every chart drawn, no request in flight
    dashboard = screenshot(dashboard_page, f"dashboard-{width}x{height}")
    for path in (survey, dashboard):
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        width_px = int.from_bytes(Path(path).read_bytes()[16:20], "big")
        assert width_px == width
    page.context.close()
    dashboard_page.context.close()


def test_staff_can_review_quotes_with_the_keyboard(site):
    page = signed_in_page(site, "communications")
    page.goto(f"{site.url}/staff/quotes/")
    first = page.locator("textarea").first.get_attribute("id")
    tab_to(page, first)
    page.keyboard.press("Tab")  # the approve button
    assert page.evaluate("document.activeElement.value") == "approve"
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert "Citaat goedgekeurd." in page.locator(".notice").inner_text()
    with database(site.app) as db:
        statuses = db.scalars(select(Comment.quote_status)).all()
    assert statuses.count("approved") == 1
    page.context.close()


def test_enter_in_a_field_sends_the_answers_not_the_language_button(site):
    page = site.browser.new_page()
    page.goto(f"{site.url}/s/{site.new_token()}")
    fill_marks(page)
    page.focus("#usefulness-7")
    page.keyboard.press("Enter")  # implicit submission: the form's default (first) button
    page.wait_for_url(re.compile(r".*/bedankt"))
    assert page.locator("html").get_attribute("lang") == "nl"
    page.context.close()
