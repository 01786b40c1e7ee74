"""The `ervaringswijzer` command group (DESIGN §4.2): a Flask CLI, so `ervaringswijzer run` serves.

Commands are thin: parse options, call a service function, print a summary. Exit codes: 0 on
success, 1 when the input was refused (the messages say why), 2 for usage errors (click).
"""

from __future__ import annotations

import copy
import functools
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from survey.db import get_session

TODAY = click.DateTime(formats=["%Y-%m-%d"])


def _today(value: object) -> date | None:
    return value.date() if value is not None else None  # type: ignore[attr-defined]


# -- db ---------------------------------------------------------------------------------------

db_group = click.Group("db", help="Database schema (Alembic migrations).")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema."""
    from survey.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database is at revision {revision}.")


# -- import -----------------------------------------------------------------------------------


@click.command("import-episodes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_episodes_command(file: Path) -> None:
    """Import ended care trajectories from a CSV file (all or nothing)."""
    from survey.episodes import ImportRejected, count_data_lines, import_episodes

    total = count_data_lines(file)
    with (
        file.open("rb") as stream,
        click.progressbar(length=total, label="Importing", file=sys.stderr, show_pos=True) as bar,
    ):
        progress = bar.update if total >= 2000 else None
        try:
            result = import_episodes(get_session(), stream, progress=progress)
        except ImportRejected as rejected:
            click.echo(f"Import refused: {rejected.summary()}. Nothing was saved.", err=True)
            for error in rejected.errors:
                click.echo(f"  {error}", err=True)
            sys.exit(1)
    click.echo(result.summary())


# -- send -------------------------------------------------------------------------------------


@click.command("send")
@click.option("--today", type=TODAY, help="Act as if it is this day (YYYY-MM-DD).")
@with_appcontext
def send_command(today: object) -> None:
    """Create due invitation messages, deliver the outbox once, de-identify new comments."""
    from survey.quotes import prepare_comments
    from survey.sending import send_once

    result = send_once(get_session(), current_app.config, _today(today) or date.today())
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
    from survey.sending import run_worker

    def report(result: object) -> None:
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


@click.command("purge")
@click.option("--today", type=TODAY, help="Act as if it is this day (YYYY-MM-DD).")
@with_appcontext
def purge_command(today: object) -> None:
    """Erase contact data, old answers and old audit events past retention; mix recent answers."""
    from survey.invitations import clock
    from survey.retention import purge

    result = purge(get_session(), current_app.config, clock(_today(today)))
    click.echo(result.summary())


users_group = click.Group("users", help="Staff accounts.")


@users_group.command("create")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "quality", "communications", "viewer"])
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff account (the password is asked for, or read from stdin)."""
    from survey import audit
    from survey.staff.accounts import AccountError, create_user
    from survey.staff.passwords import WeakPassword

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    session = get_session()
    try:
        user = create_user(session, email, role, password)
    except WeakPassword as weak:
        reasons = {
            "too_short": "use at least 12 characters",
            "too_long": "use at most 128 characters",
            "too_common": "it is on the list of common passwords",
        }
        click.echo(f"Password refused: {reasons.get(str(weak), str(weak))}.", err=True)
        sys.exit(1)
    except AccountError as refused:
        reasons = {"email": "not a valid email address", "exists": "the account exists"}
        click.echo(f"Account refused: {reasons.get(refused.code, refused.code)}.", err=True)
        sys.exit(1)
    audit.record(
        session,
        "user created",
        object_type="user",
        object_id=user.id,
        detail=f"role {role} (command line)",
    )
    click.echo(
        f"Created {user.email} with role {role}. The authenticator app is set up at the "
        "first sign-in."
    )


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
    type=click.Choice(["table", "csv", "json", "md"]),
    default="table",
    show_default=True,
)
@with_appcontext
def report_command(by: str, start: object, end: object, period_key: str | None, fmt: str) -> None:
    """Response rates and marks per cohort, with disclosure control (DESIGN §4.4).

    Figures are published per calendar month, quarter, half year or year only: --from and --to
    must span exactly one of them (free dates would let two reports be subtracted).
    """
    from analysis.publication import PeriodError
    from survey.publication import resolve_period
    from survey.report_output import render_report
    from survey.reports import Period, ReportError, parse_dimensions, report_rows

    try:
        dims = parse_dimensions(by)
        chosen = resolve_period(get_session(), _today(start), _today(end), period_key)
        period = Period.of(chosen)
    except (ReportError, PeriodError) as problem:
        raise click.UsageError(str(problem)) from None
    k = current_app.config["MIN_CELL_SIZE"]
    rows = report_rows(get_session(), dims, period, k)
    click.echo(render_report(rows, dims, fmt, k), nl=fmt != "csv")


# -- demo -------------------------------------------------------------------------------------


@click.command("demo")
@click.option("--seed", default=2024, show_default=True, help="Random seed of the demo data.")
@click.option("--today", type=TODAY, help="Build the 18 months of history up to this day.")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing (exit 0) when the database already holds data."
)
@with_appcontext
def demo_command(seed: int, today: object, if_empty: bool) -> None:
    """Fill an empty database with a clearly labelled synthetic region."""
    from survey.demo import DatabaseNotEmpty, load_demo

    if not (current_app.config.get("DEMO_MODE") or current_app.config.get("TESTING")):
        click.echo(
            "The demo fills a database with synthetic families and published demo accounts; it "
            "only runs in demo mode (ERVARINGSWIJZER_DEMO=1, as `make run` sets), never on a "
            "production installation. Nothing was changed.",
            err=True,
        )
        sys.exit(1)
    try:
        result = load_demo(get_session(), current_app.config, seed=seed, today=_today(today))
    except DatabaseNotEmpty:
        if if_empty:
            click.echo("The database already holds data; demo not loaded.")
            return
        click.echo(
            "The database already holds episodes; the demo only fills an empty one.", err=True
        )
        sys.exit(1)
    click.echo(result.summary(current_app.config))


def init_app(app: Flask) -> None:
    """Register the commands on the app's CLI group."""
    from survey.quotes_cli import infoblad_command, quotes_group

    commands = (
        db_group,
        import_episodes_command,
        send_command,
        worker_command,
        purge_command,
        users_group,
        report_command,
        demo_command,
        quotes_group,
        infoblad_command,
    )
    for command in commands:
        app.cli.add_command(command)


def create_cli_app() -> Flask:
    """The app for the console script (environment configuration only)."""
    from survey import create_app

    return create_app()


# -- check and run (on the group itself: they must work when the configuration does not) ---------


@click.command("check")
def check_command() -> None:
    """Tell whether this installation is healthy: configuration, database, Redis, mail relay."""
    from survey.health import Status, format_checks, run_checks

    checks = run_checks()
    click.echo(format_checks(checks))
    failed = [check.name for check in checks if check.status is Status.FAILED]
    if failed:
        click.echo(f"\nNot healthy: {', '.join(failed)}.", err=True)
        sys.exit(1)
    click.echo("\nHealthy.")


def _guarded_run_command() -> click.Command:
    """Flask's `run`, refusing the interactive debugger on a production configuration."""
    from flask.cli import ScriptInfo, run_command

    command = copy.copy(run_command)
    serve = run_command.callback
    assert serve is not None

    @functools.wraps(serve)
    def callback(**options: Any) -> Any:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        if options.get("debugger") and app.config.get("PRODUCTION"):
            raise click.UsageError(
                "--debugger on a production configuration (SECRET_KEY or an https "
                "PUBLIC_BASE_URL is set) would let anyone who reaches an error page run code on "
                "the server. Serve production with gunicorn (see the README, Production)."
            )
        return serve(**options)

    command.callback = callback
    return command


cli = FlaskGroup(
    name="ervaringswijzer",
    create_app=create_cli_app,
    add_version_option=False,
    add_default_commands=False,
    load_dotenv=False,
    help="Ervaringswijzer: end-of-care surveys for youth care.",
)
cli.add_command(_guarded_run_command())
cli.add_command(check_command)


def _add_flask_commands() -> None:
    from flask.cli import routes_command, shell_command

    cli.add_command(shell_command)
    cli.add_command(routes_command)


_add_flask_commands()


def main() -> None:
    """Console-script entry point: a refused configuration is a message, not a traceback."""
    from survey.config import ConfigError

    try:
        cli.main(prog_name="ervaringswijzer")
    except ConfigError as refused:
        click.echo(f"Configuration refused: {refused}", err=True)
        sys.exit(1)
    except SystemExit as done:
        if "deduce" in sys.modules:
            _exit_without_teardown(done.code)
        raise


def _exit_without_teardown(code: object) -> None:
    """End a process that loaded deduce without freeing its lookup structures one by one.

    Tearing down the interpreter after de-identification costs over ten seconds of CPU (millions
    of small objects), for every `send`, `worker` restart and `quotes prepare`. Everything that
    matters is done first: the work is committed, database connections are closed, logs and
    output are flushed.
    """
    import contextlib
    import logging
    import os

    from survey.db import dispose_engines

    if isinstance(code, str):
        click.echo(code, err=True)
        code = 1
    dispose_engines()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`… | head`)
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)
