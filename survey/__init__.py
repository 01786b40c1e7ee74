"""Ervaringswijzer: client-experience surveys at the end of youth care.

`create_app` only wires things together: configuration, database, translations, questionnaires,
security headers, error pages, blueprints and CLI commands. No work happens at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def resource_dir(name: str) -> Path:
    """The folder `name` (templates, migrations) of an installed package, else of the checkout.

    The repository keeps `templates/` and `migrations/` at the top level; a built package carries
    them inside itself (setup.py copies them to `survey/<name>/`).
    """
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


def instance_dir() -> Path:
    """Where the app keeps its local files: `INSTANCE_PATH` when set, else a default.

    The default is the checkout's `instance/` when running from a checkout, and `./instance` (in
    the working directory) for an installed package: never inside site-packages, which may be
    read-only and is replaced on upgrade, and the same `instance/` the README's relative defaults
    (SQLite file, mail outbox) describe. Production sets DATABASE_URL and SMTP_HOST anyway.
    """
    configured = os.environ.get("INSTANCE_PATH", "").strip()
    if configured:
        return Path(configured).expanduser().absolute()  # Flask wants an absolute path
    if resource_dir("templates").is_relative_to(PACKAGE_DIR):
        return Path.cwd() / "instance"
    return PROJECT_ROOT / "instance"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application; `config` overrides settings read from the environment.

    The instance folder comes from `INSTANCE_PATH` when set (see `instance_dir`).
    """
    from survey import cli, db, errors, health, i18n, limits, security, staff, static_files
    from survey.config import app_settings, check_config, production_settings
    from survey.questionnaires import load_questionnaires
    from survey.respond import bp as respond_bp

    app = Flask(
        __name__,
        template_folder=str(resource_dir("templates")),
        instance_path=str(instance_dir()),
        instance_relative_config=True,
    )
    app.config.from_mapping(app_settings(app.instance_path, config))
    check_config(app.config)
    app.config["PRODUCTION"] = production_settings(app.config)
    if not app.config.get("SECRET_KEY"):
        # Only reachable in debug, demo or testing (check_config): a per-process random key.
        import secrets

        app.config["SECRET_KEY"] = secrets.token_hex(32)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

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
