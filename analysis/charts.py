"""Altair chart specifications (Vega-Lite JSON) from report rows; no I/O here.

Only rows that passed disclosure control are drawn: a suppressed cell is left out of the chart
data entirely (the table next to each chart says "te weinig reacties" for it). Field names in
the data are fixed English words; everything a reader sees (titles, legends, tooltips) comes
from `text`, so the caller decides the language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import pandas as pd

from analysis.scores import MARKS

Width = int | str
"""A width in pixels, or "container" to fill the page element (browser only)."""


def _shown(rows: Iterable[Mapping[str, Any]], value: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if not r.get("suppressed") and r.get(value) is not None]


def _spec(chart: alt.TopLevelMixin, data: pd.DataFrame) -> dict[str, Any]:
    """The Vega-Lite spec; a chart without a single shown figure has no marks to describe.

    Vega labels a mark container from its items' descriptions: with no item at all (every
    figure hidden) the container would be an image without a text alternative for screen
    readers. Such marks are left out of the accessibility tree; the table beside the chart
    says that its figures are hidden.
    """
    spec = chart.to_dict()
    if data.empty:
        spec.setdefault("config", {}).setdefault("mark", {})["aria"] = False
    return spec


def _label(value: object, labels: Mapping[str, str]) -> str:
    return labels.get(str(value), str(value))


def response_rate_chart(
    rows: Iterable[Mapping[str, Any]],
    dimension: str,
    series: str | None,
    *,
    text: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    width: Width = "container",
) -> dict[str, Any]:
    """A bar chart of the response rate per cohort of `dimension`, one bar per `series` value.

    Args:
        rows: report rows with `dimension`, `series` (when given), `response_rate`,
            `response_rate_ci_low`, `response_rate_ci_high` and `suppressed`.
        dimension: the breakdown on the y axis.
        series: a second dimension drawn as coloured bars side by side, or None.
        text: `title`, `cohort`, `series`, `rate` (axis and legend titles).
        labels: display names of dimension values (e.g. ``youth`` → ``Jongeren``).
        width: see `Width`.

    Returns:
        The Vega-Lite specification as a dict, data inlined; each bar has its 95% interval.
    """
    labels = labels or {}
    shown = _shown(rows, "response_rate")
    data = pd.DataFrame(
        {
            "cohort": [_label(r[dimension], labels) for r in shown],
            "series": [_label(r[series], labels) if series else "" for r in shown],
            "rate": [float(r["response_rate"]) for r in shown],
            "low": [float(r["response_rate_ci_low"]) for r in shown],
            "high": [float(r["response_rate_ci_high"]) for r in shown],
        }
    )
    y = alt.Y("cohort:N", title=None, sort=None)
    # Without a series, no offset and no colour channel (Undefined: as if not given).
    offset = alt.YOffset("series:N", sort=None) if series else alt.Undefined
    colour = alt.Color("series:N", title=text["series"], sort=None) if series else alt.Undefined
    base = alt.Chart(data).encode(y=y, yOffset=offset)
    bars = base.mark_bar().encode(
        x=alt.X("rate:Q", axis=alt.Axis(format="%"), title=text["rate"]),
        color=colour,
        tooltip=[
            alt.Tooltip("cohort:N", title=text["cohort"]),
            *([alt.Tooltip("series:N", title=text["series"])] if series else []),
            alt.Tooltip("rate:Q", format=".0%", title=text["rate"]),
        ],
    )
    interval = base.mark_rule(color="#1b1b1b").encode(x="low:Q", x2="high:Q")
    chart = alt.layer(bars, interval, data=data).properties(title=text["title"], width=width)
    return _spec(chart, data)


def trend_chart(
    rows: Iterable[Mapping[str, Any]],
    period: str,
    measure: str,
    *,
    text: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    width: Width = "container",
) -> dict[str, Any]:
    """A line per respondent group over `period`, with its 95% interval as a band.

    Args:
        rows: report rows by `group` × `period` with `suppressed` and, for `measure`
            ``"response_rate"``, `response_rate` and its interval; for a mark item
            (``"usefulness"``), `{item}_mean`, `{item}_ci_low`, `{item}_ci_high`.
        period: `month` or `quarter` (or `year`).
        measure: ``"response_rate"`` or a mark item id.
        text: `title`, `period`, `value`, `group`.
        labels: display names of group values.
        width: see `Width`.

    Returns:
        The Vega-Lite specification; suppressed periods are gaps in the line.
    """
    labels = labels or {}
    value, low, high = (
        ("response_rate", "response_rate_ci_low", "response_rate_ci_high")
        if measure == "response_rate"
        else (f"{measure}_mean", f"{measure}_ci_low", f"{measure}_ci_high")
    )
    shown = _shown(rows, value)
    data = pd.DataFrame(
        {
            "period": [str(r[period]) for r in shown],
            "group": [_label(r["group"], labels) for r in shown],
            "value": [float(r[value]) for r in shown],
            "low": [float(r[low]) if r.get(low) is not None else None for r in shown],
            "high": [float(r[high]) if r.get(high) is not None else None for r in shown],
        }
    )
    is_rate = measure == "response_rate"
    scale = alt.Scale(domain=[0, 1]) if is_rate else alt.Scale(domain=[1, 10])
    axis = alt.Axis(format="%") if is_rate else alt.Axis(format=".0f")
    x = alt.X("period:O", title=text["period"], sort=None, axis=alt.Axis(labelAngle=0))
    colour = alt.Color("group:N", title=text["group"], sort=None)
    base = alt.Chart(data).encode(x=x, color=colour)
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("low:Q", scale=scale, axis=axis, title=text["value"]), y2="high:Q"
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("value:Q", scale=scale),
        tooltip=[
            alt.Tooltip("period:O", title=text["period"]),
            alt.Tooltip("group:N", title=text["group"]),
            alt.Tooltip("value:Q", format=".0%" if is_rate else ".2f", title=text["value"]),
        ],
    )
    chart = alt.layer(band, line, data=data).properties(title=text["title"], width=width)
    return _spec(chart, data)


def distribution_chart(
    rows: Iterable[Mapping[str, Any]],
    item: str,
    *,
    text: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    width: Width = "container",
) -> dict[str, Any]:
    """The share of each mark 1-10 of `item`, one bar per respondent group.

    Args:
        rows: report rows by `group` with `suppressed`, `{item}_n` and `{item}_count_1` …
            `{item}_count_10`.
        item: the mark item id.
        text: `title`, `mark`, `share`, `group`.
        labels: display names of group values.
        width: see `Width`.

    Returns:
        The Vega-Lite specification.
    """
    labels = labels or {}
    records = []
    for row in _shown(rows, f"{item}_n"):
        n = row[f"{item}_n"]
        for mark in MARKS:
            count = row[f"{item}_count_{mark}"] or 0
            records.append(
                {
                    "group": _label(row["group"], labels),
                    "mark": mark,
                    "share": count / n if n else 0.0,
                }
            )
    data = pd.DataFrame(records, columns=["group", "mark", "share"])
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("mark:O", title=text["mark"], sort=list(MARKS), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("group:N", sort=None),
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title=text["share"]),
            color=alt.Color("group:N", title=text["group"], sort=None),
            tooltip=[
                alt.Tooltip("group:N", title=text["group"]),
                alt.Tooltip("mark:O", title=text["mark"]),
                alt.Tooltip("share:Q", format=".0%", title=text["share"]),
            ],
        )
        .properties(title=text["title"], width=width)
    )
    return _spec(chart, data)


def marks_chart(
    rows: Iterable[Mapping[str, Any]],
    items: Mapping[str, str],
    *,
    text: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    width: Width = "container",
) -> dict[str, Any]:
    """The mean mark of each question per respondent group, with its 95% interval.

    Args:
        rows: report rows by `group` with `suppressed`, `{item}_mean`, `{item}_ci_low` and
            `{item}_ci_high` for each item.
        items: item id → question label, in display order.
        text: `title`, `question`, `mark`, `group`.
        labels: display names of group values.
        width: see `Width`.

    Returns:
        The Vega-Lite specification.
    """
    labels = labels or {}
    records = [
        {
            "group": _label(row["group"], labels),
            "question": label,
            "mean": float(row[f"{item}_mean"]),
            "low": float(row[f"{item}_ci_low"]) if row.get(f"{item}_ci_low") is not None else None,
            "high": (
                float(row[f"{item}_ci_high"]) if row.get(f"{item}_ci_high") is not None else None
            ),
        }
        for row in rows
        for item, label in items.items()
        if not row.get("suppressed") and row.get(f"{item}_mean") is not None
    ]
    data = pd.DataFrame(records, columns=["group", "question", "mean", "low", "high"])
    base = alt.Chart(data).encode(
        x=alt.X("question:N", title=None, sort=list(items.values()), axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("group:N", sort=None),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("mean:Q", scale=alt.Scale(domain=[0, 10]), title=text["mark"]),
        color=alt.Color("group:N", title=text["group"], sort=None),
        tooltip=[
            alt.Tooltip("group:N", title=text["group"]),
            alt.Tooltip("question:N", title=text["question"]),
            alt.Tooltip("mean:Q", format=".2f", title=text["mark"]),
        ],
    )
    whiskers = base.mark_rule(color="#1b1b1b").encode(y="low:Q", y2="high:Q")
    chart = alt.layer(bars, whiskers, data=data).properties(title=text["title"], width=width)
    return _spec(chart, data)
