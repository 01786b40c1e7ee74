"""`ervaringswijzer infoblad` (DESIGN §4.2): the section of one publication period."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import with_appcontext

from analysis.publication import PeriodError
from survey.cli_types import TODAY, as_date, write_output
from survey.db import get_session
from survey.infoblad import render as infoblad
from survey.infoblad import startfoto
from survey.region.operations import find_municipality
from survey.reporting.cli import resolve_scope
from survey.reporting.dimensions import ReportError
from survey.reporting.publication import resolve_period

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ["md", "html", "docx"]


def document_options(command: F) -> F:
    """The options of a document of one publication period: --from/--to or --period, --format
    (md, html, docx) and --output."""
    for option in reversed(
        (
            click.option(
                "--from", "start", type=TODAY, help="First day of the period (YYYY-MM-DD)."
            ),
            click.option("--to", "end", type=TODAY, help="Last day of the period (YYYY-MM-DD)."),
            click.option(
                "--period",
                "period_key",
                help="2026-03, 2026-Q1, 2026-H1 or 2026 (default: the year of the newest data).",
            ),
            click.option(
                "--format", "fmt", type=click.Choice(["md", "html", "docx"]), default="md"
            ),
            click.option("--output", type=click.Path(dir_okay=False, path_type=Path)),
        )
    ):
        command = option(command)
    return command


@click.command("infoblad")
@document_options
@click.option("--municipality", metavar="NAME", help="Only this municipality's families.")
@click.option("--provider", metavar="SLUG", help="Only this provider's families.")
@with_appcontext
def infoblad_command(
    start: object,
    end: object,
    period_key: str | None,
    fmt: str,
    output: Path | None,
    municipality: str | None,
    provider: str | None,
) -> None:
    """The infoblad section for a publication period (a calendar month, quarter, half year or
    year): intro, results table, chart and approved quotes — of the region, or of one
    municipality's or provider's families."""
    try:
        period = resolve_period(get_session(), as_date(start), as_date(end), period_key)
        where = resolve_scope(("group",), municipality, provider)
    except (PeriodError, ReportError) as problem:
        raise click.UsageError(str(problem)) from None
    section = infoblad.build_section(get_session(), current_app.config, period, where)
    write_output(infoblad.SECTION_FORMATS[fmt](section), output)


@click.command("startfoto")
@click.option("--municipality", required=True, metavar="NAME", help="A municipality on the list.")
@document_options
@with_appcontext
def startfoto_command(
    municipality: str,
    start: object,
    end: object,
    period_key: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """The startfoto of a municipality for a publication period: response and marks per group
    with the region beside them, representativeness, and the approved quotes of its families."""
    session = get_session()
    found = find_municipality(session, municipality)
    if found is None:
        raise click.UsageError(
            f"{municipality!r} is not on the municipality list (ervaringswijzer municipalities "
            "list)"
        )
    try:
        period = resolve_period(session, as_date(start), as_date(end), period_key)
    except PeriodError as problem:
        raise click.UsageError(str(problem)) from None
    k = current_app.config["MIN_CELL_SIZE"]
    picture = startfoto.build_startfoto(session, current_app.config, period, found.name)
    write_output(startfoto.STARTFOTO_FORMATS[fmt](picture, k), output)
