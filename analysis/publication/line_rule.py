"""The line equations of the lattice, and the line rule over them.

In every line whose margin is shown, the hidden cells that are not known to be empty hold no
cells, or at least two and together at least k responses (else their sum follows by
subtraction).
"""

from __future__ import annotations

import itertools

import numpy as np

from analysis.publication.lattice import PAIRS, PLACE_DIMENSIONS, Lattice, team_children
from analysis.publication.periods import TIME_EQUATIONS


def lines(lattice: Lattice) -> list[np.ndarray]:
    """Every line equation of the published lattice as index matrices (margin last)."""
    radix = lattice.radix
    result = []
    for pair in PAIRS:
        axes = [0, 1, *(2 + PLACE_DIMENSIONS.index(d) for d in pair)]
        third = next(2 + i for i, d in enumerate(PLACE_DIMENSIONS) if d not in pair)
        for axis in axes:
            if axis >= 2 and radix[axis] == 2:
                continue  # one level: it is its own margin
            others = [a for a in axes if a != axis]
            ranges = [
                [radix[a] - 1] if a >= 2 and radix[a] == 2 else list(range(radix[a]))
                for a in others
            ]
            grid = np.array(list(itertools.product(*ranges)), dtype=np.int64).T
            base = np.full(grid.shape[1], (radix[third] - 1) * lattice.strides[third])
            for position, a in enumerate(others):
                base = base + grid[position] * lattice.strides[a]
            if axis == 1:
                for parent, children in TIME_EQUATIONS:
                    members = [*children, parent]
                    codes = base[:, None] + np.array(members) * lattice.strides[1]
                    result.append(_found(lattice.lookup(codes)))
            else:
                for members in _axis_equations(lattice, axis):
                    codes = base[:, None] + np.array(members) * lattice.strides[axis]
                    result.append(_found(lattice.lookup(codes)))
    return result


def _axis_equations(lattice: Lattice, axis: int) -> list[list[int]]:
    """The sums along a place axis, each as its parts then their sum: the levels and the
    margin; on a team axis with providers, each provider's teams and the provider, then the
    providers and the margin."""
    total = lattice.radix[axis] - 1
    children = team_children(lattice.levels) if axis == 2 else []
    if not children:
        return [list(range(total + 1))]
    teams = len(lattice.levels["team"])
    equations = [[*teams_of, teams + p] for p, teams_of in enumerate(children)]
    return [*equations, [*range(teams, total), total]]


def _found(index: np.ndarray) -> np.ndarray:
    if (index < 0).any():
        raise ValueError("a line of the lattice runs through a node that does not exist")
    return index


def _line_rule(
    lattice: Lattice,
    fixed: np.ndarray | None = None,
    matrices: list[np.ndarray] | None = None,
) -> bool:
    """Hide more until every line's hidden cells protect each other (see module docstring).

    `fixed`: nodes whose state may not change (the totals of stage 1); False when a line can
    only be mended by hiding one of them. `matrices`: `lines(lattice)`, when already known.
    """
    known, n = lattice.known, lattice.n
    fixed = np.zeros(len(n), dtype=bool) if fixed is None else fixed
    matrices = lines(lattice) if matrices is None else matrices
    while True:
        changed = False
        for matrix in matrices:
            exposed = _exposed(lattice, matrix)
            for row in np.flatnonzero(exposed):
                members = matrix[row]
                if not _still_exposed(lattice, members):
                    continue
                candidates = [
                    m for m in members if not lattice.hidden[m] and not known[m] and not fixed[m]
                ]
                if not candidates:
                    if fixed[members].any():
                        return False
                    raise ValueError("inconsistent lattice: a hidden node has no partner")
                lattice.hidden[min(candidates, key=lambda m: (n[m], m))] = True
                changed = True
        if not changed:
            return True


def _exposed(lattice: Lattice, matrix: np.ndarray) -> np.ndarray:
    """Per line (a row of node indices, margin last): does it give a hidden group away?

    Yes when it holds one hidden node with responses (it follows by subtraction), or when its
    margin is shown and its hidden nodes together hold 1 to k-1 responses. Hidden nodes that
    hold no responses at all may follow (that nobody of a group answered is not protected);
    a node inside a certificate never does, since the certificate gives it a partner in every
    line.
    """
    hidden = lattice.hidden[matrix] & ~lattice.known[matrix]
    count = hidden.sum(axis=1)
    anything = np.where(hidden, lattice.n_max[matrix], 0).sum(axis=1)
    inner = np.where(hidden[:, :-1], lattice.n_max[matrix[:, :-1]], 0).sum(axis=1)
    alone = (count == 1) & (anything >= 1)
    return alone | (~hidden[:, -1] & (inner >= 1) & (inner < lattice.k))


def _still_exposed(lattice: Lattice, members: np.ndarray) -> bool:
    return bool(_exposed(lattice, members[None, :])[0])
