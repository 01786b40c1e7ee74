"""The set audit: every set of leaves, exactly, for small years (`_set_audit`, a MILP)."""

from __future__ import annotations

import logging

import numpy as np

from analysis.publication.certificates import _Boxes
from analysis.publication.lattice import PLACE_DIMENSIONS, Lattice, team_leaves
from analysis.publication.line_rule import _line_rule
from analysis.publication.periods import _MONTH_MASKS

log = logging.getLogger("analysis.publication")  # one logger for the whole package

SET_AUDIT_LEAVES = 1_500
"""Years with up to this many leaves (2 groups × 12 months × teams × municipalities × care
types) get the exact audit over every set of leaves; larger ones the pair audit only."""
_SET_ROUNDS = 200


def _set_audit(
    lattice: Lattice,
    matrices: list[np.ndarray],
    *,
    scope: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> bool:
    """Hide more until no set of leaves with 1 to k-1 responses follows from the shown nodes.

    Certificates, the line rule and the pair audit protect nodes, lines and pairs; a union of
    three hidden groups, or a period minus two months of another, can still follow. A set S
    of leaves follows iff its indicator v is a combination yᵀA of the shown nodes' leaf
    indicators A, and then its count is y · (the shown counts) — so whether any such set of
    1 to k-1 responses exists is a mixed-integer program over binary v and free y, which
    HiGHS answers exactly enough for small years (a near-solution only hides one node more
    than needed). Each set found is broken by hiding the cheapest shown node the derivation
    uses, and the search repeats. `scope`: as in `_group_audit` (stage 1: the totals, over
    leaves of group × month only). False when a set cannot be broken without a `fixed` node.
    """
    places = (1, 1, 1) if scope is not None else (len(lattice.levels[d]) for d in PLACE_DIMENSIONS)
    shape = (2, 12, *places)
    scope = np.ones(len(lattice.codes), dtype=bool) if scope is None else scope
    fixed = np.zeros(len(lattice.codes), dtype=bool) if fixed is None else fixed
    if int(np.prod(shape)) > SET_AUDIT_LEAVES or lattice.k <= 1:
        return True
    weights = _Boxes(lattice).weights
    for _ in range(_SET_ROUNDS):
        shown = np.flatnonzero(~lattice.hidden & scope)
        try:
            uses = _derivation_of_small_set(lattice, shown, shape)
        except _Unsolved:
            log.warning("%s: the set audit did not finish", lattice.year)
            return False
        if uses is None:
            return True
        candidates = [i for i in shown[uses] if not fixed[i] and not lattice.known[i]]
        if not candidates:
            return False
        cheapest = min(candidates, key=lambda i: ((lattice.n[i] + 1) * weights[i], i))
        lattice.hidden[cheapest] = True
        if not _line_rule(lattice, fixed=fixed, matrices=matrices):
            return False
    return False


def _derivation_of_small_set(
    lattice: Lattice, shown: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray | None:
    """Which shown nodes (positions in `shown`) derive a set of 1..k-1 responses, or None."""
    # heavy (scipy.optimize, ~0.5 s): only when a publication pattern is audited
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    if not len(shown):
        return None
    indicators = _sparse_indicators(lattice, shown, shape)  # (shown, leaves)
    counts = lattice.n_max[shown].astype(float)
    n_shown, n_leaves = indicators.shape
    equality = sparse.hstack([indicators.T, -sparse.identity(n_leaves, format="csr")], format="csr")
    size = sparse.hstack([sparse.csr_array(counts[None, :]), sparse.csr_array((1, n_leaves))])
    result = milp(
        np.zeros(n_shown + n_leaves),
        constraints=[LinearConstraint(equality, 0, 0), LinearConstraint(size, 1, lattice.k - 1)],
        integrality=np.concatenate([np.zeros(n_shown), np.ones(n_leaves)]),
        bounds=Bounds(
            np.concatenate([np.full(n_shown, -np.inf), np.zeros(n_leaves)]),
            np.concatenate([np.full(n_shown, np.inf), np.ones(n_leaves)]),
        ),
        options={"time_limit": 30.0},
    )
    if result.status == 2:  # infeasible: no such set
        return None
    if result.x is None:  # not solved in time: treat the year as unsafe
        raise _Unsolved
    return np.flatnonzero(np.abs(result.x[:n_shown]) > 1e-7)


class _Unsolved(Exception):
    """The exact set audit did not finish."""


def _sparse_indicators(lattice: Lattice, nodes: np.ndarray, shape: tuple[int, ...]):
    """The leaf indicators of `nodes` as a sparse matrix over leaves of `shape`."""
    from scipy import sparse  # heavy (scipy.sparse, ~0.1 s): only when auditing

    coordinates = (lattice.codes[nodes][:, None] // lattice.strides) % np.array(lattice.radix)
    rows, columns = [], []
    grid = np.indices(shape).reshape(5, -1).T  # every leaf's coordinates
    flat = np.arange(grid.shape[0])
    month_masks = _MONTH_MASKS[coordinates[:, 1]]
    for row, (point, months) in enumerate(zip(coordinates, month_masks, strict=True)):
        member = ((months >> grid[:, 1]) & 1).astype(bool)
        if point[0] != 2:
            member &= grid[:, 0] == point[0]
        for axis in (2, 3, 4):
            if shape[axis] > 1 and point[axis] != lattice.total_code(axis):
                if axis == 2:  # a team, or a provider: its teams
                    member &= np.isin(grid[:, axis], team_leaves(lattice.levels, point[axis]))
                else:
                    member &= grid[:, axis] == point[axis]
        columns.append(flat[member])
        rows.append(np.full(member.sum(), row))
    return sparse.csr_array(
        (np.ones(sum(len(c) for c in columns)), (np.concatenate(rows), np.concatenate(columns))),
        shape=(len(nodes), grid.shape[0]),
    )
