"""Languages: Flask-Babel set-up and the choice of language per request.

Dutch is the default; a page about an invitation speaks the invitation's language (the view puts
it on `g.locale`). Message ids are English; `survey/translations/` holds the `nl` and `en`
catalogues, compiled to `.mo` by every build of the package (setup.py: a wheel carries them, an
editable install compiles them in place) and by `make translations`.
"""

from __future__ import annotations

from typing import Literal

from flask import Flask, g
from flask_babel import Babel, force_locale, gettext, refresh

from analysis.formatting import format_count, format_mark, format_rate
from survey.enums import Language
from survey.models import LANGUAGES


def select_locale() -> str:
    """The language of the current page: the one a view chose, else Dutch."""
    locale = g.get("locale")
    return locale if locale in LANGUAGES else Language.NL


def chart_locale() -> Literal["en-US", "nl-NL"]:
    """The number notation of charts drawn on the server (vl-convert), in the page's language."""
    return "en-US" if select_locale() == Language.EN else "nl-NL"


def use_language(language: str | None) -> str:
    """Make `language` the language of the current request and return the one in force."""
    g.locale = language if language in LANGUAGES else Language.NL
    refresh()  # Flask-Babel caches the locale per context; drop what it may have looked up
    return g.locale


def language_switch_label(language: str) -> str:
    """The language button's text, in the language it switches to (msgid: the English one)."""
    with force_locale(language):
        return gettext("Read this page in English")


def init_app(app: Flask) -> None:
    """Register Flask-Babel with the per-request locale selector."""
    Babel(app, locale_selector=select_locale)

    # Figures in the page's notation: 1.234 and 8,09 in Dutch, 1,234 and 8.09 in English.
    @app.template_filter("as_count")
    def _count(value: float | None) -> str:
        return format_count(value, locale=select_locale())

    @app.template_filter("as_rate")
    def _rate(value: float | None) -> str:
        return format_rate(value, locale=select_locale())

    @app.template_filter("as_mark")
    def _mark(value: float | None) -> str:
        return format_mark(value, locale=select_locale())

    @app.context_processor
    def _language() -> dict[str, object]:
        return {"page_language": select_locale(), "language_switch_label": language_switch_label}
