"""Where the app finds its folders: templates and migrations (checkout or package), instance."""

from __future__ import annotations

import os
from pathlib import Path

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
