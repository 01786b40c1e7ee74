"""Reading pages and messages the way the tests need: CSRF tokens, links, visible text."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage


def csrf_token(page: str) -> str:
    """The CSRF token of the (only) form on a page."""
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    assert match, "no CSRF token on the page"
    value = re.search(r'value="([^"]+)"', match.group(0))
    assert value
    return html.unescape(value.group(1))


def text_of(page: str) -> str:
    """The visible text of an HTML page, whitespace folded (good enough for assertions)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(body)).strip()


def field_error(page: str, field: str) -> str | None:
    """The error message shown next to a field, or None."""
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, flags=re.S)
    return text_of(match.group(1)) if match else None


def parts(message: EmailMessage) -> dict[str, str]:
    """The plain-text and HTML bodies of a message, by subtype."""
    return {
        part.get_content_subtype(): part.get_content()
        for part in message.walk()
        if part.get_content_maintype() == "text"
    }


def links_in(body: str) -> list[str]:
    """Every http(s) URL in a body, in order."""
    return re.findall(r"https?://[^\s\"'<>]+", body)
