"""TLS for the mail tests: a CA made in the test, and real relays (aiosmtpd) that speak TLS.

`make_authority(directory)` makes a CA (trustme) and writes its PEM file, the value for
SMTP_CA_FILE; `authority.server_context()` is a server context with a certificate of that CA for
127.0.0.1 and localhost. `starttls_relay(...)` and `smtps_relay(...)` run an SMTP server on a free
local port for the length of a `with` block and record what it received, over which kind of
connection, and every AUTH attempt.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers import RecordingHandler, free_port

RELAY_HOSTS = ("127.0.0.1", "localhost")


@dataclass
class CertificateAuthority:
    """A CA that exists only for this test; `ca_file` is its certificate as a PEM file."""

    ca: trustme.CA
    ca_file: Path

    def server_context(self, *hosts: str) -> ssl.SSLContext:
        """A server-side context with a certificate of this CA for `hosts` (default: local)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*(hosts or RELAY_HOSTS)).configure_cert(context)
        return context


def make_authority(directory: Path, name: str = "test-ca") -> CertificateAuthority:
    """A new CA whose PEM file is written to `directory/<name>.pem`."""
    ca = trustme.CA(organization_name=f"Ervaringswijzer {name}")
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / f"{name}.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return CertificateAuthority(ca, ca_file)


def _over_tls(server: Any) -> bool:
    """Whether the aiosmtpd connection `server` is encrypted right now (STARTTLS or SMTPS)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass
class TlsRecordingHandler(RecordingHandler):
    """A RecordingHandler that also notes, per received message, whether it came over TLS."""

    over_tls: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.over_tls.append(_over_tls(server))
        return await super().handle_DATA(server, session, envelope)


@dataclass
class AuthAttempt:
    """One AUTH the relay saw: the user name, whether it was over TLS, whether it succeeded."""

    login: str
    over_tls: bool
    success: bool


@dataclass
class Authenticator:
    """Accepts exactly one user name and password; records every attempt."""

    username: str
    password: str
    attempts: list[AuthAttempt] = field(default_factory=list)

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        success = login == self.username and auth_data.password.decode() == self.password
        self.attempts.append(AuthAttempt(login, _over_tls(server), success))
        return AuthResult(success=success, handled=False)


@dataclass
class Relay:
    """A running relay: where it listens, what it received, and the AUTH attempts it saw."""

    controller: Controller
    handler: TlsRecordingHandler
    authenticator: Authenticator | None

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        return self.authenticator.attempts if self.authenticator else []


def _authentication(credentials: tuple[str, str] | None, *, over_starttls: bool) -> dict[str, Any]:
    """aiosmtpd options for AUTH with `credentials`; required before MAIL over STARTTLS.

    aiosmtpd only knows about STARTTLS: on an SMTPS socket (or a plain one) it must be told AUTH
    is allowed without it, and then refuses (warns) to make AUTH required. `Authenticator` still
    records whether each attempt came over TLS.
    """
    if credentials is None:
        return {"auth_require_tls": over_starttls}
    return {
        "authenticator": Authenticator(*credentials),
        "auth_require_tls": over_starttls,
        "auth_required": over_starttls,
    }


@contextmanager
def _running(controller: Controller, handler: TlsRecordingHandler) -> Iterator[Relay]:
    controller.start()
    try:
        yield Relay(controller, handler, controller.SMTP_kwargs.get("authenticator"))
    finally:
        controller.stop()


def starttls_relay(
    tls_context: ssl.SSLContext | None,
    *,
    credentials: tuple[str, str] | None = None,
    port: int | None = None,
    handler: TlsRecordingHandler | None = None,
) -> AbstractContextManager[Relay]:
    """A relay on 127.0.0.1 that requires STARTTLS with `tls_context` before MAIL and AUTH.

    With `tls_context=None` it offers no STARTTLS at all and, as a trap, accepts AUTH and mail
    in plain text: a client that falls back to plain text shows up in `auth_attempts` and
    `handler.received`. `credentials` (user, password) make AUTH required (with TLS).
    """
    handler = handler or TlsRecordingHandler()
    options = _authentication(credentials, over_starttls=tls_context is not None)
    if tls_context is not None:
        options.update(tls_context=tls_context, require_starttls=True)
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port(), **options)
    return _running(controller, handler)


def smtps_relay(
    ssl_context: ssl.SSLContext,
    *,
    credentials: tuple[str, str] | None = None,
    port: int | None = None,
    handler: TlsRecordingHandler | None = None,
) -> AbstractContextManager[Relay]:
    """A relay on 127.0.0.1 that speaks TLS from the first byte (SMTPS) with `ssl_context`."""
    handler = handler or TlsRecordingHandler()
    options = _authentication(credentials, over_starttls=False)
    controller = Controller(
        handler, hostname="127.0.0.1", port=port or free_port(), ssl_context=ssl_context, **options
    )
    return _running(controller, handler)
