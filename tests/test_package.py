"""The package as production installs it: a wheel is a complete installation (issue 15).

The wheel is built once from the checkout (tests/wheel.py) and installed in a venv of its own;
every program runs there with its working directory outside the checkout, so nothing can come
from the checkout's `templates/`, `migrations/` or uncompiled catalogues.
"""

from __future__ import annotations

import email.message
import email.parser
import json
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from babel.messages.mofile import read_mo
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import TEST_MFA_KEY
from tests.wheel import ROOT, InstalledWheel, copy_checkout, installed_wheel

CONSTRAINTS = ROOT / "deploy" / "constraints.txt"
PRODUCTION = {
    "SECRET_KEY": "5f" * 32,
    "MFA_ENCRYPTION_KEY": TEST_MFA_KEY,
    "PUBLIC_BASE_URL": "https://ervaringswijzer.example.org",
}
# Serves a few pages with the installed app and prints what the test needs as JSON.
SERVE_PAGES = """
import json, sys, survey
from survey import create_app

app = create_app()
client = app.test_client()
pages = {}
for path in sys.argv[1:]:
    response = client.get(path, base_url="https://ervaringswijzer.example.org")
    pages[path] = [response.status_code, response.get_data(as_text=True)]
print(json.dumps({
    "survey": survey.__file__, "templates": app.template_folder,
    "instance": app.instance_path, "pages": pages,
}))
"""


@pytest.fixture(scope="module")
def wheel() -> InstalledWheel:
    return installed_wheel()


@pytest.fixture(scope="module")
def site(wheel: InstalledWheel, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A folder and a production-like environment, its database migrated by the installed CLI."""
    folder = tmp_path_factory.mktemp("site")
    env = wheel.environ(**PRODUCTION, DATABASE_URL=f"sqlite:///{folder / 'survey.db'}")
    run(wheel, [str(wheel.script()), "db", "upgrade"], folder, env)
    return folder, env


def run(wheel: InstalledWheel, command: list[str], cwd: Path, env: dict[str, str]) -> str:
    assert not cwd.resolve().is_relative_to(ROOT)
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def files_under(folder: Path) -> list[str]:
    skip = {"__pycache__"}
    return [
        p.relative_to(folder).as_posix()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not skip & set(p.parts) and p.suffix not in {".pyc", ".mo"}
    ]


def wheel_metadata(wheel: InstalledWheel) -> email.message.Message:
    with zipfile.ZipFile(wheel.wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_the_wheel_holds_templates_static_files_migrations_and_compiled_catalogues(wheel):
    with zipfile.ZipFile(wheel.wheel) as archive:
        names = set(archive.namelist())
        catalogues = {
            language: read_mo(
                archive.open(f"survey/translations/{language}/LC_MESSAGES/messages.mo")
            )
            for language in ("nl", "en")
        }
    expected = [
        *(f"survey/templates/{n}" for n in files_under(ROOT / "templates")),
        *(f"survey/migrations/{n}" for n in files_under(ROOT / "migrations")),
        *(f"survey/static/{n}" for n in files_under(ROOT / "survey" / "static")),
        *(f"survey/questionnaires/{n}" for n in files_under(ROOT / "survey" / "questionnaires")),
        *(f"survey/data/{n}" for n in files_under(ROOT / "survey" / "data")),
    ]
    assert "survey/static/vendor/vega.min.js" in expected
    assert "survey/migrations/versions/0001_initial_schema.py" in expected
    assert "survey/migrations/script.py.mako" in expected
    assert sorted(set(expected) - names) == []
    assert catalogues["nl"].get("Sign in").string == "Inloggen"
    assert catalogues["en"].get("Sign in") is not None
    assert not any(n.startswith(("templates/", "migrations/", "tests/")) for n in names)


def test_db_upgrade_of_the_installed_package_creates_the_schema(wheel, site):
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    folder, _env = site
    with sqlite3.connect(folder / "survey.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    assert {"alembic_version", "episode", "invitation", "response", "staff_user"} <= tables
    assert versions == [head]
    # Without INSTANCE_PATH an installed package keeps its instance folder in the working
    # directory, never in site-packages.
    assert (folder / "instance").is_dir()
    assert not (wheel.site_packages / "instance").exists()


def test_the_installed_app_serves_dutch_and_english_pages_from_the_package(wheel, site, tmp_path):
    env = {**site[1], "INSTANCE_PATH": str(tmp_path / "var")}
    paths = ["/staff/login", "/", "/?lang=en"]
    out = json.loads(run(wheel, [str(wheel.python), "-c", SERVE_PAGES, *paths], tmp_path, env))
    assert Path(out["survey"]).is_relative_to(wheel.site_packages)
    assert Path(out["templates"]) == wheel.site_packages / "survey" / "templates"
    assert out["instance"] == str(tmp_path / "var")
    pages = {path: page for path, (status, page) in out["pages"].items() if status == 200}
    assert sorted(pages) == sorted(paths), out["pages"]
    assert "Inloggen voor medewerkers" in pages["/staff/login"]
    assert '<html lang="nl"' in pages["/"] and ">Welkom" in pages["/"]
    assert '<html lang="en"' in pages["/?lang=en"] and ">Welcome" in pages["/?lang=en"]
    assert "/static/site.css" in pages["/"]


def test_the_constraints_pin_every_requirement_of_the_wheel(wheel):
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip()).groups()
            pins[canonicalize_name(name)] = Version(version)
    requirements = [Requirement(r) for r in wheel_metadata(wheel).get_all("Requires-Dist")]
    runtime = [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
    assert {"gunicorn", "flask", "alembic"} <= {canonicalize_name(r.name) for r in runtime}
    for requirement in runtime:
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement} is not pinned in {CONSTRAINTS}"
        assert requirement.specifier.contains(pinned, prereleases=True), (requirement, pinned)
    # Transitively too: what the pinned packages need (as installed here) is pinned as well.
    missing = unpinned_dependencies(runtime, set(pins))
    assert missing == set(), f"pinned packages need these, unpinned: {missing}"


def unpinned_dependencies(requirements: list[Requirement], pinned: set[str]) -> set[str]:
    """Names needed by `requirements`, recursively (this machine's metadata), not in `pinned`."""
    from importlib.metadata import PackageNotFoundError, distribution

    missing, seen = set(), set()
    todo = [(canonicalize_name(r.name), frozenset(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if name not in pinned:
            missing.add(name)
            continue
        try:
            needs = distribution(name).requires or []
        except PackageNotFoundError:
            continue  # not installed in the dev venv: its own requirements are not known here
        for line in needs:
            requirement = Requirement(line)
            if any(applies(requirement.marker, extra) for extra in {"", *extras}):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return missing


def applies(marker: Marker | None, extra: str) -> bool:
    return marker is None or marker.evaluate({"extra": extra})


def test_an_editable_build_compiles_the_catalogues_in_the_source_tree(tmp_path):
    source = tmp_path / "source"
    copy_checkout(source)
    catalogues = sorted(source.glob("survey/translations/*/LC_MESSAGES/messages.mo"))
    assert catalogues == []  # git-ignored build output: not in a clean checkout
    build = "from setuptools import build_meta; build_meta.build_editable(sys.argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {build}", str(tmp_path / "dist")],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for language in ("nl", "en"):
        with (source / f"survey/translations/{language}/LC_MESSAGES/messages.mo").open("rb") as f:
            assert read_mo(f).get("Sign in") is not None
