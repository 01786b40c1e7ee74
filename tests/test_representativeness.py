"""Response-rate intervals and the under-representation flag, checked against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from analysis.cohorts import proportion_interval, response_rates
from analysis.representativeness import AS_EXPECTED, OVER, UNDER, representativeness


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_equals_scipy(case):
    responded, sent = case
    low, high = proportion_interval(pd.Series([responded]), pd.Series([sent]))
    expected = binomtest(responded, sent).proportion_ci(confidence_level=0.95, method="wilson")
    assert low[0] == pytest.approx(expected.low, abs=1e-9)
    assert high[0] == pytest.approx(expected.high, abs=1e-9)
    assert 0 <= low[0] <= responded / sent <= high[0] <= 1


def test_no_interval_without_invitations():
    low, high = proportion_interval(pd.Series([0]), pd.Series([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


def cohorts(rows: list[tuple[str, int, int, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["team", "sent", "responded", "suppressed"])
    return response_rates(frame)


def test_a_large_cohort_that_lags_is_flagged_and_a_small_one_by_chance_is_not():
    # Overall 300 / 1000 = 30%. Team A: 40/300 = 13% (interval well below 30%): under.
    # Team B: 2/12 = 17%, but with 12 invitations its interval reaches past 30%: as expected.
    # Team C: 258/688 = 38%, interval above 30%: over.
    table = cohorts([("A", 300, 40, False), ("B", 12, 2, False), ("C", 688, 258, False)])
    result = representativeness(table, sent=1000, responded=300).set_index("team")
    assert result.loc["A", "representation"] == UNDER
    assert result.loc["B", "representation"] == AS_EXPECTED
    assert result.loc["C", "representation"] == OVER
    assert result.loc["A", "rate_ratio"] == pytest.approx((40 / 300) / 0.3)
    assert result.loc["A", "invited_share"] == pytest.approx(0.3)
    assert result.loc["A", "response_share"] == pytest.approx(40 / 300)
    assert result["invited_share"].sum() == pytest.approx(1)


def test_a_suppressed_cohort_gets_no_figure_and_no_flag():
    table = cohorts([("A", 300, 100, False), ("B", 30, 2, True)])
    table.loc[1, ["responded", "response_rate"]] = np.nan
    table.loc[1, ["response_rate_ci_low", "response_rate_ci_high"]] = np.nan
    result = representativeness(table, sent=330, responded=102).set_index("team")
    assert result.loc["B", "representation"] is None
    assert np.isnan(result.loc["B", "response_share"]) and np.isnan(result.loc["B", "rate_ratio"])
    assert result.loc["B", "invited_share"] == pytest.approx(30 / 330)  # invitations are public


def test_input_is_not_mutated():
    table = cohorts([("A", 300, 40, False)])
    before = table.copy(deep=True)
    representativeness(table, sent=300, responded=40)
    pd.testing.assert_frame_equal(table, before)
