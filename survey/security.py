"""Security headers on every response (DESIGN §9), and CSRF protection for every POST.

The CSP allows the app's own origin only: no inline script, no third-party anything. Survey pages
carry a personal token in their URL, so they are never cached and never leak a Referer.
"""

from __future__ import annotations

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
    if response.mimetype == "text/html":
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Turn on CSRF protection and the security headers."""
    csrf.init_app(app)
    app.after_request(add_security_headers)
