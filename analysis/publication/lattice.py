"""The lattice of one year: its nodes, their codes and counts (see `analysis.publication`).

A node is respondent group × time × team × municipality × care type, each coordinate a level
or the margin `TOTAL`; the published nodes are those of the three pair cubes (`PAIRS`).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.disclosure import TOTAL
from analysis.publication.periods import _FIRST, TIME_NODES, YEAR_NODE, _children

GROUPS = ("youth", "parent")
PLACE_DIMENSIONS = ("team", "municipality", "care_type")
PAIRS = (("team", "care_type"), ("municipality", "care_type"), ("team", "municipality"))


@dataclass
class Lattice:
    """Every publishable node of one year, with its counts and the suppression pattern.

    Nodes are stored by an integer code (mixed radix over group, time, team, municipality, care
    type; the margin of each axis is its last level). `hidden[i]` is the pattern.
    """

    year: int
    k: int
    levels: dict[str, list[str]]
    codes: np.ndarray  # sorted node codes
    n: np.ndarray  # responses per node (the smallest of the response counts given)
    sent: np.ndarray
    hidden: np.ndarray
    n_max: np.ndarray  # the largest response count: a node with any response needs protection
    certified: int = 0  # nodes with 1..k-1 responses that got a certificate
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Nodes shown by the previous pattern whose counts have not changed since: still shown."""

    # -- coding --
    @property
    def radix(self) -> tuple[int, ...]:
        return (3, TIME_NODES, *(len(self.levels[d]) + 1 for d in PLACE_DIMENSIONS))

    @property
    def strides(self) -> np.ndarray:
        radix = self.radix
        return np.array([int(np.prod(radix[i + 1 :])) for i in range(len(radix))], dtype=np.int64)

    def total_code(self, axis: int) -> int:
        return self.radix[axis] - 1 if axis != 1 else YEAR_NODE

    def code_of(self, group: str, time_node: int, place: dict[str, str] | None = None) -> int:
        """The code of a node: `group` ('youth', 'parent' or TOTAL), `place` dim → level."""
        place = place or {}
        coordinates = [GROUPS.index(group) if group != TOTAL else 2, time_node]
        for dim in PLACE_DIMENSIONS:
            value = place.get(dim, TOTAL)
            levels = self.levels[dim]
            single = len(levels) == 1  # its only level holds the same families as its margin
            coordinates.append(
                levels.index(value) if value != TOTAL and not single else len(levels)
            )
        return int(np.dot(coordinates, self.strides))

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Index of each code in the lattice, -1 for codes that are not published nodes."""
        codes = np.asarray(codes, dtype=np.int64)
        position = np.searchsorted(self.codes, codes)
        position = np.minimum(position, len(self.codes) - 1)
        found = self.codes[position] == codes
        return np.where(found, position, -1)

    def is_hidden(self, group: str, time_node: int, place: dict[str, str] | None = None) -> bool:
        """Whether the node is suppressed (a node not in the lattice has nothing in it)."""
        index = int(self.lookup(np.array([self.code_of(group, time_node, place)]))[0])
        return bool(self.hidden[index]) if index >= 0 else False

    def state(self) -> bytes:
        """The pattern with the counts it was decided for: the `previous` of the next one."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            levels=np.array(json.dumps(self.levels)),
            codes=self.codes,
            n=self.n,
            n_max=self.n_max,
            sent=self.sent,
            hidden=self.hidden,
        )
        return buffer.getvalue()

    @property
    def known(self) -> np.ndarray:
        """Nodes an attacker knows the value of although they are hidden: none.

        A hidden node shows no invitation count either, so "nothing was sent here" is not
        published; a reader who knows it from elsewhere (a team that never works in a
        municipality) has a bound like non-negativity, which this audit does not cover.
        """
        return np.zeros(len(self.codes), dtype=bool)


def _decode(lattice: Lattice, code: int) -> list[int]:
    coordinates = []
    for stride in lattice.strides:
        coordinates.append(code // int(stride))
        code %= int(stride)
    return coordinates


def small_groups(leaves: pd.DataFrame, k: int) -> int:
    """How many nodes of the year's lattice hold 1 to k-1 responses: the work of a pattern."""
    if "n_max" not in leaves.columns:
        leaves = leaves.assign(n_max=leaves["n"])
    levels = {
        dim: sorted({str(v) for v in leaves.loc[_uses(leaves, dim), dim]})
        for dim in PLACE_DIMENSIONS
    }
    _, measures = _nodes(leaves, levels)
    return int(((measures["n_max"] >= 1) & (measures["n"] < k)).sum())


def _uses(leaves: pd.DataFrame, dim: str) -> pd.Series:
    return leaves["pair"].str.split("+").map(lambda pair: dim in pair).astype(bool)


_MEASURES = ("n", "sent", "n_max")


def _nodes(
    leaves: pd.DataFrame, levels: dict[str, list[str]]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The codes of every published node, and its counts."""
    radix = (3, TIME_NODES, *(len(levels[d]) + 1 for d in PLACE_DIMENSIONS))
    strides = np.array([int(np.prod(radix[i + 1 :])) for i in range(5)], dtype=np.int64)
    all_codes: list[np.ndarray] = []
    all_measures: dict[str, list[np.ndarray]] = {m: [] for m in _MEASURES}
    for pair in PAIRS:
        rows = leaves[leaves["pair"] == "+".join(pair)]
        a, b = pair
        shape = (3, TIME_NODES, len(levels[a]) + 1, len(levels[b]) + 1)
        cubes = {}
        for measure in _MEASURES:
            cube = np.zeros(shape, dtype=np.int64)
            if len(rows):
                index = (
                    rows["group"].map({g: i for i, g in enumerate(GROUPS)}).to_numpy(),
                    rows["month"].to_numpy(dtype=np.int64) + _FIRST["month"] - 1,
                    rows[a].astype(str).map({v: i for i, v in enumerate(levels[a])}).to_numpy(),
                    rows[b].astype(str).map({v: i for i, v in enumerate(levels[b])}).to_numpy(),
                )
                np.add.at(cube, index, rows[measure].to_numpy(dtype=np.int64))
            cubes[measure] = _with_margins(cube)
        grid = np.indices(shape).reshape(4, -1)
        coordinates = {0: grid[0], 1: grid[1]}
        for dim_axis, dim in enumerate(PLACE_DIMENSIONS):
            if dim == a:
                coordinates[2 + dim_axis] = grid[2]
            elif dim == b:
                coordinates[2 + dim_axis] = grid[3]
            else:
                coordinates[2 + dim_axis] = np.full(grid.shape[1], len(levels[dim]))
        codes = sum(coordinates[axis] * strides[axis] for axis in range(5))
        # A dimension with one level: that level and its margin are the same families, so
        # only the margin is a node (and no line runs along that dimension).
        keep = np.ones(len(codes), dtype=bool)
        for dim_axis, dim in enumerate(PLACE_DIMENSIONS):
            if len(levels[dim]) == 1:
                keep &= coordinates[2 + dim_axis] != 0
        all_codes.append(codes[keep])
        for measure in _MEASURES:
            all_measures[measure].append(cubes[measure].reshape(-1)[keep])
    codes = np.concatenate(all_codes)
    measures = {m: np.concatenate(values) for m, values in all_measures.items()}
    unique, first = np.unique(codes, return_index=True)
    # Shared faces (a team's margin is in two pair cubes) must agree: the pair cells count the
    # same people three times.
    check = pd.DataFrame({"code": codes, **measures}).groupby("code")[list(_MEASURES)]
    if ((check.max() - check.min()).to_numpy() != 0).any():
        raise ValueError("the pair cells disagree on their shared margins")
    return unique, {m: values[first] for m, values in measures.items()}


def _with_margins(cube: np.ndarray) -> np.ndarray:
    """Fill the margins of a (group, time, a, b) cube whose leaves hold the months' counts."""
    cube[2] = cube[0] + cube[1]
    for parent in range(6, -1, -1):  # quarters, then halves, then the year
        cube[:, parent] = cube[:, _children(parent)].sum(axis=1)
    cube[:, :, -1, :] = cube[:, :, :-1, :].sum(axis=2)
    cube[:, :, :, -1] = cube[:, :, :, :-1].sum(axis=3)
    return cube
