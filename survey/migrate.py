"""Running the Alembic migrations programmatically (no alembic.ini needed).

The migrations live in the checkout's top-level `migrations/`, or inside an installed package
(`survey/migrations/`, see `survey.paths.resource_dir`).
"""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from cryptography.fernet import MultiFernet

from survey.accounts.secrets import make_cipher
from survey.paths import resource_dir

MIGRATIONS_DIR = resource_dir("migrations")


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation; URLs may contain escaped characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    database_url: str,
    revision: str = "head",
    provider_name: str | None = None,
    mfa_cipher: MultiFernet | None = None,
) -> None:
    """Upgrade the schema of `database_url` to `revision`. `provider_name` names the provider
    that an installation's existing episodes become (revision 0010; default PROVIDER_NAME);
    `mfa_cipher` seals the stored TOTP secrets (revision 0014; default: the cipher of the
    environment's MFA_ENCRYPTION_KEY or SECRET_KEY, as the app makes it)."""
    config = alembic_config(database_url)
    config.attributes["provider_name"] = provider_name
    config.attributes["mfa_cipher"] = mfa_cipher or make_cipher(os.environ)
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str, mfa_cipher: MultiFernet | None = None) -> None:
    """Downgrade the schema of `database_url` to `revision` (tests of the migrations)."""
    config = alembic_config(database_url)
    config.attributes["mfa_cipher"] = mfa_cipher or make_cipher(os.environ)
    command.downgrade(config, revision)
