"""A region for the retention tests: forty trajectories imported, mailed, answered and left.

Forty trajectories are imported from CSV and mailed through a real SMTP server that refuses some
addresses (550); families answer, open, opt out or let their link expire through the web client
(`region`, a fixture: import it into the test module). The readers below scan every text column
of every table for traces, and count the response-rate figures and the answers that must stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import String, func, inspect, select
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Engine

from survey.invitations.operations import clock
from survey.models import Episode, Invitation, OutboxMessage, Response, ResponseAnswer
from tests.conftest import make_test_app
from tests.factories import EPISODE_CSV_HEADER
from tests.pages import csrf_token, parts
from tests.servers import RecordingHandler, smtp_server

HEADER = EPISODE_CSV_HEADER
TOKEN_IN_LINK = re.compile(r"/s/([A-Za-z0-9_-]{43})")
TOWNS = ("Leusden", "Soest", "Baarn", "Bunschoten")

D0 = date.today()  # the early cohort is mailed
REMINDER_DAY = D0 + timedelta(days=7)
LATE_SENT = D0 + timedelta(days=45)  # the late cohort is mailed
LATE_ANSWERED = D0 + timedelta(days=50)
LATE_REMINDED = D0 + timedelta(days=52)
PURGE_DAY = D0 + timedelta(days=60)  # 32 days after the early links expired (28 days)
BOUNCING = frozenset({"ouder-e01@example.org", "jongere-e03@example.org", "ouder-e05@example.org"})


def early_rows() -> list[dict[str, str]]:
    """38 trajectories ended before D0: youth only, parent only, both; Dutch and English."""
    rows = []
    for n in range(1, 37):
        youth = f"jongere-e{n:02d}@example.org" if n % 3 in (0, 2) else ""
        parent = f"ouder-e{n:02d}@example.org" if n % 3 in (1, 2) else ""
        age = str(12 + n % 6) if youth else ""
        rows.append(
            row(f"E{n:02d}", TOWNS[n % 4], D0 - timedelta(days=1 + n % 20), age, youth, parent)
            | {"language": "en" if n % 7 == 0 else "nl"}
        )
    # A child under 12: only the parent is invited, the child's address is never stored.
    rows.append(
        row(
            "E37",
            "Soest",
            D0 - timedelta(days=2),
            "10",
            "kind-e37@example.org",
            "ouder-e37@example.org",
        )
    )
    # Ended too long ago to be mailed (INVITE_MAX_AGE_DAYS = 60): never sent.
    rows.append(row("E38", "Baarn", D0 - timedelta(days=70), "", "", "ouder-e38@example.org"))
    return rows


def late_rows() -> list[dict[str, str]]:
    """Four trajectories that end later, so they are still within retention on PURGE_DAY."""
    ended = LATE_SENT - timedelta(days=1)
    return [
        row("L01", "Leusden", ended, "15", "jongere-l01@example.org", "ouder-l01@example.org"),
        row("L02", "Soest", ended, "", "", "ouder-l02@example.org"),
        row("L03", "Baarn", ended, "16", "jongere-l03@example.org", ""),
        row("L04", "Bunschoten", ended, "", "", "ouder-l04@example.org"),
    ]


def row(episode_id, town, ended, age, youth, parent) -> dict[str, str]:
    return {
        "episode_id": episode_id,
        "end_date": f"{ended:%Y-%m-%d}",
        "team": f"Team {town}",
        "municipality": town,
        "care_type": "Begeleiding" if int(episode_id[1:]) % 2 else "Gezinsbehandeling",
        "youth_age": age,
        "youth_email": youth,
        "parent_email": parent,
        "language": "nl",
    }


def addresses(rows) -> set[str]:
    return {r[k] for r in rows for k in ("youth_email", "parent_email") if r[k]}


EARLY_ADDRESSES = addresses(early_rows())
LATE_ADDRESSES = addresses(late_rows())


@dataclass
class BouncingHandler(RecordingHandler):
    """Accepts mail like RecordingHandler, but answers 550 to the addresses in `bounce`."""

    bounce: frozenset[str] = field(default_factory=frozenset)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.bounce:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class Region:
    """The app, its SMTP server, and what the test knows from the mail it received."""

    app: Flask
    handler: BouncingHandler
    tmp_path: Path
    tokens: dict[str, str] = field(default_factory=dict)  # address -> token, from received mail
    outcome: dict[str, str] = field(default_factory=dict)  # address -> what the family did

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    def import_rows(self, rows, name: str) -> None:
        columns = HEADER.split(",")
        path = self.tmp_path / name
        lines = [HEADER] + [",".join(r[c] for c in columns) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.cli("import-episodes", str(path))

    def send(self, day: date) -> str:
        before = len(self.handler.received)
        output = self.cli("send", "--today", day.isoformat())
        for received in self.handler.received[before:]:
            token = TOKEN_IN_LINK.search(parts(received.message)["plain"]).group(1)
            address = received.rcpt_tos[0]
            assert self.tokens.setdefault(address, token) == token  # a reminder repeats it
        return output

    def purge(self, day: date) -> str:
        return self.cli("purge", "--today", day.isoformat())

    def on(self, day: date) -> None:
        """Let the web side see `day` (at the time of day `--today` uses)."""
        self.app.config["CLOCK"] = lambda: clock(day) + timedelta(minutes=1)

    def answer(self, client, address: str, n: int, outcome: str = "answered") -> None:
        path = f"/s/{self.tokens[address]}"
        page = client.get(path)
        assert page.status_code == 200, address
        data = {
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "self_direction": str(1 + n % 10),
            "usefulness": str(10 - n % 7),
        }
        if n % 2:
            data |= {"comment": f"Fijne begeleiding, nummer {n}.", "quote_consent": "y"}
        posted = client.post(path, data=data)
        assert posted.status_code == 302, posted.get_data(as_text=True)
        self.outcome[address] = outcome

    def open(self, client, address: str) -> None:
        assert client.get(f"/s/{self.tokens[address]}").status_code == 200
        self.outcome[address] = "opened"

    def opt_out(self, client, address: str) -> None:
        path = f"/afmelden/{self.tokens[address]}"
        page = client.get(path).get_data(as_text=True)
        done = client.post(path, data={"csrf_token": csrf_token(page)})
        assert done.status_code == 200
        self.outcome[address] = "opted out"

    @property
    def engine(self) -> Engine:
        return self.app.extensions["db_engine"]


@pytest.fixture
def region(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Region]:
    """A region with the whole mix in place, on PURGE_DAY, before any purge (or, parametrized
    with a day, with one purge run on that day in between)."""
    with smtp_server(BouncingHandler(bounce=BOUNCING)) as (controller, handler):
        app = make_test_app(
            database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port
        )
        region = Region(app, handler, tmp_path)
        build_mix(region, getattr(request, "param", None))
        yield region
        app.extensions["db_engine"].dispose()


def build_mix(region: Region, purge_on: date | None = None) -> None:
    region.import_rows(early_rows() + late_rows(), "export.csv")
    sent = region.send(D0)
    assert "Bounced:                    3" in sent, sent
    early = sorted(region.tokens)
    assert set(early) == EARLY_ADDRESSES - BOUNCING - {
        "kind-e37@example.org",
        "ouder-e38@example.org",
    }

    client = region.app.test_client()
    region.on(D0)
    quiet = []
    for n, address in enumerate(early):
        if n % 4 == 0:
            region.answer(client, address, n)
        elif n % 4 == 1:
            region.open(client, address)
        elif n % 8 == 2:
            region.opt_out(client, address)
        else:
            quiet.append(address)
    reminded = region.send(REMINDER_DAY)
    opened = [a for a, what in region.outcome.items() if what == "opened"]
    assert f"Reminders delivered:        {len(quiet) + len(opened)}" in reminded, reminded
    region.on(REMINDER_DAY + timedelta(days=1))
    for n, address in enumerate(quiet[:3]):
        region.answer(client, address, n, "answered after the reminder")
    if purge_on is not None:  # a daily purge, before the late cohort is mailed
        assert purge_on < LATE_SENT
        region.purge(purge_on)

    region.send(LATE_SENT)
    assert set(region.tokens) - set(early) == LATE_ADDRESSES
    region.on(LATE_ANSWERED)
    for n, address in enumerate(["ouder-l01@example.org", "jongere-l03@example.org"]):
        region.answer(client, address, n)
    region.send(LATE_REMINDED)
    region.on(PURGE_DAY)


# -- reading the database -------------------------------------------------------------------------


def text_columns(engine: Engine) -> list[tuple[str, str]]:
    """(table, column) of every textual column of every table, as the database describes them."""
    inspector = inspect(engine)
    return [
        (table_name, described["name"])
        for table_name in inspector.get_table_names()
        for described in inspector.get_columns(table_name)
        if isinstance(described["type"], String)
    ]


def traces(engine: Engine, needles: set[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every stored text value that contains one of `needles`."""
    found = []
    lowered = {needle.lower() for needle in needles}
    with engine.connect() as connection:
        for table_name, column_name in text_columns(engine):
            values = connection.scalars(
                select(sql_column(column_name)).select_from(sql_table(table_name))
            )
            for value in values:
                if value is None:
                    continue
                found += [
                    (table_name, column_name, needle)
                    for needle in lowered
                    if needle in value.lower()
                ]
    return found


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as connection:
        return {
            name: sorted(
                (tuple(r) for r in connection.execute(select(sql_table(name, *cols)))), key=repr
            )
            for name, cols in _columns_by_table(engine).items()
        }


def _columns_by_table(engine: Engine) -> dict[str, list]:
    inspector = inspect(engine)
    return {
        name: [sql_column(c["name"]) for c in inspector.get_columns(name)]
        for name in inspector.get_table_names()
    }


def figures(engine: Engine) -> list[tuple]:
    """The response-rate funnel per (respondent group, team), as reports would count it."""
    query = (
        select(
            Invitation.respondent_group,
            Episode.team,
            func.count(Invitation.id),
            func.count(Invitation.sent_at),
            func.count(Invitation.responded_at),
            func.count(Invitation.bounced_at),
            func.count(Invitation.opted_out_at),
            func.count(Invitation.opened_at),
            func.count(Invitation.reminded_at),
        )
        .join(Invitation.episode)
        .group_by(Invitation.respondent_group, Episode.team)
        .order_by(Invitation.respondent_group, Episode.team)
    )
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(query)]


def answers(engine: Engine) -> list[tuple]:
    """Every response with its answers (the answer world)."""
    query = select(
        Response.respondent_group,
        Response.team,
        Response.municipality,
        Response.care_type,
        Response.end_month,
        Response.submitted_month,
        ResponseAnswer.item_id,
        ResponseAnswer.value_int,
        ResponseAnswer.value_text,
    ).outerjoin(ResponseAnswer, ResponseAnswer.response_id == Response.id)
    with engine.connect() as connection:
        return sorted((tuple(r) for r in connection.execute(query)), key=repr)


def contact_data(engine: Engine, prefix: str) -> tuple[set[str], set[str], set[str]]:
    """Addresses, token hashes and tokens (from outbox bodies) of the episodes `prefix*`."""
    with engine.connect() as connection:
        invitations = connection.execute(
            select(Invitation.email, Invitation.token_hash)
            .join(Invitation.episode)
            .where(Episode.external_id.startswith(prefix))
        ).all()
        bodies = connection.scalars(
            select(OutboxMessage.body_text)
            .join(Invitation, OutboxMessage.invitation_id == Invitation.id)
            .join(Invitation.episode)
            .where(Episode.external_id.startswith(prefix))
        ).all()
    tokens = {t for body in bodies if body for t in TOKEN_IN_LINK.findall(body)}
    return (
        {e for e, _ in invitations if e},
        {h for _, h in invitations if h},
        tokens,
    )


def count(engine: Engine, query) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(query.subquery()))
