"""`ervaringswijzer users create EMAIL --role ROLE [--municipality NAME | --provider SLUG]`
(DESIGN §4.2)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from survey.accounts.passwords import WeakPassword
from survey.accounts.users import AccountError, create_user
from survey.db import get_session
from survey.enums import Role

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
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(
    email: str, role: str, municipality: str | None, provider: str | None, password_stdin: bool
) -> None:
    """Create a staff account (the password is asked for, or read from stdin); without
    --municipality or --provider the account sees the whole region."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
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
    click.echo(
        f"Created {user.email} with role {role}{scope}. The authenticator app is set up at "
        "the first sign-in."
    )
