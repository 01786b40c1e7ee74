"""The nl and en catalogues cover every message in the sources, and the pages really use them.

Messages are extracted from the current sources with Babel's own API and the project's
`babel.cfg`, so a new `_()` in a template or module fails here until both catalogues have a
reviewed (not fuzzy) translation for it. The `.mo` files are build output (`make translations`);
this module compiles them itself when they are missing or stale, so it also works without make.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.factories import make_invited

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "survey" / "translations"
LANGUAGES = ("nl", "en")
# The same keywords as `pybabel extract -k lazy_gettext -k _l` (see survey/translations/README.md).
KEYWORDS = {**DEFAULT_KEYWORDS, **parse_keywords(["lazy_gettext", "_l"])}
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language)


def extracted_messages() -> dict[str, str]:
    """Every msgid in the sources, mapped to the first place it occurs (for the error message)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename="babel.cfg")
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def as_list(value: str | tuple[str, ...] | None) -> list[str]:
    """A message's id or string as a list: one item, or one per plural form."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture(scope="module")
def messages() -> dict[str, str]:
    found = extracted_messages()
    # Guards against a broken babel.cfg that silently extracts nothing from one side.
    assert any(where.startswith("survey/") for where in found.values())
    assert any(where.startswith("templates/") for where in found.values())
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_translates_every_message_in_the_sources(language, messages):
    catalog = read_catalog(language)
    problems = []
    for msgid, where in sorted(messages.items()):
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r} ({where})")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({where})")
        elif not all(s.strip() for s in as_list(entry.string)):
            problems.append(f"empty msgstr: {msgid!r} ({where})")
    report = "\n".join(problems)
    assert not problems, f"{language}: see survey/translations/README.md\n{report}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_of_the_message(language):
    problems = []
    for entry in read_catalog(language):
        if not entry.id or not entry.string:
            continue
        expected = set().union(*(placeholders(i) for i in as_list(entry.id)))
        for string in as_list(entry.string):
            found = placeholders(string)
            if string and found != expected:
                problems.append(f"{entry.id!r}: {sorted(found)} instead of {sorted(expected)}")
    assert not problems, "\n".join(problems)


def test_english_catalogue_is_written_out_as_identity():
    catalog = read_catalog("en")
    different = [m.id for m in catalog if m.id and m.string and m.string != m.id]
    assert not different


@pytest.mark.parametrize(
    ("msgid", "dutch"),
    [
        ("(required)", "verplicht"),
        ("(optional)", "niet verplicht"),
        ("Send my answers", "Verstuur"),
        ("Question %(number)s of %(total)s", "Vraag"),
        ("Choose a mark from 1 to 10.", "Kies een cijfer"),
    ],
)
def test_dutch_catalogue_is_really_dutch(msgid, dutch):
    entry = read_catalog("nl").get(msgid)
    assert entry is not None, f"{msgid!r} is not in the Dutch catalogue"
    assert entry.string != msgid
    assert dutch in entry.string


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("nl", ["(verplicht)", "Verstuur", "Vraag 1 van"], ["(required)", "Send my answers"]),
        ("en", ["(required)", "Send my answers", "Question 1 of"], ["(verplicht)", "Verstuur"]),
    ],
)
def test_survey_page_speaks_the_language_of_the_invitation(client, db, language, expected, absent):
    overrides = {"language": language} if language != "nl" else {}  # nl is the default
    _invitation, token = make_invited(db, **overrides)
    response = client.get(f"/s/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in page
    for text in expected:
        assert text in page
    for text in absent:
        assert text not in page
