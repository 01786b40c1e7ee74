"""The pair audit: sums and differences of two hidden nodes across lines (`_group_audit`)."""

from __future__ import annotations

import numpy as np

from analysis.publication.certificates import _Boxes
from analysis.publication.lattice import Lattice, team_leaves
from analysis.publication.line_rule import _line_rule
from analysis.publication.periods import _MONTH_MASKS

_SAMPLES = 3  # random null vectors per audit: a false "derivable" needs a coincidence in all
_TOLERANCE = 1e-7
_DENSE = 1_500  # components up to this many hidden nodes are projected densely
_ROUNDS = 12


def _group_audit(
    lattice: Lattice,
    boxes: _Boxes,
    matrices: list[np.ndarray],
    *,
    scope: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> bool:
    """Hide more until no sum or difference of two hidden nodes gives a small group away.

    A certificate protects its own node, and the line rule the hidden cells of one line. Two
    hidden nodes in different lines can still be tied together: when every null vector of
    the attacker's equations moves them by opposite amounts, their sum follows (the two
    small diagonal corners of a box of three or more axes), and when it moves them equally
    while one holds the other, their difference does. Both are tested exactly, on random
    vectors of the null space of the line equations restricted to the hidden nodes: z_a +
    z_b is derivable iff r_a + r_b = 0 for every null vector r, and a coincidence on
    `_SAMPLES` random ones has probability zero. Each pair that gives away a set of 1 to
    k-1 responses (a union of two disjoint nodes, or a node minus one inside it) gets a
    second certificate around one of the two that avoids the other: its null vector moves
    one and not the other, which unties them. Sets of three or more hidden nodes are not
    searched here; the tests search every set of leaves exactly (`analysis.audit`).

    `scope`: the nodes that can be shown (stage 1: the group × period totals; the hidden
    breakdowns are free there, and equations through them tell nothing). False when a pair
    cannot be untied without changing a `fixed` node.
    """
    scope = np.ones(len(lattice.codes), dtype=bool) if scope is None else scope
    fixed = np.zeros(len(lattice.codes), dtype=bool) if fixed is None else fixed
    for _ in range(_ROUNDS):
        pairs = _tied_pairs(lattice, matrices, scope)
        if not pairs:
            return True
        for a, b in pairs:
            if not boxes.certify(int(lattice.codes[a]), avoid=b if b != a else None):
                return False
        if not _line_rule(lattice, fixed=fixed, matrices=matrices):
            return False
    return not _tied_pairs(lattice, matrices, scope)


def _tied_pairs(
    lattice: Lattice, matrices: list[np.ndarray], scope: np.ndarray
) -> list[tuple[int, int]]:
    """(a, b): hidden nodes whose union or difference is a derivable set of 1..k-1 responses.

    `a` holds responses; it is the node to untie. A single derivable node comes back as (a, a).
    """
    hidden = np.flatnonzero(lattice.hidden & ~lattice.known & scope)
    if not len(hidden):
        return []
    samples = _null_samples(lattice, matrices, hidden, scope)
    size = np.abs(samples).max(axis=1)
    k, n, n_max = lattice.k, lattice.n[hidden], lattice.n_max[hidden]
    result = [(int(hidden[i]), int(hidden[i])) for i in np.flatnonzero(size < _TOLERANCE)]
    result = [(a, b) for a, b in result if lattice.n_max[a] >= 1 and lattice.n[a] < k]
    moving = np.flatnonzero(size >= _TOLERANCE)
    if len(moving) < 2:
        return result
    from scipy.spatial import cKDTree  # heavy (scipy.spatial, ~0.3 s): only when auditing

    tree = cKDTree(samples[moving])
    union = tree.query_ball_point(-samples[moving], r=_TOLERANCE)
    difference = tree.query_pairs(r=_TOLERANCE, output_type="ndarray")
    relation = _Relation(lattice, hidden)
    for i, partners in enumerate(union):
        for j in partners:
            a, b = moving[i], moving[j]
            small = n_max[a] + n_max[b] >= 1 and n[a] + n[b] < k
            if a < b and small and relation.disjoint(a, b):
                result.append(_untie(hidden, n_max, a, b))
    for i, j in difference:
        a, b = moving[i], moving[j]
        for outer, inner in ((a, b), (b, a)):
            small = n_max[outer] - n[inner] >= 1 and n[outer] - n_max[inner] < k
            if small and relation.inside(inner, outer):
                result.append((int(hidden[outer]), int(hidden[inner])))
    return result


def _untie(hidden: np.ndarray, n_max: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """The pair with the node that holds responses first (it gets the second certificate)."""
    return (int(hidden[a]), int(hidden[b])) if n_max[a] >= 1 else (int(hidden[b]), int(hidden[a]))


class _Relation:
    """Whether two nodes share no families, or one holds all of the other's."""

    def __init__(self, lattice: Lattice, nodes: np.ndarray) -> None:
        radix = np.array(lattice.radix)
        self.coordinates = (lattice.codes[nodes][:, None] // lattice.strides) % radix
        self.totals = np.array([lattice.total_code(axis) for axis in range(5)])
        self.months = _MONTH_MASKS[self.coordinates[:, 1]]
        teams = {int(c) for c in self.coordinates[:, 2]}
        self.teams = {c: frozenset(team_leaves(lattice.levels, c)) for c in teams}

    def disjoint(self, a: int, b: int) -> bool:
        ca, cb = self.coordinates[a], self.coordinates[b]
        if not self.months[a] & self.months[b]:
            return True
        if self.teams[int(ca[2])].isdisjoint(self.teams[int(cb[2])]):
            return True  # two teams, or providers, or a team and another provider
        return any(
            ca[axis] != cb[axis] and self.totals[axis] not in (ca[axis], cb[axis])
            for axis in (0, 3, 4)
        )

    def inside(self, inner: int, outer: int) -> bool:
        ci, co = self.coordinates[inner], self.coordinates[outer]
        if self.months[inner] & ~self.months[outer]:
            return False
        if not self.teams[int(ci[2])] <= self.teams[int(co[2])]:
            return False
        return all(co[axis] in (self.totals[axis], ci[axis]) for axis in (0, 3, 4))


def _null_samples(
    lattice: Lattice, matrices: list[np.ndarray], hidden: np.ndarray, scope: np.ndarray
) -> np.ndarray:
    """`_SAMPLES` random vectors of the null space of the line equations over `hidden`.

    The equations are the lines whose nodes all lie in `scope`, restricted to their hidden
    nodes (the shown ones are constants to the attacker). The hidden nodes fall apart into
    components that share no equation; each is projected on its own (dense when small,
    LSQR when large), with a generator seeded by the data, so the same cells always give
    the same pattern.
    """
    # heavy (scipy.sparse.csgraph and .linalg, ~0.4 s): only when auditing
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import lsqr

    column = np.full(len(lattice.codes), -1, dtype=np.int64)
    column[hidden] = np.arange(len(hidden))
    row_parts, column_parts, value_parts, rows = [], [], [], 0
    for matrix in matrices:
        matrix = matrix[scope[matrix].all(axis=1)]
        columns = column[matrix]
        members = columns >= 0
        keep = members.any(axis=1)
        columns, members = columns[keep], members[keep]
        signs = np.ones(matrix.shape[1])
        signs[-1] = -1.0
        r, c = np.nonzero(members)
        row_parts.append(r + rows)
        column_parts.append(columns[r, c])
        value_parts.append(signs[c])
        rows += len(columns)
    equations = sparse.csr_matrix(
        (np.concatenate(value_parts), (np.concatenate(row_parts), np.concatenate(column_parts))),
        shape=(rows, len(hidden)),
    )
    random = np.random.default_rng(int(lattice.n.sum()) + len(hidden))
    result = random.standard_normal((len(hidden), _SAMPLES))
    linked = (equations.T @ equations).tocsr()
    count, label = connected_components(linked, directed=False)
    touched = equations.tocsc()
    for component in range(count):
        members = np.flatnonzero(label == component)
        block = touched[:, members]
        used = np.unique(block.nonzero()[0])
        if not len(used):
            continue  # in no equation: the node is free
        block = block[used]
        target = result[members]
        if len(members) <= _DENSE:
            dense = block.toarray()
            solution = np.linalg.lstsq(dense.T, target, rcond=None)[0]
            result[members] = target - dense.T @ solution
        else:
            transposed = block.T.tocsr()
            for sample in range(_SAMPLES):
                solution = lsqr(transposed, target[:, sample], atol=1e-14, btol=1e-14)[0]
                result[members, sample] = target[:, sample] - transposed @ solution
    return result
