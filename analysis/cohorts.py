"""Cohort cell tables: margins, response rates and the full cohort report.

A cohort cell is one combination of dimension values (group, period, team, municipality,
care type). The SQL side sends two small tables per report: the invitation funnel per cell and,
per mark item, the mark aggregates per cell. `merge_cells` joins them, `add_margins` completes
the table with every subtotal and the grand total (the figures readers can see elsewhere, and
which disclosure control must therefore take into account), `response_rates` adds the funnel
ratios, and `cohort_report` runs the whole chain including disclosure control.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.disclosure import TOTAL, suppress
from analysis.scores import additive_columns, mark_statistics

FUNNEL_COLUMNS = ("sent", "opened", "responded", "bounced", "opted_out", "after_reminder")


def add_margins(
    cells: pd.DataFrame, dims: Sequence[str], *, measures: Sequence[str] | None = None
) -> pd.DataFrame:
    """Complete a cell table into a cube with every subtotal and the grand total.

    Combinations of dimension values that have no row (no invitations, no responses) are added
    with zero counts, so the result has exactly one row per combination of
    ``levels(dim) + [TOTAL]`` over all dims.

    Args:
        cells: one row per cell (several rows for one combination are summed).
        dims: the dimension columns; empty gives just the grand total.
        measures: the additive columns to carry; default `additive_columns(cells)`. Other
            columns (derived figures) are dropped: compute them on the result.

    Returns:
        A new frame with `dims` (margin rows hold `TOTAL`), `is_total` (True on every margin
        row) and the summed measures, ordered by dimension level with `TOTAL` last.
    """
    dims = list(dims)
    measures = additive_columns(cells) if measures is None else list(measures)
    missing = [c for c in [*dims, *measures] if c not in cells.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    codes, labels = [], []
    for dim in dims:
        values = cells[dim]
        if (values.astype(object) == TOTAL).any():
            raise ValueError(f"dimension {dim!r} already holds the margin label {TOTAL!r}")
        dim_codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
        codes.append(dim_codes)
        labels.append([*uniques.tolist(), TOTAL])
    shape = tuple(len(level) for level in labels)
    columns: dict[str, object] = {}
    grid = np.indices(shape).reshape(len(dims), int(np.prod(shape)))
    for dim, dim_labels, index in zip(dims, labels, grid, strict=True):
        columns[dim] = np.array(dim_labels, dtype=object)[index]
    columns["is_total"] = (grid == np.array(shape)[:, None] - 1).any(axis=0) | (len(dims) == 0)
    for measure in measures:
        columns[measure] = _cube_with_margins(cells[measure], codes, shape).reshape(-1)
    return pd.DataFrame(columns)


def _cube_with_margins(values: pd.Series, codes: list[np.ndarray], shape: tuple) -> np.ndarray:
    """An array of `shape` with the cell sums, and along every axis its last slot the total."""
    exact = pd.api.types.is_integer_dtype(values) and not values.isna().any()
    cube = np.zeros(shape, dtype="int64" if exact else float)
    source = values.to_numpy(dtype="int64" if exact else float)
    if not codes:
        return np.array(source.sum())
    np.add.at(cube, tuple(codes), source)
    for axis in range(len(shape)):
        inner = [slice(None)] * len(shape)
        inner[axis] = slice(0, shape[axis] - 1)
        total = [slice(None)] * len(shape)
        total[axis] = shape[axis] - 1
        cube[tuple(total)] = cube[tuple(inner)].sum(axis=axis)
    return cube


def response_rates(cells: pd.DataFrame) -> pd.DataFrame:
    """Add the funnel ratios to each cell.

    Response rate is responded / sent (AAPOR RR1 style): bounced and opted-out invitations stay
    in the denominator and are reported as counts of their own, never subtracted.

    Args:
        cells: one row per cell with `sent` and `responded`; `opened` and `after_reminder`
            are used when present.

    Returns:
        A copy with `response_rate` (responded / sent) and its 95% Wilson score interval
        `response_rate_ci_low` / `response_rate_ci_high`, and when the inputs exist `open_rate`
        (opened / sent) and `after_reminder_share` (after_reminder / responded); each NaN where
        its denominator is 0 or unknown.
    """
    missing = [c for c in ("sent", "responded") if c not in cells.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    low, high = proportion_interval(cells["responded"], cells["sent"])
    ratios = {
        "response_rate": _ratio(cells["responded"], cells["sent"]),
        "response_rate_ci_low": low,
        "response_rate_ci_high": high,
    }
    if "opened" in cells.columns:
        ratios["open_rate"] = _ratio(cells["opened"], cells["sent"])
    if "after_reminder" in cells.columns:
        ratios["after_reminder_share"] = _ratio(cells["after_reminder"], cells["responded"])
    return cells.assign(**ratios)


def proportion_interval(
    successes: pd.Series, trials: pd.Series, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of successes / trials, per cell.

    Wilson rather than the textbook normal interval: it stays inside 0-1 and keeps its coverage
    for the small cohorts and the rates near 0 or 1 that a team-by-quarter table is full of.

    Args:
        successes: e.g. responded per cell.
        trials: e.g. sent per cell.
        confidence: two-sided coverage (default 0.95).

    Returns:
        (low, high) arrays, NaN where trials is 0 or unknown.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    k = successes.to_numpy(dtype=float, na_value=np.nan)
    n = trials.to_numpy(dtype=float, na_value=np.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_n = np.where(n > 0, n, 1)
        p = k / safe_n
        centre = (p + z * z / (2 * safe_n)) / (1 + z * z / safe_n)
        half = z / (1 + z * z / safe_n) * np.sqrt(p * (1 - p) / safe_n + z * z / (4 * safe_n**2))
    valid = n > 0
    # Rounding can put an end a hair past the observed rate at 0 or 1 responses; clamp it.
    low = np.clip(np.minimum(centre - half, p), 0, 1)
    high = np.clip(np.maximum(centre + half, p), 0, 1)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    top = numerator.to_numpy(dtype=float, na_value=np.nan)
    bottom = denominator.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)


def merge_cells(
    funnel: pd.DataFrame, marks: Mapping[str, pd.DataFrame], dims: Sequence[str]
) -> pd.DataFrame:
    """Join the funnel cells and the mark cells of each item into one cell table.

    Args:
        funnel: dims + `sent`, `opened`, `responded`, `bounced`, `opted_out`, `after_reminder`.
        marks: item id → dims + `n`, `sum`, `sumsq`, `count_1` … `count_10` for that item.
        dims: the dimension columns shared by all tables.

    Returns:
        A new frame with one row per cell found in any input: dims, the funnel counts and each
        item's aggregates prefixed with ``"{item}_"`` (e.g. `usefulness_sum`); counts missing on
        one side are 0.
    """
    dims = list(dims)
    merged = funnel[[*dims, *[c for c in FUNNEL_COLUMNS if c in funnel.columns]]]
    for item, frame in marks.items():
        measures = [c for c in additive_columns(frame) if c not in dims]
        renamed = frame[[*dims, *measures]].rename(columns={c: f"{item}_{c}" for c in measures})
        if dims:
            merged = merged.merge(renamed, on=dims, how="outer")
        else:
            merged = pd.concat([merged.reset_index(drop=True), renamed], axis=1)
    counts = [c for c in merged.columns if c not in dims]
    filled = merged[counts].fillna(0)
    return merged.assign(**{c: filled[c].astype("int64") for c in counts})


def cohort_report(
    funnel: pd.DataFrame,
    marks: Mapping[str, pd.DataFrame],
    dims: Sequence[str],
    *,
    k: int,
    pattern: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> pd.DataFrame:
    """The cohort report: funnel, marks, margins and disclosure control in one table.

    Args:
        funnel: funnel cells as for `merge_cells`.
        marks: item id → mark cells as for `merge_cells` (e.g. `self_direction`, `usefulness`).
        dims: the dimension columns of the report (any number, also none).
        k: MIN_CELL_SIZE, the smallest number of responses behind a published figure.
        pattern: given the cube (dims with `TOTAL` on margins), which rows are hidden, from a
            pattern decided over the whole publication (`analysis.publication`). Without it,
            the table is protected on its own.

    Returns:
        One row per cell and margin (`is_total`), with `invited` (= sent, always shown), the
        funnel counts and ratios, `n` (the smallest item n; `responded` when there are no
        items), per item `{item}_n`, `{item}_mean`, `{item}_sd`, `{item}_ci_low`,
        `{item}_ci_high` and the 1-10 counts, and `suppressed` / `suppression_reason` from
        `analysis.disclosure.suppress` (every figure based on responses is blanked in a
        suppressed row). Primary suppression looks at both `responded` and every item's n.
    """
    dims = list(dims)
    cube = add_margins(merge_cells(funnel, marks, dims), dims)
    for item in marks:
        cube = mark_statistics(cube, prefix=f"{item}_")
    item_n = [f"{item}_n" for item in marks]
    n = cube[item_n].min(axis=1) if item_n else cube["responded"]
    cube = response_rates(cube).assign(invited=cube["sent"], n=n.astype("int64"))
    if pattern is None:
        return suppress(cube, k=k, dims=dims, n_col=["responded", "n", *item_n])
    # Under a publication-wide pattern a hidden row shows no invitation count either: "nothing
    # was sent here" would pin the value of a hidden cell and take it out of the protection.
    return suppress(
        cube,
        k=k,
        dims=dims,
        n_col=["responded", "n", *item_n],
        visible=(),
        hidden=pattern(cube),
    )
