"""Storing a submitted questionnaire in the answer world (DESIGN §3).

`submit_response` is the only writer of responses. In one transaction it marks the invitation
answered with a conditional UPDATE that can succeed only once — that is what makes "one response
per link" hold under concurrency on SQLite and PostgreSQL — and stores the response with copies of
the cohort attributes, never a reference back to the invitation.

The invitation keeps only the day it was answered (midnight): a timestamp to the second would
pair it with the response stored in the same instant. What the shared transaction still gives
away (row order, PostgreSQL's `xmin`) is erased by `survey.answers.mixing`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, time

from sqlalchemy import update
from sqlalchemy.orm import Session

from survey.answers.questionnaires import SCALE_VALUES, Item, Questionnaire
from survey.db import rows_affected
from survey.models import Invitation, Response, ResponseAnswer
from survey.quotes.operations import record_comment

log = logging.getLogger(__name__)

# C0/C1 controls except tab and newline, plus the Unicode bidirectional overrides and isolates,
# which can make a stored comment display as something else than what was typed.
_UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def clean_text(text: str) -> str:
    """Free text as stored: NFC, Unix newlines, no control or bidi-override characters."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _UNSAFE_CHARACTERS.sub("", text).strip()


def submit_response(
    session: Session,
    invitation: Invitation,
    questionnaire: Questionnaire,
    answers: Mapping[str, int | str | bool | None],
    language: str,
    now: datetime,
) -> bool:
    """Store `answers` for `invitation` once; False (and nothing stored) if it was already used.

    Also refuses, atomically, a link that expired between showing the form and submitting it.
    Only the items shown to this respondent are stored; invalid answers raise ValueError before
    anything is written.
    """
    items = questionnaire.items_for(invitation.episode.youth_age)
    _check_answers(items, answers)
    marked = rows_affected(
        session,
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.responded_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(responded_at=answered_on(now))
        .execution_options(synchronize_session=False),
    )
    if marked != 1:
        session.rollback()
        log.info("submission refused: link already used or expired")
        return False
    episode = invitation.episode
    response = Response(
        provider_id=episode.provider_id,
        respondent_group=invitation.respondent_group,
        team=episode.team,
        municipality=episode.municipality,
        care_type=episode.care_type,
        end_month=episode.end_date.replace(day=1),
        submitted_month=now.date().replace(day=1),
        questionnaire_key=questionnaire.key,
        questionnaire_version=questionnaire.version,
        language=language,
    )
    comment = ""
    for item in items:
        value = answers.get(item.id)
        if item.type == "text":
            text = clean_text(value) if isinstance(value, str) else ""
            if text:
                response.answers.append(ResponseAnswer(item_id=item.id, value_text=text))
                comment = text if item.id == "comment" else comment
        elif item.type == "consent":
            if value:
                response.answers.append(ResponseAnswer(item_id=item.id, value_int=1))
        elif isinstance(value, int) and not isinstance(value, bool):
            response.answers.append(ResponseAnswer(item_id=item.id, value_int=value))
    session.add(response)
    if comment:
        consent = any(i.id == "quote_consent" and answers.get(i.id) for i in items)
        session.add(record_comment(response, consent))
    session.commit()
    log.debug("response stored (%s)", questionnaire.name)
    return True


def answered_on(now: datetime) -> datetime:
    """What `responded_at` stores for an answer given at `now`: midnight of that day.

    The funnel needs no more ("answered", "answered on or after the day of the reminder"), and
    the day alone matches no response: responses carry only months.
    """
    return datetime.combine(now.date(), time.min)


def _check_answers(items: tuple[Item, ...], answers: Mapping[str, object]) -> None:
    """Raise ValueError unless every shown scale item has a valid mark (or none, if optional)."""
    for item in items:
        if item.type != "scale":
            continue
        value = answers.get(item.id)
        if value is None:
            if item.required:
                raise ValueError(f"{item.id} is required")
        elif isinstance(value, bool) or value not in SCALE_VALUES:
            raise ValueError(f"{item.id} must be a mark from 1 to 10")
