"""Friendly error pages in Dutch and English: never a stack trace, never personal data."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from survey.enums import Language

log = logging.getLogger(__name__)

HANDLED_CODES = (400, 403, 404, 405, 413, 429, 500)

# Title and advice per status; shown in Dutch and, below it, in English (an error page does not
# know whose language to speak).
MESSAGES = {
    400: (
        _l("Something was wrong with the request"),
        _l("Please try again from the previous page."),
    ),
    403: (_l("No access"), _l("You do not have access to this page.")),
    404: (
        _l("Page not found"),
        _l("This page does not exist (any more). Please check the address."),
    ),
    405: (
        _l("This is not possible on this page"),
        _l("Please go back to the previous page and try again."),
    ),
    413: (
        _l("Too much text or too large a file"),
        _l("Please make the text or file smaller and try again."),
    ),
    429: (_l("Too many attempts"), _l("Please wait a few minutes and try again.")),
    500: (
        _l("Something went wrong on our side"),
        _l("It is not your fault. Please try again later."),
    ),
}


def in_both_languages(messages: tuple[object, ...]) -> dict[str, list[str]]:
    """Each lazy message rendered in Dutch and in English."""
    texts: dict[str, list[str]] = {}
    for language in Language:
        with force_locale(language):
            texts[language] = [str(message) for message in messages]
    return texts


def render_error(error: HTTPException) -> tuple[str, int]:
    """Render the generic error page for an HTTP error."""
    code = error.code or 500
    texts = in_both_languages(MESSAGES.get(code, MESSAGES[500]))
    return render_template("errors/error.html", code=code, texts=texts), code


def render_unexpected(error: Exception) -> tuple[str, int]:
    """Log an unexpected exception (type only, no request data) and show the 500 page."""
    if isinstance(error, HTTPException):
        return render_error(error)
    # The exception's message can carry request data (SQL parameters, form values): log only
    # its type and where it happened.
    where = "".join(traceback.format_tb(error.__traceback__))
    log.error("unhandled %s\n%s", type(error).__name__, where)
    return render_error(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    for code in HANDLED_CODES:
        app.register_error_handler(code, render_error)
    app.register_error_handler(CSRFError, render_error)
    app.register_error_handler(Exception, render_unexpected)
