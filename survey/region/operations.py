"""Providers and municipalities as data, shared by the command line, the import and the demo.

A provider is who families read as the sender ("Ervaringswijzer MetMaya"); every episode belongs
to one. An installation for one provider needs no set-up: its first import creates the provider
named after PROVIDER_NAME. The municipality list keeps one spelling per municipality: once it
holds a name, an import naming a municipality that is not on it is refused line by line, with the
closest known names as a suggestion (`check_municipality`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.models import Episode, Municipality, Provider, Response

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
CBS_CODE = re.compile(r"GM\d{4}")


class RegionError(ValueError):
    """A provider or municipality that cannot be added or used; the message says why."""


def slug_of(name: str) -> str:
    """'Zorg & Co Amersfoort' → 'zorg-co-amersfoort' (the slug the migration gives too)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "provider"


def add_provider(session: Session, slug: str, name: str) -> Provider:
    """A new provider (the caller commits)."""
    name = " ".join(name.split())
    if not SLUG.fullmatch(slug):
        raise RegionError(f"'{slug}' is not a slug: lower-case letters, digits and '-' only")
    if not name or len(name) > 200:
        raise RegionError("a provider needs a name of 1 to 200 characters")
    if session.scalar(select(Provider.id).where(Provider.slug == slug)) is not None:
        raise RegionError(f"there already is a provider '{slug}'")
    provider = Provider(slug=slug, name=name)
    session.add(provider)
    session.flush()
    return provider


def providers(session: Session) -> list[Provider]:
    """Every provider, by name."""
    return list(session.scalars(select(Provider).order_by(Provider.name)))


def provider_for_import(session: Session, slug: str | None, config: Mapping[str, Any]) -> Provider:
    """The provider an import is for: `slug`, or the only one there is.

    With no provider at all (a new single-provider installation) the one named after
    PROVIDER_NAME is created. With several, `slug` must say which.
    """
    if slug is not None:
        provider = session.scalar(select(Provider).where(Provider.slug == slug))
        if provider is None:
            known = ", ".join(p.slug for p in providers(session)) or "none yet"
            raise RegionError(f"unknown provider '{slug}' (known: {known})")
        return provider
    every = providers(session)
    if len(every) == 1:
        return every[0]
    if every:
        known = ", ".join(p.slug for p in every)
        raise RegionError(f"there are several providers: say which with --provider ({known})")
    name = config["PROVIDER_NAME"]
    return add_provider(session, slug_of(name), name)


def add_municipality(session: Session, name: str, code: str | None = None) -> Municipality:
    """A new municipality on the list (the caller commits)."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise RegionError("a municipality needs a name of 1 to 200 characters")
    if code is not None and not CBS_CODE.fullmatch(code):
        raise RegionError(f"'{code}' is not a CBS municipality code (GM followed by 4 digits)")
    taken = select(Municipality.id).where(
        (func.lower(Municipality.name) == name.lower())
        | ((Municipality.code == code) if code else False)
    )
    if session.scalar(taken) is not None:
        raise RegionError(f"'{name}' (or its code) is already on the list")
    municipality = Municipality(name=name, code=code)
    session.add(municipality)
    session.flush()
    return municipality


def municipalities(session: Session) -> list[Municipality]:
    """The municipality list, by name."""
    return list(session.scalars(select(Municipality).order_by(Municipality.name)))


def find_municipality(session: Session, name: str) -> Municipality | None:
    """The municipality on the list called `name` (in any case), or None."""
    name = " ".join(name.split())
    return session.scalar(select(Municipality).where(func.lower(Municipality.name) == name.lower()))


class TeamCheck:
    """A team is one provider's: an imported row may not use a team name of another provider
    (the region's figures count a team's families once, under its own provider)."""

    def __init__(self, session: Session, owner: Provider) -> None:
        others = (
            select(table.team, Provider.name)
            .join(Provider, Provider.id == table.provider_id)
            .where(table.provider_id != owner.id)
            .distinct()
            for table in (Episode, Response)
        )
        self._owner: dict[str, str] = {}
        for query in others:
            self._owner.update((team, name) for team, name in session.execute(query))

    def problem(self, team: str) -> str | None:
        """Why `team` cannot be imported for this provider, or None."""
        other = self._owner.get(team)
        if other is None:
            return None
        return (
            f"'{team}' is a team of {other}: a team belongs to one provider; give this "
            "provider's team its own name"
        )


class MunicipalityCheck:
    """Checks the municipality of each imported row against the list (empty list: any name)."""

    def __init__(self, session: Session) -> None:
        self.names = [m.name for m in municipalities(session)]
        self._known = set(self.names)

    def problem(self, name: str) -> str | None:
        """Why `name` cannot be imported, or None."""
        if not self._known or name in self._known:
            return None
        close = difflib.get_close_matches(name, self.names, n=3, cutoff=0.6)
        if not close:
            folded = {known.lower(): known for known in self.names}
            close = [folded[name.lower()]] if name.lower() in folded else []
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"'{name}' is not on the municipality list{hint} (ervaringswijzer municipalities list)"
        )
