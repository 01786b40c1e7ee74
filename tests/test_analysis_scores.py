"""Marks from per-cell aggregates equal an independent computation on the raw marks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.cohorts import add_margins, merge_cells, response_rates
from analysis.disclosure import TOTAL
from analysis.scores import (
    COUNT_COLUMNS,
    additive_columns,
    aggregates_from_distribution,
    mark_distribution,
    mark_statistics,
    roll_up,
)


def aggregate(raw: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """What the SQL side sends: n, sum, sumsq and the 1-10 counts per cell."""
    with_squares = raw.assign(
        squared=raw["mark"] ** 2,
        **{f"count_{m}": (raw["mark"] == m).astype("int64") for m in range(1, 11)},
    )
    grouped = with_squares.groupby(dims, sort=True)
    cells = grouped.agg(
        n=("mark", "size"),
        sum=("mark", "sum"),
        sumsq=("squared", "sum"),
        **{c: (c, "sum") for c in COUNT_COLUMNS},
    )
    return cells.reset_index()


raw_marks = st.lists(
    st.tuples(st.sampled_from(["youth", "parent"]), st.sampled_from("abcd"), st.integers(1, 10)),
    min_size=1,
    max_size=120,
).map(lambda rows: pd.DataFrame(rows, columns=["group", "team", "mark"]))


@settings(max_examples=60, deadline=None)
@given(raw_marks)
def test_mean_sd_and_interval_equal_scipy(raw):
    cells = aggregate(raw, ["group", "team"])
    result = mark_statistics(cells)
    for row in result.itertuples():
        marks = raw.loc[(raw["group"] == row.group) & (raw["team"] == row.team), "mark"]
        values = marks.to_numpy(dtype=float)
        assert row.n == len(values)
        assert row.mean == pytest.approx(np.mean(values), abs=1e-9)
        if len(values) < 2:
            assert np.isnan(row.sd) and np.isnan(row.ci_low) and np.isnan(row.ci_high)
            continue
        sd = np.std(values, ddof=1)
        assert row.sd == pytest.approx(sd, abs=1e-9)
        if sd == 0:
            assert row.ci_low == pytest.approx(row.mean, abs=1e-9)
            assert row.ci_high == pytest.approx(row.mean, abs=1e-9)
            continue
        low, high = stats.t.interval(
            0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
        )
        assert row.ci_low == pytest.approx(low, abs=1e-9)
        assert row.ci_high == pytest.approx(high, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(raw_marks)
def test_roll_up_equals_recomputation_from_raw_marks(raw):
    fine = aggregate(raw, ["group", "team"])
    coarse = mark_statistics(roll_up(fine, ["group"]))
    expected = mark_statistics(aggregate(raw, ["group"]))
    pd.testing.assert_frame_equal(coarse, expected, check_dtype=False, atol=1e-9, rtol=0)
    grand = mark_statistics(roll_up(fine, []))
    values = raw["mark"].to_numpy(dtype=float)
    assert grand.loc[0, "n"] == len(values)
    assert grand.loc[0, "mean"] == pytest.approx(values.mean(), abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(raw_marks)
def test_margins_equal_recomputation_from_raw_marks(raw):
    cube = mark_statistics(add_margins(aggregate(raw, ["group", "team"]), ["group", "team"]))
    for row in cube.itertuples():
        selected = raw
        if row.group != TOTAL:
            selected = selected[selected["group"] == row.group]
        if row.team != TOTAL:
            selected = selected[selected["team"] == row.team]
        assert row.n == len(selected)
        assert row.is_total == (TOTAL in (row.group, row.team))
        if len(selected):
            assert row.mean == pytest.approx(selected["mark"].mean(), abs=1e-9)
        if len(selected) > 1:
            assert row.sd == pytest.approx(selected["mark"].std(ddof=1), abs=1e-9)


def test_small_cells_give_nan_not_errors():
    cells = pd.DataFrame({"n": [0, 1, 2], "sum": [0, 7, 15], "sumsq": [0, 49, 113]})
    result = mark_statistics(cells)
    assert np.isnan(result.loc[0, "mean"])
    assert result.loc[1, "mean"] == 7
    assert result[["sd", "ci_low", "ci_high"]].iloc[:2].isna().all().all()
    assert result.loc[2, "sd"] == pytest.approx(np.std([7, 8], ddof=1))


def test_prefixed_items_and_distribution():
    cells = pd.DataFrame(
        {"group": ["youth", "parent"], **{f"usefulness_{c}": [0, 0] for c in COUNT_COLUMNS}}
    )
    cells = cells.assign(usefulness_count_8=[3, 0], usefulness_count_10=[1, 2])
    with_aggregates = aggregates_from_distribution(cells, prefix="usefulness_")
    assert with_aggregates["usefulness_n"].tolist() == [4, 2]
    assert with_aggregates["usefulness_sum"].tolist() == [34, 20]
    assert with_aggregates["usefulness_sumsq"].tolist() == [292, 200]
    stats_ = mark_statistics(with_aggregates, prefix="usefulness_")
    assert stats_["usefulness_mean"].tolist() == [8.5, 10.0]
    long = mark_distribution(cells, ["group"], prefix="usefulness_")
    youth = long[long["group"] == "youth"].set_index("mark")
    assert len(long) == 20
    assert youth.loc[8, "count"] == 3
    assert youth.loc[8, "share"] == 0.75
    assert youth["share"].sum() == pytest.approx(1.0)


def test_additive_columns_follow_the_naming_convention():
    frame = pd.DataFrame(
        columns=["team", "n", "sum", "usefulness_sumsq", "count_10", "mean", "sent", "sd"]
    )
    assert additive_columns(frame) == ["n", "sum", "usefulness_sumsq", "count_10", "sent"]


def test_response_rate_keeps_bounced_and_opted_out_in_the_denominator():
    funnel = pd.DataFrame(
        {
            "group": ["youth", "parent", "none"],
            "sent": [37, 68, 0],
            "opened": [20, 40, 0],
            "responded": [11, 19, 0],
            "bounced": [3, 5, 0],
            "opted_out": [1, 2, 0],
            "after_reminder": [4, 0, 0],
        }
    )
    result = response_rates(funnel)
    assert result["response_rate"].iloc[:2].tolist() == [11 / 37, 19 / 68]
    assert result["open_rate"].iloc[0] == 20 / 37
    assert result["after_reminder_share"].iloc[:2].tolist() == [4 / 11, 0.0]
    assert result.iloc[2][["response_rate", "open_rate", "after_reminder_share"]].isna().all()
    assert result["bounced"].tolist() == [3, 5, 0]


def test_merge_cells_fills_cells_missing_on_one_side_with_zero():
    funnel = pd.DataFrame({"group": ["youth", "parent"], "sent": [5, 6], "responded": [1, 2]})
    marks = pd.DataFrame({"group": ["youth"], "n": [1], "sum": [8], "sumsq": [64]})
    merged = merge_cells(funnel, {"usefulness": marks}, ["group"]).set_index("group")
    assert merged.loc["parent", "usefulness_n"] == 0
    assert merged.loc["youth", "usefulness_sum"] == 8
    assert merged["usefulness_n"].dtype == "int64"


def test_inputs_are_not_mutated():
    raw = pd.DataFrame({"group": ["youth"] * 3 + ["parent"] * 2, "team": list("aabab")})
    raw = raw.assign(mark=[7, 8, 9, 6, 10])
    cells = aggregate(raw, ["group", "team"])
    funnel = cells[["group", "team"]].assign(sent=10, responded=cells["n"])
    before = (cells.copy(deep=True), funnel.copy(deep=True))
    mark_statistics(cells)
    roll_up(cells, ["group"])
    add_margins(cells, ["group", "team"])
    mark_distribution(cells, ["group", "team"])
    aggregates_from_distribution(cells)
    response_rates(funnel)
    merge_cells(funnel, {"usefulness": cells}, ["group", "team"])
    pd.testing.assert_frame_equal(cells, before[0])
    pd.testing.assert_frame_equal(funnel, before[1])
