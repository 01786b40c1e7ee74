"""SQLAlchemy models of the two worlds of DESIGN §3.

Contact world (personal data, short-lived): `Episode`, `Invitation`, `OutboxMessage`.
Answer world (pseudonymous, long-lived): `Response`, `ResponseAnswer` and `Comment`. No column of
the answer world points to the contact world: a response carries copies of the cohort attributes
only, and its primary key is a random UUID so that neither its order nor its key can be matched
with the moment an invitation was marked as answered. `tests/test_schema.py` guards this.

All timestamps are naive UTC (`utcnow()`), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import Base
from survey.enums import (
    Group,
    Language,
    LinkPurpose,
    MessageKind,
    MessageStatus,
    QuoteStatus,
    Role,
    ScopedRole,
    one_of,
)

LANGUAGES = tuple(Language)


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


class Provider(Base):
    """A care provider whose trajectories the installation surveys (the region contracts
    several); its name is what families read ("Ervaringswijzer MetMaya")."""

    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Municipality(Base):
    """A municipality episodes may name (the managed list: one spelling for every report)."""

    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str | None] = mapped_column(String(6), unique=True)  # CBS code, e.g. GM0307


class Episode(Base):
    """An ended care trajectory of one provider, as imported from its registration system."""

    __tablename__ = "episode"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64))  # unique per provider
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    end_date: Mapped[date] = mapped_column(Date, index=True)
    team: Mapped[str] = mapped_column(String(200))
    municipality: Mapped[str] = mapped_column(String(200))
    care_type: Mapped[str] = mapped_column(String(200))
    youth_age: Mapped[int | None] = mapped_column(SmallInteger)
    language: Mapped[str] = mapped_column(String(2), default=Language.NL)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    invitations: Mapped[list[Invitation]] = relationship(back_populates="episode")
    provider: Mapped[Provider] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("language", Language), name="language"),
        UniqueConstraint("provider_id", "external_id"),
    )


class Invitation(Base):
    """One respondent group of one episode: who is asked, in which language, and how far it got.

    The token itself is never stored: `token_hash` is its SHA-256 hex digest. `email` and
    `token_hash` are erased by retention; the dates stay, so response rates survive purging.
    """

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episode.id", ondelete="CASCADE"))
    respondent_group: Mapped[str] = mapped_column(String(10))
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default=Language.NL)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    invited_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(DateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)

    episode: Mapped[Episode] = relationship(back_populates="invitations")

    __table_args__ = (
        UniqueConstraint("episode_id", "respondent_group"),
        CheckConstraint(one_of("respondent_group", Group), name="respondent_group"),
        CheckConstraint(one_of("language", Language), name="language"),
        # Finding the invitations that are due: not yet invited.
        Index("ix_invitation_invited_at", "invited_at"),
        # Opting out reaches every invitation to the same address.
        Index("ix_invitation_email", "email"),
    )


class OutboxMessage(Base):
    """An email waiting for, or done with, delivery (DESIGN §6).

    A row is written in the same transaction as the state change that causes it. Workers lease
    rows (`lease_owner`, `lease_expires_at`); transient failures come back at `next_attempt_at`.
    `recipient`, `body_text` and `body_html` hold personal data and the token: retention erases
    them.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    invitation: Mapped[Invitation | None] = relationship()

    __table_args__ = (
        CheckConstraint(one_of("kind", MessageKind), name="kind"),
        CheckConstraint(one_of("status", MessageStatus), name="status"),
        # The delivery claim walks the due messages in order (next_attempt_at, id) and stops
        # after one batch; only pending rows are in the index, so sent ones cost nothing.
        Index(
            "ix_outbox_message_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )


class MailSuppression(Base):
    """An address that opted out, kept only as a hash so the address itself can be erased.

    `address_hash` is `survey.invitations.optout.address_hash(email)`: new invitations to a
    suppressed address are made without the address and marked opted out, so nothing is ever
    sent to it again.
    """

    __tablename__ = "mail_suppression"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StaffUser(Base):
    """A staff account: email, argon2id password hash, role and TOTP second factor."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sealed with MFA_ENCRYPTION_KEY (survey.accounts.secrets): the database alone tells no
    # secret. `totp_pending` is the secret being set up until its first code proves it.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_pending: Mapped[str | None] = mapped_column(String(255))
    totp_pending_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The challenge of the passkey ceremony under way (survey.accounts.passkeys): on the
    # server, taken with a conditional UPDATE, so it is answered once.
    passkey_challenge: Mapped[str | None] = mapped_column(String(128))
    passkey_challenge_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The identity at the organisation's OpenID Connect provider ("issuer subject") that signed
    # in to this account first; afterwards only that identity may (survey.staff.sso).
    oidc_subject: Mapped[str | None] = mapped_column(String(512))
    # The last TOTP time step used: a code is accepted once (no replay).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The scope: NULL is the whole region; a municipality limits the account to its aggregates,
    # a provider to its own families' figures, comments and quotes. Never both.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"), index=True)

    municipality: Mapped[Municipality | None] = relationship(lazy="joined")
    provider: Mapped[Provider | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        # A municipality sees aggregates only: never the roles that read free text or administer.
        CheckConstraint(
            f"municipality_id IS NULL OR {one_of('role', ScopedRole)}", name="scope_role"
        ),
        CheckConstraint("municipality_id IS NULL OR provider_id IS NULL", name="one_scope"),
    )


class StaffSession(Base):
    """A signed-in staff session, server side: signing out or a timeout ends it for good.

    The browser's cookie holds a random id whose SHA-256 is `id_hash`; a copied cookie stops
    working the moment this row is gone.
    """

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[StaffUser] = relationship()


class AccountLink(Base):
    """A one-time link mailed to a staff member (survey.accounts.links): an invitation, a
    password reset or setting up a second factor. Only the token's SHA-256 is stored."""

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[StaffUser] = relationship()

    __table_args__ = (CheckConstraint(one_of("purpose", LinkPurpose), name="purpose"),)


class Passkey(Base):
    """A WebAuthn credential of a staff account (survey.accounts.passkeys): its id, public key
    and signature counter. Nothing here lets anyone sign in."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(60), default="Passkey")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEvent(Base):
    """Who did what, when, to which object, from which IP. Never tokens, passwords or free text."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str | None] = mapped_column(String(500))


def _new_response_id() -> str:
    return str(uuid.uuid4())


class Response(Base):
    """A submitted questionnaire, with the cohort attributes copied at submit time.

    Deliberately no reference to an invitation, an episode or an email, and only months, no
    timestamps: see the module docstring. The provider is a cohort attribute like the team: its
    quotes carry its name, and its figures are its own.
    """

    __tablename__ = "response"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_response_id)
    # The provider of the trajectory: reference data (whose care it was), not a person.
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    respondent_group: Mapped[str] = mapped_column(String(10))
    team: Mapped[str] = mapped_column(String(200))
    municipality: Mapped[str] = mapped_column(String(200))
    care_type: Mapped[str] = mapped_column(String(200))
    end_month: Mapped[date] = mapped_column(Date)
    submitted_month: Mapped[date] = mapped_column(Date)
    questionnaire_key: Mapped[str] = mapped_column(String(40))
    questionnaire_version: Mapped[int] = mapped_column(SmallInteger)
    language: Mapped[str] = mapped_column(String(2))

    answers: Mapped[list[ResponseAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )
    provider: Mapped[Provider] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("respondent_group", Group), name="respondent_group"),
        Index("ix_response_end_month_respondent_group", "end_month", "respondent_group"),
    )


class ResponseAnswer(Base):
    """One answer of a response, in long format: a mark in `value_int` or text in `value_text`."""

    __tablename__ = "response_answer"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_int: Mapped[int | None] = mapped_column(SmallInteger)
    value_text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")

    __table_args__ = (Index("ix_response_answer_item_id", "item_id"),)


class Comment(Base):
    """The de-identified form of a response's comment, and its quote review when consented.

    Answer world: keyed by the response, no reference to staff (who decided is in the audit log).
    `deidentified_text` is NULL until background work has run deduce on it; `quote_status` is
    NULL when the author gave no quote consent, and then the comment can never become a quote.
    """

    __tablename__ = "comment"

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    deidentified_text: Mapped[str | None] = mapped_column(Text)
    placeholders: Mapped[str | None] = mapped_column(Text)  # JSON [[start, end], …]
    safety_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    quote_status: Mapped[str | None] = mapped_column(String(10))
    quote_text: Mapped[str | None] = mapped_column(Text)  # the reviewed, possibly edited text

    response: Mapped[Response] = relationship()

    __table_args__ = (
        CheckConstraint(
            one_of("quote_status", QuoteStatus, nullable=True),
            name="quote_status",
        ),
        Index("ix_comment_quote_status", "quote_status"),
    )


class PublicationPattern(Base):
    """The suppression pattern of one year's publication, decided once per version of its cells.

    Deciding it takes seconds for a region (`analysis.publication`); the worker decides it after
    answers arrive and every web process reads it from here, so no page waits for it. `digest`
    is the fingerprint of the year's pair cells the pattern was decided for; `hidden` holds one
    bit per node of the lattice, in the lattice's node order; `state` the pattern with the
    counts per node it was decided for, from which the next pattern keeps showing what is
    unchanged (`analysis.publication.build_lattice(previous=…)`). Aggregates only: no person.
    """

    __tablename__ = "publication_pattern"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    min_cell_size: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    hidden: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# The cohort cells the dashboard reads (aggregates only), kept by triggers: survey/cells/.
from survey.cells import funnel_cell, mark_cell  # noqa: E402, F401
