"""The mail path without each of its hand-written fast paths, for `bench.mail --plain NAME`.

Each variant swaps one fast path of `survey.mail` for what the standard library or SQLAlchemy
does out of the box, for the length of one benchmark run, so that the gain of each is measured
against the same baseline in the same run (bench/RESULTS.md, "Mail fast paths"):

- `mime`: the message built by `email.message.EmailMessage` and flattened by its policy,
  instead of `survey.mail.mime.compose` writing the bytes itself;
- `record`: the sent marks set on the ORM objects and flushed by the unit of work, instead of
  prepared UPDATE statements (`survey.mail.outbox._record_delivery`);
- `connection`: the session left bound to the engine (a pool checkout, and on PostgreSQL a
  ping, per commit), instead of one connection for the whole pass (`survey.mail.connection`), and
  so without `synchronous_commit = off` too;
- `sync`: one connection for the pass, but every commit waits for the disk (PostgreSQL only);
- `all`: every one of the above together: the plain path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime
from email.utils import parseaddr
from unittest import mock

from sqlalchemy import text

VARIANTS = ("mime", "record", "connection", "sync", "all")


def stdlib_compose(content, now: datetime):
    """`survey.mail.mime.compose` as the standard library does it: its own path for addresses
    that need SMTPUTF8, used for every message (all ASCII here, so no SMTPUTF8 is asked)."""
    from survey.mail import mime

    sender = parseaddr(content.mail_from)[1]
    return replace(mime._compose_international(content, sender, now), international=False)


def orm_record_delivery(message, now: datetime) -> None:
    """`survey.mail.outbox._record_delivery` through the unit of work."""
    from survey.enums import MessageKind, MessageStatus

    message.status = MessageStatus.SENT
    message.sent_at = now
    message.lease_owner = message.lease_expires_at = None
    column = {MessageKind.INVITATION: "sent_at", MessageKind.REMINDER: "reminded_at"}.get(
        MessageKind(message.kind)
    )
    invitation = message.invitation
    if invitation is not None and column and getattr(invitation, column) is None:
        setattr(invitation, column, now)


@contextmanager
def engine_bound(session) -> Iterator[None]:
    """`survey.mail.connection.one_connection` replaced by nothing: the session keeps its engine."""
    yield


@contextmanager
def plain(variant: str | None) -> Iterator[None]:
    """The mail path with fast path `variant` (one of VARIANTS, or None: none) swapped out."""
    chosen = set(VARIANTS[:-1]) if variant == "all" else {variant} if variant else set()
    with ExitStack() as patches:
        if "mime" in chosen:
            patches.enter_context(mock.patch("survey.mail.messages.compose", stdlib_compose))
        if "record" in chosen:
            target = "survey.mail.outbox._record_delivery"
            patches.enter_context(mock.patch(target, orm_record_delivery))
        if "connection" in chosen:
            patches.enter_context(mock.patch("survey.mail.outbox.one_connection", engine_bound))
        if "sync" in chosen:
            durable = text("SET synchronous_commit TO on")
            patches.enter_context(mock.patch("survey.mail.connection._ASYNC_COMMITS", durable))
        yield
