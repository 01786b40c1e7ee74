"""The dashboard for quality staff and viewers: the infoblad table and a breakdown per cohort.

Every figure comes from `survey.reports` with disclosure control applied; the chart is drawn in
the browser by vega-embed from the app's own static files, with a table beside it.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from survey import audit
from survey.db import get_session
from survey.report_output import render_report
from survey.reports import Period, ReportError, parse_dimensions, report_rows

bp = Blueprint("dashboard", __name__, url_prefix="/staff/dashboard")


@bp.context_processor
def _labels() -> dict:
    from flask_babel import lazy_gettext as _l

    return {
        "dimension_labels": {
            "group": _l("Group"),
            "quarter": _l("Quarter"),
            "month": _l("Month"),
            "year": _l("Year"),
            "team": _l("Team"),
            "municipality": _l("Municipality"),
            "care_type": _l("Care type"),
        },
        "group_labels": {"youth": _l("Youths"), "parent": _l("Parents")},
    }


@bp.app_template_filter("count_nl")
def _count(value: object) -> str:
    from analysis.formatting import format_count

    return format_count(value)


@bp.app_template_filter("rate_nl")
def _rate(value: object) -> str:
    from analysis.formatting import format_rate

    return format_rate(value)


@bp.app_template_filter("mark_nl")
def _mark(value: object) -> str:
    from analysis.formatting import format_mark

    return format_mark(value)


BREAKDOWNS = ("quarter", "month", "year", "team", "municipality", "care_type")


def _request_report() -> tuple[str, Period]:
    """The breakdown and period asked for in the query string (safe defaults when invalid)."""
    by = request.args.get("by", "quarter")
    if by not in BREAKDOWNS:
        by = "quarter"
    try:
        start = date.fromisoformat(request.args["from"]) if request.args.get("from") else None
        end = date.fromisoformat(request.args["to"]) if request.args.get("to") else None
        period = Period(start, end)
    except (ValueError, ReportError):
        period = Period()
    return by, period


def _rows(dims: tuple[str, ...], period: Period) -> list[dict]:
    return report_rows(get_session(), dims, period, current_app.config["MIN_CELL_SIZE"])


@bp.route("/")
def index() -> str:
    """The headline table and the breakdown by group × the chosen dimension."""
    by, period = _request_report()
    headline = _rows(("group",), period)
    breakdown = _rows(parse_dimensions(["group", by]), period)
    return render_template(
        "staff/dashboard.html",
        headline=headline,
        breakdown=breakdown,
        by=by,
        breakdowns=BREAKDOWNS,
        period=period,
        query=_query(by, period),
    )


def _query(by: str, period: Period) -> dict[str, str]:
    """The query string that asks for the same breakdown and period."""
    query = {"by": by}
    if period.start:
        query["from"] = period.start.isoformat()
    if period.end:
        query["to"] = period.end.isoformat()
    return query


@bp.route("/chart.json")
def chart() -> Response:
    """The Vega-Lite spec of the breakdown chart (suppressed cells are not in its data)."""
    from analysis.charts import response_rate_chart

    by, period = _request_report()
    return jsonify(response_rate_chart(_rows(("group", by), period), by))


@bp.route("/export.xlsx")
def export_xlsx() -> Response:
    """The breakdown as XLSX: text cells are strings, suppression noted per row."""
    from survey.report_output import report_xlsx

    by, period = _request_report()
    dims = ("group", by)
    body = report_xlsx(_rows(dims, period), dims, current_app.config["MIN_CELL_SIZE"])
    audit.record(get_session(), "export", object_type="report", object_id=f"group,{by} xlsx")
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="ervaringswijzer-{by}.xlsx"'},
    )


@bp.route("/export.csv")
def export_csv() -> Response:
    """The breakdown as CSV: formula-safe, with the suppression visible."""
    by, period = _request_report()
    dims = ("group", by)
    body = render_report(_rows(dims, period), dims, "csv", current_app.config["MIN_CELL_SIZE"])
    audit.record(get_session(), "export", object_type="report", object_id=f"group,{by}")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ervaringswijzer-{by}.csv"'},
    )
