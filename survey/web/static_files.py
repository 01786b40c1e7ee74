"""Static files with a version in their URL, so that a proxy may let browsers keep them long.

Every `url_for("static", ...)` gets `?v=<digest of the static folder>`: the digest changes with
any file, so after an upgrade every page links new URLs and no browser keeps old CSS or
JavaScript. nginx (deploy/nginx/ervaringswijzer.conf) serves a versioned URL with a one-year
`immutable` cache and an unversioned one for a day.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from flask import Flask


def static_digest(folder: str | Path) -> str:
    """A short digest of every file's path and content under `folder`."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# An installed package's static files do not change while it runs: hash them once per process,
# not for every app built (the CLI and the tests build many).
_folder_digest = functools.cache(static_digest)


def init_app(app: Flask) -> None:
    """Add the static folder's digest to every static URL the app builds."""
    version = _folder_digest(str(app.static_folder or ""))

    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static":
            values.setdefault("v", version)

    app.extensions["static_version"] = version
    app.url_defaults(add_version)
