"""Disclosure control: no published figure rests on fewer than MIN_CELL_SIZE responses.

A cohort table is treated as a cube: every combination of dimension levels plus, per
dimension, a margin (`TOTAL`) holding the sum over that dimension — a one-way table with its
total, a two-way table with row margins, column margins and grand total, and the same for more
dimensions. Each *line* of the cube (all cells that differ only in one dimension, margin
included) obeys one linear equation: the cells add up to the margin. We assume a reader knows
every shown figure of the cube, margins included, even when a view leaves them out, because the
same totals are published in other views.

`suppress` decides a suppression pattern in three steps and repeats them until nothing changes:

1. **Primary**: every cell (margins too) whose number of responses is below k.
2. **Secondary, line rule**: a line with exactly one hidden cell would give it away by
   subtraction, so a second cell of that line is hidden — preferably one that also completes
   another such line, then the one with the fewest responses.
3. **Secondary, audit**: the line rule is not enough in two-way and larger tables (two hidden
   rectangles joined by one hidden cell leave that cell derivable). The pattern is audited
   exactly: a hidden cell is derivable iff its unit vector lies in the row space of the line
   equations restricted to the hidden cells, i.e. iff every null-space vector is zero there.
   A derivable cell gets one more neighbour hidden, the cheapest one that resolves it.

One pattern per cell serves every response-based figure of that cell: counts, the sums behind
means, the sums of squares behind SDs and intervals, the 1-10 counts and the rates are all
additive (or functions of additive figures) over the same cube, so the same equations apply.

Invitation counts (`sent`/`invited`) are not based on responses and stay visible. The only
thing they tell about responses is the bound responded ≤ sent: a cell with nothing sent is
publicly known to be empty. Such cells are still hidden (their count is below k), but an
attacker is assumed to know they are 0, so they never count as protection for another cell.

What is not covered: bounds from non-negativity (a hidden pair of cells summing to 3 shows both
are at most 3 — the usual limit of cell suppression), and combinations of *different* tables
(other dimension sets, overlapping periods): callers must publish fixed cubes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TOTAL = "\x1dTotaal"
"""Dimension value of a margin row: the sum over every value of that dimension.

A marker, not a label: it starts with a control character (group separator), which no value
from the data can hold (the episode import strips it at either end, as white space, and
refuses control characters inside a value), so a team or a municipality that is really called
"Totaal" is an ordinary cell. People read `TOTAL_LABEL` (`shown_value`)."""

TOTAL_LABEL = "Totaal"
"""What a margin row reads in tables and files."""


def shown_value(value: object) -> object:
    """A dimension value as people read it: the margin marker becomes "Totaal"."""
    return TOTAL_LABEL if value == TOTAL else value


SUPPRESSED_NOTE = "te weinig reacties"
"""What a reader sees instead of a suppressed figure (the same for both reasons, so the note
does not tell which hidden cells are below k)."""

PRIMARY = "primary"
SECONDARY = "secondary"
INVITATION_COLUMNS = ("sent", "invited")

_NONE, _PRIMARY, _SECONDARY = 0, 1, 2
_REASONS = {_NONE: None, _PRIMARY: PRIMARY, _SECONDARY: SECONDARY}
_TOLERANCE = 1e-9


def suppress(
    table: pd.DataFrame,
    *,
    k: int,
    dims: Sequence[str] = (),
    n_col: str | Sequence[str] = "n",
    visible: Sequence[str] = INVITATION_COLUMNS,
    hidden: pd.Series | None = None,
) -> pd.DataFrame:
    """Apply primary and secondary cell suppression to a cube table.

    Args:
        table: one row per cell of the cube, margins included (as made by
            `analysis.cohorts.add_margins`): dims hold `TOTAL` on margin rows, and along every
            dimension the cells add up to their margin.
        k: the minimum number of responses behind a shown figure (MIN_CELL_SIZE, ≥ 1).
        dims: the dimension columns (none: the table is one grand-total row).
        n_col: the column(s) counting responses; with several, the smallest decides.
        visible: columns that stay visible in suppressed rows. They must count invitations,
            i.e. bound the number of responses from above (default `sent` and `invited`).
        hidden: a pattern decided elsewhere (over the whole publication, see
            `analysis.publication`), aligned with `table`: applied as it is, after checking
            that it hides every row below k.

    Returns:
        A copy of `table` with `suppressed` (bool) and `suppression_reason` (``"primary"``,
        ``"secondary"`` or None). In suppressed rows every column other than the dims,
        `is_total` and `visible` is blanked: integer columns become nullable ``Int64`` with
        ``<NA>``, float columns NaN, other columns None. Show `SUPPRESSED_NOTE` in their place;
        keep `suppression_reason` out of published output (it tells which hidden cells are
        below k).

    Raises:
        ValueError: on k < 1, missing columns, a table that is not a complete cube, missing
            response counts, or margins that are not the sum of their cells.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError("k must be a whole number of at least 1")
    dims = list(dims)
    n_cols = [n_col] if isinstance(n_col, str) else list(n_col)
    visible = [c for c in visible if c in table.columns]
    missing = [c for c in [*dims, *n_cols] if c not in table.columns]
    if missing or not n_cols:
        raise ValueError(f"missing column(s): {', '.join(missing) or 'n_col'}")

    shape, flat = _cube_positions(table, dims)
    for column in [*n_cols, *visible]:
        _check_margins(_cube_of(table, [column], shape, flat), column)
    n = _cube_of(table, n_cols, shape, flat)
    if visible:
        known_empty = (n == 0) & (_cube_of(table, visible, shape, flat) == 0)
    else:
        known_empty = np.zeros(n.shape, dtype=bool)
    if hidden is None:
        reason = suppression_pattern(n, known_empty, k)
    else:
        given_flat = np.zeros(n.shape, dtype=bool).reshape(-1)
        given_flat[flat] = hidden.to_numpy(dtype=bool)
        given = given_flat.reshape(n.shape)
        if (~given & (n < k)).any():
            raise ValueError("the given pattern shows a figure of fewer than k responses")
        reason = np.where(n < k, _PRIMARY, np.where(given, _SECONDARY, _NONE)).astype(np.int8)

    hidden = pd.Series(reason.reshape(-1)[flat] != _NONE, index=table.index)
    blanked = {
        column: _blank(table[column], hidden)
        for column in table.columns
        if column not in {*dims, *visible, "is_total", "suppressed", "suppression_reason"}
    }
    reasons = pd.Series(
        [_REASONS[int(code)] for code in reason.reshape(-1)[flat]], index=table.index, dtype=object
    )
    return table.assign(**blanked, suppressed=hidden, suppression_reason=reasons)


def suppression_pattern(n: np.ndarray, known_empty: np.ndarray, k: int) -> np.ndarray:
    """The suppression pattern of a cube of response counts.

    Args:
        n: responses per cube cell, shape ``(levels_1 + 1, …, levels_d + 1)``; the last slot of
            every axis is the margin of that axis.
        known_empty: cells whose count an attacker knows to be 0 (nothing was sent).
        k: the minimum cell size.

    Returns:
        An int8 array of the same shape: 0 shown, 1 primary, 2 secondary suppression.
    """
    n = np.asarray(n, dtype=float)
    known = np.asarray(known_empty, dtype=bool) & (n == 0)
    reason = np.where(n < k, _PRIMARY, _NONE).astype(np.int8)
    if n.ndim == 0:
        return reason
    while True:
        _apply_line_rule(reason, n, known, k)
        derivable = derivable_cells(reason != _NONE, known)
        if not derivable.any():
            return reason
        _protect(np.unravel_index(int(np.flatnonzero(derivable)[0]), n.shape), reason, n, known)


def derivable_cells(hidden: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Which hidden cells of a cube an attacker can compute exactly from the shown ones.

    The unknowns are the hidden cells not otherwise known; every line of the cube gives one
    equation (cells sum to the margin). A cell is derivable iff every solution of the equations
    agrees on it, i.e. iff the null space of the equation matrix restricted to the unknowns is
    zero in that coordinate. Unknowns are split into independent groups (connected through
    shared lines) so each SVD stays small.

    Args:
        hidden: boolean cube of suppressed cells.
        known: boolean cube of cells whose value is known anyway (not reported as derivable).

    Returns:
        A boolean cube, True for hidden, not-known cells whose value is determined.
    """
    unknown = np.asarray(hidden, dtype=bool) & ~np.asarray(known, dtype=bool)
    result = np.zeros(unknown.shape, dtype=bool)
    if not unknown.any():
        return result
    for component in _components(unknown):
        determined = _determined(component, unknown.shape)
        for cell, is_determined in zip(component, determined, strict=True):
            result[cell] = is_determined
    return result


def _apply_line_rule(reason: np.ndarray, n: np.ndarray, known: np.ndarray, k: int) -> None:
    """Hide partner cells until every line's hidden cells protect each other.

    A line is exposed when it holds exactly one hidden cell that is not known anyway (it
    follows by subtraction), or when its hidden cells together hold fewer than k responses
    (their sum, and the sum of their 1-10 counts, follows by subtraction: a line 9, 1, 1, 11
    with k = 5 hides both 1s, yet the margin tells that those two families gave 2 answers and
    which marks). Cells known to be empty add nothing and do not count; with the margin hidden
    as well, only the margin minus the hidden cells follows, and that is the shown cells' sum.
    """
    while True:
        effective = (reason != _NONE) & ~known
        counts = [effective.sum(axis=axis, keepdims=True) for axis in range(n.ndim)]
        sums = [_hidden_sum(effective, n, axis) for axis in range(n.ndim)]
        line = _first_exposed_line(counts, sums, k)
        if line is None:
            return
        axis, position = line
        best, best_key = None, None
        for index in range(n.shape[axis]):
            cell = (*position[:axis], index, *position[axis + 1 :])
            if reason[cell] != _NONE or known[cell]:
                continue
            completes = sum(
                1
                for other in range(n.ndim)
                if other != axis and _exposed(counts[other], sums[other], k, cell, other)
            )
            key = (-completes, n[cell], index)
            if best_key is None or key < best_key:
                best, best_key = cell, key
        if best is None:
            # Cannot happen with consistent margins: every cell of the line hidden or known
            # empty means the margin itself is hidden (or known empty) as well.
            raise ValueError("inconsistent table: a hidden cell has no possible partner")
        reason[best] = _SECONDARY


def _hidden_sum(effective: np.ndarray, n: np.ndarray, axis: int) -> np.ndarray:
    """Per line along `axis`: the responses in its hidden cells, or infinity when its margin is
    hidden too (then only margin minus hidden cells follows, which is the shown cells' sum)."""
    cells = np.take(np.where(effective, n, 0), range(n.shape[axis] - 1), axis=axis)
    total = cells.sum(axis=axis, keepdims=True)
    margin_hidden = np.take(effective, [n.shape[axis] - 1], axis=axis)
    return np.where(margin_hidden, np.inf, total)


def _exposed(count: np.ndarray, total: np.ndarray, k: int, cell: tuple, axis: int) -> bool:
    at = _collapse(cell, axis)
    return bool(count[at] == 1 or (count[at] >= 1 and total[at] < k))


def _first_exposed_line(
    counts: list[np.ndarray], sums: list[np.ndarray], k: int
) -> tuple[int, tuple[int, ...]] | None:
    for axis, (count, total) in enumerate(zip(counts, sums, strict=True)):
        exposed = np.argwhere((count == 1) | ((count >= 1) & (total < k)))
        if len(exposed):
            return axis, tuple(int(i) for i in exposed[0])
    return None


def _collapse(cell: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """Index of the cell's line along `axis` in a keepdims count array."""
    return (*cell[:axis], 0, *cell[axis + 1 :])


def _protect(cell: tuple, reason: np.ndarray, n: np.ndarray, known: np.ndarray) -> None:
    """Hide one more cell so that the derivable `cell` stops being derivable, if one does."""
    candidates = sorted(
        (
            (n[neighbour], neighbour)
            for neighbour in _neighbours(cell, n.shape)
            if reason[neighbour] == _NONE
        ),
        key=lambda item: (item[0], item[1]),
    )
    if not candidates:
        candidates = sorted(
            (n[c], c) for c in map(tuple, np.argwhere(reason == _NONE)) if not known[c]
        )
    for _, neighbour in candidates:
        reason[neighbour] = _SECONDARY
        if not derivable_cells(reason != _NONE, known)[cell]:
            return
        reason[neighbour] = _NONE
    if not candidates:
        # Cannot happen: with every non-empty cell hidden, no hidden cell is derivable.
        raise ValueError("inconsistent table: no cell left to protect a derivable one")
    # No single cell resolves it: hide the cheapest and let the next round continue.
    reason[candidates[0][1]] = _SECONDARY


def _neighbours(cell: tuple, shape: tuple) -> list[tuple[int, ...]]:
    result = []
    for axis, size in enumerate(shape):
        for index in range(size):
            if index != cell[axis]:
                result.append((*cell[:axis], index, *cell[axis + 1 :]))
    return result


def _components(unknown: np.ndarray) -> list[list[tuple[int, ...]]]:
    """Groups of unknown cells linked through shared lines (union-find)."""
    cells = [tuple(int(i) for i in c) for c in np.argwhere(unknown)]
    parent = list(range(len(cells)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_in_line: dict[tuple, int] = {}
    for i, cell in enumerate(cells):
        for axis in range(unknown.ndim):
            key = (axis, *_collapse(cell, axis))
            j = first_in_line.setdefault(key, i)
            parent[find(i)] = find(j)
    groups: dict[int, list[tuple[int, ...]]] = {}
    for i, cell in enumerate(cells):
        groups.setdefault(find(i), []).append(cell)
    return list(groups.values())


def _determined(component: list[tuple[int, ...]], shape: tuple) -> np.ndarray:
    """For each unknown of one component: is it fixed by the line equations?"""
    column = {cell: j for j, cell in enumerate(component)}
    rows: dict[tuple, np.ndarray] = {}
    for cell, j in column.items():
        for axis, size in enumerate(shape):
            key = (axis, *_collapse(cell, axis))
            row = rows.setdefault(key, np.zeros(len(component)))
            row[j] = -1.0 if cell[axis] == size - 1 else 1.0
    matrix = np.array(list(rows.values()))
    # A cell is fixed iff its unit vector lies in the row space of the equations. The reduced
    # SVD of the transposed matrix gives an orthonormal basis of that row space (the first
    # `rank` left singular vectors) without the square matrices of a full SVD, which for a large
    # group of hidden cells took hundreds of MB.
    basis, singular, _ = np.linalg.svd(matrix.T, full_matrices=False)
    rank = int((singular > _TOLERANCE * max(matrix.shape) * max(singular.max(), 1)).sum())
    return (basis[:, :rank] ** 2).sum(axis=1) > 1 - _TOLERANCE


def _cube_positions(table: pd.DataFrame, dims: list[str]) -> tuple[tuple[int, ...], np.ndarray]:
    """The cube shape and each row's flat position in it; the table must fill it exactly."""
    codes, shape = [], []
    for dim in dims:
        values = table[dim].astype(object)
        is_total = (values == TOTAL).to_numpy()
        level_codes, levels = pd.factorize(values[~is_total], use_na_sentinel=False)
        dim_codes = np.full(len(table), len(levels), dtype=np.int64)
        dim_codes[~is_total] = level_codes
        codes.append(dim_codes)
        shape.append(len(levels) + 1)
    if not dims:
        if len(table) != 1:
            raise ValueError("a table without dimensions must be one grand-total row")
        return (), np.zeros(1, dtype=np.int64)
    flat = np.ravel_multi_index(tuple(codes), tuple(shape))
    if len(table) != int(np.prod(shape)) or len(np.unique(flat)) != len(table):
        raise ValueError(
            "the table is not a complete cube with margins (one row per combination of "
            f"levels and {TOTAL!r}): use analysis.cohorts.add_margins"
        )
    return tuple(shape), flat


def _cube_of(table: pd.DataFrame, columns: list[str], shape: tuple, flat: np.ndarray) -> np.ndarray:
    """The row-wise minimum of `columns`, laid out as a cube."""
    values = table[columns].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any():
        raise ValueError(f"missing values in {', '.join(columns)}")
    if (values < 0).any():
        raise ValueError(f"negative counts in {', '.join(columns)}")
    cube = np.empty(int(np.prod(shape)))
    cube[flat] = values.min(axis=1)
    return cube.reshape(shape)


def _check_margins(cube: np.ndarray, column: str) -> None:
    for axis in range(cube.ndim):
        inner = np.take(cube, range(cube.shape[axis] - 1), axis=axis).sum(axis=axis)
        margin = np.take(cube, cube.shape[axis] - 1, axis=axis)
        if not np.allclose(inner, margin):
            raise ValueError(f"the margins of {column!r} are not the sums of their cells")


def _blank(column: pd.Series, hidden: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype("boolean").mask(hidden)
    if pd.api.types.is_integer_dtype(column):
        return column.astype("Int64").mask(hidden)
    if pd.api.types.is_float_dtype(column):
        return column.mask(hidden)
    return column.astype(object).where(~hidden, None)
