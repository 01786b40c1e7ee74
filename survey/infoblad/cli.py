"""`ervaringswijzer infoblad` (DESIGN §4.2): the section of one publication period."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from analysis.publication import PeriodError
from survey.cli_types import TODAY, as_date, write_output
from survey.db import get_session
from survey.infoblad import render as infoblad
from survey.reporting.publication import resolve_period


@click.command("infoblad")
@click.option("--from", "start", type=TODAY, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", type=TODAY, help="Last day of the period (YYYY-MM-DD).")
@click.option(
    "--period",
    "period_key",
    help="2026-03, 2026-Q1, 2026-H1 or 2026 (default: the year of the newest data).",
)
@click.option("--format", "fmt", type=click.Choice(["md", "html", "docx"]), default="md")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def infoblad_command(
    start: object, end: object, period_key: str | None, fmt: str, output: Path | None
) -> None:
    """The infoblad section for a publication period (a calendar month, quarter, half year or
    year): intro, results table, chart and approved quotes."""
    try:
        period = resolve_period(get_session(), as_date(start), as_date(end), period_key)
    except PeriodError as problem:
        raise click.UsageError(str(problem)) from None
    section = infoblad.build_section(get_session(), current_app.config, period)
    write_output(infoblad.SECTION_FORMATS[fmt](section), output)
