"""Ervaringswijzer: client-experience surveys at the end of youth care.

`create_app` only wires things together: configuration, database, translations, questionnaires,
security headers, error pages, blueprints and CLI commands. No work happens at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application; `config` overrides settings read from the environment."""
    from survey import cli, db, errors, i18n, limits, security, staff
    from survey.config import check_config, load_config
    from survey.questionnaires import load_questionnaires
    from survey.respond import bp as respond_bp

    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
    )
    app.config.from_mapping(load_config(app.instance_path))
    if config:
        app.config.from_mapping(config)
    check_config(app.config)
    production = not (app.config.get("TESTING") or app.config.get("DEMO_MODE"))
    if production and app.config.get("SECRET_KEY"):
        # Debug (the interactive debugger) is never on in a production configuration.
        app.config["DEBUG"] = False
        app.debug = False
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
    errors.init_app(app)
    limits.init_app(app)
    app.register_blueprint(respond_bp)
    staff.init_app(app)
    cli.init_app(app)
    return app
