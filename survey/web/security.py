"""Security headers on every response (DESIGN §9), and CSRF protection for every POST.

The CSP allows the app's own origin only: no inline script, no third-party anything. Survey pages
carry a personal token in their URL, so they are never cached and never leak a Referer.

Cross-site request forgery is refused twice: by the session-bound token of every form
(Flask-WTF), and by `refuse_cross_origin`, which checks where a state-changing request comes
from the way Django does: the browser's `Sec-Fetch-Site`, else `Origin`, else (over https) the
Referer. Flask-WTF's own https Referer check is off, because pages whose URL holds a token send
no Referer (and an Origin of `null`) by design; the `__Host-` session cookie (config.py) is what
that check guarded against on https: a cookie planted from a plain-http sibling host.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFError, CSRFProtect

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
    # Token URLs never leak; elsewhere the browser tells the app's own origin where a form came
    # from (staff URLs hold no personal data) and tells other sites nothing.
    token_page = request.path.startswith(TOKEN_PATHS)
    headers.setdefault("Referrer-Policy", "no-referrer" if token_page else "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html" or request.path.startswith(PRIVATE_PATHS):
        headers["Cache-Control"] = "no-store"
    return response


# Pages and downloads that must never be stored by a browser or a proxy.
PRIVATE_PATHS = ("/staff", "/s/", "/afmelden/")
# Pages whose URL holds a personal token: they send no Referer, so their forms post Origin `null`.
TOKEN_PATHS = ("/s/", "/afmelden/", "/staff/link/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _origin(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower-cased; a malformed URL matches no origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. a port that is not a number, or out of range
        return "malformed:"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = (parts.hostname or "") + (f":{port}" if port and port != default else "")
    return f"{parts.scheme}://{netloc}".lower()


def _own_origins() -> set[str]:
    """The origins this app answers on: the request's own and PUBLIC_BASE_URL's."""
    return {_origin(request.host_url), _origin(current_app.config["PUBLIC_BASE_URL"])}


def cross_origin_reason() -> str | None:
    """Why this state-changing request does not come from the app's own pages, or None."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site in {"cross-site", "same-site"}:
        return "the browser says the request comes from another site"
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return None if _origin(origin) in _own_origins() else "Origin is another site"
    referrer = request.headers.get("Referer")
    if referrer:
        return None if _origin(referrer) in _own_origins() else "Referer is another site"
    if fetch_site in {"same-origin", "none"}:
        return None
    if request.is_secure and not request.path.startswith(TOKEN_PATHS):
        # As Flask-WTF and Django do over https: a form of ours always says where it came from.
        return "no Origin or Referer over https"
    return None


def refuse_cross_origin() -> None:
    """Refuse a POST (or other unsafe method) that another site made the browser send."""
    if request.method in SAFE_METHODS:
        return
    reason = cross_origin_reason()
    if reason is not None:
        logging.getLogger(__name__).warning("cross-origin %s refused: %s", request.method, reason)
        raise CSRFError(reason)


# Survey and opt-out links carry the personal token in their path.
TOKEN_IN_PATH = re.compile(r"(/(?:s|afmelden|staff/link)/)[A-Za-z0-9_%-]+")
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(value: object) -> object:
    """`value` with any survey token in a URL path replaced by `[token]`."""
    return TOKEN_IN_PATH.sub(r"\1[token]", value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Keeps tokens out of access logs (the dev server's and gunicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg)
        if isinstance(record.args, MutableMapping):
            # In place: gunicorn's access-log mapping answers "-" for a header a request lacks,
            # which a plain dict copy would turn into a logging error.
            for key, value in list(record.args.items()):
                record.args[key] = redact(value)
        elif isinstance(record.args, Mapping):
            record.args = {key: redact(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(redact(value) for value in record.args)
        return True


def init_app(app: Flask) -> None:
    """Turn on CSRF protection, the security headers and token redaction in access logs."""
    app.config["WTF_CSRF_SSL_STRICT"] = False  # replaced by refuse_cross_origin (see above)
    csrf.init_app(app)
    app.before_request(refuse_cross_origin)
    app.after_request(add_security_headers)
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
