"""Data and page readers for the dashboard tests: regions answered through the real service,
and the dashboard's tables read with BeautifulSoup."""

from __future__ import annotations

from datetime import date, timedelta

from bs4 import Tag

from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import utcnow
from tests.factories import make_episode, make_invited
from tests.pages import soup, text_of
from tests.staff_helpers import get


def page_text(client, url: str) -> str:
    page = get(client, url)
    assert page.status_code == 200
    return text_of(page.get_data(as_text=True))


def page_html(client, url: str) -> str:
    """The dashboard page at `url` (answered 200), as HTML."""
    page = get(client, url)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def table_after(page: str, heading: str) -> Tag:
    """The first table after the heading with id `heading` (#trend, #representativeness...)."""
    found = soup(page).find(id=heading)
    assert found is not None, f"no #{heading} on the page"
    table = found.find_next("table")
    assert table is not None, f"no table after #{heading}"
    return table


def region_over_two_quarters(db) -> None:
    """Parents in Q1 and Q2 2026: 20 sent / 8 answered and 10 sent / 6 answered."""
    questionnaire = load_questionnaires()["parent"]
    for end, sent, answered, mark in ((date(2026, 2, 10), 20, 8, 6), (date(2026, 5, 10), 10, 6, 9)):
        for n in range(sent):
            episode = make_episode(db, end_date=end)
            invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
            if n < answered:
                answers = {"self_direction": mark, "usefulness": mark}
                assert submit_response(db, invitation, questionnaire, answers, "nl", utcnow())


def small_team(db, name: str) -> None:
    """A team with one response (marks 1 and 1): below any MIN_CELL_SIZE above 1."""
    episode = make_episode(db, team=name)
    invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
    answers = {"self_direction": 1, "usefulness": 1}
    assert submit_response(db, invitation, load_questionnaires()["parent"], answers, "nl", utcnow())


def mixed_region(db, seed: int = 3) -> None:
    """300 invitations over two years, three teams, two places, two care types, both groups."""
    import random

    rng = random.Random(seed)
    questionnaires = load_questionnaires()
    for _ in range(300):
        episode = make_episode(
            db,
            youth_age=16,
            end_date=date(2025, 1, 1) + timedelta(days=rng.randrange(720)),
            team=rng.choice(("Team Noord", "Team Zuid", "Team Oost")),
            municipality=rng.choice(("Amersfoort", "Leusden")),
            care_type=rng.choice(("Begeleiding", "Behandeling")),
        )
        group = rng.choice(("youth", "parent"))
        invitation, _ = make_invited(db, episode=episode, respondent_group=group)
        if rng.random() < 0.5:
            answers = {"self_direction": rng.randint(1, 10), "usefulness": rng.randint(1, 10)}
            assert submit_response(db, invitation, questionnaires[group], answers, "nl", utcnow())
