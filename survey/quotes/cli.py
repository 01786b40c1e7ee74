"""`ervaringswijzer quotes prepare|list|export` (DESIGN §4.2)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.cli_types import write_output
from survey.db import get_session
from survey.enums import QuoteStatus
from survey.quotes import exports
from survey.quotes import operations as quotes
from survey.quotes.operations import QuoteFilter, comments, prepare_comments, quote_records

quotes_group = click.Group("quotes", help="Quote candidates: de-identify, list, export.")


@quotes_group.command("prepare")
@with_appcontext
def quotes_prepare() -> None:
    """De-identify comments that arrived since the last run (the worker does this too)."""
    done = prepare_comments(get_session(), current_app.config["PROVIDER_NAME"])
    click.echo(f"De-identified {done} comment(s).")


@quotes_group.command("list")
@click.option("--status", type=click.Choice([status.value for status in QuoteStatus]))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_appcontext
def quotes_list(status: str | None, fmt: str) -> None:
    """Quote candidates with their de-identified text (never the original)."""
    records = quote_records(comments(get_session(), QuoteFilter(status=status)))
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for record in records:
        flag = " [!]" if record["safety_flag"] else ""
        click.echo(
            f"{record['id']}  {record['group']:<6}  {record['status']:<8}{flag}  {record['text']}"
        )


@quotes_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["md", "docx", "csv"]), default="md")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def quotes_export(fmt: str, output: Path | None) -> None:
    """Approved quotes only, attributed as "ouder" or "jongere", with the source line naming
    the providers of the families quoted."""
    approved = quotes.approved(get_session(), current_app.config["MIN_CELL_SIZE"])
    write_output(exports.QUOTE_FORMATS[fmt](approved), output)
