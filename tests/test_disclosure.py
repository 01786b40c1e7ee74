"""Disclosure control: an attacker who knows every shown figure cannot work out a hidden one.

The attacker here is written independently of `analysis.disclosure`: it reads only what the
suppressed table shows (counts, means, margins, and the invitation counts that stay visible),
writes down every linear equation the cube gives (cells along a dimension add up to their
margin), and solves for the hidden values with exact rational elimination. A hidden value is
derivable iff, in the reduced row echelon form, its pivot row has no free variable in it.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cohorts import add_margins, cohort_report
from analysis.disclosure import (
    PRIMARY,
    SECONDARY,
    SUPPRESSED_NOTE,
    TOTAL,
    derivable_cells,
    suppress,
)
from analysis.scores import mark_statistics

DIMS = ("row", "col", "layer")


# --- the attacker ---------------------------------------------------------------------------


def shown(value: object) -> bool:
    return (
        value is not None
        and value is not pd.NA
        and not (isinstance(value, float) and math.isnan(value))
    )


def line_equations(table: pd.DataFrame, dims: list[str]) -> list[dict[int, int]]:
    """Every line of the cube as {row position: coefficient}: cells +1, their margin -1."""
    equations = []
    records = table.reset_index(drop=True)[dims].to_dict(orient="records")
    for dim in dims:
        lines: dict[tuple, dict[int, int]] = {}
        for i, cell in enumerate(records):
            key = tuple(cell[d] for d in dims if d != dim)
            lines.setdefault(key, {})[i] = -1 if cell[dim] == TOTAL else 1
        equations.extend(lines.values())
    return equations


def derivable(known: dict[int, Fraction], unknown: list[int], equations) -> set[int]:
    """Unknowns that every solution of the equations agrees on (exact arithmetic)."""
    column = {cell: j for j, cell in enumerate(unknown)}
    rows = []
    for equation in equations:
        row = [Fraction(0)] * (len(unknown) + 1)
        for cell, coefficient in equation.items():
            if cell in column:
                row[column[cell]] += coefficient
            else:
                row[-1] -= coefficient * known[cell]
        if any(row[:-1]):
            rows.append(row)
    pivots = []
    r = 0
    for c in range(len(unknown)):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        rows[r] = [v / rows[r][c] for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                factor = rows[i][c]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(c)
        r += 1
    free = set(range(len(unknown))) - set(pivots)
    found = set()
    for i, c in enumerate(pivots):
        if not any(rows[i][f] != 0 for f in free):
            found.add(unknown[c])
    return found


def attack(table: pd.DataFrame, dims: list[str], figure: str) -> set[int]:
    """Positions of hidden cells whose `figure` ("n" or "sum") the attacker can compute."""
    table = table.reset_index(drop=True)
    known: dict[int, Fraction] = {}
    unknown = []
    for i, row in table.iterrows():
        n = row["n"]
        if figure == "n" and shown(n):
            known[i] = Fraction(int(n))
        elif figure == "sum" and shown(n) and (n == 0 or shown(row["mean"])):
            # sum = mean × n; recovered exactly since the sum is an integer
            known[i] = Fraction(0) if n == 0 else Fraction(round(row["mean"] * n))
        elif "sent" in table.columns and row["sent"] == 0:
            known[i] = Fraction(0)  # nothing sent: nobody can have answered
        else:
            unknown.append(i)
    return derivable(known, unknown, line_equations(table, dims))


# --- generated tables -----------------------------------------------------------------------

counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@st.composite
def cube_tables(draw, n_dims: st.SearchStrategy[int], max_size: int):
    n_dims = draw(n_dims)
    sizes = [draw(st.integers(1, max_size)) for _ in range(n_dims)]
    dims = list(DIMS[:n_dims])
    rows = []
    for combo in itertools.product(*(range(size) for size in sizes)):
        if draw(st.integers(0, 9)) == 0:
            continue  # a combination without a row: no invitations at all
        n = draw(counts)
        not_responded = draw(st.one_of(st.just(0), st.integers(0, 30)))
        total = draw(st.integers(n, 10 * n))
        rows.append(
            {
                **{d: f"{d}{v}" for d, v in zip(dims, combo, strict=True)},
                "n": n,
                "sent": n + not_responded,
                "sum": total,
                "sumsq": total * 10,
            }
        )
    frame = pd.DataFrame(rows, columns=[*dims, "n", "sent", "sum", "sumsq"])
    return dims, frame.astype({"n": "int64", "sent": "int64", "sum": "int64", "sumsq": "int64"})


def protected(cells: pd.DataFrame, dims: list[str], k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cube = mark_statistics(add_margins(cells, dims))
    return cube, suppress(cube, k=k, dims=dims)


def assert_safe(cube: pd.DataFrame, result: pd.DataFrame, dims: list[str], k: int) -> None:
    hidden = result["suppressed"].to_numpy()
    # no shown figure rests on fewer than k responses, margins included
    assert (result.loc[~hidden, "n"] >= k).all()
    assert result.loc[hidden, ["n", "sum", "sumsq"]].isna().all().all()
    assert result.loc[hidden, ["mean", "sd", "ci_low", "ci_high"]].isna().all().all()
    # invitation counts stay visible; the true values are untouched where shown
    assert result["sent"].tolist() == cube["sent"].tolist()
    assert result.loc[~hidden, "n"].astype(int).tolist() == cube.loc[~hidden, "n"].tolist()
    # the reasons: primary exactly for the cells below k, the rest secondary
    expected = np.where(cube["n"] < k, PRIMARY, np.where(hidden, SECONDARY, None))
    assert result["suppression_reason"].tolist() == expected.tolist()
    # neither a hidden count nor a hidden sum (behind a mean) can be worked out
    assert attack(result, dims, "n") == set()
    assert attack(result, dims, "sum") == set()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cube_tables(st.integers(1, 2), max_size=6), st.integers(3, 10))
def test_random_one_and_two_way_tables_leak_nothing(table, k):
    dims, cells = table
    cube, result = protected(cells, dims, k)
    assert_safe(cube, result, dims, k)
    assert_lines_hold_k(cube, result, dims, k)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cube_tables(st.just(3), max_size=3), st.integers(3, 10))
def test_random_three_way_tables_leak_nothing(table, k):
    dims, cells = table
    cube, result = protected(cells, dims, k)
    assert_safe(cube, result, dims, k)
    assert_lines_hold_k(cube, result, dims, k)


# --- hand-written examples ------------------------------------------------------------------


def one_way(ns: dict[str, int], sent: dict[str, int] | None = None) -> pd.DataFrame:
    sent = sent or {team: 100 for team in ns}
    return pd.DataFrame(
        {"team": list(ns), "n": list(ns.values()), "sent": [sent[t] for t in ns]}
    ).assign(sum=lambda f: f["n"] * 8, sumsq=lambda f: f["n"] * 64)


def reasons(result: pd.DataFrame, dims: list[str]) -> dict[tuple, str]:
    hidden = result[result["suppressed"]]
    return {tuple(row[d] for d in dims): row["suppression_reason"] for _, row in hidden.iterrows()}


def test_one_small_cell_hides_the_smallest_other_cell_and_keeps_the_total():
    cube, result = protected(one_way({"a": 12, "b": 3, "c": 7, "d": 40}), ["team"], 5)
    assert reasons(result, ["team"]) == {("b",): PRIMARY, ("c",): SECONDARY}
    total = result.set_index("team").loc[TOTAL]
    assert total["n"] == 62 and not total["suppressed"]
    assert_safe(cube, result, ["team"], 5)


def test_a_small_total_is_itself_suppressed():
    cube, result = protected(one_way({"a": 1, "b": 2}), ["team"], 5)
    assert reasons(result, ["team"]) == {("a",): PRIMARY, ("b",): PRIMARY, (TOTAL,): PRIMARY}
    assert_safe(cube, result, ["team"], 5)


def test_two_small_cells_protect_each_other():
    _, result = protected(one_way({"a": 2, "b": 3, "c": 50}), ["team"], 5)
    assert reasons(result, ["team"]) == {("a",): PRIMARY, ("b",): PRIMARY}


def test_a_cell_nobody_was_sent_to_gives_no_protection():
    # b is empty and visibly so (0 sent): hiding it next to a would still give a away
    cells = one_way({"a": 3, "b": 0, "c": 40, "d": 50}, sent={"a": 9, "b": 0, "c": 99, "d": 99})
    cube, result = protected(cells, ["team"], 5)
    assert reasons(result, ["team"]) == {("a",): PRIMARY, ("b",): PRIMARY, ("c",): SECONDARY}
    assert_safe(cube, result, ["team"], 5)


def test_a_cell_without_responses_but_with_invitations_is_protected():
    cells = one_way({"a": 0, "b": 20, "c": 30}, sent={"a": 10, "b": 40, "c": 40})
    cube, result = protected(cells, ["team"], 5)
    assert reasons(result, ["team"]) == {("a",): PRIMARY, ("b",): SECONDARY}
    assert_safe(cube, result, ["team"], 5)


def two_way(values: list[list[int]]) -> pd.DataFrame:
    rows = [
        {"row": f"r{i}", "col": f"c{j}", "n": n, "sent": 100, "sum": 8 * n, "sumsq": 64 * n}
        for i, line in enumerate(values)
        for j, n in enumerate(line)
    ]
    return pd.DataFrame(rows)


def test_a_single_small_cell_in_a_two_way_table_hides_a_rectangle():
    cells = two_way([[2, 6, 30], [7, 8, 40], [25, 35, 45]])
    cube, result = protected(cells, ["row", "col"], 5)
    assert reasons(result, ["row", "col"]) == {
        ("r0", "c0"): PRIMARY,
        ("r0", "c1"): SECONDARY,
        ("r1", "c0"): SECONDARY,
        ("r1", "c1"): SECONDARY,
    }
    assert not result["suppressed"][result["is_total"]].any()
    assert_safe(cube, result, ["row", "col"], 5)


def test_the_audit_hides_one_more_cell_where_the_line_rule_alone_would_leak():
    cells = two_way([[8, 2, 7, 39], [1, 42, 8, 2], [31, 3, 0, 2], [3, 7, 15, 2]])
    cube, result = protected(cells, ["row", "col"], 5)
    found = reasons(result, ["row", "col"])
    primary = {cell for cell, reason in found.items() if reason == PRIMARY}
    assert primary == {
        ("r0", "c1"), ("r1", "c0"), ("r2", "c1"), ("r2", "c2"), ("r2", "c3"),
        ("r1", "c3"), ("r3", "c0"), ("r3", "c3"),
    }  # fmt: skip
    # Secondary cells: the line rule gives each line's hidden cells at least k responses
    # together (the 1 and 3 of column c0 need a third), and nothing hidden follows.
    assert {cell for cell, reason in found.items() if reason == SECONDARY} == {
        ("r0", "c0"),
        ("r1", "c2"),
    }
    assert_lines_hold_k(cube, result, ["row", "col"], 5)
    assert_safe(cube, result, ["row", "col"], 5)


def assert_lines_hold_k(cube, result, dims, k):
    """Every line with a shown margin: no hidden cells, or together at least k responses."""
    truth = dict(zip(map(tuple, cube[dims].to_numpy()), cube["n"], strict=True))
    empty = dict(zip(map(tuple, cube[dims].to_numpy()), cube["sent"] == 0, strict=True))
    hidden = dict(zip(map(tuple, result[dims].to_numpy()), result["suppressed"], strict=True))
    for axis, dim in enumerate(dims):
        others = [d for d in dims if d != dim]
        for _, line in result.groupby(others) if others else [((), result)]:
            keys = [tuple(r) for r in line[dims].to_numpy()]
            margin = next(key for key in keys if key[axis] == TOTAL)
            if hidden[margin]:
                continue
            inner = [k_ for k_ in keys if k_[axis] != TOTAL and hidden[k_] and not empty[k_]]
            assert not inner or sum(truth[key] for key in inner) >= k, (dim, inner)


def test_the_line_rule_holds_k_in_a_line_of_9_1_1_11():
    cells = pd.DataFrame(
        {"team": ["a", "b", "c", "d"], "n": [9, 1, 1, 11], "sent": [20, 5, 5, 30]}
    ).assign(sum=lambda f: f["n"] * 7, sumsq=lambda f: f["n"] * 49)
    cube, result = protected(cells, ["team"], 5)
    hidden = set(result.loc[result["suppressed"], "team"])
    assert {"b", "c"} < hidden  # the two 1s, and a third cell so that the margin gives no 2
    assert TOTAL not in hidden
    assert_lines_hold_k(cube, result, ["team"], 5)
    assert_safe(cube, result, ["team"], 5)


def test_small_margins_are_suppressed_and_protected():
    cells = two_way([[1, 2, 0], [9, 12, 30], [25, 35, 45]])
    cube, result = protected(cells, ["row", "col"], 5)
    found = reasons(result, ["row", "col"])
    assert found[("r0", TOTAL)] == PRIMARY
    assert {("r0", "c0"), ("r0", "c1"), ("r0", "c2")} <= found.keys()
    assert_safe(cube, result, ["row", "col"], 5)


def test_the_line_rule_alone_can_leak_and_the_audit_catches_it():
    # two hidden rectangles joined by one hidden cell: every line has 0 or ≥ 2 hidden cells,
    # yet the joining cell follows from row r0 once the rectangle's sums are known
    hidden = np.zeros((5, 5), dtype=bool)
    for cell in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)]:
        hidden[cell] = True
    known = np.zeros_like(hidden)
    assert np.argwhere(derivable_cells(hidden, known)).tolist() == [[0, 2]]
    cells = two_way([[6, 7, 8, 9], [10, 11, 12, 13], [14, 15, 16, 17], [18, 19, 20, 21]])
    table = add_margins(cells, ["row", "col"]).reset_index(drop=True)
    flat = hidden.reshape(-1)
    table = table.assign(n=table["n"].astype(float).where(~flat), mean=np.nan)
    assert attack(table, ["row", "col"], "n") == {2}


def test_no_dimensions_is_a_single_total():
    cells = pd.DataFrame({"n": [3], "sent": [10], "sum": [24], "sumsq": [192]})
    _, result = protected(cells, [], 5)
    assert result["suppressed"].tolist() == [True]
    assert result["suppression_reason"].tolist() == [PRIMARY]
    assert result["sent"].tolist() == [10]


def test_blanked_columns_keep_useful_types_and_the_input_is_untouched():
    cube = mark_statistics(add_margins(one_way({"a": 3, "b": 40, "c": 50}), ["team"]))
    before = cube.copy(deep=True)
    result = suppress(cube, k=5, dims=["team"])
    pd.testing.assert_frame_equal(cube, before)
    assert str(result["n"].dtype) == "Int64"
    assert result["n"].isna().tolist() == [True, True, False, False]
    assert result["mean"].isna().tolist() == [True, True, False, False]
    assert result["sent"].tolist() == [100, 100, 100, 300]
    assert SUPPRESSED_NOTE == "te weinig reacties"


def test_several_count_columns_the_smallest_decides():
    cube = add_margins(
        pd.DataFrame({"team": ["a", "b", "c"], "responded": [6, 9, 40], "n": [4, 9, 40]}),
        ["team"],
    )
    result = suppress(cube, k=5, dims=["team"], n_col=["responded", "n"])
    assert reasons(result, ["team"]) == {("a",): PRIMARY, ("b",): SECONDARY}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"team": ["a", "b"], "n": [5, 6]}), "complete cube"),
        (pd.DataFrame({"team": ["a", "b", TOTAL], "n": [5, 6, 12]}), "margins"),
        (pd.DataFrame({"team": ["a", TOTAL], "n": [None, 6]}), "missing values"),
    ],
)
def test_tables_that_cannot_be_protected_are_refused(table, message):
    with pytest.raises(ValueError, match=message):
        suppress(table, k=5, dims=["team"])


def test_k_must_be_positive():
    cube = add_margins(pd.DataFrame({"team": ["a"], "n": [5]}), ["team"])
    with pytest.raises(ValueError, match="k must be"):
        suppress(cube, k=0, dims=["team"])


def test_cohort_report_hides_a_small_group_and_its_partner():
    funnel = pd.DataFrame(
        {
            "group": ["youth", "parent"],
            "sent": [20, 68],
            "opened": [8, 40],
            "responded": [3, 19],
            "bounced": [1, 2],
            "opted_out": [0, 1],
            "after_reminder": [1, 5],
        }
    )
    marks = pd.DataFrame({"group": ["youth", "parent"], "n": [3, 19], "sum": [24, 147]})
    marks = marks.assign(sumsq=[200, 1200])
    report = cohort_report(funnel, {"usefulness": marks}, ["group"], k=5).set_index("group")
    assert report["suppressed"].to_dict() == {"youth": True, "parent": True, TOTAL: False}
    assert report.loc["parent", "invited"] == 68
    for column in ["responded", "response_rate", "n", "usefulness_mean", "opened", "bounced"]:
        assert pd.isna(report.loc["youth", column])
    assert report.loc[TOTAL, "n"] == 22
    assert report.loc[TOTAL, "usefulness_mean"] == pytest.approx(171 / 22)
