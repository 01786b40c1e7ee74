"""The `ervaringswijzer` command group (DESIGN §4.2): a Flask CLI, so `ervaringswijzer run` serves.

Commands are thin: parse options, call a service function, print a summary. Exit codes: 0 on
success, 1 when the input was refused (the messages say why), 2 for usage errors (click).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import (
    FlaskGroup,
    ScriptInfo,
    routes_command,
    run_command,
    shell_command,
    with_appcontext,
)

from survey import create_app
from survey.config import ConfigError
from survey.db import dispose_engines
from survey.demo.cli import demo_command
from survey.episodes.cli import import_episodes_command
from survey.infoblad.cli import infoblad_command, startfoto_command
from survey.mail.cli import send_command, worker_command
from survey.quotes.cli import quotes_group
from survey.region.cli import municipalities_group, providers_group
from survey.reporting.cli import report_command
from survey.retention.cli import purge_command
from survey.users_cli import users_group
from survey.web.health import Status, format_checks, run_checks

# -- db ---------------------------------------------------------------------------------------

db_group = click.Group("db", help="Database schema (Alembic migrations).")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the database schema."""
    from survey.migrate import upgrade  # heavy (alembic, ~0.1 s): only for `db upgrade`

    config = current_app.config
    cipher = current_app.extensions["mfa_cipher"]
    upgrade(config["DATABASE_URL"], revision, config["PROVIDER_NAME"], mfa_cipher=cipher)
    click.echo(f"Database is at revision {revision}.")


# -- import -----------------------------------------------------------------------------------


# -- send -------------------------------------------------------------------------------------


# -- demo -------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Register the commands on the app's CLI group."""
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
        startfoto_command,
        providers_group,
        municipalities_group,
    )
    for command in commands:
        app.cli.add_command(command)


def create_cli_app() -> Flask:
    """The app for the console script (environment configuration only)."""
    return create_app()


# -- check and run (on the group itself: they must work when the configuration does not) ---------


@click.command("check")
def check_command() -> None:
    """Tell whether this installation is healthy: configuration, database, Redis, mail relay."""
    checks = run_checks()
    click.echo(format_checks(checks))
    failed = [check.name for check in checks if check.status is Status.FAILED]
    if failed:
        click.echo(f"\nNot healthy: {', '.join(failed)}.", err=True)
        sys.exit(1)
    click.echo("\nHealthy.")


def _guarded_run_command() -> click.Command:
    """Flask's `run`, refusing the interactive debugger on a production configuration."""
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
    cli.add_command(shell_command)
    cli.add_command(routes_command)


_add_flask_commands()


def main() -> None:
    """Console-script entry point: a refused configuration is a message, not a traceback."""
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
    if isinstance(code, str):
        click.echo(code, err=True)
        code = 1
    dispose_engines()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`… | head`)
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)
