"""`ervaringswijzer demo` (demo mode only)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.cli_types import TODAY, as_date
from survey.db import get_session
from survey.demo.region import DatabaseNotEmpty, load_demo


@click.command("demo")
@click.option("--seed", default=2024, show_default=True, help="Random seed of the demo data.")
@click.option("--today", type=TODAY, help="Build the 18 months of history up to this day.")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing (exit 0) when the database already holds data."
)
@with_appcontext
def demo_command(seed: int, today: object, if_empty: bool) -> None:
    """Fill an empty database with a clearly labelled synthetic region."""
    if not (current_app.config.get("DEMO_MODE") or current_app.config.get("TESTING")):
        click.echo(
            "The demo fills a database with synthetic families and published demo accounts; it "
            "only runs in demo mode (ERVARINGSWIJZER_DEMO=1, as `make run` sets), never on a "
            "production installation. Nothing was changed.",
            err=True,
        )
        sys.exit(1)
    try:
        result = load_demo(get_session(), current_app.config, seed=seed, today=as_date(today))
    except DatabaseNotEmpty:
        if if_empty:
            click.echo("The database already holds data; demo not loaded.")
            return
        click.echo(
            "The database already holds episodes; the demo only fills an empty one.", err=True
        )
        sys.exit(1)
    click.echo(result.summary(current_app.config))
