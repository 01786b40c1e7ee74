"""One protected publication: fixed periods, and no small group derivable across every view.

The attack battery: build the lattice of a year from random leaves (group × month × team ×
municipality × care type), then, as an attacker who holds *every* figure any view of any period
of that year shows, solve the linear system over the leaves exactly: no hidden node with 1 to
k-1 responses, and no small union of hidden nodes, may be derivable.
"""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.disclosure import TOTAL
from analysis.publication import (
    PAIRS,
    PLACE_DIMENSIONS,
    TIME_EQUATIONS,
    PeriodError,
    PublicationPeriod,
    _leaf_indicators,
    _row_space,
    build_lattice,
    exact_derivable,
    lines,
    periods_between,
)

LEVELS = {"team": ["A", "B", "C"], "municipality": ["X", "Y"], "care_type": ["c1", "c2"]}


def pair_leaves(leaves: np.ndarray, sent: np.ndarray, levels=LEVELS) -> pd.DataFrame:
    """The pair cells the database keeps, summed from full leaves."""
    rows = []
    for pair in PAIRS:
        axes = [2 + PLACE_DIMENSIONS.index(d) for d in pair]
        drop = tuple(a for a in (2, 3, 4) if a not in axes)
        n, s = leaves.sum(axis=drop), sent.sum(axis=drop)
        for g, m, x, y in np.ndindex(n.shape):
            if s[g, m, x, y] == 0:
                continue
            row = {
                "pair": "+".join(pair),
                "group": ("youth", "parent")[g],
                "month": m + 1,
                **dict.fromkeys(PLACE_DIMENSIONS, ""),
                "n": int(n[g, m, x, y]),
                "sent": int(s[g, m, x, y]),
            }
            row[pair[0]], row[pair[1]] = levels[pair[0]][x], levels[pair[1]][y]
            rows.append(row)
    return pd.DataFrame(rows)


def random_year(seed: int, rate: float, shape=(2, 12, 3, 2, 2)):
    random = np.random.default_rng(seed)
    sent = random.poisson(rate, shape)
    return random.binomial(sent, 0.4), sent


def node_sets(lattice, shape, count: int, seed: int) -> list[np.ndarray]:
    """Unions and differences of pairs of hidden small nodes, as leaf masks."""
    rows = _leaf_indicators(lattice, shape)
    small = np.flatnonzero(lattice.hidden & (lattice.n >= 1) & (lattice.n < lattice.k))
    random = np.random.default_rng(seed)
    result = []
    for _ in range(count if len(small) > 1 else 0):
        i, j = random.choice(small, 2, replace=False)
        a, b = rows(np.array([i]))[0] > 0, rows(np.array([j]))[0] > 0
        for mask in (a | b, a & ~b, a ^ b):
            if mask.any():
                result.append(mask.reshape(shape))
    return result


# --- periods ---------------------------------------------------------------------------------


def test_only_calendar_months_quarters_halves_and_years_are_periods():
    assert PublicationPeriod.parse("2026-03").label() == "maart 2026"
    assert PublicationPeriod.parse("2026-q1").label() == "1e kwartaal 2026"
    assert PublicationPeriod.parse("2026-H2").label("en") == "second half of 2026"
    assert PublicationPeriod.parse("2026").end == date(2026, 12, 31)
    quarter = PublicationPeriod.from_range(date(2026, 1, 1), date(2026, 3, 31))
    assert quarter.key == "2026-Q1"
    assert PublicationPeriod.from_range(date(2026, 2, 1), date(2026, 2, 28)).key == "2026-02"
    for start, end in [
        (date(2026, 1, 1), date(2026, 2, 28)),  # two months: Q1 minus it would be March
        (date(2026, 3, 15), date(2026, 3, 31)),
        (date(2026, 2, 1), date(2026, 4, 30)),
        (date(2025, 12, 1), date(2026, 1, 31)),
    ]:
        with pytest.raises(PeriodError, match="not a publication period"):
            PublicationPeriod.from_range(start, end)
    with pytest.raises(PeriodError):
        PublicationPeriod.parse("2026-Q5")


def test_the_periods_of_a_span_are_listed_newest_and_coarsest_first():
    periods = periods_between(date(2025, 11, 1), date(2026, 2, 1))
    keys = [p.key for p in periods]
    assert keys[:4] == ["2026", "2026-H1", "2026-Q1", "2026-02"]
    assert "2025-11" in keys and "2025-10" not in keys and "2026-03" not in keys


# --- the lattice -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_no_small_group_is_derivable_from_everything_a_year_publishes(seed):
    leaves, sent = random_year(seed, rate=1.5)
    lattice = build_lattice(pair_leaves(leaves, sent), 2026, 5)
    assert lattice.certified > 50  # the data has many small groups to protect
    assert not lattice.hidden.all()  # and the pattern still publishes
    sets = node_sets(lattice, leaves.shape, 300, seed)
    bad_nodes, bad_sets = exact_derivable(leaves, lattice, sets)
    assert bad_nodes == []
    assert bad_sets == []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.floats(0.3, 4.0), st.integers(2, 6))
def test_random_years_leak_nothing(seed, rate, k):
    leaves, sent = random_year(seed, rate, shape=(2, 12, 2, 2, 2))
    if sent.sum() == 0:
        return
    lattice = build_lattice(pair_leaves(leaves, sent, levels={
        "team": ["A", "B"], "municipality": ["X", "Y"], "care_type": ["c1", "c2"],
    }), 2026, k)  # fmt: skip
    shown = ~lattice.hidden
    assert (lattice.n[shown] >= k).all()
    bad_nodes, bad_sets = exact_derivable(
        leaves, lattice, node_sets(lattice, leaves.shape, 40, seed)
    )
    assert bad_nodes == [] and bad_sets == []
    assert_lines_hold_k(lattice)


def assert_lines_hold_k(lattice) -> None:
    """Every line with a shown margin: its hidden cells hold no response or at least k; and
    no line has a single hidden node with responses (it would follow by subtraction)."""
    for matrix in lines(lattice):
        hidden = lattice.hidden[matrix]
        n = lattice.n[matrix]
        inner = np.where(hidden[:, :-1], n[:, :-1], 0).sum(axis=1)
        margin_shown = ~hidden[:, -1]
        assert not (margin_shown & (inner >= 1) & (inner < lattice.k)).any()
        alone = (hidden.sum(axis=1) == 1) & (np.where(hidden, n, 0).sum(axis=1) >= 1)
        assert not alone.any()


def test_every_line_of_the_lattice_holds_k():
    leaves, sent = random_year(7, rate=2.0)
    assert_lines_hold_k(build_lattice(pair_leaves(leaves, sent), 2026, 5))


def test_a_month_of_9_1_1_11_keeps_the_two_families_apart():
    # One month, teams A-D with 9, 1, 1 and 11 parent responses: hiding the two 1s alone would
    # let the month's total give away their sum (2) and their summed marks.
    leaves = np.zeros((2, 12, 4, 1, 1), dtype=int)
    leaves[1, 2, :, 0, 0] = [9, 1, 1, 11]
    leaves[1, [0, 1], :, 0, 0] = 10  # January and February: large everywhere
    sent = leaves * 3
    levels = {"team": ["A", "B", "C", "D"], "municipality": ["X"], "care_type": ["c"]}
    lattice = build_lattice(pair_leaves(leaves, sent, levels), 2026, 5)
    march = PublicationPeriod(2026, "month", 3).time_node
    hidden = {team: lattice.is_hidden("parent", march, {"team": team}) for team in "ABCD"}
    assert hidden["B"] and hidden["C"]
    assert sum(n for team, n in zip("ABCD", [9, 1, 1, 11], strict=True) if hidden[team]) >= 5
    assert not lattice.is_hidden("parent", march)  # the month's total stays
    assert_lines_hold_k(lattice)
    assert exact_derivable(leaves, lattice)[0] == []


def test_the_difference_of_two_periods_gives_no_month_away():
    # Team B has one youth in March: Q1 and the first two months are large, and the attacker
    # holds every period of the year. March of team B must stay hidden and underivable.
    leaves = np.zeros((2, 12, 2, 1, 1), dtype=int)
    leaves[0, 0:2, :, 0, 0] = 8
    leaves[0, 2, 0, 0, 0] = 8
    leaves[0, 2, 1, 0, 0] = 1
    sent = leaves * 3 + 1
    levels = {"team": ["A", "B"], "municipality": ["X"], "care_type": ["c"]}
    lattice = build_lattice(pair_leaves(leaves, sent, levels), 2026, 5)
    q1, march = PublicationPeriod(2026, "quarter", 1), PublicationPeriod(2026, "month", 3)
    assert lattice.is_hidden("youth", march.time_node, {"team": "B"})
    assert exact_derivable(leaves, lattice)[0] == []
    # and what stays shown is exact: the quarter of team A
    index = lattice.lookup([lattice.code_of("youth", q1.time_node, {"team": "A"})])[0]
    assert lattice.n[index] == 24 and not lattice.hidden[index]


def test_the_time_equations_add_months_to_quarters_halves_and_the_year():
    parents = dict(TIME_EQUATIONS)
    assert parents[0] == (1, 2)  # the year is its two halves
    assert parents[1] == (3, 4) and parents[3] == (7, 8, 9)


def test_a_region_sized_year_keeps_its_group_totals():
    random = np.random.default_rng(3)
    shape = (2, 12, 6, 5, 3)
    weights = random.dirichlet(np.ones(np.prod(shape[2:])) * 0.3).reshape(shape[2:])
    sent = random.poisson(np.broadcast_to(weights, shape) / 24 * 2400)
    leaves = random.binomial(sent, 0.33)
    levels = {
        "team": [f"T{i}" for i in range(6)],
        "municipality": [f"M{i}" for i in range(5)],
        "care_type": [f"C{i}" for i in range(3)],
    }
    lattice = build_lattice(pair_leaves(leaves, sent, levels), 2026, 5)
    for group in ("youth", "parent", TOTAL):
        assert not lattice.is_hidden(group, 0)  # the infoblad table of the year
    shown_teams = sum(not lattice.is_hidden(TOTAL, 0, {"team": t}) for t in levels["team"])
    assert shown_teams >= 4


def test_the_same_cells_give_the_same_pattern():
    leaves, sent = random_year(5, rate=1.5)
    cells = pair_leaves(leaves, sent)
    first = build_lattice(cells, 2026, 5)
    second = build_lattice(cells.sample(frac=1, random_state=1), 2026, 5)
    assert (first.hidden == second.hidden).all()


def test_cells_that_disagree_on_their_shared_margins_are_refused():
    leaves, sent = random_year(1, rate=1.5)
    cells = pair_leaves(leaves, sent)
    cells.loc[cells.index[0], "n"] += 1
    with pytest.raises(ValueError, match="disagree"):
        build_lattice(cells, 2026, 5)


def test_k_must_be_a_whole_number():
    with pytest.raises(ValueError):
        build_lattice(pair_leaves(*random_year(1, 1.0)), 2026, 0)


# --- the stored pattern ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_what_a_page_shows_before_the_worker_decided_the_full_pattern_shows_too(seed):
    # A reader who saw the year without breakdowns (the page's quick pattern) and later with
    # them must learn nothing from the pair: the full pattern hides no total the quick one showed.
    leaves, sent = random_year(seed, rate=1.5)
    cells = pair_leaves(leaves, sent)
    quick = build_lattice(cells, 2026, 5, coarse=True)
    full = build_lattice(cells, 2026, 5)
    assert not (~quick.hidden & full.hidden).any()
    assert exact_derivable(leaves, quick)[0] == []


@pytest.mark.parametrize("seed", [8, 21, 29, 33])
def test_no_sum_or_difference_of_two_hidden_groups_in_different_lines_follows(seed):
    # Before the pair audit, 92 of 300 such years gave away a sum of two small groups that
    # share no line (the diagonal corners of a box of three axes); seed 8 was one of them.
    random = np.random.default_rng(seed)
    levels = {"team": ["A", "B"], "municipality": ["X"], "care_type": ["c"]}
    sent = random.poisson(random.uniform(1, 6), (2, 12, 2, 1, 1))
    leaves = random.binomial(sent, 0.5)
    lattice = build_lattice(pair_leaves(leaves, sent, levels), 2026, 5)
    rows = _leaf_indicators(lattice, leaves.shape)
    hidden = np.flatnonzero(lattice.hidden & (lattice.n >= 1))
    sets = []
    for i, j in itertools.combinations(hidden, 2):
        a, b = rows(np.array([i]))[0] > 0, rows(np.array([j]))[0] > 0
        sets += [(a | b).reshape(leaves.shape), (a & ~b).reshape(leaves.shape)]
    assert exact_derivable(leaves, lattice, sets)[1] == []


def later_answers(leaves, sent, seed: int, months=(9, 10, 11)):
    """The same year some weeks later: a few more answers in its last months."""
    random = np.random.default_rng(seed + 1_000)
    more = np.zeros_like(leaves)
    for month in months:
        more[:, month] = random.binomial(np.maximum(sent[:, month] - leaves[:, month], 0), 0.3)
    return leaves + more


def combined_derivable(first_leaves, first, second) -> list[str]:
    """What a reader who downloaded on both days can work out that no single day gives.

    Unknowns: the answers of the first day x and those that came after, d. The first day's
    shown nodes give A·x, the second day's A·(x + d). A hidden small group of either day must
    not follow: (a, 0) for the first day, (a, a) for the second.
    """
    shape = first_leaves.shape
    rows_first = _leaf_indicators(first, shape)
    rows_second = _leaf_indicators(second, shape)
    a1 = rows_first(np.flatnonzero(~first.hidden))
    a2 = rows_second(np.flatnonzero(~second.hidden))
    system = np.vstack([np.hstack([a1, np.zeros_like(a1)]), np.hstack([a2, a2])])
    basis = _row_space(system)

    def follows(vector):
        return np.abs(vector - basis.T @ (basis @ vector)).max() < 1e-8

    leaks = []
    for day, lattice, rows in ((1, first, rows_first), (2, second, rows_second)):
        small = np.flatnonzero(lattice.hidden & (lattice.n_max >= 1) & (lattice.n < lattice.k))
        for index in small:
            row = rows(np.array([index]))[0]
            target = np.concatenate([row, np.zeros_like(row) if day == 1 else row])
            if follows(target):
                leaks.append(f"day {day}: node {lattice.codes[index]} ({lattice.n[index]})")
    return leaks


@pytest.mark.parametrize("seed", range(12))
def test_a_pattern_decided_later_keeps_showing_what_is_unchanged_and_gives_nothing_away(seed):
    levels = {"team": ["A", "B"], "municipality": ["X", "Y"], "care_type": ["c"]}
    leaves, sent = random_year(seed, rate=1.5, shape=(2, 12, 2, 2, 1))
    first = build_lattice(pair_leaves(leaves, sent, levels), 2026, 5)
    later = later_answers(leaves, sent, seed)
    second = build_lattice(pair_leaves(later, sent, levels), 2026, 5, previous=first.state())
    # Every figure shown on the first day whose counts did not change is shown again …
    unchanged = first.lookup(second.codes)
    same = (unchanged >= 0) & (first.n[unchanged] == second.n) & ~first.hidden[unchanged]
    assert same.any() and not second.hidden[same].any()
    assert second.kept.sum() == same.sum()
    # … and the two downloads together single out no small group of either day.
    assert combined_derivable(leaves, first, second) == []


def test_without_the_previous_pattern_unchanged_figures_would_come_and_go():
    # Decided apart, a later pattern hides figures the first one showed although their counts
    # did not change (and shows others it hid): what readers compare from one week to the
    # next. Decided around the first, none of them disappears.
    levels = {"team": ["A", "B"], "municipality": ["X", "Y"], "care_type": ["c"]}
    vanished_apart = vanished_kept = 0
    for seed in (2, 3, 14, 24):  # of 30 random years, 10 lost unchanged figures this way
        leaves, sent = random_year(seed, rate=1.5, shape=(2, 12, 2, 2, 1))
        first = build_lattice(pair_leaves(leaves, sent, levels), 2026, 5)
        later = pair_leaves(later_answers(leaves, sent, seed), sent, levels)
        for previous in (None, first.state()):
            second = build_lattice(later, 2026, 5, previous=previous)
            at = first.lookup(second.codes)
            same = (at >= 0) & (first.n[at] == second.n) & (first.sent[at] == second.sent)
            vanished = int((same & ~first.hidden[at] & second.hidden).sum())
            if previous is None:
                vanished_apart += vanished
            else:
                vanished_kept += vanished
    assert vanished_apart > 0
    assert vanished_kept == 0
