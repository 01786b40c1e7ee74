"""Dutch number formats and the infoblad table exactly as the report contract prints it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.cohorts import cohort_report
from analysis.disclosure import SUPPRESSED_NOTE, TOTAL
from analysis.formatting import (
    format_count,
    format_mark,
    format_number,
    format_rate,
    infoblad_table,
    to_records,
)

EXPECTED = """\
|  | Jongeren | Ouders |
|---|---|---|
| Aantal uitgezet/ respons | 37 uitgezet / 11 respons (30%) | 68 uitgezet / 19 respons (28%) |
| Ervaren eigen regie (rapportcijfer 1-10) | 8,09 | 7,74 |
| Hoe nuttig was de hulp? (rapportcijfer 1-10) | 8,00 | 7,21 |"""

FIXTURE_ROWS = [
    {
        "group": "youth",
        "invited": 37,
        "responded": 11,
        "response_rate": 11 / 37,
        "self_direction_mean": 89 / 11,
        "usefulness_mean": 88 / 11,
        "suppressed": False,
    },
    {
        "group": "parent",
        "invited": 68,
        "responded": 19,
        "response_rate": 19 / 68,
        "self_direction_mean": 147 / 19,
        "usefulness_mean": 137 / 19,
        "suppressed": False,
    },
]


def test_infoblad_table_is_exactly_the_contract():
    assert infoblad_table(FIXTURE_ROWS) == EXPECTED


def test_infoblad_columns_are_youth_then_parents_whatever_the_row_order():
    assert infoblad_table(list(reversed(FIXTURE_ROWS))) == EXPECTED


def test_infoblad_from_sql_aggregates_through_the_cohort_report():
    funnel = pd.DataFrame(
        {
            "group": ["parent", "youth"],
            "sent": [68, 37],
            "opened": [40, 20],
            "responded": [19, 11],
            "bounced": [2, 1],
            "opted_out": [1, 0],
            "after_reminder": [6, 3],
        }
    )
    self_direction = pd.DataFrame(
        {"group": ["parent", "youth"], "n": [19, 11], "sum": [147, 89], "sumsq": [1177, 729]}
    )
    usefulness = pd.DataFrame(
        {"group": ["parent", "youth"], "n": [19, 11], "sum": [137, 88], "sumsq": [1017, 712]}
    )
    report = cohort_report(
        funnel, {"self_direction": self_direction, "usefulness": usefulness}, ["group"], k=5
    )
    assert set(report["group"]) == {"youth", "parent", TOTAL}
    assert infoblad_table(report) == EXPECTED


def test_a_suppressed_group_says_too_few_responses():
    rows = [
        FIXTURE_ROWS[0],
        {
            "group": "parent",
            "invited": 12,
            "responded": None,
            "response_rate": float("nan"),
            "self_direction_mean": None,
            "usefulness_mean": pd.NA,
            "suppressed": True,
        },
    ]
    lines = infoblad_table(rows).splitlines()
    assert lines[2].endswith(f"| {SUPPRESSED_NOTE} |")
    assert lines[3] == f"| Ervaren eigen regie (rapportcijfer 1-10) | 8,09 | {SUPPRESSED_NOTE} |"
    assert lines[4].endswith(f"| 8,00 | {SUPPRESSED_NOTE} |")
    assert SUPPRESSED_NOTE == "te weinig reacties"


def test_margin_rows_are_left_out_and_unknown_groups_refused():
    total = {**FIXTURE_ROWS[0], "group": TOTAL, "invited": 105}
    assert infoblad_table([*FIXTURE_ROWS, total]) == EXPECTED
    with pytest.raises(ValueError, match="unknown respondent group"):
        infoblad_table([{**FIXTURE_ROWS[0], "group": "teacher"}])
    with pytest.raises(ValueError, match="twice"):
        infoblad_table([FIXTURE_ROWS[0], FIXTURE_ROWS[0]])


def test_only_groups_present_get_a_column():
    assert infoblad_table(FIXTURE_ROWS[1:]).splitlines()[0] == "|  | Ouders |"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (8.0909, "8,09"),
        (89 / 11, "8,09"),
        (147 / 19, "7,74"),
        (8.0, "8,00"),
        (8, "8,00"),
        (137 / 19, "7,21"),
        (8.085, "8,09"),  # half away from zero on the written number, not banker's rounding
        (7.125, "7,13"),
        (10.0, "10,00"),
        (np.float64(6.5), "6,50"),
    ],
)
def test_format_mark(value, expected):
    assert format_mark(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.297, "30%"),
        (11 / 37, "30%"),
        (19 / 68, "28%"),
        (0.285, "29%"),
        (0.125, "13%"),
        (0.0, "0%"),
        (1.0, "100%"),
        (0.004, "0%"),
    ],
)
def test_format_rate(value, expected):
    assert format_rate(value) == expected


def test_thousands_separator_and_missing_values():
    assert format_count(1234) == "1.234"
    assert format_count(1234567) == "1.234.567"
    assert format_count(np.int64(999)) == "999"
    assert format_number(-1234.5, 1) == "-1.234,5"
    assert format_number(1234.5678, 2) == "1.234,57"
    assert format_number(-0.001, 2) == "0,00"
    for missing in (None, float("nan"), pd.NA, np.nan):
        assert format_mark(missing) == "–"
        assert format_rate(missing) == "–"
        assert format_count(missing, missing="") == ""


def test_to_records_gives_plain_python_values():
    table = pd.DataFrame(
        {"group": ["youth", "parent"], "n": pd.array([12, None], dtype="Int64")}
    ).assign(mean=[7.5, math.nan], suppressed=[False, True])
    records = to_records(table)
    assert records == [
        {"group": "youth", "n": 12, "mean": 7.5, "suppressed": False},
        {"group": "parent", "n": None, "mean": None, "suppressed": True},
    ]
    assert type(records[0]["n"]) is int
    assert type(records[0]["suppressed"]) is bool


def test_english_notation_through_babel_rounds_the_same_way():
    assert format_mark(8.085, locale="en") == "8.09"  # half away from zero, as in Dutch
    assert format_count(1234567, locale="en") == "1,234,567"
    assert format_number(-1234.5, 1, locale="en") == "-1,234.5"
    assert format_number(-0.001, 2, locale="en") == "0.00"
    assert format_rate(0.285, locale="en") == "29%"
    assert format_mark(None, locale="en") == "–"
