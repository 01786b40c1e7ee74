"""The exports for spreadsheets as people open them: the Excel workbook (web and command line
alike) and the Dutch CSV, read back with openpyxl and Python's csv."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from survey.reporting.spreadsheets import TITLE_ROWS
from tests.dashboard_data import small_team
from tests.staff_helpers import get, signed_in_client
from tests.test_report import fill_region

HEADER_ROW = TITLE_ROWS + 1


def sheet_cells(sheet) -> list[list[tuple[object, str]]]:
    """Every row as (value, number format) pairs."""
    return [[(cell.value, cell.number_format) for cell in row] for row in sheet.iter_rows()]


def test_the_excel_workbook_is_ready_to_read_and_print(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    data = get(client, "/staff/dashboard/export.xlsx?table=breakdown&by=team&by2=group").get_data()
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Overzicht", "Alle cijfers"]
    overview, everything = book.worksheets
    year = (date.today() - timedelta(days=1)).year
    assert overview["A1"].value.endswith(f"per groep × team, hulp afgesloten in {year}")
    assert overview["A1"].font.bold
    k = app.config["MIN_CELL_SIZE"]
    assert overview["A2"].value.startswith(f"Groepen met minder dan {k} reacties")

    for sheet in (overview, everything):
        header = [cell.value for cell in sheet[HEADER_ROW]]
        assert header[:2] == ["Groep", "Team"] and header[-1] == "Opmerking"
        assert all(cell.font.bold for cell in sheet[HEADER_ROW])
        assert sheet.freeze_panes == f"C{HEADER_ROW + 1}"  # header and the two dimensions
        assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
        first = sheet[HEADER_ROW + 1]
        formats = {name: cell.number_format for name, cell in zip(header, first, strict=True)}
        assert formats["Uitgezet"] == "0" and formats["Respons"] == "0"
        assert formats["Responspercentage"] == "0.0%"
        assert formats["Ervaren eigen regie"] == "0.00"
        assert formats["Respons 95%-BI laag"] == "0.0%"
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        for position, name in enumerate(header[:26]):
            longest_word = max(len(word) for word in name.split())
            assert sheet.column_dimensions[letters[position]].width >= longest_word, name
    assert len(overview[HEADER_ROW]) <= 16 < len(everything[HEADER_ROW])  # fits a printed page
    rows = {
        (r[0], r[1]): dict(zip([c.value for c in overview[HEADER_ROW]], r, strict=True))
        for r in overview.iter_rows(min_row=HEADER_ROW + 1, values_only=True)
    }
    youths = rows[("Jongeren", "Totaal")]
    assert (youths["Uitgezet"], youths["Respons"]) == (37, 11)
    assert youths["Responspercentage"] == pytest.approx(11 / 37)
    assert youths["Ervaren eigen regie"] == pytest.approx(89 / 11)


def test_the_command_line_writes_the_web_workbook(app, db, runner, tmp_path):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    download = get(client, "/staff/dashboard/export.xlsx?table=groups").get_data()
    web = load_workbook(io.BytesIO(download))
    target = tmp_path / "report.xlsx"
    command = ["report", "--by", "group", "--format", "xlsx", "--output", str(target)]
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    cli = load_workbook(target)
    assert cli.sheetnames == web.sheetnames
    for ours, theirs in zip(cli.worksheets, web.worksheets, strict=True):
        assert sheet_cells(ours) == sheet_cells(theirs)
        assert ours.freeze_panes == theirs.freeze_panes

    refused = runner.invoke(args=["report", "--by", "group", "--format", "xlsx"])
    assert refused.exit_code != 0 and "--output FILE" in refused.output


def dutch_number(text: str) -> float:
    return float(text.rstrip("%").replace(",", ".")) / (100 if text.endswith("%") else 1)


def test_the_csv_for_people_opens_in_columns_in_dutch_excel(app, db, runner, tmp_path):
    fill_region(db)
    small_team(db, '=HYPERLINK("http://x","y")')
    client, _ = signed_in_client(app, db, "quality")
    answer = get(client, "/staff/dashboard/export.csv?table=groups")
    body = answer.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads it as UTF-8
    text = body.decode("utf-8-sig")
    header, *lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header[:4] == ["Groep", "Uitgezet", "Respons", "Responspercentage"]
    assert header[-1] == "Opmerking"
    rows = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    assert set(rows) == {"Jongeren", "Ouders", "Totaal"}
    youths = rows["Jongeren"]
    assert (youths["Uitgezet"], youths["Respons"]) == ("37", "11")
    assert re.fullmatch(r"\d+,\d%", youths["Responspercentage"])  # a percentage Excel reads
    assert dutch_number(youths["Responspercentage"]) == pytest.approx(11 / 37, abs=0.0005)
    assert re.fullmatch(r"\d,\d\d", youths["Ervaren eigen regie"])
    assert dutch_number(youths["Ervaren eigen regie"]) == pytest.approx(89 / 11, abs=0.005)
    assert youths["Opmerking"] == ""

    # the same file from the command line
    target = tmp_path / "report.csv"
    command = ["report", "--by", "group", "--format", "csv-nl", "--output", str(target)]
    assert runner.invoke(args=command).exit_code == 0
    assert target.read_bytes() == body

    breakdown = get(client, "/staff/dashboard/export.csv?table=breakdown&by=team&by2=").get_data()
    header, *lines = list(csv.reader(io.StringIO(breakdown.decode("utf-8-sig")), delimiter=";"))
    teams = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    hidden = teams['\'=HYPERLINK("http://x","y")']  # formula-safe, and its figures hidden
    assert hidden["Opmerking"] == "te weinig reacties" and hidden["Respons"] == ""
