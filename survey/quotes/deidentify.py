"""De-identification of comments before anyone reads them as quote candidates (DESIGN §8).

Three layers, because each misses what the next one catches:

1. `deduce` (Dutch de-identification, built for clinical notes): names, places, institutions,
   dates, ages, phone numbers, emails, URLs.
2. The names this provider's own data knows: its teams, municipalities and its own name.
3. Rules for informal family text, where deduce relies on capitals and context that youths do
   not write: first names in lower case ("ik vond sanne lief"), names after "juf", "meester",
   "mijn begeleider", ages without "jaar" ("ik ben 14"), and school names ("De Regenboog").

The result keeps every replaced span (in the original and in the new text) so the review queue
can highlight them. deduce builds lookup structures once per install (over a minute, cached on
disk by deduce itself) and then needs about half a minute to load them per process: `engine()`
loads them once per process, and only background work (the worker, the CLI) calls it — never a
web request.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLACEHOLDERS = {
    "name": "[naam]",
    "place": "[plaats]",
    "school": "[school]",
    "institution": "[instelling]",
    "age": "[leeftijd]",
    "date": "[datum]",
    "phone": "[telefoonnummer]",
    "email": "[e-mailadres]",
    "url": "[website]",
    "number": "[nummer]",
    "team": "[team]",
}

# deduce's tags → our kinds (anything else deduce finds becomes a number).
DEDUCE_KINDS = {
    "persoon": "name",
    "patient": "name",
    "locatie": "place",
    "instelling": "institution",
    "ziekenhuis": "institution",
    "datum": "date",
    "leeftijd": "age",
    "telefoonnummer": "phone",
    "emailadres": "email",
    "url": "url",
}


@dataclass(frozen=True)
class Span:
    """A replaced stretch of the original text."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class Deidentified:
    """A de-identified text and where its placeholders are (for highlighting)."""

    text: str
    spans: tuple[Span, ...]  # in the original text
    placeholders: tuple[tuple[int, int], ...]  # (start, end) in `text`


@functools.cache
def engine() -> Any:
    """The deduce engine, loaded once per process (slow: keep it out of web requests)."""
    from deduce import Deduce  # heavy (deduce, ~0.2 s to import, seconds to build): keep lazy

    return Deduce()


@functools.cache
def _lexicon(name: str) -> frozenset[str]:
    """One of deduce's source word lists (with its sub-lists), lower-cased."""
    import deduce  # heavy (deduce, ~0.2 s): only when de-identifying

    folder = Path(deduce.__file__).parent / "data" / "lookup" / "src" / name
    return frozenset(
        line.strip().lower()
        for path in sorted(folder.rglob("items.txt"))
        for line in path.read_text("utf-8").splitlines()
    )


# Ordinary words that are also first names; a lower-case word is only a name when it is not one.
EXTRA_COMMON = frozenset(
    """
    best hoorn beek lent ede haren wijk zuid noord oost west ee lemmer
    al bij dan dat de die doe door echt een eens elk en fijn gaan gewoon goed graag had heb hem
    hij hoe hoop iets ik in is je jij juf kan kon las lief mag maar me meer met mij mijn moe na
    naar niet nie nog nu of om ook op over rust soms ster toen tot uit van vaak veel voor wat we
    wel wil zag ze zei zij zo zon zus zoon zorg zeer zag zin vrij want wie waar was werd wordt
    vos storm heer dag nacht mei juni april kind broer mee super top prima bedankt dank toppie
    geweldig helemaal fantastisch topper lieverd schat
    """.split()  # noqa: SIM905 - a word list reads best as text
)

TITLE = (
    r"juf|juffrouw|meester|meneer|mevrouw|mevr\.?|mw\.?|dhr\.?|hr\.?|dokter|dr\.?|"
    r"begeleider|begeleidster|hulpverlener|hulpverleenster|mentor|coach|therapeut|"
    r"behandelaar|psycholoog|psychologe|consulent|jeugdconsulent|gezinscoach|ambulant begeleider"
)
CAPITALISED = r"[A-Z][\w'’-]*"
NAME_WORD = r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*"
INTERFIX = r"(?:van|de|der|den|ten|ter|te|het|in|op|v\.d\.|vd)"
AFTER_TITLE = re.compile(
    # Only the title ignores case: "Kees was" must not become one name.
    rf"\b(?i:{TITLE})\s+((?:{INTERFIX}\s+)*{NAME_WORD}(?:\s+(?:{INTERFIX}\s+)*{CAPITALISED})?)",
)
AGE = re.compile(
    r"\b(?:ik\s+ben|ben\s+ik|ik\s+was|was\s+ik|toen\s+ik|sinds\s+ik|ik\s+word|ik\s+werd|"
    r"werd\s+ik|(?:hij|zij|ze)\s+(?:is|was|werd|wordt)|(?:is|was|werd)\s+(?:hij|zij|ze)|"
    r"zoon|dochter|kind|broertje|zusje|broer|zus|jongen|meisje|pleegkind|kleinkind|"
    r"kleinzoon|kleindochter|neefje|nichtje|pleegzoon|pleegdochter)"
    r"(?:\s+[A-Z][\w'-]*)?"
    r"(?:\s+(?:van|is|was|werd|wordt|pas|bijna|net|al|nu|toen|inmiddels|die|en))*"
    r"\s+(\d{1,2}(?:\s*(?:jaar|jr\.?)(?:\s+oud)?)?)\b",
    re.IGNORECASE,
)
AGE_IN_BRACKETS = re.compile(r"(?<=\w )\((\d{1,2})\)")
AGE_WITH_YEARS = re.compile(r"\b(\d{1,2}\s*(?:jaar|jr\.?)(?:\s+oud)?)\b", re.IGNORECASE)
SCHOOL = re.compile(
    r"(\b(?i:basisschool|middelbare\s+school|school|mavo|havo|vwo|vmbo|praktijkschool|"
    r"opleiding|mbo|cbs|obs|kindcentrum|ikc)\s+"
    rf"(?:(?:de|het|De|Het|'t)\s+)?{CAPITALISED}(?:\s+{CAPITALISED})*)"
)
SCHOOL_SUFFIX = re.compile(
    r"\b((?i:het\s+|de\s+)?(?i:(?:van|de|der|den|ten|ter)\s+)*"
    r"(?:[\w'-]+\s+(?i:college|lyceum|gymnasium|academie)"
    rf"|{CAPITALISED}\s+School))\b"
)
# "op De Regenboog", "bij het Corderius": a capitalised name after an article, mid-sentence.
ARTICLE_NAME = re.compile(
    rf"(?:(?<=[a-zà-ÿ,] )|(?<=\())((?:De|Het|de|het|'t)\s+{CAPITALISED}(?:\s+{CAPITALISED})*)"
)
# "Stichting Overstag", "Kinderpraktijk De Klimop", "Lindehof Jeugdhulp".
ORGANISATION = re.compile(
    r"(\b(?i:stichting|kinderpraktijk|praktijk|jeugdpraktijk|zorgboerderij|logeerhuis|"
    r"gezinshuis|behandelcentrum|dagbehandeling)\s+"
    rf"(?:(?:de|het|De|Het|'t)\s+)?{CAPITALISED}(?:\s+{CAPITALISED})*"
    rf"|\b{CAPITALISED}\s+(?i:jeugdhulp|jeugdzorg|zorg|kinderpraktijk))\b"
)
MONTHS = (
    r"januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    r"jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|nov|dec"
)
DAYS = r"maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|ma|di|wo|do|vr|za|zo"
DATE = re.compile(
    rf"\b((?:(?:{DAYS})\s+)?\d{{1,2}}\s+(?:{MONTHS})\b\.?(?:\s+\d{{4}})?"
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})",
    re.IGNORECASE,
)
INSTITUTIONS = (
    "Veilig Thuis",
    "Raad voor de Kinderbescherming",
    "Kinderbescherming",
    "William Schrikker",
    "Jeugdbescherming",
    "Bureau Jeugdzorg",
    "Lindenhout",
    "Accare",
    "Karakter",
    "Youké",
    "Pluryn",
    "Levvel",
    "Timon",
    "Kwintes",
    "Altrecht",
    "Youz",
    "Parnassia",
    "GGD",
    "Intermetzo",
    "Entrea",
    "Lievegoed",
    "Youforce",
    "Spirit",
    "Horizon",
    "Ipse de Bruggen",
    "'s Heeren Loo",
)
"""Youth-care organisations that families name; a named organisation can point to a team."""
URL = re.compile(r"\b((?:https?://|www\.)\S+|[\w-]+\.(?:nl|com|org|net|eu|be)(?:/\S*)?)\b")
PHONE = re.compile(r"(?<!\w)((?:\+31|0031|0)[\s-]?(?:\d[\s-]?){8,9}\d?)(?!\w)")
EMAIL = re.compile(r"\b([\w.+-]+@[\w-]+(?:\.[\w-]+)+)\b")


class Deidentifier:
    """Replaces identifying details in family comments with readable placeholders."""

    def __init__(
        self, known: Mapping[str, Iterable[str]] | None = None, providers: Iterable[str] = ()
    ) -> None:
        """`known`: kind → names from the data ("team", "place", "institution").

        `providers`: the names of the installation's providers. On its own a provider's name
        identifies nobody (the quotes box names it anyway) and stays; followed by a place or team
        word ("MetMaya Leusden", "MetMaya-Noord") it points to one team and becomes "[team]".
        """
        self._known = []
        for provider in sorted({p for p in providers if p}, key=len, reverse=True):
            team_of_provider = rf"(?<!\w){re.escape(provider)}(?:[\s-]+{CAPITALISED})+"
            self._known.append((re.compile(team_of_provider), "team"))
        known = dict(known or {})
        known["institution"] = [*known.get("institution", ()), *INSTITUTIONS]
        for kind, names in known.items():
            for name in sorted(
                {n.strip() for n in names if n and n.strip()}, key=len, reverse=True
            ):
                pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
                self._known.append((pattern, kind))

    def deidentify(self, text: str, language: str = "nl") -> Deidentified:
        """The text with every found identifier replaced by its placeholder.

        The lower-case name and place rules only run on Dutch text: their word lists are Dutch,
        and English writers capitalise names anyway.
        """
        spans = [*self._deduce_spans(text), *self._rule_spans(text, informal=language == "nl")]
        merged = _merge(spans)
        out, placeholders, cursor = [], [], 0
        length = 0
        for span in merged:
            out.append(text[cursor : span.start])
            length += span.start - cursor
            placeholder = PLACEHOLDERS[span.kind]
            placeholders.append((length, length + len(placeholder)))
            out.append(placeholder)
            length += len(placeholder)
            cursor = span.end
        out.append(text[cursor:])
        return Deidentified("".join(out), tuple(merged), tuple(placeholders))

    def _deduce_spans(self, text: str) -> list[Span]:
        document = engine().deidentify(text)
        common = _common_words()
        return [
            Span(a.start_char, a.end_char, DEDUCE_KINDS.get(a.tag.split("_")[0], "number"))
            for a in document.annotations
            # deduce reads a capitalised "Super." as a first name; family text is full of these.
            if not (a.tag.startswith("persoon") and a.text.lower() in common)
        ]

    def _rule_spans(self, text: str, *, informal: bool) -> list[Span]:
        spans = []
        for pattern, kind in self._known:
            spans += [Span(m.start(), m.end(), kind) for m in pattern.finditer(text)]
        for pattern, kind in (
            (EMAIL, "email"),
            (URL, "url"),
            (PHONE, "phone"),
            (AGE, "age"),
            (AGE_WITH_YEARS, "age"),
            (AGE_IN_BRACKETS, "age"),
            (DATE, "date"),
            (SCHOOL, "school"),
            (SCHOOL_SUFFIX, "school"),
            (ARTICLE_NAME, "school"),
            (ORGANISATION, "institution"),
        ):
            spans += [Span(m.start(1), m.end(1), kind) for m in pattern.finditer(text)]
        spans += self._names(text, informal=informal)
        return spans

    def _names(self, text: str, *, informal: bool) -> list[Span]:
        """Names after a title, and (informal Dutch) names and places written in lower case."""
        common = _common_words()
        spans = []
        first_names = _lexicon("names/lst_first_name")
        surnames = _lexicon("names/lst_surname")
        for match in AFTER_TITLE.finditer(text):
            words = match.group(1).split()
            head = next((w for w in words if w.lower() not in INTERFIXES), words[0])
            looks_like_name = head[0].isupper() or head.lower() in first_names | surnames
            if head.lower() in common or not looks_like_name:
                continue
            spans.append(Span(match.start(1), match.end(1), "name"))
        if not informal:
            return spans
        places = _lexicon("locations/lst_placename")
        for match in LOWER_WORD.finditer(text):
            word = match.group(0)
            before = PLACE_PREPOSITION.search(text, 0, match.start())
            if before and word in places and word not in common | first_names:
                spans.append(Span(match.start(), match.end(), "place"))
            elif word in first_names and word not in common:
                end = match.end()
                tail = SURNAME_TAIL.match(text, end)
                if tail and tail.group(1).lower() in surnames:
                    end = tail.end()
                spans.append(Span(match.start(), end, "name"))
        return spans


@functools.cache
def _common_words() -> frozenset[str]:
    """Ordinary words, so never a name on their own: deduce's whitelists plus our own list."""
    return (
        _lexicon("whitelist/lst_common_word") | _lexicon("whitelist/lst_stop_word") | EXTRA_COMMON
    )


# A place name in lower case only counts after a word that introduces a place ("in zeist").
PLACE_PREPOSITION = re.compile(
    r"\b(?i:in|uit|naar|bij|te|vanuit|richting|rond|omgeving|buurt|wonen|woon|woont)\s+$"
)
LOWER_WORD = re.compile(r"\b[a-zà-ÿ][a-zà-ÿ'-]{2,}\b")
SURNAME_TAIL = re.compile(rf"(?:\s+{INTERFIX})*\s+([a-zà-ÿ][a-zà-ÿ'-]{{2,}})\b")
INTERFIXES = frozenset({"van", "de", "der", "den", "ten", "ter", "te", "het"})


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans become one; the longest original span names its kind."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            longer = last if (last.end - last.start) >= (span.end - span.start) else span
            other = span if longer is last else last
            # "number" is deduce's catch-all: a rule that knows what the digits are wins.
            kind = other.kind if longer.kind == "number" else longer.kind
            merged[-1] = Span(last.start, max(last.end, span.end), kind)
        else:
            merged.append(span)
    return merged


if __name__ == "__main__":  # `python -m survey.quotes.deidentify --prepare`, run by `make install`
    if sys.argv[1:] != ["--prepare"]:
        sys.exit("usage: python -m survey.quotes.deidentify --prepare")
    started = time.perf_counter()
    engine()
    print(f"deduce lookup structures ready ({time.perf_counter() - started:.0f} s)")
