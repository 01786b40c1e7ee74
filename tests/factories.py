"""Factory helpers with overridable defaults, writing through the real models."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from survey.invitations.operations import hash_token, new_token
from survey.models import Episode, Invitation, Provider, utcnow

_numbers = itertools.count(1)

# The columns of the episode CSV contract (DESIGN §4.1), in the order the tests write them.
EPISODE_CSV_HEADER = (
    "episode_id,end_date,team,municipality,care_type,youth_age,youth_email,parent_email,language"
)


def default_provider(session: Session) -> Provider:
    """The provider an installation for one provider has: MetMaya (the test app's
    PROVIDER_NAME), made on first use as the first import would."""
    provider = session.scalar(select(Provider).where(Provider.slug == "metmaya"))
    if provider is None:
        provider = Provider(slug="metmaya", name="MetMaya")
        session.add(provider)
        session.flush()
    return provider


def default_provider_id(connection: Connection) -> int:
    """`default_provider`'s id, through a Core connection (for bulk inserts of episodes)."""
    found = connection.execute(select(Provider.id).where(Provider.slug == "metmaya")).scalar()
    if found is not None:
        return found
    return connection.execute(
        insert(Provider).returning(Provider.id),
        {"slug": "metmaya", "name": "MetMaya", "created_at": utcnow()},
    ).scalar_one()


def make_episode(session: Session, **overrides: Any) -> Episode:
    """An ended trajectory of the default provider (team Noord, Amersfoort, Begeleiding, ended
    yesterday)."""
    if "provider" not in overrides and "provider_id" not in overrides:
        overrides["provider"] = default_provider(session)
    values: dict[str, Any] = {
        "external_id": f"EP-{next(_numbers):06d}",
        "end_date": date.today() - timedelta(days=1),
        "team": "Team Amersfoort-Noord",
        "municipality": "Amersfoort",
        "care_type": "Begeleiding",
        "youth_age": 14,
        "language": "nl",
    }
    values.update(overrides)
    episode = Episode(**values)
    session.add(episode)
    session.flush()
    return episode


def make_invitation(
    session: Session, episode: Episode | None = None, **overrides: Any
) -> Invitation:
    """A not yet invited invitation (parent group) for `episode` (a new one by default)."""
    episode = episode or make_episode(session)
    values: dict[str, Any] = {
        "episode": episode,
        "respondent_group": "parent",
        "email": f"ouder{next(_numbers)}@example.org",
        "language": episode.language,
    }
    values.update(overrides)
    invitation = Invitation(**values)
    session.add(invitation)
    session.flush()
    return invitation


def make_invited(
    session: Session, now: datetime | None = None, expires_in_days: int = 28, **overrides: Any
) -> tuple[Invitation, str]:
    """An invitation that was sent: returns it with its live token. Commits."""
    now = now or utcnow()
    invitation = make_invitation(session, **overrides)
    token = new_token()
    invitation.token_hash = hash_token(token)
    invitation.invited_at = invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=expires_in_days)
    session.commit()
    return invitation, token


def make_comment(
    session: Session, text: str, *, consent: bool = True, group: str = "parent", **episode: Any
) -> str:
    """A response with `text` as its comment, submitted through the real service; its id."""
    from survey.answers.operations import submit_response
    from survey.answers.questionnaires import load_questionnaires
    from survey.models import Comment

    episode.setdefault("youth_age", 17)
    invitation, _ = make_invited(
        session, episode=make_episode(session, **episode), respondent_group=group
    )
    answers: dict[str, Any] = {"self_direction": 8, "usefulness": 7, "comment": text}
    answers["quote_consent"] = consent
    assert submit_response(
        session, invitation, load_questionnaires()[group], answers, "nl", utcnow()
    )
    comments = session.query(Comment).order_by(Comment.response_id).all()
    return next(c.response_id for c in comments if c.response.answers and _text_of(c) == text)


def _text_of(comment: Any) -> str | None:
    return next((a.value_text for a in comment.response.answers if a.item_id == "comment"), None)
