"""Security headers on every response (DESIGN §9), and CSRF protection for every POST.

The CSP allows the app's own origin only: no inline script, no third-party anything. Survey pages
carry a personal token in their URL, so they are never cached and never leak a Referer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def add_security_headers(response: Response) -> Response:
    """Set the headers every response needs."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html" or request.path.startswith(PRIVATE_PATHS):
        headers["Cache-Control"] = "no-store"
    return response


# Pages and downloads that must never be stored by a browser or a proxy.
PRIVATE_PATHS = ("/staff", "/s/", "/afmelden/")

# Survey and opt-out links carry the personal token in their path.
TOKEN_IN_PATH = re.compile(r"(/(?:s|afmelden)/)[A-Za-z0-9_%-]+")
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(value: object) -> object:
    """`value` with any survey token in a URL path replaced by `[token]`."""
    return TOKEN_IN_PATH.sub(r"\1[token]", value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Keeps tokens out of access logs (the dev server's and gunicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: redact(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(redact(value) for value in record.args)
        return True


def init_app(app: Flask) -> None:
    """Turn on CSRF protection, the security headers and token redaction in access logs."""
    csrf.init_app(app)
    app.after_request(add_security_headers)
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
