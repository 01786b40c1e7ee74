"""Reading pages and messages the way the tests need: CSRF tokens, tables, visible text.

Pages are read as a tree with BeautifulSoup (`html.parser`), never with regular expressions, so
an assertion looks at the element where a figure or a message stands.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

from bs4 import BeautifulSoup, Tag


def soup(page: str) -> BeautifulSoup:
    """An HTML page (or a fragment of one) as a tree."""
    return BeautifulSoup(page, "html.parser")


def visible(element: Tag) -> str:
    """The visible text of an element, whitespace folded (script and style left out)."""
    return " ".join(element.get_text(" ").split())


def text_of(page: str) -> str:
    """The visible text of an HTML page, whitespace folded (good enough for assertions)."""
    return visible(soup(page))


def csrf_token(page: str) -> str:
    """The CSRF token of the (first) form on a page."""
    field = soup(page).find("input", attrs={"name": "csrf_token"})
    assert field, "no CSRF token on the page"
    value = field.get("value")
    assert value
    return str(value)


def field_error(page: str, field: str) -> str | None:
    """The error message shown next to a field, or None."""
    error = soup(page).find("p", class_="field-error", id=f"{field}-error")
    return visible(error) if error else None


def one(page: str | Tag, selector: str) -> Tag:
    """The element `selector` (CSS) picks on a page; fail when there is none."""
    tree = soup(page) if isinstance(page, str) else page
    found = tree.select_one(selector)
    assert found is not None, f"nothing matches {selector!r}"
    return found


def table_rows(page: str | Tag, selector: str = "table") -> list[list[str]]:
    """The visible text of every cell (th and td) of every body row of the tables `selector`
    picks (or of `page` itself, a table), row by row (header rows left out)."""
    tree = soup(page) if isinstance(page, str) else page
    tables = [tree] if tree.name == "table" else tree.select(selector)
    rows = []
    for table in tables:
        for row in table.find_all("tr"):
            if row.find_parent("thead") is not None or row.find_parent("table") is not table:
                continue
            rows.append([visible(cell) for cell in row.find_all(("th", "td"))])
    return rows


def row_starting(page: str | Tag, *first: str, selector: str = "table") -> list[str]:
    """The cells of the one body row whose first cells read `first`."""
    rows = [r for r in table_rows(page, selector) if tuple(r[: len(first)]) == first]
    assert len(rows) == 1, (first, rows)
    return rows[0]


def options(page: str | Tag, select: str) -> list[str]:
    """The values of the options of the select named `select`, in order."""
    tree = soup(page) if isinstance(page, str) else page
    found = tree.find("select", attrs={"name": select})
    assert found is not None, f"no {select} select"
    return [str(option.get("value", "")) for option in found.find_all("option")]


def selected(page: str | Tag, select: str) -> str:
    """The value of the selected option of the select named `select`."""
    tree = soup(page) if isinstance(page, str) else page
    found = tree.find("select", attrs={"name": select})
    assert found is not None, f"no {select} select"
    chosen = found.find("option", selected=True)
    assert chosen is not None, f"nothing selected in {select}"
    return str(chosen.get("value", ""))


def attribute_values(page: str | Tag, *names: str) -> list[str]:
    """Every value of the attributes `names` (href, src...) on a page, in document order."""
    tree = soup(page) if isinstance(page, str) else page
    return [
        str(element[name])
        for element in tree.find_all(True)
        for name in names
        if element.has_attr(name)
    ]


def parts(message: EmailMessage) -> dict[str, str]:
    """The plain-text and HTML bodies of a message, by subtype."""
    return {
        part.get_content_subtype(): part.get_content()
        for part in message.walk()
        if part.get_content_maintype() == "text"
    }


def links_in(body: str) -> list[str]:
    """Every http(s) URL in a body (an email's text or HTML part), in order."""
    return re.findall(r"https?://[^\s\"'<>]+", body)
