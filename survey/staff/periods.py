"""The publication period a staff page shows, and the select that chooses it.

Staff pages show figures, comments and quotes per publication period only: a calendar month,
quarter, half year or year (`analysis.publication`), never free dates. Two free ranges could be
subtracted (January–March minus January–February is March, perhaps one family); fixed periods
are nested or disjoint, and one suppression pattern covers all of them
(`survey.reporting.publication`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from analysis.publication import PublicationPeriod
from survey.db import get_session
from survey.reporting.publication import available_periods, default_period
from survey.web.i18n import select_locale


def periods() -> tuple[list[PublicationPeriod], PublicationPeriod]:
    """Every publication period with data (newest first) and the one shown by default."""
    db = get_session()
    return available_periods(db), default_period(db)


_KIND_ORDER = {"year": 0, "half": 1, "quarter": 2, "month": 3}


def _newest_first(period: PublicationPeriod) -> tuple[int, int, int]:
    """The order of `survey.reporting.publication.available_periods`: newest year first; in a
    year the year itself, then its halves, quarters and months, each newest first."""
    return (-period.year, _KIND_ORDER[period.kind], -period.number)


def period_options(
    available: Sequence[PublicationPeriod],
    chosen: PublicationPeriod,
    language: str | None = None,
) -> list[tuple[int, list[tuple[str, str]]]]:
    """The options of a period select: per year (newest first) its periods as (key, label).

    Labels are in `language` (default: the page's). `chosen` is always an option, also when
    there is no data for it yet (the default period of an empty database).
    """
    language = language or select_locale()
    every = list(available)
    if chosen not in every:
        every = sorted([*every, chosen], key=_newest_first)
    return [
        (year, [(period.key, period.label(language)) for period in group])
        for year, group in itertools.groupby(every, key=lambda period: period.year)
    ]
