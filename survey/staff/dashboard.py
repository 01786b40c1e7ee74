"""The dashboard for quality staff and viewers: who answers, and what they think.

Every figure comes from `survey.staff.dashboard_figures`, which reads disclosure-controlled cohort
tables; charts are drawn in the browser by vega-embed from the app's own static files, each with
a table beside it, and can be downloaded as SVG or PNG (rendered on the server by vl-convert).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from survey import audit
from survey.db import get_session
from survey.staff import dashboard_figures as figures
from survey.staff.dashboard_figures import DashboardQuery

bp = Blueprint("dashboard", __name__, url_prefix="/staff/dashboard")

EXPORT_WIDTH = 640
"""Chart width in pixels in SVG and PNG downloads (the page itself fills its column)."""


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


def _min_cell_size() -> int:
    return current_app.config["MIN_CELL_SIZE"]


@bp.route("/")
def index() -> str:
    """Every view of the dashboard for the chosen period and breakdown."""
    query = DashboardQuery.from_args(request.args)
    return render_template(
        "staff/dashboard.html",
        query=query,
        args=query.args(),
        period_args={k: v for k, v in query.args().items() if k in ("from", "to")},
        figures=figures.dashboard_figures(get_session(), query, _min_cell_size()),
        options=figures,
        dimension_label=figures.dimension_label,
        measure_label=figures.measure_label,
        value_labels=figures.value_labels(),
        items=figures.MARK_ITEMS,
    )


@bp.route("/chart/<name>.<fmt>")
def chart(name: str, fmt: str) -> Response:
    """Chart `name` as a Vega-Lite spec (json) or drawn as svg or png; no suppressed cell."""
    if name not in figures.CHARTS or fmt not in ("json", "svg", "png"):
        abort(404)
    query = DashboardQuery.from_args(request.args)
    width = "container" if fmt == "json" else EXPORT_WIDTH
    spec = figures.chart_spec(get_session(), query, _min_cell_size(), name, width=width)
    if fmt == "json":
        return jsonify(spec)
    import vl_convert

    audit.record(get_session(), "export", object_type="chart", object_id=f"{name} {fmt}")
    if fmt == "svg":
        body, mimetype = vl_convert.vegalite_to_svg(spec, format_locale="nl-NL"), "image/svg+xml"
    else:
        body, mimetype = (
            vl_convert.vegalite_to_png(spec, scale=2, format_locale="nl-NL"),
            "image/png",
        )
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="ervaringswijzer-{name}.{fmt}"'},
    )


def _export(fmt: str) -> tuple[bytes | str, str]:
    from survey.report_output import (
        EXPORT_COLUMNS,
        REPRESENTATION_COLUMNS,
        table_csv,
        table_xlsx,
    )

    query = DashboardQuery.from_args(request.args)
    table = request.args.get("table", "breakdown")
    if table not in figures.TABLES:
        table = "breakdown"
    dims, rows = figures.table_rows(get_session(), query, _min_cell_size(), table)
    columns = REPRESENTATION_COLUMNS if table == "representativeness" else EXPORT_COLUMNS
    audit.record(get_session(), "export", object_type="report", object_id=f"{table} {fmt}")
    filename = f"ervaringswijzer-{table}.{fmt}"
    if fmt == "csv":
        return table_csv(rows, dims, columns), filename
    return table_xlsx(rows, dims, columns, _min_cell_size()), filename


@bp.route("/export.csv")
def export_csv() -> Response:
    """A dashboard table as CSV: every figure, formula-safe, with the suppression visible."""
    body, filename = _export("csv")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/export.xlsx")
def export_xlsx() -> Response:
    """A dashboard table as XLSX: text cells are strings, suppression noted per row."""
    body, filename = _export("xlsx")
    return Response(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


COMMENT_LIMIT = 200
COHORT_FIELDS = ("group", "team", "municipality", "care_type")


@bp.route("/comments")
def comments() -> str:
    """De-identified comments of one cohort, for quality staff; none for a small cohort."""
    from survey import quotes

    db = get_session()
    query = DashboardQuery.from_args(request.args)
    options = {**quotes.cohort_values(db), "group": ["youth", "parent"]}
    chosen = {f: request.args.get(f) or None for f in COHORT_FIELDS}
    chosen = {f: v if v in options[f] else None for f, v in chosen.items()}
    where = quotes.QuoteFilter(start=query.period.start, end=query.period.end, **chosen)
    shown = quotes.cohort_size(db, where) >= _min_cell_size()
    rows = quotes.comments(db, where, quotes_only=False, limit=COMMENT_LIMIT) if shown else []
    if shown:
        audit.record(db, "view_comments", object_type="cohort", detail=f"{len(rows)} comments")
    return render_template(
        "staff/comments.html",
        rows=rows,
        shown=shown,
        limit=COMMENT_LIMIT,
        options=options,
        chosen=chosen,
        period=query.period,
        dimension_label=figures.dimension_label,
        value_labels=figures.value_labels(),
    )
