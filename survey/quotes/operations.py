"""Comments and quotes: de-identification in the background, and the review workflow (DESIGN §8).

A comment arrives with its response (`record_comment`, inside the submit transaction) and waits
with no de-identified text. `prepare_comments` — run by the worker and by
`ervaringswijzer quotes prepare`, never by a web request, because deduce takes seconds to load —
de-identifies it with the names the data knows and flags words about safety. Quality staff then
see the de-identified text; a comment whose author gave quote consent is also a quote candidate
(`quote_status` "new") that communications staff approve, edit or reject. Only approved quotes
leave the system, and every decision is in the audit log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.publication import PublicationPeriod
from survey.accounts import audit
from survey.enums import Group, QuoteStatus
from survey.models import Comment, Provider, Response, StaffUser
from survey.quotes.deidentify import Deidentifier
from survey.reporting.publication import is_published

log = logging.getLogger(__name__)

# Words in a comment that staff should look at twice, and perhaps pass on (DESIGN §8): a quote
# workflow is not a reporting channel, but a signal in it must not go unseen.
SAFETY_WORDS = re.compile(
    r"\b(?:onveilig\w*|gevaar\w*|geweld\w*|mishandel\w*|misbruik\w*|sla(?:at|an)|sloeg|geslagen|"
    r"schopt?|geschopt|bedreig\w*|dreigt?|bang\s+voor|zelfmoord\w*|suïcid\w*|suicid\w*|"
    r"dood\s+(?:willen|wil|gaan)|niet\s+meer\s+leven|zelfbeschadig\w*|snijd\w*|"
    r"verkracht\w*|aangerand\w*|seksueel\w*|weggelopen|wegloop\w*|politie|"
    r"veilig\s+thuis|crisis\w*)\b",
    re.IGNORECASE,
)
GROUP_ATTRIBUTION: dict[str, str] = {Group.YOUTH: "jongere", Group.PARENT: "ouder"}


def record_comment(response: Response, consent: bool) -> Comment:
    """A comment row for a response being stored (a quote candidate only with consent)."""
    return Comment(response=response, quote_status=QuoteStatus.NEW if consent else None)


def cohort_values(session: Session) -> dict[str, list[str]]:
    """The teams, municipalities and care types that the answers carry, sorted."""
    columns = {
        "team": Response.team,
        "municipality": Response.municipality,
        "care_type": Response.care_type,
    }
    return {
        name: list(session.scalars(select(column).distinct().order_by(column)))
        for name, column in columns.items()
    }


def known_names(session: Session) -> dict[str, list[str]]:
    """The team and municipality names that the answers themselves carry."""
    values = cohort_values(session)
    return {"team": values["team"], "place": values["municipality"]}


def pending_count(session: Session) -> int:
    """Comments still waiting for de-identification."""
    return session.execute(
        select(func.count()).select_from(Comment).where(Comment.deidentified_text.is_(None))
    ).scalar_one()


def prepare_comments(
    session: Session, provider_name: str | None = None, *, batch: int = 200
) -> int:
    """De-identify every waiting comment; returns how many. Loads deduce (seconds) if needed.

    The names of every provider of the installation (and `provider_name`, the configured one)
    are known to the de-identifier: "MetMaya Leusden" points to one team of one provider.
    """
    if not pending_count(session):
        return 0
    names = {*session.scalars(select(Provider.name)), *([provider_name] if provider_name else [])}
    deidentifier = Deidentifier(known_names(session), providers=sorted(names))
    done = 0
    while True:
        rows = session.execute(
            select(Comment, Response)
            .join(Response, Response.id == Comment.response_id)
            .where(Comment.deidentified_text.is_(None))
            .limit(batch)
        ).all()
        if not rows:
            break
        failed = []
        for comment, response in rows:
            text = original_text(response) or ""
            try:
                result = deidentifier.deidentify(text, response.language)
            except Exception as error:  # one odd comment must not stop the worker's mail
                # The type only: an exception's message may quote the comment itself.
                log.error(
                    "de-identification failed for comment %s (%s)",
                    comment.response_id,
                    type(error).__name__,
                )
                failed.append(comment.response_id)
                continue
            comment.deidentified_text = result.text
            comment.placeholders = json.dumps([list(p) for p in result.placeholders])
            comment.safety_flag = bool(SAFETY_WORDS.search(text))
            done += 1
        session.commit()
        if failed:
            break  # they stay waiting (and hidden); the next pass tries them again
    log.info("comments de-identified: %d", done)
    return done


def original_text(response: Response) -> str | None:
    """The comment as the family typed it (only for de-identification and the audited view)."""
    return next((a.value_text for a in response.answers if a.item_id == "comment"), None)


@dataclass(frozen=True)
class QuoteFilter:
    """Which comments a list shows: status, group and a range of end-of-care months."""

    status: str | None = None
    group: str | None = None
    start: date | None = None
    end: date | None = None
    team: str | None = None
    municipality: str | None = None
    care_type: str | None = None
    provider: str | None = None  # a provider's slug

    def apply(self, query: Any) -> Any:
        """`query` (which selects from Response) narrowed to this cohort and period."""
        for column, value in (
            (Response.respondent_group, self.group),
            (Response.team, self.team),
            (Response.municipality, self.municipality),
            (Response.care_type, self.care_type),
        ):
            if value:
                query = query.where(column == value)
        if self.provider:
            owner = select(Provider.id).where(Provider.slug == self.provider).scalar_subquery()
            query = query.where(Response.provider_id == owner)
        if self.start:
            query = query.where(Response.end_month >= self.start.replace(day=1))
        if self.end:
            query = query.where(Response.end_month <= self.end.replace(day=1))
        return query


def cohort_size(session: Session, where: QuoteFilter) -> int:
    """Responses in the cohort and period of `where` (whatever their comments)."""
    return session.scalar(where.apply(select(func.count()).select_from(Response)))


def comments(
    session: Session,
    where: QuoteFilter,
    *,
    quotes_only: bool = True,
    limit: int | None = None,
    offset: int = 0,
) -> list[tuple[Comment, Response]]:
    """De-identified comments (quote candidates unless `quotes_only` is off), in the order of
    their random response ids: any order that follows the month would split a quarter's list
    into its months, hidden ones too."""
    query = (
        select(Comment, Response)
        .join(Response, Response.id == Comment.response_id)
        .where(Comment.deidentified_text.is_not(None))
        .order_by(Comment.response_id)
    )
    if quotes_only:
        query = query.where(Comment.quote_status.is_not(None))
    if where.status:
        query = query.where(Comment.quote_status == where.status)
    query = where.apply(query)
    if limit:
        query = query.limit(limit).offset(offset)
    return [(comment, response) for comment, response in session.execute(query)]


def count_comments(session: Session, where: QuoteFilter) -> int:
    """How many quote candidates `comments` would list without a limit."""
    query = (
        select(func.count())
        .select_from(Comment)
        .join(Response, Response.id == Comment.response_id)
        .where(Comment.deidentified_text.is_not(None), Comment.quote_status.is_not(None))
    )
    if where.status:
        query = query.where(Comment.quote_status == where.status)
    return session.scalar(where.apply(query))


def shown_text(comment: Comment) -> str:
    """The quote as it would be published: the reviewed text, else the de-identified one."""
    return comment.quote_text if comment.quote_text is not None else comment.deidentified_text or ""


class DecisionError(ValueError):
    """A decision that cannot be taken (unknown quote, no consent, empty text)."""


def decide(
    session: Session,
    response_id: str,
    action: str,
    actor: StaffUser,
    *,
    text: str | None = None,
    provider: str | None = None,
) -> Comment:
    """Approve, reject or edit one quote candidate, and put the decision in the audit log.

    `provider`: the slug of the decider's provider; a quote of another provider's family is
    as unknown to them as one that does not exist."""
    comment = session.get(Comment, response_id)
    if comment is None or comment.quote_status is None or comment.deidentified_text is None:
        raise DecisionError("unknown quote")
    if provider is not None:
        response = session.get(Response, response_id)
        if response is None or response.provider.slug != provider:
            raise DecisionError("unknown quote")
    if action not in ("approve", "reject", "save"):
        raise DecisionError("unknown action")
    edited = False
    if text is not None:
        text = text.strip()
        if not text:
            raise DecisionError("empty text")
        edited = text != shown_text(comment)
        if edited:
            comment.quote_text = text
    if action == "approve":
        comment.quote_status = QuoteStatus.APPROVED
    elif action == "reject":
        comment.quote_status = QuoteStatus.REJECTED
    elif edited and comment.quote_status == QuoteStatus.APPROVED:
        # A changed text is published only after a new approval.
        comment.quote_status = QuoteStatus.NEW
    audit.record(
        session,
        f"quote_{action}",
        object_type="quote",
        object_id=response_id,
        actor=actor,
        detail="text edited" if edited else None,
        commit=False,
    )
    session.commit()
    log.info("quote %s: %s", action, comment.quote_status)
    return comment


def approved(
    session: Session,
    k: int,
    period: PublicationPeriod | None = None,
    *,
    municipality: str | None = None,
    provider: str | None = None,
) -> list[dict]:
    """Approved quotes as publishable records (group, text and the name of the provider whose
    care it was), of one publication period or of all.

    Only quotes of a group whose count is published leave the system: of `period` for that
    group, or (without a period) of the quote's year. A quote of a hidden group would be
    pinned to fewer than k families by comparing the lists of two periods. With `municipality`:
    the quotes of that municipality's trajectories, each only when that municipality's count of
    its group and period is published; with `provider` (a slug) alike for that provider.
    """
    start, end = (period.start, period.end) if period else (None, None)
    where = QuoteFilter(
        status=QuoteStatus.APPROVED,
        start=start,
        end=end,
        municipality=municipality,
        provider=provider,
    )
    rows = comments(session, where)
    scope = {"municipality": municipality, "provider": provider}
    place = {key: value for key, value in scope.items() if value} or None
    shown: dict[tuple[str, int], bool] = {}

    def publishable(response: Response) -> bool:
        group, year = response.respondent_group, response.end_month.year
        if (group, year) not in shown:
            node = period or PublicationPeriod(year, "year")
            shown[group, year] = is_published(session, k, node, group, place)
        return shown[group, year]

    return [
        {
            "group": response.respondent_group,
            "text": shown_text(comment),
            "provider": response.provider.name,
        }
        for comment, response in rows
        if publishable(response)
    ]


def quote_records(rows: Sequence[tuple[Comment, Response]]) -> list[dict[str, Any]]:
    """Rows for `quotes list`: id, group, status and the de-identified (or reviewed) text."""
    return [
        {
            "id": comment.response_id,
            "group": response.respondent_group,
            "status": comment.quote_status,
            "text": shown_text(comment),
            "safety_flag": comment.safety_flag,
        }
        for comment, response in rows
    ]
