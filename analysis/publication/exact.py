"""The exact audit over the leaves, for small blocks: the tests run it against the pattern."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from analysis.publication.lattice import PLACE_DIMENSIONS, Lattice, _decode, axis_size, team_leaves
from analysis.publication.periods import TIME_NODES, _months_of


def exact_derivable(
    leaves: np.ndarray, lattice: Lattice, sets: Iterable[np.ndarray] = ()
) -> tuple[list[int], list[int]]:
    """Audit `lattice` exactly against the true leaves of the year (small blocks only).

    The attacker knows every shown node (any view of any period of the year); a set of leaves
    is derivable iff its indicator lies in the row space of the shown nodes' indicators.

    Args:
        leaves: responses per leaf, shape (2, 12, teams, municipalities, care types) in the
            lattice's level order.
        lattice: the lattice built from these leaves' pair sums.
        sets: extra candidate sets (boolean leaf masks) whose sum must not be derivable when it
            is between 1 and k-1.

    Returns:
        (hidden nodes with 1..k-1 responses that are derivable, indices of `sets` that are).
    """
    matrix_of = _leaf_indicators(lattice, leaves.shape)
    basis = _row_space(matrix_of(np.flatnonzero(~lattice.hidden)))

    def derivable(vector: np.ndarray) -> bool:
        residual = vector - basis.T @ (basis @ vector)
        return bool(np.abs(residual).max() < 1e-8)

    k = lattice.k
    flat = leaves.reshape(-1)
    small = np.flatnonzero(lattice.hidden & (lattice.n_max >= 1) & (lattice.n < k))
    bad_nodes = [int(i) for i in small if derivable(matrix_of(np.array([i]))[0])]
    bad_sets = []
    for j, mask in enumerate(sets):
        vector = mask.reshape(-1).astype(float)
        if 1 <= flat[mask.reshape(-1)].sum() < k and derivable(vector):
            bad_sets.append(j)
    return bad_nodes, bad_sets


def _row_space(rows: np.ndarray) -> np.ndarray:
    if not len(rows):
        return np.zeros((0, rows.shape[1]))
    _, singular, vt = np.linalg.svd(rows, full_matrices=False)
    rank = int((singular > 1e-9 * max(rows.shape) * max(singular.max(), 1)).sum())
    return vt[:rank]


def _leaf_indicators(lattice: Lattice, shape: tuple[int, ...]):
    """A function: node indices → their indicator rows over the leaves."""
    month_of = {node: [m - 7 for m in _months_of(node)] for node in range(TIME_NODES)}

    def rows(indices: np.ndarray) -> np.ndarray:
        result = np.zeros((len(indices), int(np.prod(shape))))
        for row, index in enumerate(indices):
            g, t, *place = _decode(lattice, int(lattice.codes[index]))
            mask = np.zeros(shape, dtype=bool)
            selector = [
                slice(None) if g == 2 else [g],
                month_of[t],
                *(
                    slice(None)
                    if value == axis_size(lattice.levels, dim) - 1
                    else team_leaves(lattice.levels, value)
                    if dim == "team"
                    else [value]
                    for dim, value in zip(PLACE_DIMENSIONS, place, strict=True)
                ),
            ]
            mask[np.ix_(*[_as_list(s, size) for s, size in zip(selector, shape, strict=True)])] = (
                True
            )
            result[row] = mask.reshape(-1)
        return result

    return rows


def _as_list(selector: slice | Iterable[int], size: int) -> list[int]:
    return list(range(size)) if isinstance(selector, slice) else list(selector)
