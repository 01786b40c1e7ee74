"""`ervaringswijzer purge` (DESIGN §4.2): retention, run daily."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.cli_types import TODAY, as_date
from survey.db import get_session
from survey.invitations.operations import clock
from survey.retention.purge import purge


@click.command("purge")
@click.option("--today", type=TODAY, help="Act as if it is this day (YYYY-MM-DD).")
@with_appcontext
def purge_command(today: object) -> None:
    """Erase contact data, old answers and old audit events past retention; mix recent answers."""
    result = purge(get_session(), current_app.config, clock(as_date(today)))
    click.echo(result.summary())
