"""What a report asks for: its breakdown (the dimensions) and its period of end of care.

A dimension is a column of either world (`CONTACT_COLUMNS`, `ANSWER_COLUMNS`) or a period of
the end-of-care date (month, quarter, year), computed in SQL as the database groups it fastest.
`parse_dimensions` refuses a breakdown that would single out families; `Period` is a range of
end-of-care dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.sql.expression import ColumnElement

from analysis.publication import PROVIDER, PeriodError, PublicationPeriod
from survey.cells import CELL_DIMENSIONS
from survey.cells.measures import PERIOD_START
from survey.models import Episode, Invitation, Response

DIMENSIONS = (
    "group", "month", "quarter", "year", "provider", "team", "municipality", "care_type",
)  # fmt: skip
# PROVIDER: the provider of a trajectory, its slug in rows and filters (`providers list`). A
# provider is the sum of its teams (a team is one provider's), so beside a team it adds no
# breakdown; without one it takes the team's place among the two place dimensions a table may
# have (the team axis of `analysis.publication`).


def place_dimensions(names: Sequence[str]) -> list[str]:
    """The place dimensions of a breakdown and scope: team, municipality and care type, and the
    provider where no team is (a team is finer)."""
    places = [d for d in names if d in CELL_DIMENSIONS]
    if PROVIDER in names and "team" not in names:
        places.append(PROVIDER)
    return places


class ReportError(ValueError):
    """A report request names an unknown dimension or an impossible period."""


PERIOD_GRAINS = tuple(PERIOD_START)  # finest first


def period_name(value: date | str, grain: str) -> str:
    """The label of a period ('2025-05', '2025-Q2', '2025') from its first day (a date, or an
    ISO date string from SQLite)."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if grain == "month":
        return f"{value.year}-{value.month:02d}"
    if grain == "quarter":
        return f"{value.year}-Q{(value.month + 2) // 3}"
    return str(value.year)


def parse_dimensions(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """`group,quarter` → ('group', 'quarter'); unknown names raise ReportError."""
    if by is None or by == "":
        return ()
    names = [d.strip() for d in (by.split(",") if isinstance(by, str) else by) if d.strip()]
    unknown = [d for d in names if d not in DIMENSIONS]
    if unknown:
        raise ReportError(f"unknown dimension {unknown[0]!r}: choose from {', '.join(DIMENSIONS)}")
    if len(set(names)) != len(names):
        raise ReportError("a dimension appears twice")
    if len(place_dimensions(names)) > 2:
        raise ReportError(
            "at most two of team (or provider), municipality and care_type: finer tables would "
            "single out families"
        )
    if len([d for d in names if d in PERIOD_START]) > 1:
        raise ReportError("one of month, quarter and year at a time")
    return tuple(names)


# Where each dimension lives in the two worlds; periods come from the end-of-care date.
CONTACT_COLUMNS = {
    "group": Invitation.respondent_group,
    "provider": Episode.provider_id,
    "team": Episode.team,
    "municipality": Episode.municipality,
    "care_type": Episode.care_type,
    "period": Episode.end_date,
}
ANSWER_COLUMNS = {
    "group": Response.respondent_group,
    "provider": Response.provider_id,
    "team": Response.team,
    "municipality": Response.municipality,
    "care_type": Response.care_type,
    "period": Response.end_month,
}


def dimension_column(name: str, columns: dict[str, Any]) -> ColumnElement:
    """The labelled SQL expression of dimension `name` in one world's `columns`."""
    if name in columns:
        return columns[name].label(name)
    return PERIOD_START[name](columns["period"]).label(name)


@dataclass(frozen=True)
class Period:
    """An inclusive range of end-of-care dates (either end may be open).

    Published tables take only a publication period (`analysis.publication`): a calendar month,
    quarter, half year or year; `publication` tells which one, or refuses.
    """

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ReportError("--from is after --to")

    @classmethod
    def of(cls, period: PublicationPeriod) -> Period:
        return cls(period.start, period.end)

    @property
    def publication(self) -> PublicationPeriod:
        """The publication period this range is (ReportError if it is none)."""
        if self.start is None or self.end is None:
            raise ReportError("figures are published per month, quarter, half year or year")
        try:
            return PublicationPeriod.from_range(self.start, self.end)
        except PeriodError as problem:
            raise ReportError(str(problem)) from None
