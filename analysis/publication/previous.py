"""The previous pattern: what it showed, with unchanged counts, stays shown (`Lattice.kept`).

A pattern decided after the cells changed keeps showing what the previous one showed
unchanged, so two downloads hold nothing the new one was not decided with. The previous
pattern arrives as `Lattice.state()`.
"""

from __future__ import annotations

import io
import json

import numpy as np

from analysis.publication.lattice import PLACE_DIMENSIONS, Lattice, _tree, axis_size, level_code
from analysis.publication.periods import TIME_NODES


def _carried_over(previous: bytes | None, lattice: Lattice) -> np.ndarray:
    """Which nodes the previous pattern showed with exactly the counts they have now.

    Nodes are matched by their labels (a new team changes every code); a node whose counts
    changed (new answers, a purge) is free again: what was seen of it is a figure of other
    data.
    """
    kept = np.zeros(len(lattice.codes), dtype=bool)
    if not previous:
        return kept
    old = np.load(io.BytesIO(previous), allow_pickle=False)
    levels = json.loads(str(old["levels"]))
    radix = np.array((3, TIME_NODES, *(axis_size(levels, d) for d in PLACE_DIMENSIONS)))
    strides = np.array([int(np.prod(radix[i + 1 :])) for i in range(5)], dtype=np.int64)
    coordinates = (old["codes"][:, None] // strides) % radix
    for axis, dim in enumerate(PLACE_DIMENSIONS, start=2):
        names = [*levels[dim], *(_tree(levels) if dim == "team" else [])]
        mapping = [level_code(lattice.levels, dim, name) for name in names]
        if dim == "team" and _tree(levels) and levels != lattice.levels:
            # A provider is the sum of its teams: with other teams it is other families.
            mapping[len(levels[dim]) :] = [
                code if _same_teams(levels, lattice.levels, name) else -1
                for code, name in zip(mapping[len(levels[dim]) :], _tree(levels), strict=True)
            ]
        total = axis_size(lattice.levels, dim) - 1
        coordinates[:, axis] = np.array([*mapping, total])[coordinates[:, axis]]
    valid = (coordinates >= 0).all(axis=1)
    index = lattice.lookup(np.where(valid, coordinates @ lattice.strides, -1))
    same = valid & (index >= 0) & ~old["hidden"]
    for measure in ("n", "n_max", "sent"):
        same &= getattr(lattice, measure)[index] == old[measure]
    kept[index[same]] = True
    return kept


def _same_teams(old: dict, new: dict, provider: str) -> bool:
    def teams(levels: dict) -> set[str]:
        owner = levels.get("provider_of_team", [])
        return {t for t, p in zip(levels["team"], owner, strict=True) if p == provider}

    return teams(old) == teams(new)
