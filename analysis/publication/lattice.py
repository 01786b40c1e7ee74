"""The lattice of one year: its nodes, their codes and counts (see `analysis.publication`).

A node is respondent group × time × team × municipality × care type, each coordinate a level
or the margin `TOTAL`; the published nodes are those of the three pair cubes (`PAIRS`).

**Providers.** Every team belongs to one provider. When a year holds teams of two or more
providers, the team axis is a tree like time: teams, then their providers, then the margin
(codes: the teams, then the providers, then `TOTAL`). A provider's node is the sum of its
teams', and the providers' nodes add up to the margin, so a provider's figures (and the region
minus a provider: the others) are nodes of the one pattern like any other. With one provider
the axis is flat: that provider is the margin.
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
PROVIDER = "provider"
"""The key of `Lattice.levels` that lists the year's providers (beside `provider_of_team`, the
provider of each team level); both empty when the cells name no providers."""


def _tree(levels: dict[str, list[str]]) -> list[str]:
    """The providers that are levels of the team axis: all of them from two on, else none."""
    providers = levels.get(PROVIDER, [])
    return providers if len(providers) >= 2 else []


def axis_size(levels: dict[str, list[str]], dim: str) -> int:
    """How many codes the axis of a place dimension has: its levels, the providers on the
    team axis, and the margin (always the last code)."""
    extra = len(_tree(levels)) if dim == "team" else 0
    return len(levels[dim]) + extra + 1


def level_code(levels: dict[str, list[str]], dim: str, value: str) -> int:
    """The code of `value` on the axis of `dim` (a provider's name on the team axis): -1 for a
    level the year does not know. A dimension with one level: that level is its margin; so is
    the only provider of a year."""
    names = levels[dim]
    if value == TOTAL or (len(names) == 1 and value in names):
        return axis_size(levels, dim) - 1
    if value in names:
        return names.index(value)
    if dim == "team" and value in levels.get(PROVIDER, []):
        tree = _tree(levels)
        return len(names) + tree.index(value) if tree else axis_size(levels, dim) - 1
    return -1


def team_children(levels: dict[str, list[str]]) -> list[list[int]]:
    """The team codes under each provider code of the team axis (empty with one provider)."""
    owner = levels.get("provider_of_team", [])
    return [[t for t, p in enumerate(owner) if p == provider] for provider in _tree(levels)]


def team_leaves(levels: dict[str, list[str]], code: int) -> list[int]:
    """The team levels under a code of the team axis (all of them under the margin)."""
    teams = len(levels["team"])
    if code < teams:
        return [code]
    if code < axis_size(levels, "team") - 1:
        return team_children(levels)[code - teams]
    return list(range(teams))


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
        return (3, TIME_NODES, *(axis_size(self.levels, d) for d in PLACE_DIMENSIONS))

    @property
    def strides(self) -> np.ndarray:
        radix = self.radix
        return np.array([int(np.prod(radix[i + 1 :])) for i in range(len(radix))], dtype=np.int64)

    def total_code(self, axis: int) -> int:
        return self.radix[axis] - 1 if axis != 1 else YEAR_NODE

    def code_of(self, group: str, time_node: int, place: dict[str, str] | None = None) -> int:
        """The code of a node: `group` ('youth', 'parent' or TOTAL), `place` dim → level (a
        provider's figures: `{"provider": name}`, or its name as the team; -1 for a level the
        year does not know)."""
        place = dict(place or {})
        if PROVIDER in place:
            if "team" in place:
                raise ValueError("a node has a team or a provider, not both")
            place["team"] = place.pop(PROVIDER)
        coordinates = [GROUPS.index(group) if group != TOTAL else 2, time_node]
        for dim in PLACE_DIMENSIONS:
            code = level_code(self.levels, dim, place.get(dim, TOTAL))
            if code < 0:
                return -1
            coordinates.append(code)
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
        code = self.code_of(group, time_node, place)
        index = int(self.lookup(np.array([code]))[0]) if code >= 0 else -1
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
    _, measures = _nodes(leaves, levels_of(leaves))
    return int(((measures["n_max"] >= 1) & (measures["n"] < k)).sum())


def levels_of(leaves: pd.DataFrame) -> dict[str, list[str]]:
    """The levels of each place dimension in the year's pair cells, and the providers.

    `leaves` may carry a `provider` column: the provider of the row's team (rows of a pair
    without team: any value). A team that two providers claim is refused: it would be one node
    of two providers.
    """
    levels = {
        dim: sorted({str(v) for v in leaves.loc[_uses(leaves, dim), dim]})
        for dim in PLACE_DIMENSIONS
    }
    levels[PROVIDER], levels["provider_of_team"] = [], []
    if PROVIDER in leaves.columns:
        owners = leaves.loc[_uses(leaves, "team"), ["team", PROVIDER]].astype(str)
        owners = owners.drop_duplicates()
        if owners["team"].duplicated().any():
            team = owners.loc[owners["team"].duplicated(), "team"].iloc[0]
            raise ValueError(f"team {team!r} belongs to more than one provider")
        owner = dict(zip(owners["team"], owners[PROVIDER], strict=True))
        levels[PROVIDER] = sorted(set(owner.values()))
        levels["provider_of_team"] = [owner[team] for team in levels["team"]]
    return levels


def _uses(leaves: pd.DataFrame, dim: str) -> pd.Series:
    return leaves["pair"].str.split("+").map(lambda pair: dim in pair).astype(bool)


_MEASURES = ("n", "sent", "n_max")


def _nodes(
    leaves: pd.DataFrame, levels: dict[str, list[str]]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The codes of every published node, and its counts."""
    radix = (3, TIME_NODES, *(axis_size(levels, d) for d in PLACE_DIMENSIONS))
    strides = np.array([int(np.prod(radix[i + 1 :])) for i in range(5)], dtype=np.int64)
    children = team_children(levels)
    all_codes: list[np.ndarray] = []
    all_measures: dict[str, list[np.ndarray]] = {m: [] for m in _MEASURES}
    for pair in PAIRS:
        rows = leaves[leaves["pair"] == "+".join(pair)]
        a, b = pair
        shape = (3, TIME_NODES, axis_size(levels, a), axis_size(levels, b))
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
            cubes[measure] = _with_margins(cube, children if a == "team" else [])
        grid = np.indices(shape).reshape(4, -1)
        coordinates = {0: grid[0], 1: grid[1]}
        for dim_axis, dim in enumerate(PLACE_DIMENSIONS):
            if dim == a:
                coordinates[2 + dim_axis] = grid[2]
            elif dim == b:
                coordinates[2 + dim_axis] = grid[3]
            else:
                coordinates[2 + dim_axis] = np.full(grid.shape[1], axis_size(levels, dim) - 1)
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


def _with_margins(cube: np.ndarray, providers: list[list[int]]) -> np.ndarray:
    """Fill the margins of a (group, time, a, b) cube whose leaves hold the months' counts;
    `providers`: the team codes under each provider when `a` is the team axis (else empty)."""
    cube[2] = cube[0] + cube[1]
    for parent in range(6, -1, -1):  # quarters, then halves, then the year
        cube[:, parent] = cube[:, _children(parent)].sum(axis=1)
    leaves = cube.shape[2] - 1 - len(providers)
    for position, teams in enumerate(providers):
        cube[:, :, leaves + position, :] = cube[:, :, teams, :].sum(axis=2)
    cube[:, :, -1, :] = cube[:, :, :leaves, :].sum(axis=2)
    cube[:, :, :, -1] = cube[:, :, :, :-1].sum(axis=3)
    return cube
