"""Friendly error pages in Dutch and English: never a stack trace, never personal data."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

HANDLED_CODES = (400, 403, 404, 405, 413, 429, 500)


def render_error(error: HTTPException) -> tuple[str, int]:
    """Render the generic error page for an HTTP error."""
    code = error.code or 500
    return render_template("errors/error.html", code=code), code


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
