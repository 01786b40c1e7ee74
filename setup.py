"""The build steps pyproject.toml cannot express; everything else is configured there.

A wheel is a complete installation (DESIGN §2): the top-level `templates/` and `migrations/`
folders become `survey/templates/` and `survey/migrations/` inside the package, and the nl/en
catalogues are compiled to `.mo` (build output, not committed). An editable install
(`pip install -e .`) reads templates and migrations from the checkout and compiles the catalogues
in place, so it serves Dutch pages without `make translations`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Top-level folders of the repository that the package carries (see survey.paths.resource_dir).
BUNDLED = ("templates", "migrations")


def compile_catalogues(translations: Path) -> list[Path]:
    """Compile every `<lang>/LC_MESSAGES/*.po` under `translations` to `.mo`, as pybabel does."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(translations.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        mo_path = po_path.with_suffix(".mo")
        partial = mo_path.with_suffix(".mo.part")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        partial.replace(mo_path)  # a running app never reads half a catalogue
        written.append(mo_path)
    return written


class BuildPy(build_py):
    """build_py plus the bundled folders and the compiled catalogues."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # Editable installs (PEP 660) import from the checkout: compile there.
            compile_catalogues(ROOT / "survey" / "translations")
            return
        package = Path(self.build_lib) / "survey"
        for name in BUNDLED:
            target = package / name
            shutil.rmtree(target, ignore_errors=True)  # a stale copy from an earlier build
            shutil.copytree(
                ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
            )
        compile_catalogues(package / "translations")


setup(cmdclass={"build_py": BuildPy})
