"""One response per link, under concurrency: 20 simultaneous POSTs with one token."""

from __future__ import annotations

import logging
import threading

import requests
from sqlalchemy import func, select

from survey.db import get_session
from survey.models import Invitation, Response
from tests.factories import make_invited
from tests.pages import csrf_token
from tests.servers import live_server

CLIENTS = 20


def test_twenty_concurrent_posts_with_one_token_store_exactly_one_response(app):
    with app.app_context():
        invitation, token = make_invited(get_session())
        invitation_id = invitation.id
    barrier = threading.Barrier(CLIENTS)
    statuses: list[int] = []
    failures: list[BaseException] = []

    with live_server(app) as base_url:
        url = f"{base_url}/s/{token}"

        def family_member(mark: int) -> None:
            try:
                with requests.Session() as browser:
                    page = browser.get(url, timeout=30)
                    data = {
                        "csrf_token": csrf_token(page.text),
                        "self_direction": str(mark),
                        "usefulness": str(mark),
                    }
                    barrier.wait(timeout=30)
                    answer = browser.post(url, data=data, allow_redirects=False, timeout=60)
                    statuses.append(answer.status_code)
            except BaseException as exc:  # reported below, with the thread's failure
                failures.append(exc)

        threads = [
            threading.Thread(target=family_member, args=(1 + n % 10,)) for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert not failures, failures
    assert sorted(statuses) == [302] + [409] * (CLIENTS - 1)
    with app.app_context():
        session = get_session()
        assert session.scalar(select(func.count(Response.id))) == 1
        assert session.get(Invitation, invitation_id).responded_at is not None


def test_access_log_never_shows_the_token(app, caplog):
    with app.app_context():
        _, token = make_invited(get_session())
    caplog.set_level(logging.INFO, logger="werkzeug")
    with live_server(app) as base_url:
        assert requests.get(f"{base_url}/s/{token}", timeout=30).status_code == 200
        assert requests.get(f"{base_url}/afmelden/{token}", timeout=30).status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/s/[token]" in logged and "/afmelden/[token]" in logged
    assert token not in logged


def test_gunicorn_access_log_lines_are_redacted_and_keep_gunicorn_s_header_lookup():
    """gunicorn formats its access line from a mapping that answers "-" for a header the request
    lacks; redaction must keep that mapping, or every line with such a field fails to log."""
    from gunicorn.glogging import SafeAtoms

    from survey.web.security import RedactTokens

    token = "Abc_def-123456789012345678901234567890123456"
    atoms = SafeAtoms({"r": f"GET /s/{token} HTTP/1.1", "s": "200", "U": f"/s/{token}"})
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(U)s %(s)s "%({referer}i)s"', atoms, None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == '/s/[token] 200 "-"'
