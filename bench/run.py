"""Run every benchmark on SQLite and PostgreSQL: `make bench` (full size) or `make bench-quick`.

Each benchmark prints its figures and merges them into bench/results.json; bench/RESULTS.md keeps
the table of the latest full run. PostgreSQL is BENCH_DATABASE_URL (default: the local test
database, in a schema of its own that is dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SIZES = {
    "full": {"responses": 1_000_000, "rows": 300_000, "messages": 20_000, "submissions": 3_000},
    "quick": {"responses": 50_000, "rows": 30_000, "messages": 2_000, "submissions": 500},
}
BENCHMARKS = ("report", "import", "mail", "submissions", "publication")


def postgres_schema_url(base: str) -> tuple[str, str]:
    """A URL whose tables live in a new schema of `base` (so nothing else is touched)."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(base: str, schema: str) -> None:
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--only", choices=BENCHMARKS, action="append")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    postgres = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    from bench import import_csv, mail, publication, report, submissions

    chosen = args.only or BENCHMARKS
    if "publication" in chosen:  # no database: once, not per backend
        publication.main(["--size", args.size])
        if set(chosen) == {"publication"}:
            return

    for backend in args.backend or ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory() as folder:
            if backend == "sqlite":
                url, schema = f"sqlite:///{folder}/bench.db", None
            else:
                url, schema = postgres_schema_url(postgres)
            label = f"/{backend}/{args.size}"
            try:
                if "report" in chosen:
                    report.main([url, "--responses", str(size["responses"]), "--label", label])
                if "import" in chosen:
                    import_csv.main([url, "--rows", str(size["rows"]), "--label", label])
                if "mail" in chosen:
                    mail.main([url, "--messages", str(size["messages"]), "--label", label])
                if "submissions" in chosen and backend == "postgresql":
                    # gunicorn with several workers is a PostgreSQL set-up only.
                    count = str(size["submissions"])
                    submissions.main([url, "--submissions", count, "--label", label])
            finally:
                if schema:
                    drop_schema(postgres, schema)


if __name__ == "__main__":
    sys.exit(main())
