"""Reading an export of ended care trajectories (DESIGN §4.1, a contract): the CSV file.

The file is read as a stream: its encoding (UTF-8, else Windows-1252) and its delimiter are
detected, the header is checked and every row is validated on its own. Each problem is located
as a person would look for it: the line number (as a text editor counts them: the header is
line 1) and the column. `survey.episodes.importing` writes the valid rows.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from email_validator import EmailNotValidError, validate_email

from survey.enums import Group, Language

REQUIRED_COLUMNS = ("episode_id", "end_date", "team", "municipality", "care_type")
OPTIONAL_COLUMNS = ("youth_age", "youth_email", "parent_email", "language")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y")
MIN_YOUTH_AGE = 12
MAX_TEXT = 200


@dataclass(frozen=True)
class RowError:
    """One problem in the file, located as a person would look for it."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class EpisodeRow:
    """A validated row."""

    line: int
    external_id: str
    end_date: date
    team: str
    municipality: str
    care_type: str
    youth_age: int | None
    youth_email: str | None
    parent_email: str | None
    language: str

    def invitation_emails(self) -> dict[str, str]:
        """The respondent groups this row invites, with their addresses."""
        wanted: dict[str, str] = {}
        if self.parent_email:
            wanted[Group.PARENT] = self.parent_email
        if self.youth_email and (self.youth_age is None or self.youth_age >= MIN_YOUTH_AGE):
            wanted[Group.YOUTH] = self.youth_email
        return wanted


# -- reading ----------------------------------------------------------------------------------


def detect_encoding(stream: BinaryIO) -> str:
    """`utf-8-sig` when the whole stream decodes as UTF-8, else `cp1252`; rewinds the stream."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    encoding = "utf-8-sig"
    try:
        while chunk := stream.read(1 << 16):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        encoding = "cp1252"
    stream.seek(0)
    return encoding


def count_data_lines(path: Path) -> int:
    """Roughly how many data rows a file has (for the progress bar): its lines minus the header."""
    lines = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


def read_rows(stream: BinaryIO, errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {column: raw value}) per data row; header problems go to `errors`."""
    text = io.TextIOWrapper(stream, encoding=detect_encoding(stream), newline="")
    try:
        yield from _parse(text, errors)
    finally:
        text.detach()  # the caller owns (and closes) the binary stream


def _parse(text: io.TextIOWrapper, errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
    header_line = text.readline()
    if not header_line.strip():
        errors.append(RowError(1, None, "the file is empty: a header row is required"))
        return
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter))]
    _check_header(header, errors)
    if errors:
        return
    reader = csv.reader(text, delimiter=delimiter)
    last_line = 1
    for values in reader:
        line, last_line = last_line + 1, reader.line_num + 1
        if not any(value.strip() for value in values):
            continue  # blank lines, e.g. at the end of an Excel export
        if len(values) != len(header):
            errors.append(
                RowError(line, None, f"expected {len(header)} fields, found {len(values)}")
            )
            continue
        yield line, dict(zip(header, values, strict=True))


def _check_header(header: list[str], errors: list[RowError]) -> None:
    for name in REQUIRED_COLUMNS:
        if name not in header:
            errors.append(RowError(1, name, "required column is missing"))
    for name in header:
        if name not in KNOWN_COLUMNS:
            known = ", ".join(KNOWN_COLUMNS)
            errors.append(RowError(1, name or "(empty)", f"unknown column (known: {known})"))
        elif header.count(name) > 1:
            errors.append(RowError(1, name, "column appears more than once"))


# -- validation -------------------------------------------------------------------------------


def _text(raw: dict[str, str], column: str, limit: int, problems: list[tuple[str, str]]) -> str:
    value = raw.get(column, "").strip()
    if not value:
        problems.append((column, "a value is required"))
    elif len(value) > limit:
        problems.append((column, f"longer than {limit} characters"))
    elif any(ord(c) < 32 for c in value):
        problems.append((column, "contains a line break or control character"))
    return value


def _date(value: str, problems: list[tuple[str, str]]) -> date | None:
    value = value.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    shown = value if len(value) <= 20 else value[:20] + "…"
    problems.append(("end_date", f"'{shown}' is not a date (use YYYY-MM-DD or DD-MM-YYYY)"))
    return None


def _age(value: str, problems: list[tuple[str, str]]) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 0 <= int(value) <= 27:
        problems.append(("youth_age", "must be a whole number from 0 to 27"))
        return None
    return int(value)


def _email(column: str, value: str, problems: list[tuple[str, str]]) -> str | None:
    # The address itself is never repeated in a message: errors are shown and may be logged.
    if not value.strip():
        return None
    if any(c in value for c in "\r\n\x00"):
        problems.append((column, "contains a line break: not a valid email address"))
        return None
    address = value.strip()
    # Stored in lower case: one address is one person for opt-out and retention, whatever the
    # registration system's spelling (mail systems in use treat the local part case-blind).
    if is_plain_address(address):
        return address.lower()
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        problems.append((column, "not a valid email address"))
        return None
    return checked.normalized.lower()


# The common case, checked fast: an ASCII dot-atom local part and ASCII domain labels. Every such
# address is also valid for email_validator (a test checks this); whatever else goes to it.
_PLAIN_ADDRESS = re.compile(
    r"(?P<local>[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})",
    re.IGNORECASE,
)


def is_plain_address(address: str) -> bool:
    """True for a plain ASCII address whose domain email_validator accepts (cached per domain)."""
    match = _PLAIN_ADDRESS.fullmatch(address)
    if not match or len(address) > 254 or len(match["local"]) > 64:
        return False
    return _domain_accepted(match["domain"].lower())


@functools.lru_cache(maxsize=4096)
def _domain_accepted(domain: str) -> bool:
    """email_validator's verdict on a domain (special-use names, label rules), once per domain."""
    try:
        validate_email(f"postmaster@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def validate_row(line: int, raw: dict[str, str]) -> tuple[EpisodeRow | None, list[RowError]]:
    """Check one row; return it typed, or the errors found in it."""
    problems: list[tuple[str, str]] = []
    external_id = _text(raw, "episode_id", 64, problems)
    end_date = _date(raw.get("end_date", ""), problems)
    team = _text(raw, "team", MAX_TEXT, problems)
    municipality = _text(raw, "municipality", MAX_TEXT, problems)
    care_type = _text(raw, "care_type", MAX_TEXT, problems)
    youth_age = _age(raw.get("youth_age", ""), problems)
    youth_email = _email("youth_email", raw.get("youth_email", ""), problems)
    parent_email = _email("parent_email", raw.get("parent_email", ""), problems)
    language = raw.get("language", "").strip().lower() or Language.NL
    if language not in tuple(Language):
        problems.append(("language", "must be nl or en (empty means nl)"))
    if problems:
        return None, [RowError(line, column, message) for column, message in problems]
    assert end_date is not None
    row = EpisodeRow(
        line,
        external_id,
        end_date,
        team,
        municipality,
        care_type,
        youth_age,
        youth_email,
        parent_email,
        language,
    )
    return row, []
