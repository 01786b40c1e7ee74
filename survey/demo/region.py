"""A clearly labelled synthetic region to explore the product with (`ervaringswijzer demo`).

`load_demo` fills an empty database with 18 months of made-up ended trajectories modelled on region
Amersfoort (7 municipalities, 10 teams of three providers), their invitations and a realistic
share of responses.
Responses are stored through the real `submit_response`, so they carry the same cohort copies as
real ones. The last three weeks stay unsent, so that `ervaringswijzer send` has work to do, and two
invitations get a live token whose links the operator can open. Everything comes from one
`random.Random(seed)`: the same seed and day give the same data (tokens aside).
"""

from __future__ import annotations

import calendar
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.accounts.users import create_user
from survey.answers.operations import submit_response
from survey.answers.questionnaires import Questionnaire, load_questionnaires
from survey.demo.texts import comment_pool
from survey.enums import Group, Language, Role
from survey.invitations.operations import clock, hash_token, new_token, survey_url
from survey.models import Episode, Invitation, Provider, utcnow
from survey.quotes.operations import prepare_comments
from survey.region.operations import (
    add_municipality,
    add_provider,
    municipalities,
    provider_for_import,
)
from survey.reporting.publication import decide_patterns

log = logging.getLogger(__name__)

MONTHS = 18
UNSENT_DAYS = 21
BATCH_SIZE = 500
EPISODES_PER_MONTH = 100
# More endings before the summer holiday and the year's end, fewer in August.
MONTH_FACTOR = (1.0, 0.95, 1.05, 0.95, 1.0, 1.12, 1.05, 0.85, 0.95, 1.0, 1.02, 1.1)

# Inhabitants in thousands: how episodes spread over the municipalities.
MUNICIPALITIES = {
    "Amersfoort": 160,
    "Baarn": 25,
    "Bunschoten": 22,
    "Leusden": 30,
    "Soest": 47,
    "Woudenberg": 14,
}
AREA_TEAMS = {
    "Amersfoort": ("Team Amersfoort-Noord", "Team Amersfoort-Zuid", "Team Amersfoort-Vathorst"),
    "Baarn": ("Team Baarn",),
    "Bunschoten": ("Team Bunschoten",),
    "Leusden": ("Team Leusden",),
    "Soest": ("Team Soest",),
    "Woudenberg": ("Team Woudenberg",),
}
AREA_CARE_TYPES = {"Begeleiding": 40, "Behandeling": 25, "Gezinsbehandeling": 20, "Diagnostiek": 15}
REGIONAL_SHARE = 0.15
REGIONAL_TEAMS = {
    "Team Regio Verblijf": {"Verblijf": 70, "Behandeling": 30},
    "Team Regio Specialistisch": {"Diagnostiek": 45, "Behandeling": 55},
}
# Three providers, as a region contracts them: the area teams are the main provider's (named
# PROVIDER_NAME), the two regional teams belong to two specialised providers.
OTHER_PROVIDERS = {
    "Team Regio Verblijf": ("de-linde", "De Linde"),
    "Team Regio Specialistisch": ("kompas", "Jeugdzorg Kompas"),
}
# Teams differ a little in how families rate them.
TEAM_SHIFT = {
    "Team Amersfoort-Noord": 0.2,
    "Team Amersfoort-Zuid": -0.1,
    "Team Amersfoort-Vathorst": 0.0,
    "Team Baarn": -0.3,
    "Team Bunschoten": -0.2,
    "Team Leusden": 0.1,
    "Team Soest": 0.3,
    "Team Woudenberg": 0.2,
    "Team Regio Verblijf": -0.4,
    "Team Regio Specialistisch": 0.1,
}
# (youngest, oldest, weight): most youths in care are of primary and secondary school age.
AGE_BANDS = ((0, 3, 8), (4, 7, 17), (8, 11, 24), (12, 15, 28), (16, 17, 14), (18, 23, 9))
MIN_YOUTH_AGE = 12
CONSENT_AGE = 16
ENGLISH_SHARE = 0.07
YOUTH_EMAIL_SHARE = 0.6
BOUNCE_SHARE = 0.02
RESPONSE_SHARE: dict[str, float] = {Group.YOUTH: 0.26, Group.PARENT: 0.31}
# Of those who do not answer, this share still opened the link: ~55% opened overall.
OPENED_WITHOUT_REPLY_SHARE = 0.36
COMMENT_SHARE = 0.4
CONSENT_SHARE = 0.6


# Demo staff accounts, one per role, all with this password (synthetic data on localhost only).
DEMO_STAFF_PASSWORD = "ervaringswijzer-demo"  # noqa: S105 (documented demo password)
DEMO_STAFF = {role: f"{role}@example.org" for role in Role}
# Scoped accounts, one per role a scope may have: policy officers of one municipality (its figures
# only, the region beside them) and the staff of one provider (its families only).
DEMO_SCOPED_STAFF: dict[str, tuple[Role, dict[str, str]]] = {
    "gemeente-soest@example.org": (Role.VIEWER, {"municipality": "Soest"}),
    "kwaliteit-gemeente-soest@example.org": (Role.QUALITY, {"municipality": "Soest"}),
    "kijker-kompas@example.org": (Role.VIEWER, {"provider": "kompas"}),
    "kwaliteit-kompas@example.org": (Role.QUALITY, {"provider": "kompas"}),
    "communicatie-kompas@example.org": (Role.COMMUNICATIONS, {"provider": "kompas"}),
    "beheer-kompas@example.org": (Role.ADMIN, {"provider": "kompas"}),
}


def create_demo_staff(session: Session) -> None:
    """One staff account per role for the whole region, and one per role of a municipality and
    of a provider, for signing in to the demo."""
    for role, email in DEMO_STAFF.items():
        create_user(session, email, role, DEMO_STAFF_PASSWORD)
    for email, (role, scope) in DEMO_SCOPED_STAFF.items():
        create_user(session, email, role, DEMO_STAFF_PASSWORD, **scope)
    session.commit()


class DatabaseNotEmpty(Exception):
    """The demo only fills an empty database; this one already holds episodes."""


@dataclass
class DemoResult:
    """What `load_demo` made, and the two survey links that work right away."""

    episodes: int
    invitations: int
    sent: int
    pending: int
    responses: int
    comments: int
    youth_link: str
    parent_link: str

    def summary(self, config: Mapping[str, Any]) -> str:
        """The operator's overview: what this data is, the counts, the links, what to do next."""
        rate = self.responses / self.sent if self.sent else 0.0
        if config.get("SMTP_HOST"):
            mail = f"mail goes out through SMTP host {config['SMTP_HOST']}"
        else:
            mail = f"SMTP_HOST is unset, so mail goes to .eml files in {config['MAIL_FILE_DIR']}"
        lines = [
            "SYNTHETIC demo data loaded: a made-up region modelled on region Amersfoort; "
            "all names, addresses and answers are invented.",
            f"Episodes:    {self.episodes} ended trajectories over the last {MONTHS} months",
            f"Invitations: {self.invitations} ({self.sent} sent, {self.pending} not sent yet)",
            f"Responses:   {self.responses} ({rate:.0%} of sent), {self.comments} with a comment",
            "",
            f"Open as a youth:  {self.youth_link}",
            f"Open as a parent: {self.parent_link}",
            "",
            f"Staff sign-in at {config['PUBLIC_BASE_URL']}/staff/login, password "
            f"{DEMO_STAFF_PASSWORD!r}, one account per role: " + ", ".join(DEMO_STAFF.values()),
            "",
            "Next:",
            f"  ervaringswijzer send   sends the {self.pending} pending invitations",
            f"                         ({mail})",
            f"  ervaringswijzer run    serves the app at {config['PUBLIC_BASE_URL']}",
        ]
        return "\n".join(lines)


def load_demo(
    session: Session, config: Mapping[str, Any], *, seed: int = 2024, today: date | None = None
) -> DemoResult:
    """Fill an empty database with the synthetic region; raise DatabaseNotEmpty otherwise."""
    if session.scalar(select(Episode.id).limit(1)) is not None:
        raise DatabaseNotEmpty("the database already holds episodes")
    rng = random.Random(seed)  # noqa: S311 -- reproducible fake data, not security
    today = today or date.today()
    now = clock(today)
    main = provider_for_import(session, None, config)
    owners = {
        team: _provider(session, slug, name) for team, (slug, name) in OTHER_PROVIDERS.items()
    }
    for municipality in sorted(set(MUNICIPALITIES) - {m.name for m in municipalities(session)}):
        add_municipality(session, municipality)  # the demo declares its own list
    episodes = make_episodes(rng, today)
    for episode in episodes:
        episode.provider = owners.get(episode.team, main)
    history = today - timedelta(days=UNSENT_DAYS)
    youth, parent = pick_live(rng, episodes, history)
    due: list[tuple[Invitation, datetime]] = []
    for invitation in (i for e in episodes if e.end_date < history for i in e.invitations):
        moment = send_history(rng, invitation, config, now)
        if moment is not None:
            due.append((invitation, moment))
    # A person opens these links now, whatever day the history was built up to.
    live_until = max(now, utcnow()) + timedelta(days=config["EXPIRE_AFTER_DAYS"])
    links = [open_live(invitation, config, now, live_until) for invitation in (youth, parent)]
    for start in range(0, len(episodes), BATCH_SIZE):
        session.add_all(episodes[start : start + BATCH_SIZE])
        session.commit()
    responses, comments = submit_answers(session, rng, due)
    # As the worker would: de-identify the comments, so the quotes queue has work in it.
    prepare_comments(session, config["PROVIDER_NAME"])
    # As the worker would: decide what each year may publish, so no page waits for it.
    decide_patterns(session, config["MIN_CELL_SIZE"])
    create_demo_staff(session)
    invitations = [i for e in episodes for i in e.invitations]
    result = DemoResult(
        episodes=len(episodes),
        invitations=len(invitations),
        sent=sum(i.sent_at is not None for i in invitations),
        pending=sum(i.invited_at is None for i in invitations),
        responses=responses,
        comments=comments,
        youth_link=links[0],
        parent_link=links[1],
    )
    log.info(
        "demo loaded: %d episodes, %d invitations (%d sent, %d pending), %d responses, %d comments",
        result.episodes,
        result.invitations,
        result.sent,
        result.pending,
        result.responses,
        result.comments,
    )
    return result


def _provider(session: Session, slug: str, name: str) -> Provider:
    """The demo's provider `slug`, added when the installation does not have it yet."""
    found = session.scalar(select(Provider).where(Provider.slug == slug))
    return found or add_provider(session, slug, name)


def _pick(rng: random.Random, weights: Mapping[str, int | float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _month_starts(today: date) -> list[date]:
    """The first days of the months that the history touches, oldest first."""
    year, month = today.year, today.month
    starts = []
    for _ in range(MONTHS + 1):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def end_dates(rng: random.Random, today: date) -> list[date]:
    """Sorted end dates over the last 18 months, ~100 a month, mostly on working days."""
    first = _month_starts(today)[0].replace(day=min(today.day, 28))
    dates: list[date] = []
    for month_start in _month_starts(today):
        days_in_month = calendar.monthrange(month_start.year, month_start.month)[1]
        days = [
            day
            for offset in range(days_in_month)
            if first <= (day := month_start + timedelta(days=offset)) <= today
        ]
        expected = EPISODES_PER_MONTH * MONTH_FACTOR[month_start.month - 1]
        count = round(expected * rng.uniform(0.94, 1.06) * len(days) / days_in_month)
        weights = [1.0 if day.weekday() < 5 else 0.15 for day in days]
        dates.extend(rng.choices(days, weights=weights, k=count) if days else [])
    return sorted(dates)


def make_episode(rng: random.Random, number: int, end_date: date) -> Episode:
    """One made-up ended trajectory with its invitations (not yet in a session)."""
    municipality = _pick(rng, MUNICIPALITIES)
    if rng.random() < REGIONAL_SHARE:
        team = rng.choice(sorted(REGIONAL_TEAMS))
        care_type = _pick(rng, REGIONAL_TEAMS[team])
    else:
        team = rng.choice(AREA_TEAMS[municipality])
        care_type = _pick(rng, AREA_CARE_TYPES)
    low, high, _ = rng.choices(AGE_BANDS, weights=[band[2] for band in AGE_BANDS])[0]
    youth_age = rng.randint(low, high)
    episode = Episode(
        external_id=f"DEMO-{number:06d}",
        end_date=end_date,
        team=team,
        municipality=municipality,
        care_type=care_type,
        youth_age=youth_age,
        language=Language.EN if rng.random() < ENGLISH_SHARE else Language.NL,
    )
    # Parents of young adults are less often asked.
    if rng.random() < (0.93 if youth_age < 18 else 0.5):
        _invite(episode, Group.PARENT, f"demo-ouder-{number:06d}@example.org")
    if youth_age >= MIN_YOUTH_AGE and rng.random() < YOUTH_EMAIL_SHARE:
        _invite(episode, Group.YOUTH, f"demo-jongere-{number:06d}@example.org")
    return episode


def _invite(episode: Episode, group: str, email: str) -> Invitation:
    return Invitation(
        episode=episode, respondent_group=group, email=email, language=episode.language
    )


def make_episodes(rng: random.Random, today: date) -> list[Episode]:
    """The whole synthetic history, numbered DEMO-000001… in order of end date."""
    return [
        make_episode(rng, number, end_date)
        for number, end_date in enumerate(end_dates(rng, today), start=1)
    ]


def pick_live(
    rng: random.Random, episodes: list[Episode], since: date
) -> tuple[Invitation, Invitation]:
    """The Dutch youth (16+, so the consent question shows) and parent invitations that ended
    last, among those not sent yet; made to exist in the unlikely case chance gave none."""
    recent = [e for e in episodes if e.end_date >= since and e.language == Language.NL]
    youths = [
        e
        for e in recent
        if (e.youth_age or 0) >= CONSENT_AGE
        and any(i.respondent_group == Group.YOUTH for i in e.invitations)
    ]
    episode = youths[-1] if youths else recent[-1]
    if (episode.youth_age or 0) < CONSENT_AGE:
        episode.youth_age = rng.randint(CONSENT_AGE, 17)
    youth = _invitation_of(episode, Group.YOUTH)
    parents = [e for e in recent if e is not youth.episode]
    parent = next(
        (i for e in reversed(parents) for i in e.invitations if i.respondent_group == Group.PARENT),
        None,
    )
    return youth, parent or _invitation_of(parents[-1], Group.PARENT)


def _invitation_of(episode: Episode, group: str) -> Invitation:
    """The episode's invitation for `group`, added if the episode had none."""
    for invitation in episode.invitations:
        if invitation.respondent_group == group:
            return invitation
    role = "jongere" if group == Group.YOUTH else "ouder"
    return _invite(episode, group, f"demo-{role}-{episode.external_id[5:]}@example.org")


def open_live(
    invitation: Invitation, config: Mapping[str, Any], now: datetime, until: datetime
) -> str:
    """Send `invitation` now with a token that is kept, and return its survey link."""
    token = new_token()
    invitation.token_hash = hash_token(token)
    invitation.invited_at = invitation.sent_at = now
    invitation.expires_at = until
    return survey_url(config["PUBLIC_BASE_URL"], token)


def send_history(
    rng: random.Random, invitation: Invitation, config: Mapping[str, Any], now: datetime
) -> datetime | None:
    """Mark an old invitation as sent (or bounced); return when it will be answered, if ever."""
    end = invitation.episode.end_date + timedelta(days=rng.choice((1, 1, 2)))
    invited = datetime.combine(end, time(rng.randint(7, 9), rng.randrange(60)))
    invitation.token_hash = hash_token(new_token())  # the token itself is never needed
    invitation.invited_at = invited
    invitation.expires_at = invited + timedelta(days=config["EXPIRE_AFTER_DAYS"])
    if rng.random() < BOUNCE_SHARE:
        invitation.bounced_at = invited + timedelta(minutes=rng.randint(1, 30))
        return None
    sent = invitation.sent_at = invited + timedelta(minutes=rng.randint(0, 4))
    last = min(invitation.expires_at, now) - timedelta(minutes=1)
    reminder = sent + timedelta(days=config["REMINDER_AFTER_DAYS"])
    if rng.random() >= RESPONSE_SHARE[invitation.respondent_group]:
        if rng.random() < OPENED_WITHOUT_REPLY_SHARE:
            invitation.opened_at = sent + timedelta(hours=rng.uniform(0.1, 72))
        invitation.reminded_at = reminder if reminder < last else None
        return None
    if rng.random() < 0.7 or reminder >= last:  # most answer within days of the first mail
        moment = sent + timedelta(hours=rng.expovariate(1 / 20))
    else:
        moment = reminder + (last - reminder) * rng.random() ** 2
    moment = min(moment, last)
    invitation.opened_at = max(sent, moment - timedelta(minutes=rng.uniform(2, 15)))
    invitation.reminded_at = reminder if reminder < moment else None
    return moment


def make_marks(rng: random.Random, team: str, group: str) -> dict[str, int]:
    """Correlated 1-10 marks, skewed high, a little different per team; `listened` now and then
    left out, as the optional item it is."""
    centre = 8.1 + TEAM_SHIFT[team] - (0.2 if group == Group.YOUTH else 0.0)
    experience = rng.gauss(0, 1) - (2.5 if rng.random() < 0.07 else 0.0)

    def mark() -> int:
        return max(1, min(10, round(centre + 1.2 * experience + rng.gauss(0, 0.7))))

    marks = {"self_direction": mark(), "usefulness": mark()}
    if rng.random() < 0.92:
        marks["listened"] = mark()
    return marks


def make_answers(
    rng: random.Random, invitation: Invitation, questionnaire: Questionnaire
) -> dict[str, int | str | bool | None]:
    """A made-up set of answers for one respondent, with a comment now and then."""
    marks = make_marks(rng, invitation.episode.team, invitation.respondent_group)
    answers: dict[str, int | str | bool | None] = dict(marks)
    if rng.random() < COMMENT_SHARE:
        mean = (marks["self_direction"] + marks["usefulness"]) / 2
        tone = "positive" if mean >= 7.5 else "critical" if mean <= 5.5 else "mixed"
        pool = comment_pool(invitation.respondent_group, invitation.language, tone)
        answers["comment"] = rng.choice(pool)
        shown = {item.id for item in questionnaire.items_for(invitation.episode.youth_age)}
        answers["quote_consent"] = "quote_consent" in shown and rng.random() < CONSENT_SHARE
    return answers


def submit_answers(
    session: Session, rng: random.Random, due: list[tuple[Invitation, datetime]]
) -> tuple[int, int]:
    """Store the planned responses through the real service; return (responses, comments)."""
    questionnaires = load_questionnaires()
    responses = comments = 0
    for invitation, moment in due:
        questionnaire = questionnaires[invitation.respondent_group]
        answers = make_answers(rng, invitation, questionnaire)
        if submit_response(
            session, invitation, questionnaire, answers, invitation.language, moment
        ):
            responses += 1
            comments += "comment" in answers
    return responses, comments
