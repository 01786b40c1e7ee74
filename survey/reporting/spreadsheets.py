"""Report tables for people: the Dutch CSV and the Excel workbook (DESIGN §4.4).

Both open ready to use in Excel (or LibreOffice Calc) with Dutch settings. The CSV (`csv-nl`)
has Dutch headers and labels, `;` between fields, decimal commas, rates as percentages and marks
to two decimals, in UTF-8 with a byte order mark, so that Excel splits it into columns and reads
every figure as a number. The workbook names its period and the suppression rule in a title,
has a bold, frozen header row, a number format per column (percent, two decimals, whole
numbers) and widths that fit; its first sheet holds the figures most people need, a second one
every figure. No cell is ever a formula: text from the data is stored as a string cell.

The machine CSV (`csv`: stable column names, dot decimals, for scripts) is
`survey.reporting.exports.table_csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from analysis.disclosure import SUPPRESSED_NOTE, shown_value
from analysis.formatting import GROUP_LABELS, format_number
from survey.reporting.exports import HEADERS, REPRESENTATION_LABELS, formula_safe

NOTE_HEADER = "Opmerking"
OVERVIEW_COLUMNS = (
    "invited",
    "responded",
    "response_rate",
    "response_rate_ci_low",
    "response_rate_ci_high",
    "self_direction_n",
    "self_direction_mean",
    "self_direction_ci_low",
    "self_direction_ci_high",
    "usefulness_n",
    "usefulness_mean",
    "usefulness_ci_low",
    "usefulness_ci_high",
    # the representativeness table
    "invited_share",
    "response_share",
    "rate_ratio",
    "representation",
)
"""The columns of the workbook's first sheet (when the table has them); the rest is on the
second sheet, with everything else."""

_RATES = ("response_rate", "open_rate", "after_reminder_share", "invited_share", "response_share")
_EXCEL_FORMATS = {"count": "0", "rate": "0.0%", "decimal": "0.00", "text": "@"}


def column_kind(column: str) -> str:
    """How a column's figures are written: count, rate (a share 0-1), decimal or text."""
    if column == "representation":
        return "text"
    if column.startswith(_RATES):  # the rates and their intervals
        return "rate"
    if column.endswith(("_mean", "_sd", "_ci_low", "_ci_high")) or column == "rate_ratio":
        return "decimal"
    return "count"


def label(dimension: str, value: object) -> object:
    """A dimension value as people read it: Jongeren/Ouders, Totaal for a margin."""
    if dimension == "group" and isinstance(value, str):
        return GROUP_LABELS.get(value, shown_value(value))
    return shown_value(value)


def _readable(column: str, value: object) -> object:
    """A figure as the workbook stores it (text columns as their Dutch label)."""
    if column == "representation" and isinstance(value, str):
        return REPRESENTATION_LABELS.get(value, value)
    return value


def people_text(column: str, value: Any) -> str:
    """A figure as the Dutch CSV writes it: 30,6% · 8,09 · 37 (no thousands separator, so
    that no spreadsheet can take 1.234 for a decimal)."""
    if value is None:
        return ""
    kind = column_kind(column)
    if kind == "rate":
        return format_number(value * 100, 1).replace(".", "") + "%"
    if kind == "decimal":
        return format_number(value, 2).replace(".", "")
    if kind == "count":
        return str(int(value))
    return str(_readable(column, value))


def people_csv(
    rows: Sequence[Mapping[str, Any]], dims: Sequence[str], columns: Sequence[str]
) -> str:
    """Rows as the Dutch CSV: a byte order mark, then `;`-separated lines with a note column."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([*(HEADERS[c] for c in [*dims, *columns]), NOTE_HEADER])
    for row in rows:
        cells = [formula_safe(str(label(d, row.get(d)))) for d in dims]
        cells += [people_text(c, row.get(c)) for c in columns]
        writer.writerow([*cells, SUPPRESSED_NOTE if row["suppressed"] else ""])
    return out.getvalue()


def workbook(
    rows: Sequence[Mapping[str, Any]],
    dims: Sequence[str],
    columns: Sequence[str],
    k: int,
    *,
    period: str,
) -> bytes:
    """Rows as an Excel workbook: an overview sheet, and every figure on a second sheet when
    the overview leaves some out. `period` names the period in the title ("2026", "1e kwartaal
    2026")."""
    from openpyxl import Workbook  # heavy (openpyxl, ~0.1 s): only for Excel exports

    book = Workbook()
    overview = [c for c in columns if c in OVERVIEW_COLUMNS]
    sheets = [("Overzicht", overview)]
    if len(overview) < len(columns):
        sheets.append(("Alle cijfers", list(columns)))
    for index, (name, chosen) in enumerate(sheets):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = name
        _fill(sheet, rows, dims, chosen, k, period)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TITLE_ROWS = 3
"""Title, suppression rule, an empty row; the header is the row after them."""


def _fill(
    sheet: Any,
    rows: Sequence[Mapping[str, Any]],
    dims: Sequence[str],
    columns: Sequence[str],
    k: int,
    period: str,
) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    by = " × ".join(HEADERS[d].lower() for d in dims) or "alles samen"
    title = f"Ervaringswijzer: respons en rapportcijfers per {by}, hulp afgesloten in {period}"
    sheet.append([title])
    sheet.append(
        [
            f"Groepen met minder dan {k} reacties worden niet getoond ({SUPPRESSED_NOTE}), "
            "en ook geen cijfers waaruit ze te berekenen zijn."
        ]
    )
    sheet.append([])
    sheet["A1"].font = Font(bold=True, size=13)
    header = [*(HEADERS[c] for c in [*dims, *columns]), NOTE_HEADER]
    sheet.append(header)
    header_row = TITLE_ROWS + 1
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E2F3")
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    kinds = ["text"] * len(dims) + [column_kind(c) for c in columns] + ["text"]
    widths = [min(max(len(word) for word in text.split()), 30) for text in header]
    for row in rows:
        values = [label(d, row.get(d)) for d in dims]
        values += [_readable(c, row.get(c)) for c in columns]
        sheet.append([*values, SUPPRESSED_NOTE if row["suppressed"] else None])
        for position, cell in enumerate(sheet[sheet.max_row]):
            kind = kinds[position]
            if kind != "text":
                cell.number_format = _EXCEL_FORMATS[kind]  # also where a figure is hidden
            if cell.value is None:
                continue
            if kind == "text":
                cell.data_type = "s"  # text from the data is a string cell, never a formula
                shown = str(cell.value)
            else:
                shown = people_text(columns[position - len(dims)], cell.value)
            widths[position] = max(widths[position], min(len(shown), 40))
    for position, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = width + 2
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=len(dims) + 1)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
