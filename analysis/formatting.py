"""Dutch number formatting and the infoblad results table.

Dutch style: decimal comma, '.' between thousands, marks with two decimals, rates as whole
percentages. Rounding is half away from zero on the number as written (8,085 → 8,09), as readers
would round by hand, not the banker's rounding of `round()`. A missing figure prints as an en
dash; a suppressed one as `SUPPRESSED_NOTE`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from analysis.disclosure import SUPPRESSED_NOTE, TOTAL

MISSING = "–"

GROUP_LABELS = {"youth": "Jongeren", "parent": "Ouders"}
"""Respondent group → infoblad column heading, in column order."""

INFOBLAD_MARKS = (
    ("self_direction_mean", "Ervaren eigen regie (rapportcijfer 1-10)"),
    ("usefulness_mean", "Hoe nuttig was de hulp? (rapportcijfer 1-10)"),
)
FUNNEL_LABEL = "Aantal uitgezet/ respons"


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' NA."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def format_number(value: float | int | None, decimals: int = 0, *, missing: str = MISSING) -> str:
    """A number in Dutch notation: ``1234.5, 1`` → ``"1.234,5"``.

    Args:
        value: the number; None/NaN/NA give `missing`.
        decimals: digits after the comma, rounded half away from zero.
        missing: text for a missing value.

    Returns:
        The formatted number.
    """
    if value is None or is_missing(value):
        return missing
    return _dutch(_decimal(value), decimals)


def _decimal(value: float | int) -> Decimal:
    """The number as written (shortest repr), so 0.285 stays 0.285 and not 0.28499…."""
    if isinstance(value, int | np.integer):
        return Decimal(int(value))
    return Decimal(repr(float(value)))


def _dutch(number: Decimal, decimals: int) -> str:
    rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    text = f"{rounded:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def format_count(value: int | float | None, *, missing: str = MISSING) -> str:
    """A whole number with '.' between thousands: ``1234`` → ``"1.234"``."""
    return format_number(value, 0, missing=missing)


def format_mark(value: float | None, *, missing: str = MISSING) -> str:
    """A report mark with two decimals: ``8.0909`` → ``"8,09"``."""
    return format_number(value, 2, missing=missing)


def format_rate(value: float | None, *, missing: str = MISSING) -> str:
    """A share 0-1 as a whole percentage: ``0.297`` → ``"30%"``."""
    if value is None or is_missing(value):
        return missing
    return f"{_dutch(_decimal(value) * 100, 0)}%"


def to_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python dicts (for JSON and templates): NaN/NA become None.

    Args:
        table: any frame.

    Returns:
        One dict per row with built-in Python types.
    """
    records = []
    for row in table.astype(object).to_dict(orient="records"):
        records.append(
            {str(key): None if is_missing(value) else _plain(value) for key, value in row.items()}
        )
    return records


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def infoblad_table(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> str:
    """The infoblad results table in Markdown: one column per respondent group.

    Args:
        rows: as for `infoblad_cells`.

    Returns:
        The Markdown table, columns Jongeren then Ouders (only groups present), without a
        trailing newline. A suppressed group shows `SUPPRESSED_NOTE` in every row.
    """
    header, *body = infoblad_cells(rows)
    lines = [_markdown_row(header), "|" + "---|" * len(header)]
    return "\n".join([*lines, *(_markdown_row(cells) for cells in body)])


def infoblad_cells(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """The infoblad results table as text cells: a header row, then funnel and mark rows.

    Args:
        rows: one row per respondent group with `group` (``youth``/``parent``), `invited`,
            `responded`, `response_rate`, `self_direction_mean`, `usefulness_mean` and
            `suppressed`. Margin rows (`is_total` or group `TOTAL`) are skipped.

    Returns:
        ``[["", "Jongeren", "Ouders"], [FUNNEL_LABEL, …], [mark label, …], …]`` with only the
        groups present, in that order.

    Raises:
        ValueError: for an unknown group or a group given twice.
    """
    records = to_records(rows) if isinstance(rows, pd.DataFrame) else [dict(r) for r in rows]
    by_group: dict[str, Mapping[str, Any]] = {}
    for record in records:
        group = record.get("group")
        if record.get("is_total") or group == TOTAL:
            continue
        if group not in GROUP_LABELS:
            raise ValueError(f"unknown respondent group {group!r}")
        if group in by_group:
            raise ValueError(f"respondent group {group!r} appears twice")
        by_group[group] = record
    groups = [g for g in GROUP_LABELS if g in by_group]
    cells = [
        ["", *(GROUP_LABELS[g] for g in groups)],
        [FUNNEL_LABEL, *(_funnel_cell(by_group[g]) for g in groups)],
    ]
    for column, label in INFOBLAD_MARKS:
        cells.append([label, *(_mark_cell(by_group[g], column) for g in groups)])
    return cells


def _markdown_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _funnel_cell(record: Mapping[str, Any]) -> str:
    if record.get("suppressed"):
        return SUPPRESSED_NOTE
    return (
        f"{format_count(record.get('invited'))} uitgezet / "
        f"{format_count(record.get('responded'))} respons "
        f"({format_rate(record.get('response_rate'))})"
    )


def _mark_cell(record: Mapping[str, Any], column: str) -> str:
    if record.get("suppressed"):
        return SUPPRESSED_NOTE
    return format_mark(record.get(column))
