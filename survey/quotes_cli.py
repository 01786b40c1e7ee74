"""`ervaringswijzer quotes …` and `ervaringswijzer infoblad` (DESIGN §4.2)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.cli import TODAY, _today
from survey.db import get_session

quotes_group = click.Group("quotes", help="Quote candidates: de-identify, list, export.")


@quotes_group.command("prepare")
@with_appcontext
def quotes_prepare() -> None:
    """De-identify comments that arrived since the last run (the worker does this too)."""
    from survey.quotes import prepare_comments

    done = prepare_comments(get_session(), current_app.config["PROVIDER_NAME"])
    click.echo(f"De-identified {done} comment(s).")


@quotes_group.command("list")
@click.option("--status", type=click.Choice(["new", "approved", "rejected"]))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def quotes_list(status: str | None, fmt: str) -> None:
    """Quote candidates with their de-identified text (never the original)."""
    from survey.quotes import QuoteFilter, comments, quote_records

    records = quote_records(comments(get_session(), QuoteFilter(status=status)))
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for record in records:
        flag = " [!]" if record["safety_flag"] else ""
        click.echo(
            f"{record['id']}  {record['group']:<6}  {record['status']:<8}{flag}  {record['text']}"
        )


def _write(body: str | bytes, output: Path | None) -> None:
    """Write to `output`, or to standard output (text only)."""
    if output is not None:
        if isinstance(body, bytes):
            output.write_bytes(body)
        else:
            output.write_text(body, encoding="utf-8")
        click.echo(f"Written to {output}.", err=True)
    elif isinstance(body, bytes):
        raise click.UsageError("--format docx writes a file: give --output FILE")
    else:
        click.echo(body, nl=False)


@quotes_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["md", "docx", "csv"]), default="md")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def quotes_export(fmt: str, output: Path | None) -> None:
    """Approved quotes only, attributed as "ouder" or "jongere", with the source line."""
    from survey import infoblad, quotes

    approved = quotes.approved(get_session(), current_app.config["MIN_CELL_SIZE"])
    provider = current_app.config["PROVIDER_NAME"]
    _write(infoblad.QUOTE_FORMATS[fmt](approved, provider), output)


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
    from analysis.publication import PeriodError
    from survey import infoblad
    from survey.publication import resolve_period

    try:
        period = resolve_period(get_session(), _today(start), _today(end), period_key)
    except PeriodError as problem:
        raise click.UsageError(str(problem)) from None
    section = infoblad.build_section(get_session(), current_app.config, period)
    _write(infoblad.SECTION_FORMATS[fmt](section), output)
