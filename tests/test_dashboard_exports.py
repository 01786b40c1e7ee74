"""Dashboard charts and exports: SVG, PNG, CSV and Excel without small groups or formulas."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from survey.models import AuditEvent
from survey.reporting.spreadsheets import TITLE_ROWS
from tests.dashboard_data import (
    small_team,
)
from tests.staff_helpers import get, signed_in_client
from tests.test_report import fill_region

CHARTS = ("breakdown", "trend", "distribution-self_direction", "distribution-usefulness")


@pytest.mark.parametrize("chart", CHARTS)
def test_charts_leave_out_small_groups_and_download_as_svg_and_png(app, db, chart):
    fill_region(db)
    small_team(db, "Team Klein")
    client, _ = signed_in_client(app, db, "viewer")
    # Teams alone: per team and group, the year's one suppression pattern hides every cell here.
    query = "by=team&by2=&grain=month&measure=self_direction"
    spec = get(client, f"/staff/dashboard/chart/{chart}.json?{query}").get_json()
    data = [row for rows in spec["datasets"].values() for row in rows]
    assert data, "the chart has data"
    assert not any("Klein" in json.dumps(row) for row in data)
    if chart.startswith("distribution"):  # per group, and both groups are large enough
        assert {row["group"] for row in data} == {"Jongeren", "Ouders"}

    svg = get(client, f"/staff/dashboard/chart/{chart}.svg?{query}")
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.get_data(as_text=True).startswith("<svg") and "Klein" not in svg.get_data(
        as_text=True
    )
    png = get(client, f"/staff/dashboard/chart/{chart}.png?{query}")
    assert png.get_data()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png.get_data()[16:20], "big")
    assert width >= 640  # drawn at twice the export width, ready for print
    db.rollback()
    exports = db.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "export")).all()
    assert f"{chart} svg" in exports and f"{chart} png" in exports


def test_an_unknown_chart_is_not_found(app, db):
    client, _ = signed_in_client(app, db, "viewer")
    assert get(client, "/staff/dashboard/chart/secret.svg").status_code == 404
    assert get(client, "/staff/dashboard/chart/trend.pdf").status_code == 404


TABLES = ("groups", "trend", "breakdown", "representativeness")
HEADER_ROW = TITLE_ROWS + 1


@pytest.mark.parametrize("table", TABLES)
def test_every_table_exports_without_small_groups_or_formulas(app, db, table):
    from openpyxl import load_workbook

    fill_region(db)
    small_team(db, '=HYPERLINK("http://x","y")')
    client, _ = signed_in_client(app, db, "quality")
    query = f"table={table}&by=team&by2=group"
    export = get(client, f"/staff/dashboard/export.csv?{query}&variant=machine")
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert rows
    for row in rows:
        if row["suppressed"] == "True":
            public = ("group", "team", "month", "invited_share")  # invitations are public
            figures = [v for k, v in row.items() if k not in public]
            shown = [v for v in figures if v not in ("", "True")]
            assert shown == [row["invited"]] * len(shown)  # only the invitation counts remain
        elif "team" in row:
            assert "HYPERLINK" not in row["team"]
    hidden = [r for r in rows if "HYPERLINK" in r.get("team", "")]
    if table in ("breakdown", "representativeness"):
        assert hidden and all(r["team"].startswith("'=") for r in hidden)  # formula-safe

    workbook = get(client, f"/staff/dashboard/export.xlsx?{query}")
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    header = [cell.value for cell in sheet[HEADER_ROW]]
    assert header[-1] == "Opmerking"
    for values in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True):
        if values and values[-1] == "te weinig reacties":
            assert "Respons" in header and values[header.index("Respons")] is None


def test_excel_export_of_the_groups_has_the_infoblad_figures(app, db):
    from openpyxl import load_workbook

    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    export = get(client, "/staff/dashboard/export.xlsx?table=groups")
    sheet = load_workbook(io.BytesIO(export.get_data())).active
    header = [cell.value for cell in sheet[HEADER_ROW]]
    rows = {
        row[0]: dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(HEADER_ROW + 1, HEADER_ROW + 3, values_only=True)
    }
    assert (rows["Jongeren"]["Uitgezet"], rows["Jongeren"]["Respons"]) == (37, 11)
    assert (rows["Ouders"]["Uitgezet"], rows["Ouders"]["Respons"]) == (68, 19)
    assert rows["Jongeren"]["Ervaren eigen regie"] == pytest.approx(89 / 11)
    assert rows["Ouders"]["Hoe nuttig was de hulp?"] == pytest.approx(137 / 19)
    assert rows["Totaal"]["Uitgezet"] == 105
    db.rollback()
    assert "groups xlsx" in db.scalars(select(AuditEvent.object_id)).all()
