"""The quotes box as people read it: Markdown, CSV and Word, with attribution and source line.

Used by `quotes export`, the web download of approved quotes and the infoblad section.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from survey.documents import add_box, new_document, saved_docx
from survey.quotes.operations import GROUP_ATTRIBUTION
from survey.reporting.exports import formula_safe

QUOTES_TITLE = "Wat zeggen kinderen, jongeren en gezinnen zelf?"


def source_line(provider: str) -> str:
    """The attribution under the quotes box."""
    return f"(Bron: Ervaringswijzer {provider})"


def quote_line(quote: Mapping[str, str]) -> str:
    """One quote as printed, on one line: “text” (ouder)."""
    text = " ".join(quote["text"].split())
    return f"“{text}” ({GROUP_ATTRIBUTION[quote['group']]})"


def markdown_text(text: str) -> str:
    """A one-line quote that Markdown shows as typed: no HTML, no emphasis or code.

    Placeholders such as "[naam]" stay readable: without "(…)" after them they are no link.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_])", r"\\\1", text)


NO_QUOTES = "(Nog geen goedgekeurde citaten voor deze periode.)"


def quotes_markdown(quotes: Sequence[Mapping[str, str]], provider: str) -> str:
    """The quotes box in Markdown."""
    lines = [f"### {QUOTES_TITLE}", ""]
    for quote in quotes:
        lines += [f"> {markdown_text(quote_line(quote))}", ""]
    lines.append(source_line(provider) if quotes else NO_QUOTES)
    return "\n".join(lines) + "\n"


def quotes_csv(quotes: Sequence[Mapping[str, str]], provider: str) -> str:
    """Approved quotes as CSV (formula-safe): attribution, text and source."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["attribution", "text", "source"])
    for quote in quotes:
        writer.writerow(
            [GROUP_ATTRIBUTION[quote["group"]], formula_safe(quote["text"]), source_line(provider)]
        )
    return out.getvalue()


def quotes_docx(quotes: Sequence[Mapping[str, str]], provider: str) -> bytes:
    """The quotes box as a Word document (A4, Dutch)."""
    document = new_document("nl")
    add_quotes_box(document, quotes, provider)
    return saved_docx(document)


def add_quotes_box(document: Any, quotes: Sequence[Mapping[str, str]], provider: str) -> None:
    """The quotes box as the seed's infoblad prints it: a shaded frame with its title, each
    quote with its attribution, and the source line."""
    lines = [quote_line(quote) for quote in quotes]
    add_box(document, QUOTES_TITLE, lines, source_line(provider) if quotes else NO_QUOTES)


QuoteRenderer = Callable[[Sequence[Mapping[str, str]], str], str | bytes]
QUOTE_FORMATS: dict[str, QuoteRenderer] = {
    "md": quotes_markdown,
    "csv": quotes_csv,
    "docx": quotes_docx,
}
"""`quotes export --format` and the web download: format → renderer(quotes, provider)."""
