"""`ervaringswijzer users create EMAIL --role ROLE [--municipality NAME | --provider SLUG]
[--password-stdin]` (DESIGN §4.2) and `users rotate-mfa-key`."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from survey.accounts.passwords import WeakPassword
from survey.accounts.secrets import SecretUnreadable
from survey.accounts.users import AccountError, create_user, reseal_all
from survey.db import get_session
from survey.enums import LinkPurpose, Role
from survey.mail.account_links import LinkNotSent, mail_new_link
from survey.models import utcnow

users_group = click.Group("users", help="Staff accounts.")


@users_group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option(
    "--municipality",
    metavar="NAME",
    help="Limit the account to this municipality's figures (viewer or quality only).",
)
@click.option(
    "--provider",
    metavar="SLUG",
    help="Limit the account to this provider's families (an admin: also its staff's audit log).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (automation); without it, an invitation link "
    "is mailed and the colleague chooses the password.",
)
@with_appcontext
def users_create(
    email: str, role: str, municipality: str | None, provider: str | None, password_stdin: bool
) -> None:
    """Create a staff account and mail an invitation link (72 hours, once) with which the
    colleague chooses a password and sets up the authenticator app; --password-stdin sets the
    password instead. Without --municipality or --provider the account sees the whole region."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    session = get_session()
    try:
        user = create_user(
            session,
            email,
            role,
            password,
            municipality=municipality,
            provider=provider,
            via="command line",
        )
        session.commit()
    except WeakPassword as weak:
        reasons = {
            "too_short": "use at least 12 characters",
            "too_long": "use at most 128 characters",
            "too_common": "it is on the list of common passwords",
        }
        click.echo(f"Password refused: {reasons.get(str(weak), str(weak))}.", err=True)
        sys.exit(1)
    except AccountError as refused:
        reasons = {
            "email": "not a valid email address",
            "exists": "the account exists",
            "municipality": f"{municipality!r} is not on the municipality list "
            "(ervaringswijzer municipalities list)",
            "scope_role": "a municipality's account can only be a viewer or a quality account",
            "provider": f"{provider!r} is not a provider (ervaringswijzer providers list)",
            "two_scopes": "give --municipality or --provider, not both",
        }
        click.echo(f"Account refused: {reasons.get(refused.code, refused.code)}.", err=True)
        sys.exit(1)
    scope = f", limited to {user.municipality.name}" if user.municipality else ""
    scope += f", limited to {user.provider.name}" if user.provider else ""
    click.echo(f"Created {user.email} with role {role}{scope}.")
    if password is not None:
        click.echo(
            "At the first sign-in a link to set up the authenticator app is mailed to the "
            "account's address."
        )
        return
    if not current_app.config["PASSWORD_LOGIN"]:
        click.echo(
            "Single sign-on only (PASSWORD_LOGIN=0): no invitation; the colleague signs in "
            "with the organisation's account."
        )
        return
    try:
        mail_new_link(session, user, LinkPurpose.INVITATION, utcnow())
    except LinkNotSent as failed:
        click.echo(
            f"The invitation could not be sent ({failed}). Send it again from the accounts page "
            "(“Send invitation again”).",
            err=True,
        )
        sys.exit(1)
    click.echo("Invitation sent: the link works for 72 hours, once.")


@users_group.command("rotate-mfa-key")
@with_appcontext
def users_rotate_mfa_key() -> None:
    """Seal every second-factor secret again with the first key of MFA_ENCRYPTION_KEY.

    Rotation: set MFA_ENCRYPTION_KEY=NEW,OLD, run this, then set MFA_ENCRYPTION_KEY=NEW.
    """
    session = get_session()
    try:
        count = reseal_all(session)
    except SecretUnreadable as unreadable:
        session.rollback()
        click.echo(f"Nothing changed: {unreadable}.", err=True)
        sys.exit(1)
    session.commit()
    click.echo(f"{count} second-factor secret(s) sealed with the first key of MFA_ENCRYPTION_KEY.")
