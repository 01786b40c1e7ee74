"""Import benchmark: the episode CSV import against a bare executemany of the same rows.

Product: `survey.episodes.importing.import_episodes` on a CSV of `rows` rows (streamed,
validated, all or nothing, invitations made). Baseline: the same rows (an episode and its two
invitations per line) parsed with the csv module and written with executemany — the least any
import must do. Memory: the peak of a process that imports `rows` rows, next to one that imports
a tenth as many; streaming keeps them close.

    python -m bench.import_csv DATABASE_URL --rows 300000
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from bench.common import insert_provider, median_seconds, peak_mb_of, record

HEADER = (
    "episode_id,end_date,team,municipality,care_type,youth_age,youth_email,parent_email,language"
)


def write_csv(path: Path, rows: int) -> None:
    """A realistic export: every row a trajectory with a youth and a parent address."""
    first = date(2026, 10, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for n in range(rows):
            end = first + timedelta(days=n % 50)
            out.write(
                f"EP{n:08d},{end.isoformat()},Team {n % 40:02d},Gemeente {n % 40:02d},"
                f"Begeleiding,{12 + n % 6},jongere{n}@example.org,ouder{n}@example.org,nl\n"
            )


def reset(url: str) -> None:
    import survey.models  # noqa: F401  (the tables)
    from survey.db import Base

    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()


def product(url: str, path: Path) -> None:
    import logging

    from flask import Flask
    from sqlalchemy.orm import Session

    from survey.episodes.importing import import_episodes

    logging.disable(logging.INFO)
    engine = create_engine(url)
    app = Flask("bench")  # import_episodes reads no configuration; an app context for safety
    with app.app_context(), Session(engine) as session, path.open("rb") as stream:
        result = import_episodes(session, stream)
    engine.dispose()
    assert result.episodes_new > 0


def baseline(url: str, path: Path) -> None:
    """The same rows the import writes (an episode, a youth and a parent invitation per line),
    parsed with csv and written with executemany: no validation, no duplicate checks."""
    from datetime import datetime

    from survey.models import Episode, Invitation

    engine = create_engine(url)
    now = datetime(2026, 11, 25)
    with path.open(encoding="utf-8", newline="") as stream, engine.begin() as connection:
        insert_provider(connection)
        episodes, invitations = [], []
        for number, row in enumerate(csv.DictReader(stream), start=1):
            episodes.append(
                {
                    "id": number,
                    "provider_id": 1,
                    "external_id": row["episode_id"],
                    "end_date": date.fromisoformat(row["end_date"]),
                    "team": row["team"],
                    "municipality": row["municipality"],
                    "care_type": row["care_type"],
                    "youth_age": int(row["youth_age"]),
                    "language": row["language"],
                    "imported_at": now,
                }
            )
            for group, column in (("youth", "youth_email"), ("parent", "parent_email")):
                invitations.append(
                    {
                        "episode_id": number,
                        "respondent_group": group,
                        "email": row[column],
                        "language": row["language"],
                        "created_at": now,
                    }
                )
            if len(episodes) == 5000:
                connection.execute(insert(Episode), episodes)
                connection.execute(insert(Invitation), invitations)
                episodes, invitations = [], []
        if episodes:
            connection.execute(insert(Episode), episodes)
            connection.execute(insert(Invitation), invitations)
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label", default="")
    parser.add_argument("--only-product", metavar="CSV", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only_product:
        reset(args.url)
        product(args.url, Path(args.only_product))
        return
    with tempfile.TemporaryDirectory() as folder:
        big, small = Path(folder) / "big.csv", Path(folder) / "small.csv"
        write_csv(big, args.rows)
        write_csv(small, max(1, args.rows // 10))
        base = median_seconds(lambda: baseline(args.url, big), args.runs, lambda: reset(args.url))
        made = median_seconds(lambda: product(args.url, big), args.runs, lambda: reset(args.url))
        engine = create_engine(args.url)
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM episode")).scalar()
        backend = engine.dialect.name
        engine.dispose()
        assert count == args.rows, count  # the product really imported every row
        peak = peak_mb_of("bench.import_csv", args.url, "--only-product", str(big))
        peak_small = peak_mb_of("bench.import_csv", args.url, "--only-product", str(small))
    record(
        f"import{args.label}",
        ratio=made / base,
        target="<= 3",
        baseline_s=base,
        product_s=made,
        peak_mb=peak,
        peak_mb_tenth=peak_small,
        rows=args.rows,
        backend=backend,
    )


if __name__ == "__main__":
    sys.exit(main())
