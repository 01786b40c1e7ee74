"""De-identification of quote candidates, measured on corpora of invented family comments.

`tests/data/quote_corpus.json` (101 comments, 167 planted identifiers, 65 clean sentences) was
written for these tests and the informal-text rules were tuned on it; it marks the provider's own
name as an identifier, which we keep on purpose when it stands alone (3 of its misses).
`quote_corpus_holdout.json` (40 comments, 70 identifiers) was written afterwards by someone who
had not seen the code; its first figure was 56/70, and after one look at the misses (general
rules added: place names in lower case, organisation words, "van" in school names) 66/70. Both
are printed by the test run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from survey.quotes.deidentify import PLACEHOLDERS, Deidentifier

DATA = Path(__file__).parent / "data"
KNOWN = {
    "team": ["Team Amersfoort-Noord", "Team Leusden", "Team Regio Verblijf"],
    "place": ["Amersfoort", "Leusden", "Soest", "Baarn", "Nijkerk", "Bunschoten", "Woudenberg"],
}


@pytest.fixture(scope="module")
def deidentifier() -> Deidentifier:
    return Deidentifier(KNOWN, providers=["MetMaya"])


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text("utf-8"))


def recall(deidentifier: Deidentifier, comments: list[dict]) -> tuple[int, int, list[str]]:
    """Planted identifiers whose every character falls inside a replaced span."""
    found, total, missed = 0, 0, []
    for comment in comments:
        result = deidentifier.deidentify(comment["text"])
        covered = {i for span in result.spans for i in range(span.start, span.end)}
        for identifier in comment["identifiers"]:
            total += 1
            start = comment["text"].index(identifier["text"])
            if set(range(start, start + len(identifier["text"]))) <= covered:
                found += 1
            else:
                missed.append(f"{identifier['kind']}: {identifier['text']}")
    return found, total, missed


def false_replacements(deidentifier: Deidentifier, sentences: list[str]) -> tuple[int, int]:
    """Ordinary words replaced in sentences that hold no identifier."""
    replaced = words = 0
    for sentence in sentences:
        spans = deidentifier.deidentify(sentence).spans
        for word in re.finditer(r"\w+", sentence):
            words += 1
            replaced += any(s.start < word.end() and word.start() < s.end for s in spans)
    return replaced, words


# The bar (0.95) on the corpus written for the tests; on the hold-out corpus a floor that
# catches regressions (measured 66/70 = 0.943 after one look at its misses, see the README).
MINIMUM_RECALL = {"quote_corpus.json": 0.95, "quote_corpus_holdout.json": 0.90}


@pytest.mark.parametrize("corpus", sorted(MINIMUM_RECALL))
def test_recall_and_false_replacements_on_the_corpus(deidentifier, corpus, capsys):
    data = load(corpus)
    found, total, missed = recall(deidentifier, data["comments"])
    replaced, words = false_replacements(deidentifier, data["clean"])
    with capsys.disabled():
        print(
            f"\n[de-identification] {corpus}: recall {found}/{total} = {found / total:.3f}; "
            f"clean words replaced {replaced}/{words} = {replaced / words:.4f}"
            + (f"; missed: {', '.join(missed)}" if missed else "")
        )
    assert len(data["comments"]) >= 40 and total >= 60
    assert found / total >= MINIMUM_RECALL[corpus], missed
    assert replaced / words <= 1 / 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik vond sanne echt lief", "ik vond [naam] echt lief"),
        ("ik ben 14 en woon bij mijn oma", "ik ben [leeftijd] en woon bij mijn oma"),
        ("Onze zoon van 9 jaar oud slaapt beter.", "Onze zoon van [leeftijd] slaapt beter."),
        ("Hij zit op De Regenboog in groep 6.", "Hij zit op [school] in groep 6."),
        ("juf anouk snapte me", "juf [naam] snapte me"),
        ("mijn begeleider Kees was top", "mijn begeleider [naam] was top"),
        ("mijn begeleider kwam altijd op tijd", "mijn begeleider kwam altijd op tijd"),
        ("Team Leusden van MetMaya hielp ons", "[team] van MetMaya hielp ons"),
        ("Bij MetMaya Soest-Noord was het fijn", "Bij [team] was het fijn"),
        ("MetMaya-Vathorst belde terug", "[team] belde terug"),
        (
            "bel me op 06-12345678 of mail a.b@example.nl",
            "bel me op [telefoonnummer] of mail [e-mailadres]",
        ),
        ("Op 12 maart in Amersfoort.", "Op [datum] in [plaats]."),
        ("op school gaat het beter", "op school gaat het beter"),
    ],
)
def test_informal_text_gets_readable_placeholders(deidentifier, text, expected):
    assert deidentifier.deidentify(text).text == expected


def test_placeholder_positions_point_at_the_placeholders(deidentifier):
    result = deidentifier.deidentify("Ik ben Fatima, 15 jaar, uit Soest.")
    shown = [result.text[start:end] for start, end in result.placeholders]
    assert shown and all(p in PLACEHOLDERS.values() for p in shown)
    assert "Fatima" not in result.text and "Soest" not in result.text


def test_english_comments_keep_their_ordinary_words(deidentifier):
    text = "The help at home made a big difference. Thank you, Noor!"
    assert deidentifier.deidentify(text, "en").text == (
        "The help at home made a big difference. Thank you, [naam]!"
    )
