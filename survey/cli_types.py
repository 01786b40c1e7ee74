"""What the command modules of every feature share: the date option and writing output."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

TODAY = click.DateTime(formats=["%Y-%m-%d"])
"""A `--today`, `--from` or `--to` option: one day, YYYY-MM-DD."""


def as_date(value: object) -> date | None:
    """The day a `TODAY` option was given as, or None when it was left out."""
    return value.date() if value is not None else None  # type: ignore[attr-defined]


def write_output(body: str | bytes, output: Path | None) -> None:
    """Write to `output`, or to standard output (text only)."""
    if output is not None:
        if isinstance(body, bytes):
            output.write_bytes(body)
        else:
            output.write_text(body, encoding="utf-8")
        click.echo(f"Written to {output}.", err=True)
    elif isinstance(body, bytes):
        raise click.UsageError("this format is a binary file (Word or Excel): give --output FILE")
    else:
        click.echo(body, nl=False)
