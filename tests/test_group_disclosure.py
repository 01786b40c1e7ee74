"""No group of 1 to k-1 families follows from what a year publishes, however it is combined.

`exact_derivable` checks single hidden nodes and a list of candidate sets. A family is just as
exposed when the sum of two hidden small groups in different lines follows (say, "these two
hidden cells together hold 3 answers"), so these tests ask `small_set_derivable` for *any*
set of leaves with 1 to k-1 responses in the row space of the shown nodes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from analysis.audit import small_set_derivable
from analysis.disclosure import TOTAL
from analysis.publication import (
    GROUPS,
    PublicationPeriod,
    _leaf_indicators,
    build_lattice,
    exact_derivable,
)
from tests.test_publication import pair_leaves, random_year

NAMES = {"team": ["A", "B", "C"], "municipality": ["X", "Y"], "care_type": ["c1", "c2"]}
SHAPES = ((2, 12, 2, 1, 1), (2, 12, 3, 1, 1), (2, 12, 2, 2, 1))


def levels_of(shape: tuple[int, ...]) -> dict[str, list[str]]:
    return {dim: NAMES[dim][:size] for dim, size in zip(NAMES, shape[2:], strict=True)}


def describe(mask: np.ndarray, leaves: np.ndarray) -> str:
    """The leaked set as a reader would see it: which groups, and how many answered."""
    levels = levels_of(leaves.shape)
    lines = [
        f"  {GROUPS[g]:6} 2026-{m + 1:02d} team {levels['team'][t]} "
        f"{levels['municipality'][x]} {levels['care_type'][c]}: {leaves[g, m, t, x, c]}"
        for g, m, t, x, c in np.argwhere(mask)
    ]
    return (
        f"the shown figures give away that these {mask.sum()} leaves together hold "
        f"{leaves[mask].sum()} responses:\n" + "\n".join(lines)
    )


def in_row_space(mask: np.ndarray, lattice, shape: tuple[int, ...]) -> bool:
    """Independently of the audit: is the mask's sum a combination of shown figures?"""
    rows = _leaf_indicators(lattice, shape)(np.flatnonzero(~lattice.hidden))
    vector = mask.reshape(-1).astype(float)
    weights, *_ = np.linalg.lstsq(rows.T, vector, rcond=None)
    return bool(np.abs(rows.T @ weights - vector).max() < 1e-8)


def leak(seed: int, rate: float, k: int, shape: tuple[int, ...]) -> str | None:
    """The product's pattern for one random year; a description of a leak, or None."""
    leaves, sent = random_year(seed, rate, shape)
    lattice = build_lattice(pair_leaves(leaves, sent, levels_of(shape)), 2026, k)
    mask = small_set_derivable(leaves, lattice)
    if mask is None:
        return None
    assert in_row_space(mask, lattice, shape) and 1 <= leaves[mask].sum() < k
    return f"shape={shape} seed={seed} rate={rate} k={k}: " + describe(mask, leaves)


def every_level_used(seed: int, rate: float, shape: tuple[int, ...]) -> bool:
    """A team with no invitation all year is no level of the lattice: the shapes would differ."""
    _, sent = random_year(seed, rate, shape)
    return all((sent.sum(axis=tuple(set(range(5)) - {a})) > 0).all() for a in (2, 3, 4))


# --- the audit itself ------------------------------------------------------------------------


def box_pattern(january: int, february: int):
    """Team A had `january` and `february` youth answers, every other leaf 10; the pattern
    hides only the January/February × team A/B box of youth and of the group total."""
    shape = (2, 12, 2, 1, 1)
    leaves = np.full(shape, 10)
    leaves[0, 0, 0, 0, 0], leaves[0, 1, 0, 0, 0] = january, february
    lattice = build_lattice(pair_leaves(leaves, leaves * 2 + 1, levels_of(shape)), 2026, 5)
    lattice.hidden[:] = False
    for group in ("youth", TOTAL):
        for month in (1, 2):
            for team in ("A", "B"):
                node = PublicationPeriod(2026, "month", month).time_node
                code = lattice.code_of(group, node, {"team": team})
                index = lattice.lookup(np.array([code]))[0]
                assert index >= 0
                lattice.hidden[index] = True
    assert lattice.hidden.sum() == 8 and (lattice.n[~lattice.hidden] >= 5).all()
    return leaves, lattice


def test_the_sum_of_two_hidden_small_groups_of_one_team_is_found():
    # The box protects each month on its own (it moves along +1/-1 corners), but team A's
    # quarter minus its March is both months together: 3 families < k = 5.
    leaves, lattice = box_pattern(1, 2)
    assert exact_derivable(leaves, lattice)[0] == []  # no single hidden group follows ...

    mask = small_set_derivable(leaves, lattice)  # ... but the two together do

    expected = np.zeros(leaves.shape, dtype=bool)
    expected[0, 0, 0, 0, 0] = expected[0, 1, 0, 0, 0] = True
    assert mask is not None, "the audit missed a sum of 3 responses that follows"
    assert (mask == expected).all(), describe(mask, leaves)
    assert leaves[mask].sum() == 3 and in_row_space(mask, lattice, leaves.shape)
    # it is the only such set: excluding it leaves nothing
    assert small_set_derivable(leaves, lattice, exclude=[mask]) is None


def test_a_sum_of_k_that_follows_is_no_leak():
    leaves, lattice = box_pattern(2, 3)  # the same box, but the two months hold 5 = k
    assert small_set_derivable(leaves, lattice) is None


def test_a_year_of_large_groups_gives_nothing_small_away():
    shape = (2, 12, 2, 2, 1)
    leaves = np.full(shape, 6)
    leaves[1, 3:5] = 0  # nobody answered here: a count of 0 is no small group
    lattice = build_lattice(pair_leaves(leaves, leaves + 1, levels_of(shape)), 2026, 5)
    assert not (lattice.hidden & (lattice.n > 0)).any()  # only empty groups are hidden
    assert small_set_derivable(leaves, lattice) is None
    # Show even the empty ones: now every sum of leaves follows, and each holds 0 or >= k.
    lattice.hidden[:] = False
    assert small_set_derivable(leaves, lattice) is None


def test_nothing_shown_or_k_of_one_gives_nothing_away():
    shape = (2, 12, 2, 1, 1)
    leaves, sent = random_year(1, 1.0, shape)
    lattice = build_lattice(pair_leaves(leaves, sent, levels_of(shape)), 2026, 5)
    lattice.hidden[:] = True
    assert small_set_derivable(leaves, lattice) is None
    lattice.hidden[:] = False
    lattice.k = 1
    assert small_set_derivable(leaves, lattice) is None


# --- the product's pattern -------------------------------------------------------------------

RANDOM_YEARS = {
    "deadline": None,
    # A seed shrunk to a smaller seed is no simpler year; report the first leak as found.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}
"""The hypothesis settings of a search over random years (seed, rate, k, shape)."""


def random_years(shapes) -> tuple:
    """The strategies of a random year: its seed, rate of answers, k and shape."""
    return st.integers(0, 10_000), st.floats(0.3, 4.0), st.integers(2, 6), st.sampled_from(shapes)


@settings(max_examples=60, **RANDOM_YEARS)
@given(*random_years(SHAPES))
def test_no_small_set_of_families_follows_from_a_random_year(seed, rate, k, shape):
    assume(every_level_used(seed, rate, shape))
    found = leak(seed, rate, k, shape)
    assert found is None, found


def test_thirty_small_years_leak_no_small_set():
    # A fixed battery for a quick re-run: k = 5, two teams, one municipality and care type.
    shape, k = (2, 12, 2, 1, 1), 5
    leaks = []
    for seed in range(30):
        rate = (0.5, 1.0, 1.5, 2.5, 4.0)[seed % 5]
        if every_level_used(seed, rate, shape) and (found := leak(seed, rate, k, shape)):
            leaks.append(found)
    assert not leaks, f"{len(leaks)} of 30 years leak; the first:\n" + "\n".join(leaks[:2])
