"""Importing ended care trajectories from a CSV export (DESIGN §4.1, a contract).

The file is streamed: rows are read and validated (survey.episodes.csv) and written in batches
inside one transaction, so a 300,000-row export needs little memory. Any invalid row rejects the
whole file: the transaction is rolled back and every error is reported with its line number (as
a text editor counts them: the header is line 1) and column. Re-importing an episode never
creates a second invitation. The admin upload page and the CLI both call `import_episodes`.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from flask import current_app, has_app_context
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, selectinload

from survey.enums import Group
from survey.episodes.csv import MIN_YOUTH_AGE, EpisodeRow, RowError, read_rows, validate_row
from survey.invitations.optout import opted_out
from survey.models import Episode, Invitation, Provider, utcnow
from survey.region.operations import MunicipalityCheck, TeamCheck, provider_for_import
from survey.retention.purge import purged_external_id

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 1000
EPISODE_FIELDS = ("end_date", "team", "municipality", "care_type", "youth_age", "language")


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
    invitations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Group, 0))
    youth_too_young: int = 0

    def summary(self) -> str:
        """The summary the CLI prints and the admin page shows."""
        total = sum(self.invitations.values())
        return "\n".join(
            [
                f"Rows read: {self.rows}",
                f"Episodes: {self.episodes_new} new, {self.episodes_updated} updated, "
                f"{self.episodes_unchanged} unchanged",
                f"Invitations created: {total} (youth {self.invitations[Group.YOUTH]}, "
                f"parent {self.invitations[Group.PARENT]})",
                f"Youth invitations not made (youth under {MIN_YOUTH_AGE}): {self.youth_too_young}",
            ]
        )


# -- writing ----------------------------------------------------------------------------------


def _write_batch(
    session: Session, provider: Provider, batch: list[EpisodeRow], result: ImportResult
) -> None:
    """Insert new episodes, update changed ones, add missing invitations.

    An episode that purge coarsened is found by its keyed hash (survey.retention.purge) and left as
    it is: re-importing it neither brings back its day and age nor invites anyone again.
    """
    purged = _purged_ids([row.external_id for row in batch])
    existing = {
        purged.get(episode.external_id, episode.external_id): episode
        for episode in session.scalars(
            select(Episode)
            .options(selectinload(Episode.invitations))
            .where(
                Episode.provider_id == provider.id,
                Episode.external_id.in_([*(row.external_id for row in batch), *purged]),
            )
        )
    }
    new_rows = [row for row in batch if row.external_id not in existing]
    invitation_rows: list[dict[str, object]] = []
    now = utcnow()
    if new_rows:
        session.execute(
            insert(Episode),
            [
                {"external_id": r.external_id, "provider_id": provider.id, "imported_at": now}
                | {name: getattr(r, name) for name in EPISODE_FIELDS}
                for r in new_rows
            ],
        )
        # One SELECT for the new ids: RETURNING in parameter order makes SQLite insert row by row.
        ids = dict(
            session.execute(
                select(Episode.external_id, Episode.id).where(
                    Episode.provider_id == provider.id,
                    Episode.external_id.in_([r.external_id for r in new_rows]),
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


def _config() -> Mapping[str, Any]:
    """The app's configuration; a bare benchmark without an app gets the default name."""
    return current_app.config if has_app_context() else {"PROVIDER_NAME": "MetMaya"}


def _purged_ids(external_ids: list[str]) -> dict[str, str]:
    """{keyed hash: external id}: the form a purged episode's id has (survey.retention.purge).

    Without an app (a bare benchmark) there is no SECRET_KEY, and so no purged form either.
    """
    key = current_app.config.get("SECRET_KEY") if has_app_context() else None
    if not key:
        return {}
    return {purged_external_id(external_id, key): external_id for external_id in external_ids}


def _apply_suppression(session: Session, rows: list[dict[str, object]], now: datetime) -> None:
    """Invitations to an address that opted out are kept without it, marked opted out."""
    suppressed = opted_out(session, [str(row["email"]) for row in rows])
    for row in rows:
        if row["email"] in suppressed:
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
    provider: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a CSV export of `provider` (a slug; None: the only provider there is) all or
    nothing; raise ImportRejected (nothing written) on any error, RegionError for a provider
    that cannot be used."""
    result = ImportResult()
    owner = provider_for_import(session, provider, _config())
    check, teams = MunicipalityCheck(session), TeamCheck(session, owner)
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
        for line, raw in read_rows(stream, errors):
            result.rows += 1
            row, row_errors = validate_row(line, raw)
            if row is not None and (problem := check.problem(row.municipality)):
                row_errors = [RowError(line, "municipality", problem)]
            if row is not None and (problem := teams.problem(row.team)):
                row_errors = [RowError(line, "team", problem)]
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
                _write_batch(session, owner, batch, result)
                if progress:
                    progress(len(batch))
                batch.clear()
        if batch and not errors:
            _write_batch(session, owner, batch, result)
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
