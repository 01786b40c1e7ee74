"""The fixed value sets of the data model, named once.

Each is a `StrEnum`: a member *is* its string, so it is stored, compared, sorted and serialised
as the text the contracts name (DESIGN §3–4: "youth", "approved", …), and the database's CHECK
constraints are generated from the same members (`one_of`), so a new value is added in one
place. Labels for people (Dutch and English) live with the views and exports that show them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a staff account may do (survey.accounts.permissions)."""

    ADMIN = "admin"
    QUALITY = "quality"
    COMMUNICATIONS = "communications"
    VIEWER = "viewer"


class ScopedRole(StrEnum):
    """The roles a municipality's account may have: aggregates only, no free text."""

    QUALITY = "quality"
    VIEWER = "viewer"


class Group(StrEnum):
    """Who is asked: the youth (12 or older) or the parents."""

    YOUTH = "youth"
    PARENT = "parent"


class Language(StrEnum):
    """The language of a family's mail and pages."""

    NL = "nl"
    EN = "en"


class MessageKind(StrEnum):
    """What an outbox message is: the invitation or its one reminder."""

    INVITATION = "invitation"
    REMINDER = "reminder"


class MessageStatus(StrEnum):
    """Where an outbox message stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"


class QuoteStatus(StrEnum):
    """The review decision on a comment that may be quoted."""

    NEW = "new"
    APPROVED = "approved"
    REJECTED = "rejected"


class DeliveryOutcome(StrEnum):
    """What one delivery attempt ended in: the counter of `DeliveryResult` it adds to."""

    DELIVERED = "delivered"
    REMINDER = "reminders"
    RETRIED = "retried"
    BOUNCED = "bounced"
    FAILED = "failed"


def one_of(column: str, values: type[StrEnum], *, nullable: bool = False) -> str:
    """The SQL of a CHECK constraint that `column` holds one of `values`' members."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


class LinkPurpose(StrEnum):
    """What a one-time account link sent to a staff member's address is for."""

    INVITATION = "invitation"
    RESET = "reset"
    SECOND_FACTOR = "second_factor"
