"""Mail transports: SMTP with a timeout on every call, or `.eml` files for the embedded default.

A transport either accepts a message or raises `TransientMailError` (try again later: 4xx,
refused connections, timeouts) or `PermanentMailError` (5xx: the address bounces). Error texts
carry SMTP codes and exception types only, never an address.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from survey.mime import OutgoingMail


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
        name = mail.message_id.strip("<>").replace("@", "_at_").replace("/", "_")
        target = self.directory / f"{name}.eml"
        partial = target.with_suffix(".eml.part")
        try:
            partial.write_bytes(mail.data)
            os.replace(partial, target)
        except OSError as exc:
            raise TransientMailError(f"cannot write: {type(exc).__name__}") from None

    def close(self) -> None:
        """Nothing to close."""


class SmtpTransport:
    """Delivers over one reused SMTP connection, with a timeout on every call."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = config["SMTP_HOST"]
        self.port = config["SMTP_PORT"]
        self.timeout = config["SMTP_TIMEOUT"]
        self.starttls = config["SMTP_STARTTLS"]
        self.username = config["SMTP_USERNAME"]
        self.password = config["SMTP_PASSWORD"]
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(timeout=self.timeout)
        try:
            smtp.connect(self.host, self.port)
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _ensure_connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except smtplib.SMTPResponseException as exc:
                # Greeting, STARTTLS or login refused: nothing about this message is wrong.
                raise TransientMailError(
                    f"server answered {exc.smtp_code}", connection=True
                ) from None
            except (smtplib.SMTPException, OSError) as exc:
                raise TransientMailError(type(exc).__name__, connection=True) from None
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


def make_transport(config: Mapping[str, Any]) -> Transport:
    """SMTP when SMTP_HOST is set, otherwise `.eml` files in MAIL_FILE_DIR."""
    if config.get("SMTP_HOST"):
        return SmtpTransport(config)
    return FileTransport(config["MAIL_FILE_DIR"])
