"""Importing ended care trajectories from a CSV export (DESIGN §4.1, a contract).

The file is streamed: rows are parsed, validated and written in batches inside one transaction,
so a 300,000-row export needs little memory. Any invalid row rejects the whole file: the
transaction is rolled back and every error is reported with its line number (as a text editor
counts them: the header is line 1) and column. Re-importing an episode never creates a second
invitation. The admin upload page and the CLI both call `import_episodes`.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, selectinload

from survey.models import Episode, Invitation, utcnow
from survey.optout import address_hash, suppressed_hashes
from survey.retention import purged_external_id

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("episode_id", "end_date", "team", "municipality", "care_type")
OPTIONAL_COLUMNS = ("youth_age", "youth_email", "parent_email", "language")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y")
MIN_YOUTH_AGE = 12
MAX_TEXT = 200
BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 1000
EPISODE_FIELDS = ("end_date", "team", "municipality", "care_type", "youth_age", "language")


@dataclass(frozen=True)
class RowError:
    """One problem in the file, located as a person would look for it."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportRejected(Exception):
    """The file was refused as a whole; `errors` says where and why. Nothing was written."""

    def __init__(self, errors: list[RowError], rows_read: int) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
        self.rows_read = rows_read

    def summary(self) -> str:
        """A one-line description for the operator."""
        return f"{len(self.errors)} error(s) in {self.rows_read} row(s)"


@dataclass
class ImportResult:
    """What an accepted import did."""

    rows: int = 0
    episodes_new: int = 0
    episodes_updated: int = 0
    episodes_unchanged: int = 0
    invitations: dict[str, int] = field(default_factory=lambda: {"youth": 0, "parent": 0})
    youth_too_young: int = 0

    def summary(self) -> str:
        """The summary the CLI prints and the admin page shows."""
        total = sum(self.invitations.values())
        return "\n".join(
            [
                f"Rows read: {self.rows}",
                f"Episodes: {self.episodes_new} new, {self.episodes_updated} updated, "
                f"{self.episodes_unchanged} unchanged",
                f"Invitations created: {total} (youth {self.invitations['youth']}, "
                f"parent {self.invitations['parent']})",
                f"Youth invitations not made (youth under {MIN_YOUTH_AGE}): {self.youth_too_young}",
            ]
        )


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
        wanted = {}
        if self.parent_email:
            wanted["parent"] = self.parent_email
        if self.youth_email and (self.youth_age is None or self.youth_age >= MIN_YOUTH_AGE):
            wanted["youth"] = self.youth_email
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


def _rows(stream: BinaryIO, errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
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
    language = raw.get("language", "").strip().lower() or "nl"
    if language not in ("nl", "en"):
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


# -- writing ----------------------------------------------------------------------------------


def _write_batch(session: Session, batch: list[EpisodeRow], result: ImportResult) -> None:
    """Insert new episodes, update changed ones, add missing invitations.

    An episode that purge coarsened is found by its keyed hash (survey.retention) and left as
    it is: re-importing it neither brings back its day and age nor invites anyone again.
    """
    purged = _purged_ids([row.external_id for row in batch])
    existing = {
        purged.get(episode.external_id, episode.external_id): episode
        for episode in session.scalars(
            select(Episode)
            .options(selectinload(Episode.invitations))
            .where(Episode.external_id.in_([*(row.external_id for row in batch), *purged]))
        )
    }
    new_rows = [row for row in batch if row.external_id not in existing]
    invitation_rows: list[dict[str, object]] = []
    now = utcnow()
    if new_rows:
        session.execute(
            insert(Episode),
            [
                {"external_id": r.external_id, "imported_at": now}
                | {name: getattr(r, name) for name in EPISODE_FIELDS}
                for r in new_rows
            ],
        )
        # One SELECT for the new ids: RETURNING in parameter order makes SQLite insert row by row.
        ids = dict(
            session.execute(
                select(Episode.external_id, Episode.id).where(
                    Episode.external_id.in_([r.external_id for r in new_rows])
                )
            ).all()
        )
        for row in new_rows:
            episode_id = ids[row.external_id]
            for group, email in row.invitation_emails().items():
                invitation_rows.append(_invitation_values(episode_id, group, email, row, now))
        result.episodes_new += len(new_rows)
    for row in batch:
        episode = existing.get(row.external_id)
        if episode is not None and episode.external_id in purged:
            result.episodes_unchanged += 1
        elif episode is not None:
            invitation_rows.extend(_update_episode(episode, row, result, now))
    if invitation_rows:
        _apply_suppression(session, invitation_rows, now)
        session.execute(insert(Invitation), invitation_rows)
        for values in invitation_rows:
            result.invitations[str(values["respondent_group"])] += 1
    session.flush()


def _purged_ids(external_ids: list[str]) -> dict[str, str]:
    """{keyed hash: external id}: the form a purged episode's id has (survey.retention).

    Without an app (a bare benchmark) there is no SECRET_KEY, and so no purged form either.
    """
    key = current_app.config.get("SECRET_KEY") if has_app_context() else None
    if not key:
        return {}
    return {purged_external_id(external_id, key): external_id for external_id in external_ids}


def _apply_suppression(session: Session, rows: list[dict[str, object]], now: datetime) -> None:
    """Invitations to an address that opted out are kept without it, marked opted out."""
    suppressed = suppressed_hashes(session, [str(row["email"]) for row in rows])
    if not suppressed:
        return
    for row in rows:
        if address_hash(str(row["email"])) in suppressed:
            row.update(email=None, opted_out_at=now)


def _invitation_values(
    episode_id: int, group: str, email: str, row: EpisodeRow, now: datetime
) -> dict[str, object]:
    return {
        "episode_id": episode_id,
        "respondent_group": group,
        "email": email,
        "language": row.language,
        "created_at": now,
        "opted_out_at": None,
    }


def _update_episode(
    episode: Episode, row: EpisodeRow, result: ImportResult, now: datetime
) -> list[dict[str, object]]:
    """Apply a re-imported row to a known episode; return invitations it still lacks."""
    changed = False
    for name in EPISODE_FIELDS:
        if getattr(episode, name) != getattr(row, name):
            setattr(episode, name, getattr(row, name))
            changed = True
    have = {invitation.respondent_group: invitation for invitation in episode.invitations}
    missing = []
    for group, email in row.invitation_emails().items():
        invitation = have.get(group)
        if invitation is None:
            missing.append(_invitation_values(episode.id, group, email, row, now))
        elif (
            # Not sent yet: a corrected address or language still counts.
            invitation.invited_at is None
            and invitation.email is not None
            and (invitation.email, invitation.language) != (email, row.language)
        ):
            invitation.email, invitation.language = email, row.language
            changed = True
    if changed:
        result.episodes_updated += 1
    else:
        result.episodes_unchanged += 1
    return missing


def import_episodes(
    session: Session,
    stream: BinaryIO,
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a CSV export all-or-nothing; raise ImportRejected (nothing written) on any error."""
    result = ImportResult()
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    batch: list[EpisodeRow] = []
    too_young = 0
    if session.get_bind().dialect.name == "postgresql":
        # The whole file is one transaction, so the table statistics never see its rows: the
        # planner takes the episode table for as small as before the import and scans it for
        # every batch's id lookup, which grows with the square of the file. The lookups are
        # by unique index; say so for this transaction only.
        session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        for line, raw in _rows(stream, errors):
            result.rows += 1
            row, row_errors = validate_row(line, raw)
            if row is not None and row.external_id in seen:
                row_errors = [
                    RowError(
                        line,
                        "episode_id",
                        f"'{row.external_id}' also on line {seen[row.external_id]}",
                    )
                ]
            if row_errors:
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.extend(row_errors)
                continue
            assert row is not None
            seen[row.external_id] = line
            too_young += bool(
                row.youth_email and row.youth_age is not None and row.youth_age < MIN_YOUTH_AGE
            )
            if errors:
                continue  # keep validating, stop writing: the file is refused anyway
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                _write_batch(session, batch, result)
                if progress:
                    progress(len(batch))
                batch.clear()
        if batch and not errors:
            _write_batch(session, batch, result)
            if progress:
                progress(len(batch))
    except UnicodeDecodeError:
        errors.append(RowError(1, None, "the file is neither UTF-8 nor Windows-1252 text"))
    except csv.Error as exc:
        errors.append(RowError(result.rows + 1, None, f"not valid CSV: {exc}"))
    if errors:
        session.rollback()
        log.info("episode import refused: %d error(s) in %d row(s)", len(errors), result.rows)
        raise ImportRejected(errors, result.rows)
    session.commit()
    result.youth_too_young = too_young
    log.info(
        "episode import: %d rows, %d new, %d updated, %d unchanged, %d invitations",
        result.rows,
        result.episodes_new,
        result.episodes_updated,
        result.episodes_unchanged,
        sum(result.invitations.values()),
    )
    return result
