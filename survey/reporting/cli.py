"""`ervaringswijzer report` (DESIGN §4.2, §4.4)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from analysis.publication import PeriodError
from survey.cli_types import TODAY, as_date, write_output
from survey.db import get_session
from survey.models import Provider
from survey.region.operations import find_municipality
from survey.reporting.cohorts import cohort_rows, report_rows, with_provider_names
from survey.reporting.dimensions import Period, ReportError, parse_dimensions, place_dimensions
from survey.reporting.exports import EXPORT_COLUMNS, render_report
from survey.reporting.publication import resolve_period
from survey.reporting.spreadsheets import people_csv, workbook


@click.command("report")
@click.option("--by", "by", default="", help="Dimensions, e.g. group or group,quarter.")
@click.option("--from", "start", type=TODAY, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", type=TODAY, help="Last day of the period (YYYY-MM-DD).")
@click.option(
    "--period",
    "period_key",
    help="A month, quarter, half year or year: 2026-03, 2026-Q1, 2026-H1 or 2026 "
    "(default: the year of the newest data).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "csv-nl", "json", "md", "xlsx"]),
    default="table",
    show_default=True,
    help="csv: for scripts (column names, dot decimals); csv-nl: for people in a Dutch "
    "spreadsheet (;, comma decimals, Dutch labels); xlsx: the Excel workbook of the web "
    "(needs --output).",
)
@click.option(
    "--municipality",
    metavar="NAME",
    help="Only this municipality's trajectories (a name on the municipality list).",
)
@click.option(
    "--provider",
    metavar="SLUG",
    help="Only this provider's trajectories (a slug of ervaringswijzer providers list).",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@with_appcontext
def report_command(
    by: str,
    start: object,
    end: object,
    period_key: str | None,
    fmt: str,
    municipality: str | None,
    provider: str | None,
    output: Path | None,
) -> None:
    """Response rates and marks per cohort, with disclosure control (DESIGN §4.4).

    Figures are published per calendar month, quarter, half year or year only: --from and --to
    must span exactly one of them (free dates would let two reports be subtracted).
    """
    try:
        dims = parse_dimensions(by)
        chosen = resolve_period(get_session(), as_date(start), as_date(end), period_key)
        period = Period.of(chosen)
        where = resolve_scope(dims, municipality, provider)
    except (ReportError, PeriodError) as problem:
        raise click.UsageError(str(problem)) from None
    k = current_app.config["MIN_CELL_SIZE"]
    if fmt in ("csv-nl", "xlsx"):
        # Every figure and every margin, as the web's download of the same breakdown.
        rows = cohort_rows(get_session(), dims, period, k, margins=True, where=where)
        rows = with_provider_names(get_session(), rows)
        if fmt == "xlsx":
            label = chosen.label("nl") + "".join(
                f", {word} {where[key]}"
                for key, word in (("provider", "zorgaanbieder"), ("municipality", "gemeente"))
                if key in where
            )
            body: str | bytes = workbook(rows, dims, EXPORT_COLUMNS, k, period=label)
        else:
            body = people_csv(rows, dims, EXPORT_COLUMNS)
        write_output(body, output)
        return
    rows = report_rows(get_session(), dims, period, k, where=where)
    if fmt in ("table", "md"):  # for people: providers by name (json and csv keep the slug)
        rows = with_provider_names(get_session(), rows)
    text = render_report(rows, dims, fmt, k)
    write_output(text if fmt == "csv" else text + "\n", output)


def resolve_scope(
    dims: tuple[str, ...], municipality: str | None, provider: str | None
) -> dict[str, str]:
    """The filters of `--municipality` and `--provider`: a name on the list (its own
    spelling) and a provider's slug, with a breakdown that stays within two of team (or
    provider), municipality and care type."""
    where: dict[str, str] = {}
    session = get_session()
    if provider is not None:
        if session.scalar(select(Provider).where(Provider.slug == provider)) is None:
            raise ReportError(f"{provider!r} is not a provider (ervaringswijzer providers list)")
        if "provider" in dims:
            raise ReportError("--provider and a breakdown by provider cannot go together")
        where["provider"] = provider
    if municipality is not None:
        found = find_municipality(session, municipality)
        if found is None:
            raise ReportError(
                f"{municipality!r} is not on the municipality list (ervaringswijzer "
                "municipalities list)"
            )
        if "municipality" in dims:
            raise ReportError("--municipality and a breakdown by municipality cannot go together")
        where["municipality"] = found.name
    if len(place_dimensions([*dims, *where])) > 2:
        flags = " and ".join(f"--{key}" for key in where)
        free = [d for d in ("team", "municipality", "care_type") if d not in where]
        raise ReportError(
            f"with {flags}, at most one of {', '.join(free[:-1])} and {free[-1]}"
            + (" (a team beside its provider adds nothing)" if "provider" in where else "")
            + ": finer tables would single out families"
        )
    return where
