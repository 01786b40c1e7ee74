"""CSV import of ended trajectories (DESIGN §4.1), through the real `import-episodes` command."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey.models import Episode, Invitation
from tests.factories import EPISODE_CSV_HEADER

HEADER = EPISODE_CSV_HEADER


def write(tmp_path: Path, content: str | bytes, name: str = "episodes.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def run_import(runner, path: Path):
    return runner.invoke(args=["import-episodes", str(path)])


def counts(db) -> tuple[int, int]:
    db.rollback()
    db.expire_all()
    return (
        db.scalar(select(func.count(Episode.id))),
        db.scalar(select(func.count(Invitation.id))),
    )


def test_comma_file_creates_episodes_and_invitations(runner, db, tmp_path):
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "E1,2026-11-02,Team Soest,Soest,Begeleiding,15,jongere@example.org,ouder@example.org,nl\n"
        "E2,2026-11-03,Team Leusden,Leusden,Behandeling,,,ouder2@example.org,en\n",
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "Rows read: 2" in result.output
    assert "Episodes: 2 new, 0 updated, 0 unchanged" in result.output
    assert "Invitations created: 3 (youth 1, parent 2)" in result.output
    episode = db.scalars(select(Episode).where(Episode.external_id == "E1")).one()
    assert (episode.end_date, episode.team, episode.municipality, episode.care_type) == (
        date(2026, 11, 2),
        "Team Soest",
        "Soest",
        "Begeleiding",
    )
    groups = {
        (i.episode.external_id, i.respondent_group, i.language)
        for i in db.scalars(select(Invitation))
    }
    assert groups == {("E1", "youth", "nl"), ("E1", "parent", "nl"), ("E2", "parent", "en")}


def test_semicolon_bom_dutch_dates_and_column_order(runner, db, tmp_path):
    # Dutch Excel: semicolons, a BOM, DD-MM-YYYY, headers in another order and case.
    content = (
        "\ufeffParent_Email;End_Date;Episode_ID;Team;Municipality;Care_Type\r\n"
        "ouder@example.org;28-02-2026;NL-7;Team Baarn-Eemnes;Eemnes;Diagnostiek\r\n"
    )
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 0, result.output
    episode = db.scalars(select(Episode)).one()
    assert episode.external_id == "NL-7"
    assert episode.end_date == date(2026, 2, 28)
    assert episode.municipality == "Eemnes"


def test_windows_1252_file_keeps_accented_names(runner, db, tmp_path):
    content = (
        "episode_id;end_date;team;municipality;care_type\n"
        "W1;01-10-2026;Team Zuid – één;Bunschoten-Spakenburg;Behandeling ggz\n"
    ).encode("cp1252")
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 0, result.output
    assert db.scalars(select(Episode.team)).one() == "Team Zuid – één"


def test_bad_rows_in_large_file_are_all_reported_and_nothing_is_written(runner, db, tmp_path):
    lines = [HEADER]
    for n in range(1, 1001):
        lines.append(f"B{n},2026-10-01,Team Soest,Soest,Begeleiding,14,,ouder{n}@example.org,nl")
    # Three bad rows; a data row at index k sits on line k + 1 of the file.
    lines[250] = "B250,31-02-2026,Team Soest,Soest,Begeleiding,14,,ouder250@example.org,nl"
    lines[600] = "B600,2026-10-01,Team Soest,Soest,Begeleiding,zestien,,ouder600@example.org,nl"
    lines[999] = "B999,2026-10-01,,Soest,Begeleiding,14,,ouder999@example.org,nl"
    result = run_import(runner, write(tmp_path, "\n".join(lines) + "\n"))
    assert result.exit_code == 1
    output = result.output
    assert "Import refused: 3 error(s) in 1000 row(s). Nothing was saved." in output
    assert "line 251, column end_date: '31-02-2026' is not a date" in output
    assert "line 601, column youth_age: must be a whole number from 0 to 27" in output
    assert "line 1000, column team: a value is required" in output
    assert counts(db) == (0, 0)


def test_line_numbers_count_quoted_line_breaks_like_an_editor(runner, db, tmp_path):
    content = (
        f"{HEADER}\n"
        'Q1,2026-10-01,"Team\nmet enter",Soest,Begeleiding,14,,a@example.org,nl\n'
        "Q2,2026-10-01,Team Soest,Soest,Begeleiding,99,,b@example.org,nl\n"
    )
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    assert "line 2, column team: contains a line break" in result.output
    assert "line 4, column youth_age" in result.output


def test_reimport_creates_no_duplicate_invitation(runner, db, tmp_path):
    content = (
        f"{HEADER}\nR1,2026-10-01,Team Soest,Soest,Begeleiding,15,j@example.org,o@example.org,nl\n"
    )
    path = write(tmp_path, content)
    assert run_import(runner, path).exit_code == 0
    again = run_import(runner, path)
    assert again.exit_code == 0, again.output
    assert "Episodes: 0 new, 0 updated, 1 unchanged" in again.output
    assert "Invitations created: 0 (youth 0, parent 0)" in again.output
    assert counts(db) == (1, 2)


def test_reimport_after_sending_keeps_the_one_invitation(runner, db, tmp_path):
    path = write(
        tmp_path, f"{HEADER}\nS1,2026-10-01,Team Soest,Soest,Begeleiding,,,o@example.org,nl\n"
    )
    assert run_import(runner, path).exit_code == 0
    invitation = db.scalars(select(Invitation)).one()
    invitation.invited_at = invitation.sent_at = invitation.created_at
    db.commit()
    changed = write(
        tmp_path, f"{HEADER}\nS1,2026-10-01,Team Soest,Soest,Begeleiding,,,nieuw@example.org,nl\n"
    )
    assert run_import(runner, changed).exit_code == 0
    assert counts(db) == (1, 1)
    assert db.scalars(select(Invitation.email)).one() == "o@example.org"


def test_youth_under_twelve_gets_no_invitation(runner, db, tmp_path):
    content = (
        f"{HEADER}\n"
        "Y1,2026-10-01,Team Soest,Soest,Begeleiding,11,kind@example.org,ouder@example.org,nl\n"
        "Y2,2026-10-01,Team Soest,Soest,Begeleiding,12,jongere@example.org,,nl\n"
        "Y3,2026-10-01,Team Soest,Soest,Begeleiding,,onbekend@example.org,,nl\n"
    )
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 0, result.output
    assert "Youth invitations not made (youth under 12): 1" in result.output
    invited = {(i.episode.external_id, i.respondent_group) for i in db.scalars(select(Invitation))}
    assert invited == {("Y1", "parent"), ("Y2", "youth"), ("Y3", "youth")}


@pytest.mark.parametrize(
    "email",
    ['"ouder@example.org\r\nBcc: victim@example.org"', '"ouder@example.org\nX"', "geen-adres"],
)
def test_email_with_line_break_or_garbage_is_rejected(runner, db, tmp_path, email):
    content = f"{HEADER}\nX1,2026-10-01,Team Soest,Soest,Begeleiding,14,,{email},nl\n"
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    assert "line 2, column parent_email:" in result.output
    assert "victim" not in result.output  # the address itself is not echoed
    assert counts(db) == (0, 0)


def test_header_problems_are_reported_on_line_one(runner, db, tmp_path):
    content = (
        "episode_id,end_date,team,care_type,youth_emial\n"
        "Z1,2026-10-01,T,Begeleiding,x@example.org\n"
    )
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    assert "line 1, column municipality: required column is missing" in result.output
    assert "line 1, column youth_emial: unknown column" in result.output


def test_duplicate_episode_in_one_file_names_both_lines(runner, db, tmp_path):
    content = (
        f"{HEADER}\n"
        "D1,2026-10-01,Team Soest,Soest,Begeleiding,,,a@example.org,nl\n"
        "D1,2026-10-02,Team Soest,Soest,Begeleiding,,,b@example.org,nl\n"
    )
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    assert "line 3, column episode_id: 'D1' also on line 2" in result.output
    assert counts(db) == (0, 0)


def test_wrong_language_and_field_count(runner, db, tmp_path):
    content = (
        f"{HEADER}\n"
        "L1,2026-10-01,Team Soest,Soest,Begeleiding,,,a@example.org,de\n"
        "L2,2026-10-01,Team Soest,Soest\n"
    )
    result = run_import(runner, write(tmp_path, content))
    assert result.exit_code == 1
    assert "line 2, column language: must be nl or en" in result.output
    assert "line 3: expected 9 fields, found 4" in result.output


def test_large_file_shows_progress_and_a_summary(runner, db, tmp_path):
    rows = [HEADER] + [
        f"P{n},2026-10-01,Team Soest,Soest,Begeleiding,{n % 18},"
        f"{f'j{n}@example.org' if n % 3 == 0 else ''},o{n}@example.org,nl"
        for n in range(1, 5001)
    ]
    result = run_import(runner, write(tmp_path, "\n".join(rows) + "\n"))
    assert result.exit_code == 0, result.output
    assert "Importing" in result.output  # the progress bar (stderr is mixed into output here)
    assert "Rows read: 5000" in result.output
    youth_asked = sum(1 for n in range(1, 5001) if n % 3 == 0 and n % 18 >= 12)
    too_young = sum(1 for n in range(1, 5001) if n % 3 == 0 and n % 18 < 12)
    assert f"Invitations created: {5000 + youth_asked} (youth {youth_asked}, parent 5000)" in (
        result.output
    )
    assert f"(youth under 12): {too_young}" in result.output
    assert counts(db) == (5000, 5000 + youth_asked)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(
        r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]{1,70}@[a-zA-Z0-9.-]{1,30}\.[a-zA-Z]{2,5}",
        fullmatch=True,
    )
)
def test_the_fast_address_check_accepts_nothing_email_validator_refuses(address):
    from email_validator import EmailNotValidError, validate_email

    from survey.episodes.csv import is_plain_address

    if is_plain_address(address):
        try:
            checked = validate_email(address, check_deliverability=False)
        except EmailNotValidError as refused:
            raise AssertionError(f"{address!r} passed the fast check: {refused}") from None
        assert checked.normalized.lower() == address.lower()
