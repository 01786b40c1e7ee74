"""Fuzzing the episode upload with Hypothesis: arbitrary bytes as a CSV file are imported
completely or refused with line-numbered errors, and then nothing is written.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from survey.episodes.csv import KNOWN_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from survey.models import Episode, Invitation
from survey.web.limits import limiter
from tests.admin_pages import summary_lines
from tests.fuzzing import (
    ALLOWED,
    FUZZ,
    PAYLOAD,
    any_character,
)
from tests.pages import csrf_token, table_rows
from tests.staff_helpers import get, request, signed_in_client

VALID_CELLS = {
    "end_date": st.dates(date(2020, 1, 1), date(2030, 12, 31)).flatmap(
        lambda day: st.sampled_from([day.isoformat(), day.strftime("%d-%m-%Y")])
    ),
    "team": st.sampled_from(["Team Soest", "Team Zuid – één", "Team, met komma", 'Team "Q"']),
    "municipality": st.sampled_from(["Soest", "Bunschoten-Spakenburg", "'s-Hertogenbosch"]),
    "care_type": st.sampled_from(["Begeleiding", "Behandeling ggz", PAYLOAD, " Diagnostiek "]),
    "youth_age": st.sampled_from(["", "0", "12", "16", "27"]),
    "youth_email": st.sampled_from(["", "jongere@example.org", "Jongere.Twee@Example.org"]),
    "parent_email": st.sampled_from(["", "ouder@example.org", "ÖUDER@example.org"]),
    "language": st.sampled_from(["", "nl", "en", "NL", " en "]),
}
ODD_CELLS = st.one_of(
    st.text(any_character.filter(lambda c: not "\ud800" <= c <= "\udfff"), max_size=30),
    st.sampled_from(
        ["²", "٣", "-1", "28", "2026-02-30", "31-12-9999", "\x00", "\r\n", '"', 'a"b', "x" * 201,
         "x@", "@x", "nl\x00", "\ufeff", "0000-01-01", ""]
    ),
)  # fmt: skip


@st.composite
def episode_files(draw) -> tuple[bytes, list[dict[str, str]] | None]:
    """CSV-like bytes, and the rows they hold when a correct reader must see exactly those."""
    columns = list(REQUIRED_COLUMNS) + draw(
        st.lists(st.sampled_from(OPTIONAL_COLUMNS), unique=True)
    )
    columns = draw(st.permutations(columns))
    if draw(st.integers(0, 9)) == 0:
        columns = [*columns, draw(st.sampled_from(["", "extra", "team", PAYLOAD]))]
    clean = draw(st.integers(0, 2)) > 0
    rows = []
    for number in range(draw(st.integers(0, 6))):
        row = {}
        for column in columns:
            odd = not clean and draw(st.integers(0, 3)) == 0
            if odd or column not in KNOWN_COLUMNS:
                row[column] = draw(ODD_CELLS)
            elif column == "episode_id":
                row[column] = f"F{number}-{draw(st.integers(0, 3))}"
            else:
                row[column] = draw(VALID_CELLS[column])
        rows.append(row)
    header = [draw(st.sampled_from([c, c.upper(), f" {c} "])) for c in columns]
    delimiter = draw(st.sampled_from([",", ",", ",", ";", ";", ";", "\t", "|"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    proper = draw(st.integers(0, 3)) > 0
    out = io.StringIO()
    if proper:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=ending)
        writer.writerow(header)
        writer.writerows([row[c] for c in columns] for row in rows)
    else:  # hand-made: stray and unbalanced quotes, delimiters inside values
        quote = draw(st.sampled_from(["", '"']))
        for cells in [header, *([row[c] for c in columns] for row in rows)]:
            out.write(delimiter.join(f"{quote}{cell}{quote}" for cell in cells) + ending)
    text = ("\ufeff" if draw(st.booleans()) else "") + out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252", "utf-16", "latin-1"]))
    content = text.encode(encoding, "replace")
    if draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(content)))
        content = content[:at] + draw(st.binary(min_size=1, max_size=8)) + content[at:]
    try:
        seen = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        seen = content.decode("cp1252", "replace")
    exact = proper and seen == text.removeprefix("\ufeff") and delimiter in ",;"
    return content, (rows if exact else None)


HEADER = ",".join(REQUIRED_COLUMNS)


def snapshot(db) -> tuple[list, list]:
    db.rollback()
    db.expire_all()
    episodes = db.execute(
        select(
            Episode.external_id,
            Episode.end_date,
            Episode.team,
            Episode.municipality,
            Episode.care_type,
            Episode.youth_age,
            Episode.language,
        ).order_by(Episode.external_id)
    ).all()
    invitations = db.execute(
        select(Invitation.episode_id, Invitation.respondent_group, Invitation.email).order_by(
            Invitation.episode_id, Invitation.respondent_group
        )
    ).all()
    return episodes, invitations


@pytest.fixture
def admin(app, db, quick_hashing):
    client, _ = signed_in_client(app, db, "admin")
    return client


def upload(client, content: bytes):
    page = get(client, "/staff/admin/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(content), "export.csv")}
    return request(client, "POST", "/staff/admin/import", data=data)


def check_rows_stored(db, rows: list[dict[str, str]]) -> None:
    """Each row of an accepted file is in the database as written."""
    for row in rows:
        if not any(value.strip() for value in row.values()):
            continue  # a blank line
        episode = db.scalars(
            select(Episode).where(Episode.external_id == row["episode_id"].strip())
        ).one()
        assert (episode.team, episode.municipality, episode.care_type) == (
            row["team"].strip(),
            row["municipality"].strip(),
            row["care_type"].strip(),
        )
        assert row["end_date"].strip() in (
            episode.end_date.isoformat(),
            episode.end_date.strftime("%d-%m-%Y"),
        )
        assert episode.language == (row.get("language", "").strip().lower() or "nl")
        age = row.get("youth_age", "").strip()
        assert episode.youth_age == (int(age) if age else None)
        invited = {i.respondent_group: i.email for i in episode.invitations}
        if row.get("parent_email", "").strip():
            assert invited["parent"] == row["parent_email"].strip().lower()


@settings(FUZZ, max_examples=200)
@given(file=st.one_of(st.binary(max_size=3000).map(lambda b: (b, None)), episode_files()))
@example(file=(f"{HEADER},youth_age\nA,2026-01-01,T,M,C,²\n".encode(), None))  # '²'.isdigit()
@example(file=(f"\ufeff{HEADER.replace(',', ';')}\r\nB;01-02-2026;T;M;C\r\n".encode(), None))
@example(file=(f'{HEADER}\nC,2026-01-01,"open,M,C\n'.encode(), None))
@example(file=(f"{HEADER}\n".encode("utf-16"), None))
@example(file=(b"\x00\x81\x8d\x8f\x90\x9d", None))
@example(file=(b"", None))
def test_upload_imports_everything_or_nothing(db, admin, file):
    content, rows = file
    limiter.reset()
    before = snapshot(db)
    answer = upload(admin, content)
    assert answer.status_code in ALLOWED
    body = answer.get_data(as_text=True)
    if answer.status_code == 200:
        summary = summary_lines(body)
        assert {"Rows read", "Episodes"} <= set(summary), body
        read = int(summary["Rows read"])
        # "Episodes: 2 new, 0 updated, 0 unchanged"
        new, updated, unchanged = (int(part.split()[0]) for part in summary["Episodes"].split(","))
        assert new + updated + unchanged == read
        assert len(snapshot(db)[0]) == len(before[0]) + new
        if rows is not None:
            check_rows_stored(db, rows)
    else:
        assert answer.status_code in (400, 413)
        if answer.status_code == 400:
            lines = [row[0] for row in table_rows(body, "table.errors")]
            assert any(line.isdecimal() for line in lines), "no line-numbered error shown"
        assert snapshot(db) == before
