"""`ervaringswijzer send` and `ervaringswijzer worker` (DESIGN §4.2)."""

from __future__ import annotations

import contextlib
import sys
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.cli_types import TODAY, as_date
from survey.db import get_session
from survey.mail.outbox import DeliveryResult
from survey.mail.worker import run_worker, send_once
from survey.quotes.operations import prepare_comments


@click.command("send")
@click.option("--today", type=TODAY, help="Act as if it is this day (YYYY-MM-DD).")
@with_appcontext
def send_command(today: object) -> None:
    """Create due invitation messages, deliver the outbox once, de-identify new comments."""
    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def start(due: int) -> None:
            bar = click.progressbar(length=due, label="Sending", file=sys.stderr)
            bars.append(stack.enter_context(bar))

        result = send_once(
            get_session(),
            current_app.config,
            as_date(today) or date.today(),
            on_start=start,
            on_message=lambda: bars[0].update(1),
        )
    click.echo(result.summary())
    prepared = prepare_comments(get_session(), current_app.config["PROVIDER_NAME"])
    if prepared:
        click.echo(f"De-identified {prepared} new comment(s) for review.")


@click.command("worker")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes.")
@click.option("--until-empty", is_flag=True, help="Stop once nothing is due (cron, tests).")
@with_appcontext
def worker_command(interval: float, until_empty: bool) -> None:
    """Keep delivering the outbox; any number of workers may run at once on PostgreSQL."""

    def report(result: DeliveryResult) -> None:
        click.echo(
            f"delivered {result.delivered}, reminders {result.reminders}, "
            f"retried {result.retried}, bounced {result.bounced}"
        )

    totals = run_worker(
        get_session(),
        current_app.config,
        interval=interval,
        until_empty=until_empty,
        report=report,
    )
    click.echo(
        f"Worker stopped. Delivered {totals.delivered}, reminders {totals.reminders}, "
        f"retried {totals.retried}, bounced {totals.bounced}, failed {totals.failed}."
    )
