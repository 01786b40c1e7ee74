"""Report benchmark: the cohort report at national scale against its own bare GROUP BYs.

Data: `responses` responses and 3.3 × as many sent invitations, spread over 2 groups × 60 months
× 40 teams × 40 municipalities × 6 care types, written straight into the tables in large batches
(the import path has its own benchmark). Product: `survey.reporting.cohorts.cohort_rows` by
group × quarter × team — the two SQL queries, pandas, margins and disclosure control, what the
dashboard's breakdown shows. Baseline: the same two SQL statements executed bare through the
DBAPI cursor, rows fetched and nothing else. Also: the dashboard page as a signed-in quality
user sees it, and the peak memory of a process that only builds the report.

    python -m bench.report DATABASE_URL --responses 1000000
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import create_engine, insert, text

from bench.common import (
    BENCH_MFA_KEY,
    BENCH_SECRET_KEY,
    insert_provider,
    median_seconds,
    peak_mb_of,
    record,
)

GROUPS = ("youth", "parent")
TEAMS = tuple(f"Team {n:02d}" for n in range(40))
MUNICIPALITIES = tuple(f"Gemeente {n:02d}" for n in range(40))
CARE_TYPES = ("Begeleiding", "Behandeling", "Verblijf", "Crisis", "Diagnostiek", "Gezinshuis")
FIRST_MONTH = date(2021, 1, 1)
MONTHS = 60
BATCH = 20_000
DIMS = ("group", "quarter", "team")


def month(index: int) -> date:
    year, zero_based = divmod(FIRST_MONTH.month - 1 + index, 12)
    return date(FIRST_MONTH.year + year, zero_based + 1, 1)


def fill(url: str, responses: int, seed: int = 8) -> None:
    """Create the schema and write the synthetic region (episodes, invitations, responses)."""
    from survey.cells import create_triggers, drop_triggers, rebuild
    from survey.db import Base
    from survey.models import Episode, Invitation, Response, ResponseAnswer

    rng = random.Random(seed)
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        drop_triggers(connection)  # a bulk load, as before a migration: the cells come after
    invitations = int(responses * 3.3)
    now = datetime(2026, 1, 1)
    answered = 0
    with engine.begin() as connection:
        insert_provider(connection)
        for start in range(0, invitations, BATCH):
            size = min(BATCH, invitations - start)
            episodes, sent, replies, answers = [], [], [], []
            for offset in range(size):
                number = start + offset + 1
                end = month(rng.randrange(MONTHS)) + timedelta(days=rng.randrange(28))
                team, place = rng.choice(TEAMS), rng.choice(MUNICIPALITIES)
                care, group = rng.choice(CARE_TYPES), rng.choice(GROUPS)
                episodes.append(
                    {
                        "id": number,
                        "provider_id": 1,
                        "external_id": f"E{number}",
                        "end_date": end,
                        "team": team,
                        "municipality": place,
                        "care_type": care,
                        "youth_age": 15,
                        "language": "nl",
                        "imported_at": now,
                    }
                )
                responds = answered < responses and rng.random() < responses / invitations * 1.02
                sent.append(
                    {
                        "id": number,
                        "episode_id": number,
                        "respondent_group": group,
                        "language": "nl",
                        "created_at": now,
                        "invited_at": now,
                        "sent_at": now,
                        "opened_at": now if responds or rng.random() < 0.3 else None,
                        "reminded_at": now if rng.random() < 0.7 else None,
                        "responded_at": now + timedelta(days=8) if responds else None,
                        "bounced_at": now if not responds and rng.random() < 0.02 else None,
                    }
                )
                if responds:
                    answered += 1
                    rid = str(uuid.UUID(int=rng.getrandbits(128)))
                    replies.append(
                        {
                            "id": rid,
                            "provider_id": 1,
                            "respondent_group": group,
                            "team": team,
                            "municipality": place,
                            "care_type": care,
                            "end_month": end.replace(day=1),
                            "submitted_month": end.replace(day=1),
                            "questionnaire_key": group,
                            "questionnaire_version": 1,
                            "language": "nl",
                        }
                    )
                    for item in ("self_direction", "usefulness"):
                        answers.append(
                            {
                                "response_id": rid,
                                "item_id": item,
                                "value_int": min(10, max(1, round(rng.gauss(7.8, 1.4)))),
                            }
                        )
            connection.execute(insert(Episode), episodes)
            connection.execute(insert(Invitation), sent)
            if replies:
                connection.execute(insert(Response), replies)
                connection.execute(insert(ResponseAnswer), answers)
    started = time.perf_counter()
    with engine.begin() as connection:
        create_triggers(connection)
        rebuild(connection)  # what the migration's back-fill does at this size
    rebuilt = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    print(
        f"[bench] filled {invitations} invitations, {answered} responses; "
        f"cells rebuilt in {rebuilt:.1f} s",
        flush=True,
    )


def period() -> object:
    """The newest whole year of the data: figures are published per fixed period only."""
    from analysis.publication import PublicationPeriod
    from survey.reporting.dimensions import Period

    return Period.of(PublicationPeriod(month(MONTHS - 1).year, "year"))


def product(url: str) -> None:
    from sqlalchemy.orm import Session

    from survey.reporting.cohorts import cohort_rows

    engine = create_engine(url)
    with Session(engine) as session:
        # The first run also decides the year's suppression pattern (the worker does that in
        # production, once per change of the year's cells); later runs read it from the cache.
        rows = cohort_rows(session, DIMS, period(), 5)
    engine.dispose()
    assert rows


def baseline_statements(url: str) -> list[str]:
    """The report's own two SQL statements, compiled with their parameters inlined."""
    from survey.reporting.queries import funnel_query, mark_query

    engine = create_engine(url)
    queries = [funnel_query(DIMS, period()), mark_query(DIMS, period())]
    compiled = [str(q.compile(engine, compile_kwargs={"literal_binds": True})) for q in queries]
    engine.dispose()
    return compiled


def baseline(url: str, statements: list[str]) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        for statement in statements:
            cursor.execute(statement)
            assert cursor.fetchall()
        cursor.close()
    engine.dispose()


def dashboard_seconds(url: str, runs: int) -> dict[str, float]:
    """The dashboard page as a signed-in quality user gets it (medians of `runs`): alone, with
    its charts, and broken down by the largest pair of dimensions."""
    import tempfile

    from survey import create_app
    from survey.accounts.users import create_user
    from survey.db import get_session

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "TESTING": False,
                "SECRET_KEY": BENCH_SECRET_KEY,
                "MFA_ENCRYPTION_KEY": BENCH_MFA_KEY,
                "DATABASE_URL": url,
                "REQUIRE_MFA": False,
                "PUBLIC_BASE_URL": "https://bench.test",
                "MAIL_FILE_DIR": folder,
                "SESSION_COOKIE_SECURE": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            create_user(get_session(), "bench@example.org", "quality", "een lang bench wachtwoord")
            get_session().commit()
        client = app.test_client()
        page = client.get("/staff/login").get_data(as_text=True)
        field = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page).group(0)
        token = re.search(r'value="([^"]+)"', field).group(1)
        signed_in = client.post(
            "/staff/login",
            data={
                "csrf_token": token,
                "email": "bench@example.org",
                "password": "een lang bench wachtwoord",
            },
        )
        assert signed_in.status_code == 302, signed_in.status_code

        def page(query: str) -> str:
            answer = client.get(f"/staff/dashboard/?{query}")
            assert answer.status_code == 200, answer.status_code
            return answer.get_data(as_text=True)

        def with_charts(query: str) -> None:
            # The page, then each chart its browser asks for (4: their data come from the
            # same cells, so they cost what the page costs again, one cube each).
            specs = re.findall(r'data-spec-url="([^"]+)"', page(query))
            assert len(specs) == 4, specs
            for spec in specs:
                answer = client.get(spec.replace("&amp;", "&"))
                assert answer.status_code == 200, answer.status_code

        seconds = {
            "page": median_seconds(lambda: page("by=team"), runs),
            "with_charts": median_seconds(lambda: with_charts("by=team"), runs),
            # The largest pair of dimensions: teams × municipalities.
            "largest": median_seconds(lambda: page("by=team&by2=municipality"), runs),
        }
        app.extensions["db_engine"].dispose()
        return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--responses", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--only-product", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only_product:
        product(args.url)
        return
    fill(args.url, args.responses)
    statements = baseline_statements(args.url)
    baseline(args.url, statements)  # warm the caches once for both
    base = median_seconds(lambda: baseline(args.url, statements), args.runs)
    made = median_seconds(lambda: product(args.url), args.runs)
    peak = peak_mb_of("bench.report", args.url, "--only-product")
    dashboard = dashboard_seconds(args.url, args.runs)
    record(
        f"report{args.label}",
        ratio=made / base,
        target="<= 1.5",
        baseline_s=base,
        product_s=made,
        peak_mb=peak,
        peak_target="< 300",
        dashboard_s=dashboard["page"],
        dashboard_target="< 1.0 on PostgreSQL",
        dashboard_with_charts_s=dashboard["with_charts"],
        dashboard_team_by_municipality_s=dashboard["largest"],
        responses=args.responses,
        backend=create_engine(args.url).dialect.name,
    )


if __name__ == "__main__":
    sys.exit(main())
