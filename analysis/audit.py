"""An exact search for any small set of leaves that the shown figures of a year give away.

`exact_derivable` checks the hidden nodes one by one and a list of candidate sets. The promise
is wider: an attacker who holds every shown node must not learn the count of *any* set of
leaves (group × month × team × municipality × care type) that holds 1 to k-1 responses, such
as the sum of two hidden small groups in different lines. There are 2^leaves sets, so instead
of listing them one mixed-integer program asks whether such a set exists.

For small blocks only (tests and benchmarks): the program grows with the leaves and the shown
nodes of the year.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from analysis.publication import Lattice, _leaf_indicators, _row_space

MAX_RETRIES = 50
"""Solutions the solver may propose that fail the exact check before the audit gives up."""


def small_set_derivable(
    leaves: np.ndarray, lattice: Lattice, *, exclude: Iterable[np.ndarray] = ()
) -> np.ndarray | None:
    """A set of leaves with 1 to k-1 responses whose count follows from the shown nodes.

    The formulation: a set S is derivable iff its indicator v lies in the row space of the
    shown nodes' leaf indicators A (the attacker adds and subtracts shown figures: y·A = v).
    So one binary v per leaf, one free y per shown node, and

        Aᵀ y − v = 0,        1 ≤ leaves · v ≤ k − 1.

    Any feasible point is a leak; infeasible means no set of 1 to k-1 responses follows, not
    even one that no single line or hidden node shows. The objective (fewest leaves) only
    makes a leak easy to read.

    HiGHS works with tolerances: a v that is only nearly in the row space, or nearly binary,
    may come back. Every answer is therefore checked exactly — its rounded mask is projected
    onto the row space (as in `exact_derivable`) and its true count recounted — and a mask
    that fails gets a no-good cut (that exact 0/1 vector is forbidden) and the program is
    solved again.

    Args:
        leaves: responses per leaf, shape (2, 12, teams, municipalities, care types) in the
            lattice's level order.
        lattice: the lattice built from these leaves' pair sums, with its pattern.
        exclude: leaf masks not to return (each gets a no-good cut), to list further leaks.

    Returns:
        A boolean mask of the shape of `leaves`, or None when no such set exists.

    Raises:
        RuntimeError: the solver kept proposing sets that fail the exact check.
    """
    k = lattice.k
    shown = np.flatnonzero(~lattice.hidden)
    if k <= 1 or not len(shown):
        return None  # no count is small, or nothing but the empty sum is known
    counts = leaves.reshape(-1).astype(float)
    rows = _leaf_indicators(lattice, leaves.shape)(shown)
    basis = _row_space(rows)
    n_leaves, n_shown = counts.size, len(shown)

    # Variables: [y (one per shown node, free), v (one per leaf, binary)].
    equality = sparse.hstack(
        [sparse.csr_array(rows).T, -sparse.identity(n_leaves, format="csr")], format="csr"
    )
    size = sparse.hstack(
        [sparse.csr_array((1, n_shown)), sparse.csr_array(counts[None, :])], format="csr"
    )
    constraints = [
        LinearConstraint(equality, 0, 0),
        LinearConstraint(size, 1, k - 1),
    ]
    cost = np.concatenate([np.zeros(n_shown), np.ones(n_leaves)])
    integrality = np.concatenate([np.zeros(n_shown), np.ones(n_leaves)])
    bounds = Bounds(
        np.concatenate([np.full(n_shown, -np.inf), np.zeros(n_leaves)]),
        np.concatenate([np.full(n_shown, np.inf), np.ones(n_leaves)]),
    )

    def no_good(mask: np.ndarray) -> LinearConstraint:
        signs = np.where(mask, 1.0, -1.0)
        row = sparse.hstack([sparse.csr_array((1, n_shown)), sparse.csr_array(signs[None, :])])
        return LinearConstraint(row, -np.inf, mask.sum() - 1)

    constraints += [no_good(np.asarray(m, dtype=bool).reshape(-1)) for m in exclude]
    for _ in range(MAX_RETRIES):
        result = milp(cost, constraints=constraints, integrality=integrality, bounds=bounds)
        if result.status == 2:  # infeasible: no small set follows
            return None
        if result.x is None:
            raise RuntimeError(f"the audit's program was not solved: {result.message}")
        mask = result.x[n_shown:] > 0.5
        vector = mask.astype(float)
        residual = vector - basis.T @ (basis @ vector)
        total = int(leaves.reshape(-1)[mask].sum())
        if np.abs(residual).max() < 1e-8 and 1 <= total < k:
            return mask.reshape(leaves.shape)
        constraints.append(no_good(mask))
    raise RuntimeError(f"{MAX_RETRIES} proposed sets failed the exact check")
