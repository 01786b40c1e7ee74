"""Report marks (1-10) per cohort cell: n, mean, SD, 95% t interval and the 1-10 distribution.

The SQL side hands over one row per cell with additive aggregates only: `n`, `sum`, `sumsq` (of
the mark) and `count_1` … `count_10`. Everything here works from those, so the answers table is
never loaded row by row, and rolling up to coarser cells is a plain sum of the aggregates
(`roll_up`). Derived figures (mean, SD, interval) are never summed; they are computed again from
the rolled-up aggregates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

MARKS = tuple(range(1, 11))
COUNT_COLUMNS = tuple(f"count_{mark}" for mark in MARKS)

# Columns that may be summed across cells: the mark aggregates (optionally with an item prefix,
# e.g. `usefulness_sum`) and the invitation funnel counts.
_ADDITIVE = re.compile(
    r"^(?:.+_)?(?:n|sum|sumsq|count_(?:[1-9]|10))$"
    r"|^(?:sent|invited|opened|responded|bounced|opted_out|after_reminder)$"
)


def additive_columns(frame: pd.DataFrame) -> list[str]:
    """Names of the columns of `frame` that hold additive aggregates.

    Args:
        frame: a cell table.

    Returns:
        The columns named `n`, `sum`, `sumsq`, `count_1` … `count_10` (each optionally prefixed
        with an item id and `_`, e.g. `usefulness_n`) and the funnel counts `sent`, `invited`,
        `opened`, `responded`, `bounced`, `opted_out`, `after_reminder`, in frame order.
    """
    return [str(c) for c in frame.columns if _ADDITIVE.match(str(c))]


def mark_statistics(
    cells: pd.DataFrame, *, prefix: str = "", confidence: float = 0.95
) -> pd.DataFrame:
    """Add mean, sample SD and the t confidence interval of a mark to each cell.

    The variance comes from the exact identity ``(n*sumsq - sum**2) / (n*(n-1))``; with integer
    aggregates the numerator is computed in integers, so no precision is lost to cancellation.

    Args:
        cells: one row per cell with columns `{prefix}n`, `{prefix}sum`, `{prefix}sumsq`.
        prefix: item prefix of the columns, e.g. ``"usefulness_"``; empty for bare names.
        confidence: two-sided coverage of the interval (default 0.95).

    Returns:
        A copy of `cells` with `{prefix}mean` (NaN for n = 0), `{prefix}sd` (ddof=1) and
        `{prefix}ci_low` / `{prefix}ci_high` = mean ± t(1-α/2, n-1)·sd/√n (all three NaN for
        n < 2).
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    _require(cells, [f"{prefix}n", f"{prefix}sum", f"{prefix}sumsq"])
    n = cells[f"{prefix}n"].to_numpy(dtype=float)
    total = cells[f"{prefix}sum"].to_numpy(dtype=float)
    numerator = _variance_numerator(cells, prefix)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        variance = np.where(n > 1, np.clip(numerator, 0, None) / (n * (n - 1)), np.nan)
        sd = np.sqrt(variance)
        t = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
        half_width = t * sd / np.sqrt(n)
    return cells.assign(
        **{
            f"{prefix}mean": mean,
            f"{prefix}sd": sd,
            f"{prefix}ci_low": mean - half_width,
            f"{prefix}ci_high": mean + half_width,
        }
    )


def _variance_numerator(cells: pd.DataFrame, prefix: str) -> np.ndarray:
    """n*sumsq - sum², exactly when the aggregates are integers."""
    columns = [cells[f"{prefix}{name}"] for name in ("n", "sum", "sumsq")]
    if all(pd.api.types.is_integer_dtype(c) and not c.isna().any() for c in columns):
        n, total, sumsq = (np.array(c.to_numpy(), dtype=object) for c in columns)
        return np.array(n * sumsq - total * total, dtype=float)
    n, total, sumsq = (c.to_numpy(dtype=float) for c in columns)
    return n * sumsq - total * total


def roll_up(
    cells: pd.DataFrame, by: Sequence[str], *, measures: Sequence[str] | None = None
) -> pd.DataFrame:
    """Combine cells into coarser cells by summing their additive aggregates.

    Args:
        cells: one row per fine cell.
        by: the dimension columns to keep (empty: one grand-total row).
        measures: the columns to sum; default `additive_columns(cells)`. Every other column
            (finer dimensions, derived figures such as means) is dropped: recompute derived
            figures on the result.

    Returns:
        A new frame with one row per combination of `by` that occurs in `cells` (missing
        dimension values kept as their own group), sorted by `by`, with summed measures.
    """
    by = list(by)
    measures = additive_columns(cells) if measures is None else list(measures)
    _require(cells, [*by, *measures])
    if not by:
        return cells[measures].sum().to_frame().T.astype(cells[measures].dtypes.to_dict())
    grouped = cells.groupby(by, dropna=False, sort=True, observed=True)[measures].sum()
    return grouped.reset_index()


def mark_distribution(
    cells: pd.DataFrame, dims: Sequence[str], *, prefix: str = ""
) -> pd.DataFrame:
    """The 1-10 distribution of a mark per cell, in long form (one row per cell and mark).

    Args:
        cells: one row per cell with `dims` and `{prefix}count_1` … `{prefix}count_10`.
        dims: the dimension columns identifying a cell.
        prefix: item prefix of the count columns.

    Returns:
        A new frame with `dims`, `mark` (1-10), `count` and `share` (count / cell total; NaN for
        an empty cell), ordered by cell and then mark.
    """
    dims = list(dims)
    count_columns = [f"{prefix}{c}" for c in COUNT_COLUMNS]
    _require(cells, [*dims, *count_columns])
    wide = cells[[*dims, *count_columns]].reset_index(drop=True)
    counts = wide[count_columns].to_numpy()
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
    cell_index = np.repeat(np.arange(len(wide)), len(MARKS))
    return (
        wide.loc[cell_index, dims]
        .reset_index(drop=True)
        .assign(
            mark=np.tile(np.array(MARKS), len(wide)),
            count=counts.reshape(-1),
            share=shares.reshape(-1),
        )
    )


def aggregates_from_distribution(cells: pd.DataFrame, *, prefix: str = "") -> pd.DataFrame:
    """Derive `n`, `sum` and `sumsq` of a mark from its 1-10 counts.

    Useful as a consistency check on what the SQL side sends, or when only counts are queried.

    Args:
        cells: one row per cell with `{prefix}count_1` … `{prefix}count_10`.
        prefix: item prefix of the columns read and written.

    Returns:
        A copy of `cells` with `{prefix}n`, `{prefix}sum`, `{prefix}sumsq` (integers).
    """
    count_columns = [f"{prefix}{c}" for c in COUNT_COLUMNS]
    _require(cells, count_columns)
    counts = cells[count_columns].to_numpy(dtype="int64")
    marks = np.array(MARKS, dtype="int64")
    return cells.assign(
        **{
            f"{prefix}n": counts.sum(axis=1),
            f"{prefix}sum": counts @ marks,
            f"{prefix}sumsq": counts @ (marks * marks),
        }
    )


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
