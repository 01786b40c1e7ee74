"""`ervaringswijzer providers` and `ervaringswijzer municipalities` (DESIGN §4.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from survey.db import get_session
from survey.region.operations import (
    RegionError,
    add_municipality,
    add_provider,
    municipalities,
    providers,
)

providers_group = AppGroup("providers", help="The care providers whose families are surveyed.")
municipalities_group = AppGroup("municipalities", help="The municipality list (one spelling).")


@providers_group.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="The name families read, e.g. MetMaya.")
def providers_add(slug: str, name: str) -> None:
    """Add a provider: SLUG names it in commands (--provider), NAME in emails and pages."""
    provider = _added(lambda session: add_provider(session, slug, name))
    click.echo(f"Provider {provider.slug} ({provider.name}) added.")


@providers_group.command("list")
def providers_list() -> None:
    """Every provider: slug and name."""
    for provider in providers(get_session()):
        click.echo(f"{provider.slug}\t{provider.name}")


@municipalities_group.command("add")
@click.argument("name")
@click.option("--code", help="The CBS code, e.g. GM0307.")
def municipalities_add(name: str, code: str | None) -> None:
    """Add a municipality to the list that imports are checked against."""
    municipality = _added(lambda session: add_municipality(session, name, code))
    click.echo(f"Municipality {municipality.name} added.")


@municipalities_group.command("list")
def municipalities_list() -> None:
    """The municipality list: name and CBS code."""
    for municipality in municipalities(get_session()):
        click.echo(f"{municipality.name}\t{municipality.code or ''}")


T = TypeVar("T")


def _added(add: Callable[[Session], T]) -> T:
    """Run `add` and commit; a refusal (RegionError) is a usage error with its message."""
    session = get_session()
    try:
        added = add(session)
    except RegionError as problem:
        raise click.UsageError(str(problem)) from None
    session.commit()
    return added
