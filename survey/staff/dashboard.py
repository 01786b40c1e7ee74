"""The dashboard for quality staff and viewers: who answers, and what they think.

Every figure comes from `survey.staff.dashboard_figures`, which reads disclosure-controlled cohort
tables; charts are drawn in the browser by vega-embed from the app's own static files, each with
a table beside it, and can be downloaded as SVG or PNG (rendered on the server by vl-convert).
Every view shows one publication period (a calendar month, quarter, half year or year), and the
links to charts, downloads and comments carry the same one.
"""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_login import current_user

from survey.accounts import audit
from survey.db import get_session
from survey.infoblad.startfoto import STARTFOTO_FORMATS, build_startfoto
from survey.quotes import operations as quotes
from survey.region.operations import find_municipality, slug_of
from survey.reporting.cohorts import with_provider_names
from survey.reporting.exports import EXPORT_COLUMNS, REPRESENTATION_COLUMNS, table_csv
from survey.reporting.publication import is_published
from survey.reporting.spreadsheets import people_csv, workbook
from survey.staff import dashboard_figures as figures
from survey.staff.dashboard_figures import DashboardQuery
from survey.staff.filters import (
    CommentsFilterForm,
    DashboardFilterForm,
    ExportFilterForm,
    PeriodFilterForm,
    from_request,
)
from survey.web.downloads import download
from survey.web.i18n import chart_locale

bp = Blueprint("dashboard", __name__, url_prefix="/staff/dashboard")

EXPORT_WIDTH = 640
"""Chart width in pixels in SVG and PNG downloads (the page itself fills its column)."""


def _min_cell_size() -> int:
    return current_app.config["MIN_CELL_SIZE"]


F = TypeVar("F", bound=DashboardFilterForm)


def _scoped(form_class: type[F]) -> tuple[DashboardQuery, F]:
    """The dashboard's choices from the query string, within the account's scope (a
    municipality's or a provider's account sees that municipality or provider only), and the
    filter form showing them."""
    form = from_request(form_class)
    municipality, provider = current_user.municipality, current_user.provider
    if municipality:
        form.limit_to_scope("municipality")
    if provider:
        form.limit_to_scope("provider")
    return form.query(municipality, provider), form


def _query() -> tuple[DashboardQuery, DashboardFilterForm]:
    return _scoped(DashboardFilterForm)


@bp.route("/")
def index() -> str:
    """Every view of the dashboard for the chosen period and breakdown."""
    query, form = _query()
    return render_template(
        "staff/dashboard.html",
        form=form,
        query=query,
        args=query.args(),
        period_args={"period": query.publication.key},
        figures=figures.dashboard_figures(get_session(), query, _min_cell_size()),
        dimension_label=figures.dimension_label,
        measure_label=figures.measure_label,
        value_labels=figures.value_labels(get_session()),
        items=figures.MARK_ITEMS,
    )


@bp.route("/chart/<name>.<fmt>")
def chart(name: str, fmt: str) -> Response:
    """Chart `name` as a Vega-Lite spec (json) or drawn as svg or png; no suppressed cell."""
    if name not in figures.CHARTS or fmt not in ("json", "svg", "png"):
        abort(404)
    query, _ = _query()
    width = "container" if fmt == "json" else EXPORT_WIDTH
    spec = figures.chart_spec(get_session(), query, _min_cell_size(), name, width=width)
    if fmt == "json":
        return jsonify(spec)
    import vl_convert  # heavy (vl-convert, an 87 MB native library): only for chart downloads

    audit.record(get_session(), "export", object_type="chart", object_id=f"{name} {fmt}")
    body: str | bytes
    if fmt == "svg":
        body = vl_convert.vegalite_to_svg(spec, format_locale=chart_locale())
        mimetype = "image/svg+xml"
    else:
        body = vl_convert.vegalite_to_png(spec, scale=2, format_locale=chart_locale())
        mimetype = "image/png"
    return download(body, f"ervaringswijzer-{name}.{fmt}", mimetype)


def _export(fmt: str) -> tuple[bytes | str, str]:
    """A dashboard table as the Dutch CSV (`csv`; `variant=machine`: the machine CSV) or as
    an Excel workbook (`xlsx`), audited."""
    query, form = _scoped(ExportFilterForm)
    table = form.value("table")
    dims, rows = figures.table_rows(get_session(), query, _min_cell_size(), table)
    columns = REPRESENTATION_COLUMNS if table == "representativeness" else EXPORT_COLUMNS
    machine = fmt == "csv" and form.value("variant") == "machine"
    kind = f"{fmt} machine" if machine else fmt
    audit.record(get_session(), "export", object_type="report", object_id=f"{table} {kind}")
    scope = f"-{slug_of(query.municipality)}" if query.municipality else ""
    scope += f"-{query.provider}" if query.provider else ""
    filename = f"ervaringswijzer-{table}-{query.publication.key}{scope}.{fmt}"
    if machine:
        return table_csv(rows, dims, columns), filename.replace(".csv", "-data.csv")
    rows = with_provider_names(get_session(), rows)  # for people: by name
    if fmt == "csv":
        return people_csv(rows, dims, columns), filename
    period = query.publication.label("nl")
    if query.municipality:
        period = f"{period}, gemeente {query.municipality}"
    if query.provider:
        period = f"{period}, {current_user.provider_name}"
    return workbook(rows, dims, columns, _min_cell_size(), period=period), filename


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/export.csv")
def export_csv() -> Response:
    """A dashboard table as CSV: for people (Dutch, `;`, BOM) or, with `variant=machine`, for
    scripts; every figure, formula-safe, with the suppression visible."""
    body, filename = _export("csv")
    return download(body, filename, "text/csv")


@bp.route("/export.xlsx")
def export_xlsx() -> Response:
    """A dashboard table as an Excel workbook: number formats, frozen header, no formula."""
    body, filename = _export("xlsx")
    return download(body, filename, XLSX)


STARTFOTO_DOWNLOADS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "md": "text/markdown",
}


@bp.route("/startfoto.<fmt>")
def startfoto(fmt: str) -> Response:
    """The startfoto of a municipality for the chosen period (Word, HTML or Markdown): its own
    municipality for a municipality's account; for a regional account the `municipality` asked
    for (a name on the list), or the region's own without one. Audited."""
    if fmt not in STARTFOTO_DOWNLOADS:
        abort(404)
    db = get_session()
    form = from_request(PeriodFilterForm)
    name = current_user.municipality or request.args.get("municipality") or None
    if name is not None:
        found = find_municipality(db, name)
        if found is None:
            abort(404)
        name = found.name
    k = _min_cell_size()
    picture = build_startfoto(db, current_app.config, form.publication, name)
    audit.record(db, "export", object_type="startfoto", object_id=f"{name or 'regio'} {fmt}")
    scope = slug_of(name) if name else "regio"
    filename = f"startfoto-{scope}-{form.publication.key}.{fmt}"
    return download(STARTFOTO_FORMATS[fmt](picture, k), filename, STARTFOTO_DOWNLOADS[fmt])


COMMENT_LIMIT = 200


@bp.route("/comments")
def comments() -> str:
    """De-identified comments of one respondent group in one publication period, for quality
    staff; none when the figures of that group and period are not published.

    Only group (youths or parents, never both at once) and a fixed period choose a list: no
    team, municipality or care type. A comment's text can be recognised in two lists, so two
    lists that overlap without one holding the other (all of March, and the youths of the
    first quarter) would pin the comments they share to their intersection (the youths of
    March), a group whose figures may well be hidden. Lists per group and fixed period are
    nested (March within the quarter) or disjoint (youths and parents, two months), and each
    is shown only when `is_published` says the counts of that same group and period are.
    """
    db = get_session()
    form = from_request(CommentsFilterForm)
    period, group = form.publication, form.value("group")
    # A provider's account: its own families' comments, when its own count is published. Beside
    # the region's list, the difference is the other providers' comments: their sum is 0 or at
    # least k whenever both counts are shown (the line rule over the providers).
    provider = current_user.provider
    place = {"provider": provider} if provider else None
    shown = is_published(db, _min_cell_size(), period, group, place)
    rows = []
    if shown:
        where = quotes.QuoteFilter(
            group=group, start=period.start, end=period.end, provider=provider
        )
        rows = quotes.comments(db, where, quotes_only=False, limit=COMMENT_LIMIT)
        audit.record(
            db,
            "view_comments",
            object_type="cohort",
            object_id=f"{group} {period.key}" + (f" {provider}" if provider else ""),
            detail=f"{len(rows)} comments",
        )
    return render_template(
        "staff/comments.html",
        form=form,
        rows=rows,
        shown=shown,
        limit=COMMENT_LIMIT,
        group=group,
        period=period,
        value_labels=figures.value_labels(),
    )
