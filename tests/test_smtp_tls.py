"""The mail relay over verified TLS: STARTTLS and SMTPS, AUTH only over TLS, and a relay whose
certificate does not verify keeps the messages in the outbox until it is fixed."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from survey import create_app
from survey.config import ConfigError, check_config, load_config
from survey.db import get_session
from survey.mail.mime import Content, compose
from survey.mail.transports import SmtpTransport, TransientMailError, probe_relay
from survey.models import Invitation, OutboxMessage, utcnow
from tests.conftest import make_test_app
from tests.factories import make_invitation
from tests.servers import free_port
from tests.tls import (
    AuthAttempt,
    CertificateAuthority,
    Relay,
    make_authority,
    smtps_relay,
    starttls_relay,
)

USER, PASSWORD = "ervaringswijzer", "relay-wachtwoord"
MESSAGES = 3


@pytest.fixture
def authority(tmp_path: Path) -> CertificateAuthority:
    """The CA the app trusts (SMTP_CA_FILE)."""
    return make_authority(tmp_path / "ca", "trusted-ca")


@pytest.fixture
def other_authority(tmp_path: Path) -> CertificateAuthority:
    """A CA the app does not trust."""
    return make_authority(tmp_path / "ca", "other-ca")


def relay_app(database_url: str, tmp_path: Path, port: int, **overrides: object) -> Flask:
    """An app that sends through the relay on 127.0.0.1:`port`."""
    return make_test_app(
        database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=5, **overrides
    )


def invite(app: Flask, count: int = MESSAGES) -> None:
    """`count` invitations that are due to be sent."""
    with app.app_context():
        session = get_session()
        for n in range(count):
            make_invitation(session, email=f"gezin{n}@example.org")
        session.commit()


def send(app: Flask, day: date) -> str:
    """`ervaringswijzer send --today day`; its output."""
    result = app.test_cli_runner().invoke(args=["send", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def outbox(app: Flask) -> list[OutboxMessage]:
    """The invitation messages in the outbox."""
    with app.app_context():
        query = select(OutboxMessage).where(OutboxMessage.kind == "invitation")
        return list(get_session().scalars(query))


def assert_each_arrived_once(app: Flask, relay: Relay) -> None:
    """Every invitation message reached `relay` exactly once, and the outbox says it was sent."""
    arrived = Counter((r.rcpt_tos[0], str(r.message["Message-ID"])) for r in relay.handler.received)
    expected = {(m.recipient, m.message_id) for m in outbox(app)}
    assert set(arrived) == expected and set(arrived.values()) == {1}
    assert all(relay.handler.over_tls)
    assert {m.status for m in outbox(app)} == {"sent"}


def assert_kept_for_later(app: Flask, reason: str) -> None:
    """Nothing went out; every message is still pending, and nothing bounced or gave up."""
    messages = outbox(app)
    assert len(messages) == MESSAGES
    assert {m.status for m in messages} == {"pending"}
    tried = [m for m in messages if m.attempts]
    assert len(tried) == 1  # the pass stopped at the first failed connection
    assert reason in tried[0].last_error and "@" not in tried[0].last_error
    with app.app_context():
        invitations = get_session().scalars(select(Invitation)).all()
        assert all(i.sent_at is None and i.bounced_at is None for i in invitations)


RELAYS = {"starttls": (starttls_relay, "SMTP_STARTTLS"), "smtps": (smtps_relay, "SMTP_SSL")}


@pytest.mark.parametrize("kind", RELAYS)
def test_a_tls_relay_gets_every_message_and_the_password_only_over_tls(
    database_url, tmp_path, authority, kind
):
    """STARTTLS (587) and SMTPS (465): each message once, one login, on the encrypted line."""
    relay_of, switch = RELAYS[kind]
    with relay_of(authority.server_context(), credentials=(USER, PASSWORD)) as relay:
        app = relay_app(
            database_url,
            tmp_path,
            relay.port,
            **{switch: True},
            SMTP_CA_FILE=str(authority.ca_file),
            SMTP_USERNAME=USER,
            SMTP_PASSWORD=PASSWORD,
        )
        invite(app)
        output = send(app, utcnow().date())
    assert f"Delivered:                  {MESSAGES}" in output
    assert_each_arrived_once(app, relay)
    assert relay.auth_attempts == [AuthAttempt(USER, over_tls=True, success=True)]
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize(
    ("mode", "wrong"),
    [("starttls", "other CA"), ("smtps", "other CA"), ("starttls", "other host name")],
)
def test_relay_with_an_unverifiable_certificate_gets_nothing_until_it_is_fixed(
    database_url, tmp_path, authority, other_authority, mode, wrong
):
    serve, flag = RELAYS[mode]
    if wrong == "other CA":
        bad_context = other_authority.server_context()
    else:  # signed by the trusted CA, but for another host than SMTP_HOST
        bad_context = authority.server_context("mail.example.org")
    port = free_port()
    today = utcnow().date()
    with serve(bad_context, port=port) as bad_relay:
        app = relay_app(
            database_url, tmp_path, port, SMTP_CA_FILE=str(authority.ca_file), **{flag: True}
        )
        invite(app)
        output = send(app, today)
    assert "Delivered:                  0" in output
    assert bad_relay.handler.received == []
    assert_kept_for_later(app, "certificate verify failed")

    # The relay gets a certificate the app can verify; the next day's run sends everything once.
    with serve(authority.server_context(), port=port) as fixed_relay:
        send(app, today + timedelta(days=1))
        send(app, today + timedelta(days=1))  # a second run sends nothing twice
    assert_each_arrived_once(app, fixed_relay)
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("login", [True, False], ids=["with AUTH", "without AUTH"])
def test_relay_without_starttls_gets_no_plain_text_mail_and_no_password(
    database_url, tmp_path, authority, login
):
    # This relay offers no STARTTLS but would take AUTH and mail in plain text.
    credentials = {"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD} if login else {}
    with starttls_relay(None, credentials=(USER, PASSWORD) if login else None) as relay:
        app = relay_app(
            database_url,
            tmp_path,
            relay.port,
            SMTP_STARTTLS=True,
            SMTP_CA_FILE=str(authority.ca_file),
            **credentials,
        )
        invite(app)
        send(app, utcnow().date())
    assert relay.handler.received == []
    assert relay.auth_attempts == []
    assert_kept_for_later(app, "STARTTLS")
    app.extensions["db_engine"].dispose()


def test_transport_never_logs_in_without_tls_even_if_the_config_check_was_skipped():
    with starttls_relay(None, credentials=(USER, PASSWORD)) as relay:
        transport = SmtpTransport(
            {
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": relay.port,
                "SMTP_TIMEOUT": 5,
                "SMTP_STARTTLS": False,
                "SMTP_USERNAME": USER,
                "SMTP_PASSWORD": PASSWORD,
            }
        )
        mail = compose(
            Content(
                mail_from="Ervaringswijzer <noreply@ervaringswijzer.test>",
                recipient="gezin@example.org",
                subject="Uw ervaring",
                message_id="<tls-test@ervaringswijzer.test>",
                body_text="Hallo",
                body_html=None,
            ),
            utcnow(),
        )
        with pytest.raises(TransientMailError, match="AUTH") as raised:
            transport.send(mail)
        transport.close()
    assert raised.value.connection
    assert relay.auth_attempts == [] and relay.handler.received == []


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}, "SMTP_USERNAME"),
        ({"SMTP_STARTTLS": "1", "SMTP_SSL": "1"}, "SMTP_SSL"),
        ({"SMTP_STARTTLS": "1", "SMTP_CA_FILE": "missing/relay-ca.pem"}, "SMTP_CA_FILE"),
    ],
)
def test_unsafe_relay_settings_are_refused_at_start(tmp_path, env, variable):
    env = {"SMTP_HOST": "relay.example.org", **env}
    config = load_config(tmp_path, env) | {"TESTING": True}
    with pytest.raises(ConfigError, match=variable) as raised:
        check_config(config)
    assert "=1" in str(raised.value) or "PEM" in str(raised.value)  # it says what to change
    with pytest.raises(ConfigError, match=variable):
        create_app({"TESTING": True, **config})


def test_safe_relay_settings_are_accepted(tmp_path, authority):
    for env in (
        {"SMTP_STARTTLS": "1", "SMTP_USERNAME": USER, "SMTP_CA_FILE": str(authority.ca_file)},
        {"SMTP_SSL": "1", "SMTP_USERNAME": USER},
        {},
    ):
        config = load_config(tmp_path, {"SMTP_HOST": "relay.example.org", **env})
        check_config(config | {"TESTING": True})


def probe_config(tmp_path: Path, port: int, ca_file: Path, **env: str) -> dict:
    """Settings for a relay on 127.0.0.1:`port`, read the way the app reads them."""
    base = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_CA_FILE": str(ca_file)}
    return load_config(tmp_path, base | env)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_probe_of_a_healthy_relay_logs_in_and_sends_nothing(tmp_path, authority, mode):
    serve, flag = RELAYS[mode]
    with serve(authority.server_context(), credentials=(USER, PASSWORD)) as relay:
        config = probe_config(
            tmp_path,
            relay.port,
            authority.ca_file,
            **{flag: "1", "SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD},
        )
        probe = probe_relay(config)
    assert probe.ok, probe.detail
    assert probe.detail.startswith("EHLO ok, TLS verified (TLSv1.")
    assert probe.detail.endswith("AUTH ok")
    assert relay.auth_attempts == [AuthAttempt(USER, over_tls=True, success=True)]
    assert relay.handler.received == []


def test_probe_of_a_relay_with_a_certificate_of_another_ca_says_so(
    tmp_path, authority, other_authority
):
    with starttls_relay(other_authority.server_context(), credentials=(USER, PASSWORD)) as relay:
        config = probe_config(
            tmp_path,
            relay.port,
            authority.ca_file,
            SMTP_STARTTLS="1",
            SMTP_USERNAME=USER,
            SMTP_PASSWORD=PASSWORD,
        )
        probe = probe_relay(config)
    assert not probe.ok
    assert "STARTTLS failed: certificate verify failed" in probe.detail
    assert relay.auth_attempts == [] and relay.handler.received == []


def test_probe_of_a_relay_that_is_down_says_so(tmp_path, authority):
    probe = probe_relay(probe_config(tmp_path, free_port(), authority.ca_file, SMTP_SSL="1"))
    assert not probe.ok
    assert "connect failed: ConnectionRefusedError" in probe.detail
