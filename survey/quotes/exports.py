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


def source_line(providers: Sequence[str]) -> str:
    """The attribution under the quotes box, naming every provider it speaks for:
    "(Bron: Ervaringswijzer MetMaya)", "(Bron: Ervaringswijzer De Linde en MetMaya)"."""
    names = sorted(set(providers))
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} en {names[-1]}"
    return f"(Bron: Ervaringswijzer {listed})"


def providers_of(quotes: Sequence[Mapping[str, str]]) -> list[str]:
    """The providers of the families quoted, by name."""
    return sorted({quote["provider"] for quote in quotes})


def quote_line(quote: Mapping[str, str], *, named: bool = False) -> str:
    """One quote as printed, on one line: “text” (ouder); `named` (a box with quotes of several
    providers): “text” (ouder, MetMaya)."""
    text = " ".join(quote["text"].split())
    attribution = GROUP_ATTRIBUTION[quote["group"]]
    if named:
        attribution = f"{attribution}, {quote['provider']}"
    return f"“{text}” ({attribution})"


def quote_lines(quotes: Sequence[Mapping[str, str]]) -> list[str]:
    """Every quote of a box as printed: with its provider when the box holds several."""
    named = len(providers_of(quotes)) > 1
    return [quote_line(quote, named=named) for quote in quotes]


def closing_line(quotes: Sequence[Mapping[str, str]], providers: Sequence[str] | None) -> str:
    """The line under the box: the source (`providers`, else those of the quotes), or that
    there are no approved quotes yet."""
    if not quotes:
        return NO_QUOTES
    return source_line(providers or providers_of(quotes))


def markdown_text(text: str) -> str:
    """A one-line quote that Markdown shows as typed: no HTML, no emphasis or code.

    Placeholders such as "[naam]" stay readable: without "(…)" after them they are no link.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_])", r"\\\1", text)


NO_QUOTES = "(Nog geen goedgekeurde citaten voor deze periode.)"


Quotes = Sequence[Mapping[str, str]]


def quotes_markdown(quotes: Quotes, providers: Sequence[str] | None = None) -> str:
    """The quotes box in Markdown (`providers`: whom the source line names, see
    `closing_line`)."""
    lines = [f"### {QUOTES_TITLE}", ""]
    for line in quote_lines(quotes):
        lines += [f"> {markdown_text(line)}", ""]
    lines.append(closing_line(quotes, providers))
    return "\n".join(lines) + "\n"


def quotes_csv(quotes: Quotes, providers: Sequence[str] | None = None) -> str:
    """Approved quotes as CSV (formula-safe): attribution, text, provider and source."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["attribution", "text", "provider", "source"])
    for quote in quotes:
        attribution = GROUP_ATTRIBUTION[quote["group"]]
        source = source_line([quote["provider"]])
        writer.writerow([attribution, formula_safe(quote["text"]), quote["provider"], source])
    return out.getvalue()


def quotes_docx(quotes: Quotes, providers: Sequence[str] | None = None) -> bytes:
    """The quotes box as a Word document (A4, Dutch)."""
    document = new_document("nl")
    add_quotes_box(document, quotes, providers)
    return saved_docx(document)


def add_quotes_box(document: Any, quotes: Quotes, providers: Sequence[str] | None = None) -> None:
    """The quotes box as the seed's infoblad prints it: a shaded frame with its title, each
    quote with its attribution, and the source line."""
    add_box(document, QUOTES_TITLE, quote_lines(quotes), closing_line(quotes, providers))


QuoteRenderer = Callable[[Quotes], str | bytes]
QUOTE_FORMATS: dict[str, QuoteRenderer] = {
    "md": quotes_markdown,
    "csv": quotes_csv,
    "docx": quotes_docx,
}
"""`quotes export --format` and the web download: format → renderer(quotes); the source line
names the providers of the families quoted."""
