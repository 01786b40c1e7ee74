"""How the production-stack test reaches the stack: requests that verify nginx's certificate,
what a browser page observed, the families' episode file, and what the module's fixtures leave
for the tests (tests/test_production_stack.py).
"""

from __future__ import annotations

import csv
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tests.stack import Stack
from tests.stack_services import count_rows

FAMILY_EMAIL = "ouder.jansen@example.org"
SECOND_FAMILY_EMAIL = "ouder.pietersen@example.org"
ADMIN_EMAIL = "beheer@zorgaanbieder.example.org"
TARGET_EMAIL = "kwaliteit@zorgaanbieder.example.org"
PASSWORD = "lange wandeling langs de Eem 2024"
COMMENT = "De begeleider luisterde echt naar ons en de hulp was erg nuttig."


def https(stack: Stack) -> Any:
    """A requests session that verifies nginx's certificate against the test CA."""
    import requests

    session = requests.Session()
    session.verify = str(stack.certificates.ca_file)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace `verify`
    return session


class Observed:
    """What a browser page saw: answers of 400 and above, and headers of our documents."""

    def __init__(self, stack: Stack, page: Any) -> None:
        self.stack = stack
        self.failures: list[str] = []
        self.documents: list[tuple[str, dict[str, str]]] = []
        page.on("response", self.on_response)

    def on_response(self, response: Any) -> None:
        if not response.url.startswith(self.stack.base_url):
            return
        if response.status >= 400:
            self.failures.append(f"{response.status} {response.request.method} {response.url}")
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.headers))

    def assert_clean(self) -> None:
        assert not self.failures, f"answers of 400 and above: {self.failures}"
        assert self.documents
        for url, headers in self.documents:
            hsts = headers.get("strict-transport-security", "")
            assert hsts.startswith("max-age=31536000"), f"no HSTS on {url}"
            assert "," not in hsts and "\n" not in hsts, f"HSTS twice on {url}: {hsts!r}"


def csv_episodes(folder: Path, end: date) -> Path:
    """An episode CSV (DESIGN §4.1) with two families: parents only."""
    path = folder / "episodes.csv"
    rows = [
        [
            "episode_id",
            "end_date",
            "team",
            "municipality",
            "care_type",
            "youth_age",
            "parent_email",
        ],
        ["STACK-1", end.isoformat(), "Team Noord", "Amersfoort", "ambulant", "9", FAMILY_EMAIL],
        ["STACK-2", end.isoformat(), "Team Zuid", "Leusden", "ambulant", "10", SECOND_FAMILY_EMAIL],
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


@dataclass
class Mailed:
    """The invitations `ervaringswijzer send` delivered through the relay."""

    links: dict[str, str]  # recipient -> the survey link in the email
    over_tls: list[bool]  # per message: did it come over STARTTLS
    send_output: str


@dataclass
class Family:
    """What the first family's answer left behind for the other tests."""

    observed: Observed
    thanks_heading: str
    prepare: subprocess.Popen[str]  # `quotes prepare`, running while the staff sign in


@dataclass
class Admin:
    """An admin signed in in Chromium; the page stays open from sign-in to sign-out."""

    context: Any
    page: Any
    observed: Observed


def _wrong_password(stack: Stack, email: str) -> tuple[int, str]:
    """One sign-in with a wrong password, as a browser on the site would send it, over a new
    connection (`Connection: close`), so that either worker may answer."""
    from tests.pages import csrf_token

    session = https(stack)
    session.headers["Connection"] = "close"
    page = session.get(f"{stack.base_url}/staff/login", timeout=10)
    answer = session.post(
        f"{stack.base_url}/staff/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": "niet het goede"},
        headers={"Origin": stack.base_url, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code, answer.text


def wait_for_deidentified_comment(stack: Stack, prepare: subprocess.Popen[str]) -> str:
    """Until `quotes prepare` has ended; returns what it printed (raises when it failed).

    The command ends right after its commit: it does not spend seconds freeing deduce's lookup
    structures one by one (survey.cli, `_exit_without_teardown`).
    """
    output = stack.finish(prepare)
    assert count_rows(stack.database_url, "comment WHERE deidentified_text IS NOT NULL") == 1
    return output
