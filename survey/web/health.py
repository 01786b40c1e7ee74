"""Is this installation healthy? `ervaringswijzer check` for operators, `/healthz` for the proxy.

`run_checks` builds the configuration from the environment as the app would and then asks every
service the app depends on: the database (reachable, schema at the newest migration), the
rate-limit store (Redis), the mail relay (EHLO, verified TLS, login; nothing is sent), the public
address (https) and the compiled catalogues. A broken configuration is itself a result, so the
command can say what is wrong even when the app would refuse to start.

`/healthz` answers 200 `{"status": "ok"}` when the database answers, 503 otherwise: no data, no
versions, no personal information, nothing a passer-by could use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.wrappers import Response

from survey.config import (
    TRANSLATIONS_DIR,
    ConfigError,
    app_settings,
    check_config,
    relaxed_settings,
)
from survey.db import get_session, make_engine
from survey.enums import Language
from survey.mail.transports import probe_relay
from survey.paths import instance_dir
from survey.web.limits import limiter

log = logging.getLogger(__name__)


class Status(StrEnum):
    """The outcome of one check."""

    OK = "ok"
    WARNING = "warning"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Check:
    """One line of `ervaringswijzer check`."""

    name: str
    status: Status
    detail: str


def check_configuration(overrides: Mapping[str, Any] | None = None) -> tuple[Check, Any]:
    """The configuration as `create_app` would build it, and whether it may start."""
    try:
        config = app_settings(instance_dir(), overrides)
    except ConfigError as problem:
        return Check("configuration", Status.FAILED, str(problem)), None
    try:
        check_config(config)
    except ConfigError as problem:
        return Check("configuration", Status.FAILED, str(problem)), config
    if config.get("DEMO_MODE"):
        return Check("configuration", Status.WARNING, "demo mode: synthetic data only"), config
    if config.get("DEBUG"):
        return Check("configuration", Status.WARNING, "development (FLASK_DEBUG)"), config
    return Check("configuration", Status.OK, "production settings accepted"), config


def shown_url(url: str) -> str:
    """`scheme://host:port/database` of a service URL: no user, password or query (which may
    carry a password too)."""
    try:
        parts = make_url(url)
    except Exception:  # any unparsable URL is shown as just its scheme
        return url.split(":", 1)[0] + "://…"
    host = parts.host or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.drivername}://{host}{port}/{parts.database or ''}"


def check_public_url(config: Mapping[str, Any]) -> Check:
    """Survey links must travel over https."""
    url = config["PUBLIC_BASE_URL"]
    if url.startswith("https://"):
        return Check("public address", Status.OK, f"{url} (https)")
    status = Status.WARNING if relaxed_settings(config) else Status.FAILED
    return Check("public address", status, f"{url} is not https: links would travel in clear")


def check_database(config: Mapping[str, Any]) -> Check:
    """The database answers and its schema is at the newest migration."""
    # heavy (alembic, ~0.1 s): only for `ervaringswijzer check`, never in the web app
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from survey.migrate import alembic_config

    url = config["DATABASE_URL"]
    shown = shown_url(url)
    engine = None
    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:  # any failure to reach it means the same thing to an operator
        return Check("database", Status.FAILED, f"{shown} unreachable ({type(exc).__name__})")
    finally:
        if engine is not None:
            engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current is None:
        return Check(
            "database", Status.FAILED, f"{shown}: no schema; run `ervaringswijzer db upgrade`"
        )
    if current != head:
        return Check(
            "database",
            Status.FAILED,
            f"{shown}: at revision {current}, newest is {head}; run `ervaringswijzer db upgrade`",
        )
    return Check("database", Status.OK, f"{shown}: reachable, at the newest revision {head}")


def check_rate_limit_store(config: Mapping[str, Any]) -> Check:
    """Sign-in limits need a store shared by all worker processes."""
    uri = config["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory://"):
        status = Status.OK if relaxed_settings(config) else Status.WARNING
        return Check(
            "rate limits", status, "memory://: counts per process, right for one worker only"
        )
    if uri.startswith(("redis://", "rediss://")):
        import redis  # heavy (redis, ~0.07 s): only to check a Redis store

        shown = shown_url(uri)
        try:
            client = redis.Redis.from_url(uri, socket_timeout=3, socket_connect_timeout=3)
            client.ping()
            client.close()
        except redis.RedisError as exc:
            return Check(
                "rate limits", Status.FAILED, f"{shown} unreachable ({type(exc).__name__})"
            )
        return Check("rate limits", Status.OK, f"{shown}: Redis answers")
    return Check("rate limits", Status.WARNING, f"{uri.split('://')[0]}:// not checked here")


def check_mail(config: Mapping[str, Any]) -> Check:
    """The relay answers EHLO and TLS with a valid certificate (nothing is sent)."""
    if not config.get("SMTP_HOST"):
        status = Status.OK if relaxed_settings(config) else Status.WARNING
        return Check(
            "mail relay",
            status,
            f"no SMTP_HOST: mail is written as .eml files to {config['MAIL_FILE_DIR']} "
            "(erased by purge)",
        )
    probe = probe_relay(config)
    where = f"{config['SMTP_HOST']}:{config['SMTP_PORT']}"
    return Check("mail relay", Status.OK if probe.ok else Status.FAILED, f"{where}: {probe.detail}")


def check_translations(config: Mapping[str, Any] | None) -> Check:
    """Without the compiled Dutch catalogue every page would be in English."""
    folder = Path(config["BABEL_TRANSLATION_DIRECTORIES"] if config else TRANSLATIONS_DIR)
    catalogue = "LC_MESSAGES/messages.mo"
    missing = [lang for lang in Language if not (folder / lang / catalogue).exists()]
    if missing:
        return Check(
            "translations",
            Status.FAILED,
            f"catalogue(s) {', '.join(missing)} not compiled: "
            "install the package (or `make install`)",
        )
    return Check("translations", Status.OK, "nl and en catalogues compiled")


def run_checks(overrides: Mapping[str, Any] | None = None) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    configuration, config = check_configuration(overrides)
    checks = [configuration]
    if config is not None:
        checks += [
            check_public_url(config),
            check_database(config),
            check_rate_limit_store(config),
            check_mail(config),
        ]
    checks.append(check_translations(config))
    return checks


def format_checks(checks: list[Check]) -> str:
    """A plain table for a terminal."""
    width = max(len(check.name) for check in checks)
    status_width = max(len(check.status) for check in checks)
    return "\n".join(
        f"{check.name:<{width}}  {check.status:<{status_width}}  {check.detail}" for check in checks
    )


bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> tuple[Response, int]:
    """For the proxy and monitoring: does this process reach its database? Nothing else."""
    try:
        get_session().execute(text("SELECT 1"))
    except Exception as exc:  # an outage, whatever the driver calls it
        log.warning("healthz: database unreachable (%s)", type(exc).__name__)
        answer, status = jsonify(status="unavailable"), 503
    else:
        answer, status = jsonify(status="ok"), 200
    answer.headers["Cache-Control"] = "no-store"  # a monitor must see now, not a cached past
    return answer, status


def init_app(app: Flask) -> None:
    """Register `/healthz` (exempt from rate limits: monitoring polls it)."""
    limiter.exempt(bp)
    app.register_blueprint(bp)
