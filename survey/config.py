"""Settings read from environment variables (DESIGN §4.3), in one place, with safe defaults.

`load_config` turns an environment mapping into the dict that `create_app` puts on `app.config`.
Nothing here touches the network or the database; `check_config` refuses unsafe combinations at
start-up (no SECRET_KEY outside debug, demo and testing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TRUE_WORDS = {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """The configuration is unsafe or invalid; the message says which variable to fix."""


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in TRUE_WORDS


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def load_config(instance_path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the application settings for `instance_path` from `env` (default: os.environ)."""
    env = os.environ if env is None else env
    instance = Path(instance_path)
    smtp_port_default = 587 if _flag(env, "SMTP_STARTTLS") else 25
    base_url = (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    return {
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'ervaringswijzer.db'}",
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "PUBLIC_BASE_URL": base_url,
        "SMTP_HOST": env.get("SMTP_HOST") or None,
        "SMTP_PORT": _int(env, "SMTP_PORT", smtp_port_default, minimum=1),
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _flag(env, "SMTP_STARTTLS"),
        "SMTP_TIMEOUT": _int(env, "SMTP_TIMEOUT", 30, minimum=1),
        "MAIL_FILE_DIR": env.get("MAIL_FILE_DIR") or str(instance / "outbox"),
        "MAIL_FROM": env.get("MAIL_FROM") or "Ervaringswijzer <noreply@localhost>",
        "PROVIDER_NAME": env.get("PROVIDER_NAME") or "MetMaya",
        "MIN_CELL_SIZE": _int(env, "MIN_CELL_SIZE", 5, minimum=1),
        "REMINDER_AFTER_DAYS": _int(env, "REMINDER_AFTER_DAYS", 7),
        "EXPIRE_AFTER_DAYS": _int(env, "EXPIRE_AFTER_DAYS", 28, minimum=1),
        "PURGE_AFTER_DAYS": _int(env, "PURGE_AFTER_DAYS", 30),
        "INVITE_MAX_AGE_DAYS": _int(env, "INVITE_MAX_AGE_DAYS", 60),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        # Not in the contract: how long a worker holds a message before another may take it.
        "OUTBOX_LEASE_SECONDS": _int(env, "OUTBOX_LEASE_SECONDS", 300, minimum=1),
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (gunicorn
        # behind nginx: 1). Client IPs for rate limits and the audit log come from there.
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        # Not in the contract: a label for synthetic data, set by `make run`.
        "DEMO_MODE": _flag(env, "ERVARINGSWIJZER_DEMO"),
        # A comment longer than this is refused with a message; a body above
        # MAX_CONTENT_LENGTH gets the friendly 413 page.
        "COMMENT_MAX_CHARS": 4000,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session cookie
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies whenever the app is served over https (every production set-up).
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "SESSION_COOKIE_NAME": "ervaringswijzer_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REQUIRE_MFA": _flag(env, "REQUIRE_MFA", default=True),
    }


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse to start with settings that are unsafe in production."""
    relaxed = config.get("DEBUG") or config.get("TESTING") or config.get("DEMO_MODE")
    if not config.get("SECRET_KEY") and not relaxed:
        raise ConfigError(
            "SECRET_KEY is not set. Set it to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    if config.get("PUBLIC_BASE_URL", "").split("://")[0] not in {"http", "https"}:
        raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://")
