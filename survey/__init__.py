"""Ervaringswijzer: client-experience surveys at the end of youth care.

`create_app` only wires things together: configuration, database, translations, questionnaires,
security headers, error pages, blueprints and CLI commands. No work happens at import time.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from survey.paths import instance_dir, resource_dir

__all__ = ["create_app", "instance_dir", "resource_dir"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application; `config` overrides settings read from the environment.

    The instance folder comes from `INSTANCE_PATH` when set (see `instance_dir`).
    """
    # here, not at the top: keeps `import survey` cheap (survey.paths etc. need nothing from
    # it), and survey.cli imports create_app from this package (import cycle).
    from survey import cli, db, staff
    from survey.accounts.secrets import make_cipher
    from survey.answers.questionnaires import load_questionnaires
    from survey.config import app_settings, check_config, production_settings
    from survey.respond import bp as respond_bp
    from survey.web import errors, health, i18n, limits, security, static_files

    app = Flask(
        __name__,
        template_folder=str(resource_dir("templates")),
        instance_path=str(instance_dir()),
        instance_relative_config=True,
    )
    app.config.from_mapping(app_settings(app.instance_path, config))
    check_config(app.config)
    app.config["PRODUCTION"] = production_settings(app.config)
    # Before a missing SECRET_KEY gets its per-process stand-in: without MFA_ENCRYPTION_KEY a
    # development or demo installation keeps one derived key across restarts.
    app.extensions["mfa_cipher"] = make_cipher(app.config)
    if not app.config.get("SECRET_KEY"):
        # Only reachable in debug, demo or testing (check_config): a per-process random key.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.extensions["questionnaires"] = load_questionnaires()
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    static_files.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    app.register_blueprint(respond_bp)
    staff.init_app(app)
    health.init_app(app)
    cli.init_app(app)
    return app
