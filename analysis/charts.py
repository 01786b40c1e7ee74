"""Altair chart specifications (Vega-Lite JSON) from report rows; no I/O here.

Only rows that passed disclosure control are drawn: a suppressed cell is left out of the chart
data entirely (the table next to the chart says "te weinig reacties" for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import pandas as pd

from analysis.formatting import GROUP_LABELS


def response_rate_chart(rows: Iterable[Mapping[str, Any]], dimension: str) -> dict[str, Any]:
    """A bar chart of the response rate per cell of `dimension`, by respondent group.

    Args:
        rows: report rows with `group`, `dimension`, `response_rate` and `suppressed`.
        dimension: the breakdown shown on the y axis.

    Returns:
        The Vega-Lite specification as a dict, with the data inlined.
    """
    shown = [r for r in rows if not r["suppressed"] and r["response_rate"] is not None]
    data = pd.DataFrame(
        {
            "Groep": [GROUP_LABELS.get(r["group"], r["group"]) for r in shown],
            "Cohort": [str(r[dimension]) for r in shown],
            "Respons": [float(r["response_rate"]) for r in shown],
        }
    )
    chart = (
        alt.Chart(data, title="Responspercentage per cohort")
        .mark_bar()
        .encode(
            y=alt.Y("Cohort:N", title=None),
            yOffset="Groep:N",
            x=alt.X("Respons:Q", axis=alt.Axis(format="%"), title="Responspercentage"),
            color=alt.Color("Groep:N", title="Groep"),
            tooltip=["Groep", "Cohort", alt.Tooltip("Respons:Q", format=".0%")],
        )
        .properties(width="container")
    )
    return chart.to_dict()
