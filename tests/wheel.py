"""The wheel built from this checkout, installed in a venv of its own, once per test process.

`installed_wheel()` copies what a clean clone would hold (git's tracked and untracked, not ignored
files: no `.mo`, no `build/`, no `instance/`) to a temporary folder, builds the wheel there, creates
a venv and installs the wheel into it with `--no-deps`. The third-party packages come from the dev
venv through a `.pth` line: paths added that way do not get their own `.pth` files read, so the dev
venv's editable `survey` finder stays inactive and `import survey` finds the installed wheel.

The build runs without build isolation (offline, seconds) when this interpreter has the
`[build-system]` requirements, else pip builds in an isolated environment.

Run the installed programs with `wheel.environ()` and a working directory outside the checkout:
`wheel.script("ervaringswijzer")`, `[wheel.python, "-m", "gunicorn", ...]`.
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
# When git is not there: what .gitignore leaves out, and the build's own output.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "instance", "*.egg-info", "__pycache__", "*.py[co]", "*.mo",
    ".pytest_cache", ".ruff_cache", "artifacts",
)  # fmt: skip
# Variables that would put the checkout (or another environment) on the installed venv's path.
LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE")
TIMEOUT = 300


@dataclass(frozen=True)
class InstalledWheel:
    """A venv with the project's wheel installed (and the dev venv's third-party packages)."""

    venv: Path
    bin: Path
    wheel: Path
    python: Path
    site_packages: Path

    def script(self, name: str = "ervaringswijzer") -> Path:
        """A console script of the installed wheel, e.g. `ervaringswijzer`."""
        return self.bin / name

    def environ(self, **overrides: str) -> dict[str, str]:
        """os.environ as if the venv were activated, without PYTHONPATH and the like."""
        env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", os.defpath)])
        env.update(overrides)
        return env


@functools.cache
def installed_wheel() -> InstalledWheel:
    """Build and install the wheel once per process; removed when the process exits."""
    work = Path(tempfile.mkdtemp(prefix="ervaringswijzer-wheel-")).resolve()
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    source, dist, venv = work / "source", work / "dist", work / "venv"
    copy_checkout(source)
    wheel = build_wheel(source, dist)
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    python = venv / "bin" / "python"
    install = ["install", "--quiet", "--no-deps", "--no-index", str(wheel)]
    _run([sys.executable, "-m", "pip", "--python", str(python), *install], cwd=work)
    site_packages = Path(_run([str(python), "-c", _PURELIB], cwd=work).strip()).resolve()
    dev_packages = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    (site_packages / "_dev_venv_packages.pth").write_text("".join(f"{p}\n" for p in dev_packages))
    installed = InstalledWheel(venv, venv / "bin", wheel, python, site_packages)
    found = Path(
        _run([str(python), "-c", _WHERE_IS_SURVEY], cwd=work, env=installed.environ()).strip()
    )
    if not found.is_relative_to(site_packages):
        raise RuntimeError(f"`import survey` in {venv} finds {found}, not the installed wheel")
    return installed


def copy_checkout(target: Path) -> None:
    """Copy the files a clean clone of the checkout would have (uncommitted edits included)."""
    try:
        listed = _run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT
        ).split("\0")
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, target, ignore=NOT_SOURCE, symlinks=True)
        return
    for name in filter(None, listed):
        path = ROOT / name
        if path.is_file():  # tracked files deleted in the working tree are skipped
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / name)


def build_wheel(source: Path, dist: Path) -> Path:
    """Build the wheel of the project in `source` into `dist` and return its path."""
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist)]
    if has_build_requirements(source):
        command.append("--no-build-isolation")
    _run([*command, str(source)], cwd=source)
    (wheel,) = dist.glob("ervaringswijzer-*.whl")
    return wheel


def has_build_requirements(source: Path) -> bool:
    """True when this interpreter satisfies the `[build-system] requires` of `source`."""
    pyproject = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    for line in pyproject["build-system"]["requires"]:
        requirement = Requirement(line)
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True


_PURELIB = "import sysconfig; print(sysconfig.get_path('purelib'))"
_WHERE_IS_SURVEY = "import pathlib, survey; print(pathlib.Path(survey.__file__).resolve().parent)"


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `command` and return its stdout; CommandFailed when it fails."""
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise CommandFailed(result.returncode, command, result.stdout, result.stderr)
    return result.stdout


class CommandFailed(subprocess.CalledProcessError):
    """A failed command, with its output in the message (pytest shows it)."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
