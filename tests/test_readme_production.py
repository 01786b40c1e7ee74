"""README "Production" and deploy/: the README's commands are the ones the production-stack test
runs (tests/stack_files.py), and it explains every placeholder of the nginx site.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.stack_files import (
    CHECK,
    DB_UPGRADE,
    NGINX_PLACEHOLDERS,
    NGINX_SITE,
    PURGE,
    README,
    createdb,
    pg_dump,
    pg_restore,
    users_create,
)


def readme_production() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Production\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, "README.md has no '## Production' section"
    return match.group(1)


KEPT_WORDS = {"db", "upgrade", "check", "users", "create", "purge", "send", "import-episodes"}
COMPARED = {"pg_dump", "createdb", "pg_restore"}


def shape(words: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A command with every value replaced by `…`: the program, sub-commands and options."""
    program, *rest = words
    kept = [w if w.startswith("-") or w in KEPT_WORDS else "…" for w in rest]
    return (Path(program).name, *kept)


def commands_of(line: str) -> list[tuple[str, ...]]:
    """The pg_dump/createdb/pg_restore/ervaringswijzer commands of one shell line, without
    `sudo -u X`, the `ew` helper, NAME=value settings in front, and inside `sh -c '…'`."""
    commands = []
    segments: list[list[str]] = [[]]
    for word in shlex.split(line, comments=True):
        if word in {"|", "&&", ";", "||"}:
            segments.append([])
        else:
            segments[-1].append(word)
    for segment in segments:
        while segment and (
            segment[0] in {"sudo", "ew", "env", "--"} or re.fullmatch(r"[A-Z_]+=.*", segment[0])
        ):
            segment = segment[3:] if segment[:2] == ["sudo", "-u"] else segment[1:]
        if segment[:2] == ["sh", "-c"] and len(segment) > 2:
            commands += commands_of(segment[2])
        elif segment and Path(segment[0]).name in COMPARED | {"ervaringswijzer"}:
            commands.append(tuple(segment))
    return commands


def readme_commands() -> list[tuple[str, ...]]:
    """Every command of `commands_of` in the README's Production section."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", readme_production(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            commands += commands_of(line)
    return commands


def test_readme_production_commands_are_the_ones_this_module_runs():
    ours = {
        shape(("ervaringswijzer", *DB_UPGRADE)),
        shape(("ervaringswijzer", *CHECK)),
        shape(("ervaringswijzer", *PURGE)),
        shape(("ervaringswijzer", *users_create("x", "admin"))),
        shape(pg_dump(Path("x"), "x")),
        shape(createdb("x", "x")),
        shape(pg_restore("x", Path("x"))),
    }
    found = {shape(command) for command in readme_commands()}
    tested_programs = {s[:3] if s[0] == "ervaringswijzer" else s[:1] for s in ours}
    compared = {
        s for s in found if (s[:3] if s[0] == "ervaringswijzer" else s[:1]) in tested_programs
    }
    assert ours <= found, f"README lacks {sorted(ours - found)}"
    assert compared <= ours, f"README runs {sorted(compared - ours)}, which this module does not"


def test_readme_explains_every_nginx_placeholder():
    site = NGINX_SITE.read_text(encoding="utf-8")
    section = readme_production()
    assert set(re.findall(r"@[A-Z_]+@", site)) == set(NGINX_PLACEHOLDERS)
    for placeholder in NGINX_PLACEHOLDERS:
        assert placeholder in section, f"README Production does not explain {placeholder}"
    for path in ("deploy/nginx/ervaringswijzer.conf", "deploy/env.example", "deploy/systemd/"):
        assert path in section
