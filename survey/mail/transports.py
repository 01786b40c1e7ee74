"""Mail transports: SMTP with a timeout on every call, or `.eml` files for the embedded default.

A transport either accepts a message or raises `TransientMailError` (try again later: 4xx,
refused connections, timeouts, a relay whose certificate does not verify) or
`PermanentMailError` (5xx: the address bounces). Error texts carry SMTP codes, exception types
and TLS verification reasons only, never an address. The relay is reached over STARTTLS
(`SMTP_STARTTLS`) or SMTPS (`SMTP_SSL`) with a verifying context (`SMTP_CA_FILE`, else the
system's CAs); the password is only ever sent over TLS. `probe_relay` is the operator's check.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from survey.mail.mime import OutgoingMail, eml_file_name


class TransientMailError(Exception):
    """Delivery failed for now; `connection` is true when the server could not be talked to."""

    def __init__(self, reason: str, *, connection: bool = False) -> None:
        super().__init__(reason)
        self.connection = connection


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): the address bounces."""


class Transport(Protocol):
    """Something that delivers an OutgoingMail or raises a Transient/PermanentMailError."""

    def send(self, mail: OutgoingMail) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """Writes each message as `<message-id>.eml` into a folder (the embedded default)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, mail: OutgoingMail) -> None:
        """Write the message atomically: a reader never sees half a file."""
        target = self.directory / eml_file_name(mail.message_id)
        partial = target.with_suffix(".eml.part")
        try:
            partial.write_bytes(mail.data)
            os.replace(partial, target)
        except OSError as exc:
            raise TransientMailError(f"cannot write: {type(exc).__name__}") from None

    def close(self) -> None:
        """Nothing to close."""


def _connection_failure(stage: str, exc: BaseException) -> TransientMailError:
    """The error for a failed connection set-up: what failed and why, never an address.

    A certificate that does not verify is transient like a relay that is down: the messages
    stay in the outbox and go out once the relay (or SMTP_CA_FILE) is fixed.
    """
    if isinstance(exc, TransientMailError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = f"certificate verify failed: {exc.verify_message or exc.reason}"
    elif isinstance(exc, ssl.SSLError):
        why = f"TLS handshake failed: {exc.reason or type(exc).__name__}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        # The server's text may echo the user name: the code only.
        why = f"server answered {exc.smtp_code}"
    else:
        why = type(exc).__name__
    return TransientMailError(f"{stage} failed: {why}", connection=True)


class SmtpTransport:
    """Delivers over one reused SMTP connection, with a timeout on every call."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = config["SMTP_HOST"]
        self.port = config["SMTP_PORT"]
        self.timeout = config["SMTP_TIMEOUT"]
        self.starttls = bool(config["SMTP_STARTTLS"])
        self.smtps = bool(config.get("SMTP_SSL"))
        self.ca_file = config.get("SMTP_CA_FILE")
        self.username = config["SMTP_USERNAME"]
        self.password = config["SMTP_PASSWORD"]
        self._context: ssl.SSLContext | None = None
        self._smtp: smtplib.SMTP | None = None
        # What the last connection set-up got through, for `probe_relay`.
        self.steps: list[str] = []

    def _tls_context(self) -> ssl.SSLContext:
        """The verifying context (made once): the relay's certificate and host name are checked."""
        if self._context is None:
            try:
                self._context = ssl.create_default_context(cafile=self.ca_file)
            except OSError as exc:  # missing or unreadable file; ssl.SSLError is an OSError
                raise TransientMailError(
                    f"cannot load SMTP_CA_FILE: {type(exc).__name__}", connection=True
                ) from None
        return self._context

    def _connect(self) -> smtplib.SMTP:
        """Connect, EHLO, STARTTLS or SMTPS as configured, then log in (only over TLS)."""
        self.steps = []
        stage = "connect"
        context = self._tls_context() if self.starttls or self.smtps else None
        try:
            # The host goes to the constructor: smtplib verifies the certificate against it.
            if self.smtps:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            raise _connection_failure(stage, exc) from None
        try:
            stage = "EHLO"
            smtp.ehlo_or_helo_if_needed()
            self.steps.append("EHLO ok")
            if self.starttls:
                stage = "STARTTLS"
                if not smtp.has_extn("starttls"):
                    # Never fall back to plain text when TLS was asked for.
                    raise TransientMailError(
                        "STARTTLS failed: the relay does not offer it", connection=True
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            sock = smtp.sock
            encrypted = isinstance(sock, ssl.SSLSocket)
            if isinstance(sock, ssl.SSLSocket):  # as `encrypted`, but this narrows `sock`
                self.steps.append(f"TLS verified ({sock.version()})")
            else:
                self.steps.append("no TLS (SMTP_STARTTLS and SMTP_SSL are off)")
            if self.username:
                stage = "AUTH"
                if not encrypted:
                    raise TransientMailError(
                        "AUTH refused: the password is never sent without TLS", connection=True
                    )
                smtp.login(self.username, self.password or "")
                self.steps.append("AUTH ok")
        except BaseException as exc:
            smtp.close()
            if isinstance(exc, smtplib.SMTPException | OSError):
                raise _connection_failure(stage, exc) from None
            raise
        return smtp

    def _ensure_connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def send(self, mail: OutgoingMail) -> None:
        """Send one message; classify any failure as transient or permanent."""
        smtp = self._ensure_connection()
        options: tuple[str, ...] = ()
        try:
            if mail.international:
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("smtputf8"):
                    raise PermanentMailError("server does not accept SMTPUTF8 addresses")
                options = ("SMTPUTF8", "BODY=8BITMIME")
            smtp.sendmail(mail.sender, [mail.recipient], mail.data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            self._raise_for(min(codes) if codes else 550, "recipient refused")
        except smtplib.SMTPResponseException as exc:
            self._reset_or_drop()
            self._raise_for(exc.smtp_code, "server answered")
        except (smtplib.SMTPException, OSError) as exc:  # includes timeouts and lost connections
            self._drop_connection()
            raise TransientMailError(type(exc).__name__, connection=True) from None

    @staticmethod
    def _raise_for(code: int, what: str) -> None:
        if 500 <= code < 600:
            raise PermanentMailError(f"{what} {code}")
        raise TransientMailError(f"{what} {code}")

    def _reset_or_drop(self) -> None:
        """After a refused message, get the connection ready for the next one (or drop it)."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        """Say goodbye politely; never raise."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop_connection()


@dataclass(frozen=True)
class RelayProbe:
    """The outcome of `probe_relay`: whether mail could go out, and the steps that worked."""

    ok: bool
    detail: str


def probe_relay(config: Mapping[str, Any]) -> RelayProbe:
    """Talk to the relay as delivery would (EHLO, verified TLS, AUTH), then QUIT; sends no mail.

    Without SMTP_HOST there is no relay to probe: mail is written as files, which is ok.
    """
    if not config.get("SMTP_HOST"):
        return RelayProbe(True, "no relay configured (SMTP_HOST unset): mail goes to MAIL_FILE_DIR")
    transport = SmtpTransport(config)
    try:
        smtp = transport._connect()
    except TransientMailError as exc:
        return RelayProbe(False, ", ".join([*transport.steps, str(exc)]))
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        smtp.close()
        return RelayProbe(
            False, ", ".join([*transport.steps, f"QUIT failed: {type(exc).__name__}"])
        )
    return RelayProbe(True, ", ".join(transport.steps))


def make_transport(config: Mapping[str, Any]) -> Transport:
    """SMTP when SMTP_HOST is set, otherwise `.eml` files in MAIL_FILE_DIR."""
    if config.get("SMTP_HOST"):
        return SmtpTransport(config)
    return FileTransport(config["MAIL_FILE_DIR"])
