"""The synthetic demo region (`ervaringswijzer demo`), through the real command."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from survey.models import Episode, Invitation, Municipality, Provider, Response, ResponseAnswer
from tests.conftest import PUBLIC_BASE_URL
from tests.pages import soup

TODAY = date(2026, 11, 25)
MUNICIPALITIES = {"Amersfoort", "Baarn", "Bunschoten", "Leusden", "Soest", "Woudenberg"}
LINK = re.compile(rf"{re.escape(PUBLIC_BASE_URL)}/s/[A-Za-z0-9_-]+")


@pytest.fixture
def demo_output(runner) -> str:
    """The summary printed by a demo run on the empty test database."""
    result = runner.invoke(args=["demo", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def link_after(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith(label))
    match = LINK.search(line)
    assert match, line
    return match.group(0)


def table_counts(db) -> tuple[int, int, int, int]:
    db.rollback()
    return tuple(
        db.scalar(select(func.count()).select_from(model))
        for model in (Episode, Invitation, Response, ResponseAnswer)
    )


def mean_mark(db, item_id: str) -> float:
    return db.scalar(
        select(func.avg(ResponseAnswer.value_int)).where(ResponseAnswer.item_id == item_id)
    )


def check_region_looks_like_region_amersfoort(db) -> None:
    assert set(db.scalars(select(Episode.municipality).distinct())) == MUNICIPALITIES
    # Three providers, each with its own teams, trajectories and answers.
    owners = db.execute(
        select(Provider.name, func.count(func.distinct(Episode.team)), func.count(Episode.id))
        .join(Episode, Episode.provider_id == Provider.id)
        .group_by(Provider.name)
        .order_by(Provider.name)
    ).all()
    assert [name for name, _, _ in owners] == ["De Linde", "Jeugdzorg Kompas", "MetMaya"]
    assert all(episodes > 50 for _, _, episodes in owners)
    assert dict((name, teams) for name, teams, _ in owners)["MetMaya"] == 8
    answered = db.scalars(select(Provider.name).join(Response.provider).distinct())
    assert set(answered) == {"De Linde", "Jeugdzorg Kompas", "MetMaya"}
    assert {m.name for m in db.scalars(select(Municipality))} == MUNICIPALITIES
    assert 8 <= len(set(db.scalars(select(Episode.team).distinct()))) <= 12
    assert len(set(db.scalars(select(Episode.care_type).distinct()))) >= 3
    first, last = db.execute(select(func.min(Episode.end_date), func.max(Episode.end_date))).one()
    assert last <= TODAY and 520 <= (last - first).days <= 560
    per_month = db.scalar(select(func.count(Episode.id))) / 18
    assert 80 <= per_month <= 120
    emails = db.scalars(select(Invitation.email).where(Invitation.email.is_not(None))).all()
    assert emails and all(email.endswith("@example.org") for email in emails)


def check_every_scope_has_a_demo_account(db) -> None:
    from survey.models import StaffUser

    accounts = db.scalars(select(StaffUser)).all()
    scopes = {
        (
            user.role,
            user.municipality.name if user.municipality else None,
            user.provider.slug if user.provider else None,
        )
        for user in accounts
    }
    regional = {(role, None, None) for role in ("admin", "quality", "communications", "viewer")}
    municipal = {(role, "Soest", None) for role in ("viewer", "quality")}
    provider = {(role, None, "kompas") for role in ("viewer", "quality", "communications", "admin")}
    assert scopes == regional | municipal | provider


def check_a_provider_account_sees_only_its_own_provider(app, db) -> None:
    import pyotp

    from survey.demo.region import DEMO_STAFF_PASSWORD
    from survey.models import StaffUser
    from tests.staff_helpers import get, seal_for_tests, sign_in

    email = "kwaliteit-kompas@example.org"
    user = db.scalar(select(StaffUser).where(StaffUser.email == email))
    secret = pyotp.random_base32()
    user.totp_secret = seal_for_tests(secret)  # as if set up at the first sign-in
    db.commit()
    client = sign_in(app.test_client(), email, DEMO_STAFF_PASSWORD, secret)
    page = get(client, "/staff/dashboard/?by=team&by2=").get_data(as_text=True)
    assert "Jeugdzorg Kompas" in page and "Team Regio Specialistisch" in page
    assert "MetMaya" not in page and "De Linde" not in page and "Team Soest" not in page


def check_responses_are_plausible_and_match_the_episodes(db) -> None:
    sent = db.scalar(select(func.count(Invitation.id)).where(Invitation.sent_at.is_not(None)))
    responses = db.scalar(select(func.count(Response.id)))
    assert 0.20 <= responses / sent <= 0.40
    assert 6.5 <= mean_mark(db, "self_direction") <= 9
    assert 6.5 <= mean_mark(db, "usefulness") <= 9
    # Every response went through the real service: answered invitations match responses.
    answered = db.scalar(
        select(func.count(Invitation.id)).where(Invitation.responded_at.is_not(None))
    )
    assert answered == responses
    combos = set(db.execute(select(Episode.team, Episode.municipality, Episode.care_type)).all())
    cohorts = set(
        db.execute(select(Response.team, Response.municipality, Response.care_type)).all()
    )
    assert cohorts <= combos
    comments = db.scalar(select(func.count()).where(ResponseAnswer.item_id == "comment"))
    assert 0.25 * responses <= comments <= 0.55 * responses


def test_demo_if_empty_loads_once_and_a_second_plain_demo_is_refused(runner, db):
    first = runner.invoke(args=["demo", "--if-empty", "--today", TODAY.isoformat()])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("SYNTHETIC")
    before = table_counts(db)
    assert before[0] > 0
    again = runner.invoke(args=["demo", "--today", TODAY.isoformat()])
    assert again.exit_code != 0
    assert table_counts(db) == before
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert skipped.exit_code == 0, skipped.output
    assert "already holds data; demo not loaded" in skipped.output
    assert table_counts(db) == before


def check_recent_invitations_are_left_for_send(demo_output: str, runner) -> None:
    pending = int(re.search(r"sends the (\d+) pending invitations", demo_output).group(1))
    assert pending > 0
    result = runner.invoke(args=["send", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert re.search(rf"Invitations created:\s+{pending}\b", result.output)


def check_summary_says_synthetic_and_its_youth_link_opens_the_questionnaire(
    demo_output: str, client
) -> None:
    first_line = demo_output.splitlines()[0]
    assert "SYNTHETIC" in first_line and "demo" in first_line
    assert "ervaringswijzer send" in demo_output and "ervaringswijzer run" in demo_output
    youth = link_after(demo_output, "Open as a youth:")
    assert youth != link_after(demo_output, "Open as a parent:")
    page = client.get(youth.removeprefix(PUBLIC_BASE_URL))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<form method="post"' in html
    form = soup(html)
    assert form.find("input", attrs={"type": "radio", "name": "self_direction", "value": "10"})
    # The youth is 16 or older, so the quote-consent question is on the page.
    assert form.find("input", attrs={"type": "checkbox", "name": "quote_consent", "value": "y"})


def check_printed_parent_link_accepts_an_answer(demo_output: str, client, db) -> None:
    path = link_after(demo_output, "Open as a parent:").removeprefix(PUBLIC_BASE_URL)
    before = db.scalar(select(func.count(Response.id)))
    page = client.get(path)
    assert page.status_code == 200
    token = soup(page.get_data(as_text=True)).find("input", attrs={"name": "csrf_token"})
    data = {"self_direction": "8", "usefulness": "9", "comment": "Fijn."}
    if token:
        data["csrf_token"] = token["value"]
    answered = client.post(path, data=data)
    assert answered.status_code == 302
    db.rollback()
    assert db.scalar(select(func.count(Response.id))) == before + 1


def test_one_demo_run_gives_a_plausible_region_a_summary_and_working_links(
    demo_output, runner, client, db, app
):
    """One demo load per backend (it takes 15-25 s), checked from every side in turn: the
    read-only checks first, then the two that change the data (an answer, a send pass)."""
    check_region_looks_like_region_amersfoort(db)
    check_every_scope_has_a_demo_account(db)
    check_a_provider_account_sees_only_its_own_provider(app, db)
    check_responses_are_plausible_and_match_the_episodes(db)
    check_summary_says_synthetic_and_its_youth_link_opens_the_questionnaire(demo_output, client)
    check_printed_parent_link_accepts_an_answer(demo_output, client, db)
    check_recent_invitations_are_left_for_send(demo_output, runner)
