"""Settings read from environment variables (DESIGN §4.3), in one place, with safe defaults.

`load_config` turns an environment mapping into the dict that `create_app` puts on `app.config`.
Nothing here touches the network or the database; `check_config` refuses unsafe combinations at
start-up (no SECRET_KEY outside debug, demo and testing).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask.helpers import get_debug_flag

from survey.accounts.secrets import NEW_KEY, configured_keys, key_problem

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
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
    smtp_ssl = _flag(env, "SMTP_SSL")
    smtp_port_default = 465 if smtp_ssl else 587 if _flag(env, "SMTP_STARTTLS") else 25
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
        # SMTPS (TLS from the first byte, port 465) instead of STARTTLS.
        "SMTP_SSL": smtp_ssl,
        # The CA file that verifies the relay's certificate; unset: the system's CAs.
        "SMTP_CA_FILE": env.get("SMTP_CA_FILE") or None,
        "SMTP_TIMEOUT": _int(env, "SMTP_TIMEOUT", 30, minimum=1),
        "MAIL_FILE_DIR": env.get("MAIL_FILE_DIR") or str(instance / "outbox"),
        "MAIL_FROM": env.get("MAIL_FROM") or "Ervaringswijzer <noreply@localhost>",
        "PROVIDER_NAME": env.get("PROVIDER_NAME") or "MetMaya",
        "MIN_CELL_SIZE": _int(env, "MIN_CELL_SIZE", 5, minimum=1),
        "REMINDER_AFTER_DAYS": _int(env, "REMINDER_AFTER_DAYS", 7),
        "EXPIRE_AFTER_DAYS": _int(env, "EXPIRE_AFTER_DAYS", 28, minimum=1),
        "PURGE_AFTER_DAYS": _int(env, "PURGE_AFTER_DAYS", 30),
        "INVITE_MAX_AGE_DAYS": _int(env, "INVITE_MAX_AGE_DAYS", 60),
        # Whole years that answers (with their comments) are kept, counted in whole months of the
        # end of care: `purge` erases a period as a whole (see survey.retention.purge).
        "RESPONSE_RETENTION_YEARS": _int(env, "RESPONSE_RETENTION_YEARS", 5, minimum=1),
        # Whole years that the audit log is kept. NEN 7513 (logging access to health data) expects
        # access logs to be kept at least as long as the data they protect stay accessible: the
        # answers and comments whose viewing the log records live five years by default, so
        # the log lives as long.
        "AUDIT_RETENTION_YEARS": _int(env, "AUDIT_RETENTION_YEARS", 5, minimum=1),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        # Not in the contract: how long a worker holds a message before another may take it.
        "OUTBOX_LEASE_SECONDS": _int(env, "OUTBOX_LEASE_SECONDS", 300, minimum=1),
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (gunicorn
        # behind nginx: 1). Client IPs for rate limits and the audit log come from there.
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        # Worker processes serving the app (gunicorn reads the same variable): more than one
        # needs a shared rate-limit store.
        "WEB_CONCURRENCY": _int(env, "WEB_CONCURRENCY", 1, minimum=1),
        # Not in the contract: a label for synthetic data, set by `make run`.
        "DEMO_MODE": _flag(env, "ERVARINGSWIJZER_DEMO"),
        # A comment longer than this is refused with a message; a body above
        # MAX_CONTENT_LENGTH gets the friendly 413 page.
        "COMMENT_MAX_CHARS": 4000,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS_DIR),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session cookie
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies whenever the app is served over https (every production set-up).
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "SESSION_COOKIE_NAME": "ervaringswijzer_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REQUIRE_MFA": _flag(env, "REQUIRE_MFA", default=True),
        # Fernet keys (comma-separated, the first seals) for second-factor secrets at rest
        # (survey.accounts.secrets); required in production.
        "MFA_ENCRYPTION_KEY": env.get("MFA_ENCRYPTION_KEY") or None,
        # Single sign-on with the organisation's OpenID Connect provider (survey.staff.sso);
        # PASSWORD_LOGIN=0 leaves only that.
        "OIDC_ISSUER": (env.get("OIDC_ISSUER") or "").rstrip("/") or None,
        "OIDC_CLIENT_ID": env.get("OIDC_CLIENT_ID") or None,
        "OIDC_CLIENT_SECRET": env.get("OIDC_CLIENT_SECRET") or None,
        "PASSWORD_LOGIN": _flag(env, "PASSWORD_LOGIN", default=True),
    }


MIN_SECRET_KEY_BYTES = 32


def app_settings(
    instance_path: str | Path, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings `create_app` runs with, before `check_config`: the environment, FLASK_DEBUG
    as Flask reads it, the caller's overrides, and the cookie names and flags they imply.
    `ervaringswijzer check` judges the very same dict."""
    config = load_config(instance_path)
    config["DEBUG"] = get_debug_flag()
    config.update(overrides or {})
    harden_cookies(config)
    return config


def relaxed_settings(config: Mapping[str, Any]) -> bool:
    """Development (FLASK_DEBUG), demo or test settings: the production guards do not apply."""
    return bool(config.get("DEBUG") or config.get("TESTING") or config.get("DEMO_MODE"))


def production_settings(config: Mapping[str, Any]) -> bool:
    """Settings of a real installation: a SECRET_KEY or an https address, not a demo or test."""
    if config.get("TESTING") or config.get("DEMO_MODE"):
        return False
    return bool(config.get("SECRET_KEY")) or config.get("PUBLIC_BASE_URL", "").startswith("https:")


NEW_SECRET_KEY = "`python -c 'import secrets; print(secrets.token_hex(32))'`"  # noqa: S105


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse to start with settings that are unsafe in production; each message says what to
    change. Development (FLASK_DEBUG without a SECRET_KEY), demo and test runs are relaxed."""
    testing = bool(config.get("TESTING"))
    relaxed = relaxed_settings(config)
    secret = config.get("SECRET_KEY")
    base_url = config.get("PUBLIC_BASE_URL", "")
    if config.get("DEMO_MODE") and not testing:
        _check_demo(config)
    if not secret and not relaxed:
        raise ConfigError(
            f"SECRET_KEY is not set. Set it to a long random value, e.g. {NEW_SECRET_KEY}."
        )
    if secret and not testing and len(str(secret).encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes: sessions signed with it can "
            f"be forged. Set a long random value, e.g. {NEW_SECRET_KEY}."
        )
    if config.get("DEBUG") and production_settings(config):
        raise ConfigError(
            "FLASK_DEBUG is on in a production configuration (a SECRET_KEY or an https "
            "PUBLIC_BASE_URL is set): the interactive debugger lets anyone who reaches an "
            "error page run code on the server. Unset FLASK_DEBUG (and --debug/--debugger)."
        )
    scheme = base_url.split("://")[0]
    if scheme not in {"http", "https"}:
        raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://")
    if scheme == "http" and not relaxed and not _loopback(base_url):
        raise ConfigError(
            f"PUBLIC_BASE_URL is {base_url!r}: survey links would carry their personal token in "
            "clear text and cookies could not be Secure. Serve the app over https (see the README, "
            "Production) and set PUBLIC_BASE_URL=https://…"
        )
    check_web_workers(config.get("WEB_CONCURRENCY", 1), config.get("RATELIMIT_STORAGE_URI", ""))
    _check_smtp(config)
    _check_mfa_key(config)
    _check_sso(config, relaxed)


def _check_sso(config: Mapping[str, Any], relaxed: bool) -> None:
    """Single sign-on settings that would leave nobody able to sign in, or send the client
    secret in clear."""
    issuer = config.get("OIDC_ISSUER")
    if issuer and not (config.get("OIDC_CLIENT_ID") and config.get("OIDC_CLIENT_SECRET")):
        raise ConfigError(
            "OIDC_ISSUER is set without OIDC_CLIENT_ID and OIDC_CLIENT_SECRET: register the app "
            "with the organisation's identity provider and set both."
        )
    if not config.get("PASSWORD_LOGIN", True) and not issuer:
        raise ConfigError(
            "PASSWORD_LOGIN=0 turns off signing in with a password, but OIDC_ISSUER is not set: "
            "nobody could sign in. Set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET."
        )
    if issuer and not relaxed and not issuer.startswith("https://") and not _loopback(issuer):
        raise ConfigError(
            f"OIDC_ISSUER is {issuer!r}: the client secret and the tokens would travel in clear "
            "text. Use the provider's https address."
        )


def _check_mfa_key(config: Mapping[str, Any]) -> None:
    """Second-factor secrets are sealed with MFA_ENCRYPTION_KEY: well-formed keys, and in
    production a key of its own (not one derived from SECRET_KEY)."""
    problem = key_problem(config)
    if problem:
        raise ConfigError(problem)
    if production_settings(config) and not configured_keys(config):
        raise ConfigError(
            "MFA_ENCRYPTION_KEY is not set: the second-factor secrets of staff accounts are "
            f"encrypted with it. Make a key with {NEW_KEY} and keep it apart from the database "
            "backups."
        )


def _check_demo(config: Mapping[str, Any]) -> None:
    """Demo mode relaxes every production guard: refuse it where production data could live."""
    database = str(config.get("DATABASE_URL", ""))
    base_url = str(config.get("PUBLIC_BASE_URL", ""))
    if not database.startswith("sqlite") or (
        base_url.startswith("https:") and not _loopback(base_url)
    ):
        raise ConfigError(
            "ERVARINGSWIJZER_DEMO is set on what looks like a real installation (a "
            f"{database.split(':')[0]} database, PUBLIC_BASE_URL {base_url!r}): demo mode turns "
            "off the production checks and `demo` would add the published demo accounts. Unset "
            "ERVARINGSWIJZER_DEMO; the demo runs on the embedded SQLite default (`make run`)."
        )


def _check_smtp(config: Mapping[str, Any]) -> None:
    """Refuse relay settings that would send the SMTP password in clear or cannot verify TLS."""
    starttls, smtps = config.get("SMTP_STARTTLS"), config.get("SMTP_SSL")
    if starttls and smtps:
        raise ConfigError(
            "SMTP_STARTTLS and SMTP_SSL are both on: choose one. Set SMTP_SSL=1 for a relay that "
            "speaks TLS from the start (port 465), or SMTP_STARTTLS=1 for one that upgrades "
            "(port 587)."
        )
    host = str(config.get("SMTP_HOST") or "")
    remote = host and not _loopback_host(host.lower())
    if remote and not (starttls or smtps) and production_settings(config):
        raise ConfigError(
            f"SMTP_HOST is {host!r} without SMTP_STARTTLS or SMTP_SSL: every address and "
            "personal survey link would cross the network unencrypted. Set SMTP_STARTTLS=1 "
            "(port 587) or SMTP_SSL=1 (port 465); a relay on this machine (127.0.0.1) may "
            "do without."
        )
    if config.get("SMTP_USERNAME") and not (starttls or smtps):
        raise ConfigError(
            "SMTP_USERNAME is set but SMTP_STARTTLS and SMTP_SSL are off: the password would "
            "travel unencrypted. Set SMTP_STARTTLS=1 (port 587) or SMTP_SSL=1 (port 465)."
        )
    ca_file = config.get("SMTP_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(
            f"SMTP_CA_FILE is {str(ca_file)!r}, which is not a file: point it at the PEM file of "
            "the CA that signed the relay's certificate, or unset it to use the system's CAs."
        )


def _loopback(url: str) -> bool:
    """Whether `url` names this machine (links that never leave it: benchmarks, local checks)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return _loopback_host(host)


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        return False


def harden_cookies(config: dict[str, Any]) -> None:
    """On https, make the session (and remember-me) cookie Secure and `__Host-` prefixed.

    The prefix makes the browser accept the cookie only over https, from this very host, for
    path `/`: no plain-http sibling host can plant a session (and with it a CSRF token).
    """
    if not config.get("SESSION_COOKIE_SECURE"):
        return
    for name_key, secure_key in (
        ("SESSION_COOKIE_NAME", "SESSION_COOKIE_SECURE"),
        ("REMEMBER_COOKIE_NAME", "REMEMBER_COOKIE_SECURE"),
    ):
        name = config.get(name_key) or "remember_token"
        config[name_key] = name if name.startswith("__Host-") else f"__Host-{name}"
        config[secure_key] = True
    config["SESSION_COOKIE_PATH"] = "/"
    config["SESSION_COOKIE_DOMAIN"] = None
    config["REMEMBER_COOKIE_PATH"] = "/"
    config["REMEMBER_COOKIE_DOMAIN"] = None


def check_web_workers(workers: int, storage_uri: str) -> None:
    """Refuse per-process rate-limit storage when several worker processes serve the app.

    With `memory://` each gunicorn worker counts sign-in attempts on its own, so four workers
    silently give an attacker four times the attempts. Called by the gunicorn configuration
    (deploy/gunicorn.conf.py) before any worker starts, and by `check_config` for
    WEB_CONCURRENCY.
    """
    if workers > 1 and storage_uri.startswith("memory://"):
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI is {storage_uri!r} with {workers} worker processes: every "
            "process would count sign-in attempts on its own. Set RATELIMIT_STORAGE_URI to a "
            "shared store, e.g. redis://127.0.0.1:6379/0, or run one worker."
        )
