"""The fixed publication periods, and the time nodes of one year's lattice.

A period is a calendar month, quarter, half year or year, never free dates: months add up to
quarters, quarters to half years, half years to the year. Every period lies inside one calendar
year, so the years are independent blocks (see `analysis.publication`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

import numpy as np

PERIOD_KINDS = ("month", "quarter", "half", "year")

MONTH_NAMES_NL = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
MONTH_NAMES_EN = tuple(calendar.month_name[m] for m in range(1, 13))


class PeriodError(ValueError):
    """A period that is not one of the fixed publication periods."""


# --- the time nodes of a year ----------------------------------------------------------------

# Time nodes of one year: 0 the year, 1-2 the halves, 3-6 the quarters, 7-18 the months.
YEAR_NODE = 0
_FIRST = {"year": 0, "half": 1, "quarter": 3, "month": 7}
_MONTHS_PER = {"year": 12, "half": 6, "quarter": 3, "month": 1}
TIME_NODES = 19


def _parent(node: int) -> int | None:
    if node == YEAR_NODE:
        return None
    if node < 3:
        return YEAR_NODE
    if node < 7:
        return 1 + (node - 3) // 2
    return 3 + (node - 7) // 3


def _children(node: int) -> list[int]:
    return [child for child in range(TIME_NODES) if _parent(child) == node]


def _months_of(node: int) -> list[int]:
    """The month nodes under a time node (itself for a month)."""
    if node >= 7:
        return [node]
    return [m for child in _children(node) for m in _months_of(child)]


def _path_up(node: int, stop: int | None = None) -> list[int]:
    """`node` and its ancestors up to (not including) `stop`, or to the year."""
    path = []
    current: int | None = node
    while current is not None and current != stop:
        path.append(current)
        current = _parent(current)
    return path


TIME_EQUATIONS = tuple((parent, tuple(_children(parent))) for parent in range(7))
"""Every period that is a sum of parts: (parent, its children)."""

_MONTH_MASKS = np.array(
    [sum(1 << (m - 7) for m in _months_of(node)) for node in range(TIME_NODES)], dtype=np.int64
)
"""The months under each time node as bits (bit 0: January)."""


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class PublicationPeriod:
    """A calendar month, quarter, half year or year: the only periods the product publishes."""

    year: int
    kind: str
    number: int = 1

    def __post_init__(self) -> None:
        if self.kind not in PERIOD_KINDS:
            raise PeriodError(f"unknown kind of period {self.kind!r}")
        if not 1 <= self.number <= 12 // _MONTHS_PER[self.kind]:
            raise PeriodError(f"there is no {self.kind} {self.number}")
        if not 1900 <= self.year <= 9999:
            raise PeriodError(f"year {self.year} is out of range")

    @property
    def start(self) -> date:
        return date(self.year, (self.number - 1) * _MONTHS_PER[self.kind] + 1, 1)

    @property
    def end(self) -> date:
        last_month = self.number * _MONTHS_PER[self.kind]
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    @property
    def key(self) -> str:
        """'2026-03', '2026-Q1', '2026-H1' or '2026': the value of forms and URLs."""
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        if self.kind == "half":
            return f"{self.year}-H{self.number}"
        return str(self.year)

    @property
    def time_node(self) -> int:
        return _FIRST[self.kind] + self.number - 1

    def label(self, language: str = "nl") -> str:
        """What readers see: 'maart 2026', '1e kwartaal 2026', '1e halfjaar 2026', '2026'."""
        english = language == "en"
        if self.kind == "month":
            names = MONTH_NAMES_EN if english else MONTH_NAMES_NL
            return f"{names[self.number - 1]} {self.year}"
        if self.kind == "quarter":
            return (
                f"Q{self.number} {self.year}" if english else f"{self.number}e kwartaal {self.year}"
            )
        if self.kind == "half":
            if english:
                return f"{'first' if self.number == 1 else 'second'} half of {self.year}"
            return f"{self.number}e halfjaar {self.year}"
        return str(self.year)

    def contains(self, other: PublicationPeriod) -> bool:
        return self.start <= other.start and other.end <= self.end

    @classmethod
    def parse(cls, text: str) -> PublicationPeriod:
        """'2026-03', '2026-Q1', '2026-H2' or '2026' (PeriodError otherwise)."""
        text = (text or "").strip().upper()
        patterns = {
            "month": r"(\d{4})-(\d{2})",
            "quarter": r"(\d{4})-Q(\d)",
            "half": r"(\d{4})-H(\d)",
            "year": r"(\d{4})",
        }
        for kind, pattern in patterns.items():
            match = re.fullmatch(pattern, text)
            if match:
                number = int(match.group(2)) if kind != "year" else 1
                return cls(int(match.group(1)), kind, number)
        raise PeriodError(
            f"{text!r} is not a publication period: use a month (2026-03), a quarter (2026-Q1), "
            "a half year (2026-H1) or a year (2026)"
        )

    @classmethod
    def from_range(cls, start: date, end: date) -> PublicationPeriod:
        """The period that runs exactly from `start` to `end` (PeriodError if none does)."""
        for kind in PERIOD_KINDS:
            size = _MONTHS_PER[kind]
            if start.day == 1 and (start.month - 1) % size == 0:
                period = cls(start.year, kind, (start.month - 1) // size + 1)
                if period.end == end:
                    return period
        raise PeriodError(
            f"{start.isoformat()} … {end.isoformat()} is not a publication period: choose a "
            "whole calendar month, quarter, half year or year (for example --from 2026-01-01 "
            "--to 2026-03-31)"
        )


def periods_between(first: date, last: date) -> list[PublicationPeriod]:
    """Every publication period that overlaps first … last, newest first, coarsest first."""
    result = []
    for year in range(last.year, first.year - 1, -1):
        for kind in PERIOD_KINDS[::-1]:
            for number in range(12 // _MONTHS_PER[kind], 0, -1):
                period = PublicationPeriod(year, kind, number)
                if period.start <= last and period.end >= first:
                    result.append(period)
    return result


def time_node_of_label(label: str, period: PublicationPeriod) -> int:
    """The time node of a period label ('2026-03', '2026-Q1', '2026') inside `period`.

    A label coarser than `period` (the year of a March table) stands for `period` itself: the
    table only holds that period's figures.
    """
    node = PublicationPeriod.parse(label)
    if node.year != period.year:
        raise PeriodError(f"{label} lies outside {period.key}")
    return node.time_node if period.contains(node) else period.time_node
