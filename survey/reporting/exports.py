"""Turning report rows into the text formats of `ervaringswijzer report` (DESIGN §4.4).

`json`: {"min_cell_size": K, "rows": [...]}; `md` with `--by group`: the infoblad table exactly;
other `md` and `table`: one line per cohort cell with Dutch number formats; `csv`: the machine
CSV (column names, dot decimals). CSV cells are formula-safe (DESIGN §9). The formats for people
in spreadsheets, `csv-nl` and `xlsx`, are `survey.reporting.spreadsheets`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from analysis.disclosure import SUPPRESSED_NOTE, shown_value
from analysis.formatting import (
    GROUP_LABELS,
    format_count,
    format_mark,
    format_rate,
    infoblad_table,
)

HEADERS = {
    "group": "Groep",
    "month": "Maand",
    "quarter": "Kwartaal",
    "year": "Jaar",
    "provider": "Zorgaanbieder",
    "team": "Team",
    "municipality": "Gemeente",
    "care_type": "Zorgvorm",
    "invited": "Uitgezet",
    "responded": "Respons",
    "response_rate": "Responspercentage",
    "self_direction_mean": "Ervaren eigen regie",
    "usefulness_mean": "Hoe nuttig was de hulp?",
    "response_rate_ci_low": "Respons 95%-BI laag",
    "response_rate_ci_high": "Respons 95%-BI hoog",
    "opened": "Geopend",
    "open_rate": "Geopend (deel)",
    "bounced": "Onbestelbaar",
    "opted_out": "Afgemeld",
    "after_reminder": "Respons na herinnering",
    "after_reminder_share": "Respons na herinnering (deel)",
    "invited_share": "Deel van uitgezet",
    "response_share": "Deel van respons",
    "rate_ratio": "Respons t.o.v. totaal",
    "representation": "Vertegenwoordiging",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _readable(row: dict[str, Any], dims: Sequence[str]) -> list[str]:
    cells = [
        str(GROUP_LABELS.get(row[d], shown_value(row[d])) if d == "group" else shown_value(row[d]))
        for d in dims
    ]
    cells.append(format_count(row["invited"]))
    if row["suppressed"]:
        return [*cells, SUPPRESSED_NOTE, "", "", ""]
    return [
        *cells,
        format_count(row["responded"]),
        format_rate(row["response_rate"]),
        format_mark(row["self_direction_mean"]),
        format_mark(row["usefulness_mean"]),
    ]


def report_columns(dims: Sequence[str]) -> list[str]:
    """The columns every tabular format shows, after the dimensions."""
    return [
        *dims,
        "invited",
        "responded",
        "response_rate",
        "self_direction_mean",
        "usefulness_mean",
    ]


ITEM_LABELS = {"self_direction": "Eigen regie", "usefulness": "Nuttig"}
ITEM_HEADERS = {
    "n": "n",
    "mean": "gemiddelde",
    "sd": "SD",
    "ci_low": "95%-BI laag",
    "ci_high": "95%-BI hoog",
    **{f"count_{mark}": f"aantal {mark}" for mark in range(1, 11)},
}
for _item, _label in ITEM_LABELS.items():
    for _name, _header in ITEM_HEADERS.items():
        # The means keep the infoblad's wording, which the CLI report prints.
        HEADERS.setdefault(f"{_item}_{_name}", f"{_label} {_header}")

EXPORT_COLUMNS = (
    "invited",
    "responded",
    "response_rate",
    "response_rate_ci_low",
    "response_rate_ci_high",
    "opened",
    "open_rate",
    "bounced",
    "opted_out",
    "after_reminder",
    "after_reminder_share",
    *(f"{item}_{name}" for item in ITEM_LABELS for name in ITEM_HEADERS),
)
"""Every figure of a cohort table, for the dashboard's CSV and Excel downloads."""

REPRESENTATION_COLUMNS = (
    "invited",
    "responded",
    "response_rate",
    "response_rate_ci_low",
    "response_rate_ci_high",
    "invited_share",
    "response_share",
    "rate_ratio",
    "representation",
)

REPRESENTATION_LABELS = {
    "under": "ondervertegenwoordigd",
    "over": "oververtegenwoordigd",
    "as_expected": "zoals verwacht",
}


def table_csv(rows: list[dict[str, Any]], dims: Sequence[str], columns: Sequence[str]) -> str:
    """Rows as the machine CSV, for scripts: stable column names (DESIGN §4.4), codes (`youth`,
    `True`), dot decimals and rates as fractions; formula-safe, with a `suppressed` column.
    People get `survey.reporting.spreadsheets.people_csv`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*dims, *columns, "suppressed"])
    for row in rows:
        cells = [formula_safe(shown_value(row.get(d))) for d in dims]
        cells += [formula_safe(row.get(c)) for c in columns]
        writer.writerow([*cells, row["suppressed"]])
    return out.getvalue()


def render_report(rows: list[dict[str, Any]], dims: Sequence[str], fmt: str, k: int) -> str:
    """The report in `fmt` (table, csv, json or md)."""
    if fmt == "json":
        return json.dumps({"min_cell_size": k, "rows": rows}, ensure_ascii=False, indent=2)
    if fmt == "md" and tuple(dims) == ("group",):
        return infoblad_table(rows)
    columns = report_columns(dims)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*columns, "suppressed"])
        for row in rows:
            writer.writerow([formula_safe(row[c]) for c in columns] + [row["suppressed"]])
        return out.getvalue()
    header = [HEADERS[c] for c in columns]
    lines = [_readable(row, dims) for row in rows]
    if fmt == "md":
        rendered = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        rendered += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(rendered)
    widths = [max(len(h), *(len(cells[i]) for cells in lines)) for i, h in enumerate(header)]
    rendered = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    rendered += [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in lines
    ]
    return "\n".join(rendered)
