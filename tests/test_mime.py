"""The composed mail, read back by the standard library as a mail client would read it."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.mail.mime import Content, compose
from survey.mail.transports import SmtpTransport
from tests.servers import RecordingHandler, free_port

NOW = datetime(2026, 11, 25, 9, 30)
TEXT = (
    "Beste ouder,\n\nHoe was de hulp van MetMaya? Vul de vragenlijst in:\n"
    "https://ervaringswijzer.example.org/s/AbC-dEf_123456789012345678901234567890123\n\n"
    ". Een regel die met een punt begint, een = teken, en 'n  spatie aan het eind  \n"
    "Één cijfer van 1 tot 10 — €0 kosten.\n" + "lang " * 60 + "\n"
)
HTML = '<p>Beste ouder,</p><p><a href="https://ervaringswijzer.example.org/s/x">Vragenlijst</a></p>'


def content(**changes: str | None) -> Content:
    values = {
        "mail_from": "Ervaringswijzer MetMaya <noreply@metmaya.example.org>",
        "recipient": "ouder@example.org",
        "subject": "Uw ervaring met MetMaya",
        "message_id": "<m1@metmaya.example.org>",
        "body_text": TEXT,
        "body_html": HTML,
    }
    return Content(**{**values, **changes})


def read(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def test_headers_and_both_parts_read_back_exactly():
    mail = compose(content(), NOW)
    message = read(mail.data)
    assert mail.sender == "noreply@metmaya.example.org"
    assert mail.recipient == "ouder@example.org"
    assert not mail.international
    assert message["From"].addresses[0].display_name == "Ervaringswijzer MetMaya"
    assert message["To"] == "ouder@example.org"
    assert message["Subject"] == "Uw ervaring met MetMaya"
    assert message["Message-ID"] == "<m1@metmaya.example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert parsedate_to_datetime(message["Date"]) == NOW.replace(tzinfo=UTC)
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content().replace("\r\n", "\n") == HTML
    assert message.defects == [] and plain.defects == [] and html.defects == []


def test_lines_are_crlf_and_short_enough_for_any_mail_server():
    data = compose(content(), NOW).data
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines)  # no bare line feed anywhere
    assert max(len(line) for line in lines) <= 78
    assert data.isascii()


def test_non_ascii_subject_and_sender_name_are_encoded_words():
    mail = compose(
        content(subject="Herinnering: één vraag over ‘de hulp’", mail_from="Zorg & Co é <a@b.nl>"),
        NOW,
    )
    assert mail.data.isascii()
    message = read(mail.data)
    assert message["Subject"] == "Herinnering: één vraag over ‘de hulp’"
    assert message["From"].addresses[0].display_name == "Zorg & Co é"


def test_text_only_message_has_a_single_part():
    message = read(compose(content(body_html=None), NOW).data)
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == TEXT


def test_a_line_break_in_an_address_is_refused():
    with pytest.raises(ValueError, match="line break"):
        compose(content(recipient="ouder@example.org\r\nBcc: x@y.nl"), NOW)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")),
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=120),
)
def test_any_text_and_subject_survive_the_round_trip(text, subject):
    message = read(compose(content(body_text=text, subject=subject), NOW).data)
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message["Subject"] == " ".join(subject.split())


def test_international_address_goes_out_with_smtputf8():
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        transport = SmtpTransport(
            {
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": controller.port,
                "SMTP_TIMEOUT": 10,
                "SMTP_STARTTLS": False,
                "SMTP_USERNAME": None,
                "SMTP_PASSWORD": None,
            }
        )
        mail = compose(content(recipient="jürgen@voorbeeld.nl"), NOW)
        assert mail.international
        transport.send(mail)
        transport.close()
    finally:
        controller.stop()
    [received] = handler.received
    assert received.rcpt_tos == ["jürgen@voorbeeld.nl"]
    assert received.message["To"] == "jürgen@voorbeeld.nl"
    body = received.message.get_body(("plain",)).get_content()
    assert body.replace("\r\n", "\n") == TEXT
