"""The publication period a staff page shows, and the select that chooses it.

Staff pages show figures, comments and quotes per publication period only: a calendar month,
quarter, half year or year (`analysis.publication`), never free dates. Two free ranges could be
subtracted (January–March minus January–February is March, perhaps one family); fixed periods
are nested or disjoint, and one suppression pattern covers all of them
(`survey.reporting.publication`).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from datetime import date

from flask import request

from analysis.publication import PublicationPeriod
from survey.db import get_session
from survey.reporting.publication import available_periods, default_period
from survey.web.i18n import select_locale


def period_from_args(
    args: Mapping[str, str],
    default: PublicationPeriod,
    available: Collection[PublicationPeriod] | None = None,
) -> PublicationPeriod:
    """The publication period a query string asks for; never fails.

    `period=2026-Q1` (a `PublicationPeriod.key`) names it. Links from before the fixed periods
    carry `from` and `to`: they count only when they are exactly one period (a whole month,
    quarter, half year or year), since no other range is published. Anything else, and with
    `available` any period outside it, gives `default`.
    """
    try:
        if args.get("period"):
            chosen = PublicationPeriod.parse(args["period"])
        elif args.get("from") and args.get("to"):
            start, end = date.fromisoformat(args["from"]), date.fromisoformat(args["to"])
            chosen = PublicationPeriod.from_range(start, end)
        else:
            return default
    except ValueError:  # PeriodError is one, and so is a date that does not exist
        return default
    if available is not None and chosen not in available:
        return default
    return chosen


def periods() -> tuple[list[PublicationPeriod], PublicationPeriod]:
    """Every publication period with data (newest first) and the one shown by default."""
    db = get_session()
    return available_periods(db), default_period(db)


def chosen_period() -> tuple[PublicationPeriod, list[PublicationPeriod]]:
    """The period this request asks for (see `period_from_args`), and every period with data."""
    available, default = periods()
    return period_from_args(request.args, default, available), available


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
