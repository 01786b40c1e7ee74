"""A certificate per small node: a box of null patterns, one per axis, all corners hidden.

See `analysis.publication` for why such a box protects its node (the hypercube method).
"""

from __future__ import annotations

import itertools

import numpy as np

from analysis.publication.lattice import Lattice, _decode, axis_size, team_children
from analysis.publication.periods import TIME_NODES, _months_of, _path_up

_FORBIDDEN = 1e12  # a corner known to be empty (it cannot move): counts, so fewer is better


class _Boxes:
    """Finds and hides a certificate box per node (see `analysis.publication`), vectorised.

    An axis pattern is a row of coordinates (padded with -1) and a box is one pattern per
    axis; the codes of its corners are the outer sum of coordinate × stride over the axes. What
    a corner costs: nothing when it is never published (all three place coordinates set) or
    already hidden, its responses + 1 when it would have to be hidden, infinity when it is
    known to be empty (it cannot move) — so a box costs the responses it newly hides.
    """

    def __init__(self, lattice: Lattice, *, keep_totals: bool = True) -> None:
        self.lattice = lattice
        self.keep_totals = keep_totals
        self.strides = lattice.strides
        self.totals = np.array([lattice.total_code(axis) for axis in range(5)], dtype=np.int64)
        self.known = lattice.known
        self.certified = np.zeros(len(lattice.codes), dtype=bool)
        coordinates = (lattice.codes[:, None] // self.strides) % np.array(lattice.radix)
        margins = (coordinates[:, [0, 2, 3, 4]] == self.totals[[0, 2, 3, 4]]).sum(axis=1)
        coarse_time = np.select(
            [coordinates[:, 1] == 0, coordinates[:, 1] < 3, coordinates[:, 1] < 7], [3, 2, 1], 0
        )
        self.weights = 2.0 ** (margins + coarse_time)
        self.place_total = (coordinates[:, 2:] == self.totals[2:]).all(axis=1)

    def certify_all(self, primaries: np.ndarray) -> bool:
        for index in primaries:
            if self.certified[index] or not self.lattice.hidden[index]:
                continue  # a corner of an earlier box: that box's null vector moves it too
            if not self.certify(int(self.lattice.codes[index])):
                return False
        return True

    def node_costs(self) -> np.ndarray:
        """Responses hidden, weighted by how coarse the node is: hiding a team's month costs
        its responses, hiding a group's year (the infoblad table) many times more."""
        lattice = self.lattice
        cost = (lattice.n + 1).astype(float) * self.weights
        cost[lattice.hidden] = 0.0
        cost[self.known] = _FORBIDDEN
        if len(lattice.kept):  # shown before and unchanged: seen, so it stays shown
            cost[lattice.kept & ~lattice.hidden] = _FORBIDDEN
        if self.keep_totals:  # stage 2: the totals of stage 1 are fixed
            cost[self.place_total & ~lattice.hidden] = _FORBIDDEN
        return cost

    def certify(self, code: int, avoid: int | None = None) -> bool:
        """Hide a certificate box around the node `code`; `avoid`: a node the box may not use
        (a second certificate that tells two hidden nodes apart, see `_group_audit`)."""
        point = _decode(self.lattice, code)
        options = [self._options(axis, value) for axis, value in enumerate(point)]
        cost = self.node_costs()
        if avoid is not None:
            cost[avoid] = _FORBIDDEN
        chosen = [0] * 5
        # Start per axis from the option whose own corners (the others fixed at the node) are
        # cheapest, then improve one axis at a time while the whole box gets cheaper; when
        # known-empty corners block that path, restart from other options (seeded: the same
        # data always gives the same pattern), and as a last resort try every combination.
        single = [opt[:1, :1] * 0 + np.array([[v]]) for opt, v in zip(options, point, strict=True)]
        for axis in range(5):
            chosen[axis] = int(np.argmin(self._costs(options, single, axis, cost)))
        best, chosen = self._descend(options, chosen, cost)
        if best > 0 and self._is_margin(point) and self._heavy(options, chosen):
            # A margin (a whole team, month or group) is protected by a box of margins: a
            # local optimum there can hide a group's whole year. Descend from every option.
            for axis, axis_options in enumerate(options):
                for option in range(len(axis_options)):
                    start = list(chosen)
                    start[axis] = option
                    value, found = self._descend(options, start, cost)
                    if value < best:
                        best, chosen = value, found
        random = np.random.default_rng(code)
        for _ in range(8):
            if best < _FORBIDDEN:
                break
            start = [int(random.integers(len(o))) for o in options]
            best, chosen = self._descend(options, start, cost)
        if best >= _FORBIDDEN:
            best, chosen = self._search(options, cost)
            if best >= _FORBIDDEN:
                return False
        index = self._published_corners([options[a][chosen[a]] for a in range(5)])
        self.lattice.hidden[index] = True
        self.certified[index] = True
        return True

    def _heavy(self, options: list[np.ndarray], chosen: list[int]) -> bool:
        """Whether the box would newly hide a coarse node (a group's half year or year)."""
        index = self._published_corners([options[a][chosen[a]] for a in range(5)])
        newly = index[~self.lattice.hidden[index]]
        return bool(len(newly)) and float(self.weights[newly].max()) >= 2.0**4

    def _is_margin(self, point: list[int]) -> bool:
        place_totals = sum(point[a] == self.totals[a] for a in (2, 3, 4))
        return point[1] < 7 or point[0] == self.totals[0] or place_totals >= 2

    def _descend(
        self, options: list[np.ndarray], chosen: list[int], cost: np.ndarray
    ) -> tuple[float, list[int]]:
        chosen = list(chosen)
        best = np.inf
        for _ in range(6):
            improved = False
            for axis in range(5):
                fixed = [options[a][chosen[a] : chosen[a] + 1] for a in range(5)]
                costs = self._costs(options, fixed, axis, cost)
                option = int(np.argmin(costs))
                if costs[option] < best:
                    best, chosen[axis], improved = float(costs[option]), option, True
                if best == 0:
                    return best, chosen
            if not improved:
                break
        return best, chosen

    def _options(self, axis: int, value: int) -> np.ndarray:
        patterns = _axis_patterns(self.lattice, axis, value)
        width = max(len(p) for p in patterns)
        array = np.full((len(patterns), width), -1, dtype=np.int64)
        for row, pattern in enumerate(patterns):
            array[row, : len(pattern)] = [v for v, _ in pattern]
        return array

    def _costs(
        self, options: list[np.ndarray], fixed: list[np.ndarray], axis: int, cost: np.ndarray
    ) -> np.ndarray:
        """The cost of the box for every option of `axis`, the other axes as in `fixed`."""
        choices = options[axis]  # (n_options, width), padded with -1
        n = len(choices)

        def shaped(values: np.ndarray, a: int) -> np.ndarray:
            # (n or 1, 1, …, len at a + 1, …, 1)
            lead = values.shape[0] if values.ndim == 2 else 1
            shape = [lead, 1, 1, 1, 1, 1]
            shape[a + 1] = values.shape[-1]
            return values.reshape(shape)

        coordinates = [
            shaped(choices, a) if a == axis else shaped(fixed[a][0][fixed[a][0] >= 0], a)
            for a in range(5)
        ]
        codes = coordinates[0] * self.strides[0]
        for a in range(1, 5):
            codes = codes + coordinates[a] * self.strides[a]
        free = (coordinates[2] != self.totals[2]) & (coordinates[3] != self.totals[3])
        free = free & (coordinates[4] != self.totals[4])
        valid = coordinates[axis] >= 0
        index = self.lattice.lookup(codes.reshape(-1)).reshape(codes.shape)
        corner = np.where(index >= 0, cost[np.maximum(index, 0)], _FORBIDDEN)
        corner = np.where(free | ~valid, 0.0, corner)
        return (
            np.broadcast_to(corner, np.broadcast_shapes(corner.shape, (n, 1, 1, 1, 1, 1)))
            .reshape(n, -1)
            .sum(axis=1)
        )

    def _published_corners(self, patterns: list[np.ndarray]) -> np.ndarray:
        values = [p[p >= 0] for p in patterns]
        grids = np.meshgrid(*values, indexing="ij")
        codes = sum(grid * self.strides[a] for a, grid in enumerate(grids)).reshape(-1)
        free = (grids[2] != self.totals[2]) & (grids[3] != self.totals[3])
        free = (free & (grids[4] != self.totals[4])).reshape(-1)
        index = self.lattice.lookup(codes[~free])
        if (index < 0).any():
            raise ValueError("a certificate corner is not a node of the lattice")
        return index

    def _search(self, options: list[np.ndarray], cost: np.ndarray) -> tuple[float, list[int]]:
        """Known-empty corners block the descent: try every combination (bounded)."""
        best, chosen = float(_FORBIDDEN), [0] * 5
        ranges = [range(len(o)) for o in options[:4]]
        for trial in itertools.islice(itertools.product(*ranges), 20_000):
            fixed = [options[a][trial[a] : trial[a] + 1] for a in range(4)]
            fixed.append(options[4][:1])
            costs = self._costs(options, fixed, 4, cost)
            option = int(np.argmin(costs))
            if costs[option] < best:
                best, chosen = float(costs[option]), [*trial, option]
                if best == 0:
                    break
        return best, chosen


def _axis_patterns(lattice: Lattice, axis: int, value: int) -> list[list[tuple[int, int]]]:
    """Null patterns of one axis that hold `value` with sign +1."""
    if axis == 1:
        return _TIME_PATTERNS[value]
    total = lattice.radix[axis] - 1
    if axis >= 2 and total == 1:
        return [[(total, 1)]]  # one level: no line runs along it
    if axis == 2 and team_children(lattice.levels):
        return _team_tree_patterns(lattice, value)
    others = [v for v in range(total) if v != value]
    if value == total:
        return [[(value, 1), (other, 1)] for other in others]
    return [[(value, 1), (total, 1)], *([(value, 1), (other, -1)] for other in others)]


def _team_tree_patterns(lattice: Lattice, value: int) -> list[list[tuple[int, int]]]:
    """Null patterns of the team axis when teams sit under their providers (as time's months
    under quarters): a team's path up to the margin, or two teams' paths up to their common
    ancestor with opposite signs — those that hold `value`."""
    levels = lattice.levels
    teams = len(levels["team"])
    total = axis_size(levels, "team") - 1
    parent: dict[int, int] = {}
    for position, children in enumerate(team_children(levels)):
        parent |= {team: teams + position for team in children}
        parent[teams + position] = total

    def path_up(node: int, stop: int | None = None) -> list[int]:
        path = []
        while node != stop:
            path.append(node)
            if node == total:
                break
            node = parent[node]
        return path

    under = [t for t in range(teams) if value in path_up(t)]
    patterns = [[(n, 1) for n in path_up(team)] for team in under]
    for team in under:
        for other in range(teams):
            if other in under:
                continue
            ancestors = path_up(other)
            common = next(n for n in path_up(team) if n in ancestors)
            mine = path_up(team, common)
            if value in mine:
                patterns.append(
                    [*((n, 1) for n in mine), *((n, -1) for n in path_up(other, common))]
                )
    return patterns


def _build_time_patterns(node: int) -> list[list[tuple[int, int]]]:
    patterns = []
    for month in _months_of(node):
        patterns.append([(n, 1) for n in _path_up(month)])
    for month in _months_of(node):
        for other in range(7, TIME_NODES):
            if other in _months_of(node):
                continue
            common = _common_ancestor(month, other)
            mine = _path_up(month, common)
            if node not in mine:
                continue
            patterns.append([*((n, 1) for n in mine), *((n, -1) for n in _path_up(other, common))])
    return patterns


def _common_ancestor(a: int, b: int) -> int:
    ancestors = set(_path_up(a))
    return next(n for n in _path_up(b) if n in ancestors)


_TIME_PATTERNS = {node: _build_time_patterns(node) for node in range(TIME_NODES)}
