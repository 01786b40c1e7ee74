"""Several `ervaringswijzer worker` processes on one PostgreSQL outbox, and one killed mid-batch.

The workers are real processes started through the installed console script; they deliver to a
real SMTP server (aiosmtpd) in this process, which can be told to answer slowly so that a batch
takes long enough to share out between workers, or to kill a worker in the middle of it.
PostgreSQL only: the claim uses `FOR UPDATE SKIP LOCKED`, which SQLite has no equivalent of.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import insert, select

from survey.db import get_session
from survey.invitations.operations import create_due_invitation_messages
from survey.mail.messages import queue_invitation_messages
from survey.models import Episode, Invitation, OutboxMessage, utcnow
from tests.conftest import PUBLIC_BASE_URL, TEST_MFA_KEY, _truncate_all, make_test_app
from tests.factories import default_provider
from tests.servers import RecordingHandler, smtp_server

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_SCRIPT = Path(sys.executable).parent / "ervaringswijzer"
MAIL_FROM = "Ervaringswijzer <noreply@ervaringswijzer.test>"
FINAL_LINE = re.compile(r"^Worker stopped\. Delivered (\d+), reminders (\d+),", re.MULTILINE)
WAIT_SECONDS = 300


@dataclass
class SlowHandler(RecordingHandler):
    """Records each message, then waits `delay` seconds before answering 250.

    Recording first means a worker killed while waiting for the answer leaves a message the
    server has but the outbox does not know was sent: the one duplicate the design accepts.
    """

    delay: float = 0.0

    async def handle_DATA(self, server, session, envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply


@dataclass
class Worker:
    """One `ervaringswijzer worker` process and the files its output goes to."""

    process: subprocess.Popen
    stdout: Path
    stderr: Path

    def wait(self) -> int:
        """Wait for the process to end (generously) and return its exit code."""
        return self.process.wait(timeout=WAIT_SECONDS)

    def output(self) -> str:
        """What the worker printed, stdout then stderr, for assertion messages."""
        return self.stdout.read_text() + self.stderr.read_text()

    def delivered(self) -> tuple[int, int]:
        """Invitations and reminders delivered, from the worker's final line."""
        match = FINAL_LINE.search(self.stdout.read_text())
        assert match, f"no final line in the worker's output:\n{self.output()}"
        return int(match[1]), int(match[2])


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:
    """Start worker processes; any still running at the end of the test are killed."""
    started: list[Worker] = []

    def start(database_url: str, smtp_port: int, **extra_env: str) -> Worker:
        assert WORKER_SCRIPT.exists(), f"console script missing: {WORKER_SCRIPT}"
        env = {
            name: os.environ[name]
            for name in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
            if name in os.environ
        }
        env.update(
            DATABASE_URL=database_url,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp_port),
            SECRET_KEY="0123456789abcdef" * 4,
            MFA_ENCRYPTION_KEY=TEST_MFA_KEY,
            PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            MAIL_FROM=MAIL_FROM,
            **extra_env,
        )
        number = len(started)
        stdout, stderr = tmp_path / f"worker{number}.out", tmp_path / f"worker{number}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [str(WORKER_SCRIPT), "worker", "--until-empty", "--interval", "0.2"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )
        worker = Worker(process, stdout, stderr)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(timeout=30)


@pytest.fixture
def postgres_app(postgres_url: str, tmp_path: Path) -> Iterator:
    """Make the app on this run's PostgreSQL schema, sending to an SMTP port; emptied afterwards."""
    url = postgres_url
    made: list[Flask] = []

    def make(smtp_port: int) -> Flask:
        app = make_test_app(
            url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_port, MAIL_FROM=MAIL_FROM
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["db_engine"].dispose()
    _truncate_all(url)


def queue_invitations(app: Flask, families: int) -> None:
    """`families` ended episodes with one parent each, queued for sending the real way.

    Episodes and invitations are bulk-inserted; the outbox is filled by the same service
    `ervaringswijzer send` uses, so each invitation also gets a reminder due a week later.
    """
    today = utcnow().date()  # the workers compare with UTC now, whatever the local zone
    with app.app_context():
        session = get_session()
        provider_id = default_provider(session).id
        session.execute(
            insert(Episode),
            [
                {
                    "provider_id": provider_id,
                    "external_id": f"W-{n:05d}",
                    "end_date": today - timedelta(days=1),
                    "team": "Team Utrecht-Oost",
                    "municipality": "Utrecht",
                    "care_type": "Begeleiding",
                    "youth_age": 12,
                    "language": "en" if n % 10 == 0 else "nl",
                }
                for n in range(families)
            ],
        )
        episodes = session.execute(select(Episode.id, Episode.language)).all()
        session.execute(
            insert(Invitation),
            [
                {
                    "episode_id": episode_id,
                    "respondent_group": "parent",
                    "email": f"gezin{episode_id}@example.org",
                    "language": language,
                }
                for episode_id, language in episodes
            ],
        )
        session.commit()
        result = create_due_invitation_messages(
            session, app.config, today, queue_invitation_messages
        )
        assert result.created == families


def outbox(app: Flask) -> list[OutboxMessage]:
    """Every outbox row, fresh from the database."""
    with app.app_context():
        return list(get_session().scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def invitations(app: Flask) -> list[Invitation]:
    """Every invitation, fresh from the database."""
    with app.app_context():
        return list(get_session().scalars(select(Invitation)))


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll `condition` every 10 ms until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


@pytest.mark.postgres
@pytest.mark.parametrize("worker_count", [2, 4])
def test_concurrent_workers_deliver_each_message_exactly_once(
    postgres_app, start_worker, worker_count
):
    families = 2000
    # A couple of milliseconds per message stands for a real relay's latency and keeps the
    # outbox full until the last worker has started, so that every worker gets a share.
    with smtp_server(SlowHandler(delay=0.002)) as (controller, handler):
        app = postgres_app(controller.port)
        queue_invitations(app, families)
        url = app.config["DATABASE_URL"]
        workers = [start_worker(url, controller.port) for _ in range(worker_count)]
        exit_codes = [worker.wait() for worker in workers]
        received = list(handler.received)

    for worker, code in zip(workers, exit_codes, strict=True):
        assert code == 0, worker.output()
    counts = [worker.delivered() for worker in workers]
    assert sum(sent for sent, _ in counts) == families, counts
    assert all(reminders == 0 for _, reminders in counts), counts
    assert sum(1 for sent, _ in counts if sent > 0) >= 2, counts

    rows = outbox(app)
    invitation_rows = [row for row in rows if row.kind == "invitation"]
    reminder_rows = [row for row in rows if row.kind == "reminder"]
    assert len(invitation_rows) == len(reminder_rows) == families

    assert len(received) == families
    message_ids = Counter(str(item.message["Message-ID"]) for item in received)
    assert max(message_ids.values()) == 1, message_ids.most_common(3)
    assert set(message_ids) == {row.message_id for row in invitation_rows}
    recipients = Counter(address for item in received for address in item.rcpt_tos)
    assert max(recipients.values()) == 1, recipients.most_common(3)
    assert set(recipients) == {row.recipient for row in invitation_rows}

    assert {row.status for row in invitation_rows} == {"sent"}
    assert all(row.lease_owner is None and row.attempts == 0 for row in invitation_rows)
    # Reminders are due a week from now: no worker may have sent one early.
    assert {row.status for row in reminder_rows} == {"pending"}
    assert all(row.sent_at is None for row in reminder_rows)
    families_now = invitations(app)
    assert all(invitation.sent_at is not None for invitation in families_now)
    assert all(invitation.reminded_at is None for invitation in families_now)


@pytest.mark.postgres
def test_messages_of_a_killed_worker_are_delivered_after_its_lease(postgres_app, start_worker):
    families, lease_seconds = 300, 3
    lease_env = {"OUTBOX_LEASE_SECONDS": str(lease_seconds)}
    with smtp_server(SlowHandler(delay=0.05)) as (controller, handler):
        app = postgres_app(controller.port)
        queue_invitations(app, families)
        url = app.config["DATABASE_URL"]
        first = start_worker(url, controller.port, **lease_env)
        wait_until(
            lambda: len(handler.received) >= 20 or first.process.poll() is not None,
            60,
            "the first worker delivered 20 messages",
        )
        assert first.process.poll() is None, first.output()
        os.kill(first.process.pid, signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL

        before = outbox(app)
        sent_by_first = sum(1 for row in before if row.status == "sent")
        orphaned = {row.id: row for row in before if row.lease_owner is not None}
        assert orphaned, "the killed worker held no lease: it was not killed mid-batch"
        assert {row.status for row in orphaned.values()} == {"pending"}
        owners = {row.lease_owner.split(":")[1] for row in orphaned.values()}
        assert owners == {str(first.process.pid)}

        handler.delay = 0.0  # the second worker needs no slow server to show what we want
        second = start_worker(url, controller.port, **lease_env)
        assert second.wait() == 0, second.output()
        received = list(handler.received)

    rows = outbox(app)
    invitation_rows = [row for row in rows if row.kind == "invitation"]
    assert {row.status for row in invitation_rows} == {"sent"}
    assert all(row.lease_owner is None for row in invitation_rows)
    assert all(row.status == "pending" for row in rows if row.kind == "reminder")
    assert all(invitation.sent_at is not None for invitation in invitations(app))
    # The orphaned messages waited until the lease ran out rather than being taken from a
    # worker that might still have been alive.
    for row in invitation_rows:
        if row.id in orphaned:
            assert row.sent_at >= orphaned[row.id].lease_expires_at, row.id
    second_delivered, second_reminders = second.delivered()
    assert (second_delivered, second_reminders) == (families - sent_by_first, 0)

    message_ids = Counter(str(item.message["Message-ID"]) for item in received)
    assert set(message_ids) == {row.message_id for row in invitation_rows}
    duplicates = {message_id: n for message_id, n in message_ids.items() if n > 1}
    assert len(received) == families + len(duplicates)
    # Only the message the first worker was sending when it died may arrive twice; it carries
    # the same Message-ID both times (so a mail client or helpdesk can recognise it) and goes
    # to the same family.
    assert len(duplicates) <= 1, duplicates
    assert all(n == 2 for n in duplicates.values()), duplicates
    assert set(duplicates) <= {row.message_id for row in orphaned.values()}
    for message_id in duplicates:
        copies = [item.rcpt_tos for item in received if item.message["Message-ID"] == message_id]
        assert copies[0] == copies[1]
