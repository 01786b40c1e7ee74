"""The quotes review queue for communications staff, the infoblad download, and comments.

Communications staff see consented comments de-identified, with the placeholders highlighted;
they edit, approve or reject each one (audited). The original text is not on these pages: an
admin can open it on a page of its own, and that view is audited too. Only approved quotes
leave the system, through the exports and the infoblad section.

The queue lists one publication period (a calendar month, quarter, half year or year) and
only the respondent groups whose figures are published for it: as on the comments page
(`survey.staff.dashboard.comments`), a text recognised in two lists must not pin a comment to a
group the counts hide, and lists per group and fixed period are nested or disjoint.
"""

from __future__ import annotations

import json
import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as WerkzeugResponse

from analysis.publication import GROUPS, PublicationPeriod
from survey.accounts import audit
from survey.db import get_session
from survey.infoblad import render as infoblad
from survey.models import Comment
from survey.models import Response as SurveyResponse
from survey.quotes import exports as quote_exports
from survey.quotes import operations as quotes
from survey.quotes.deidentify import PLACEHOLDERS
from survey.reporting.publication import is_published
from survey.staff.filters import PeriodFilterForm, QuoteFilterForm, from_request
from survey.staff.forms import QuoteDecisionForm
from survey.web.downloads import download
from survey.web.i18n import select_locale

bp = Blueprint("quotes", __name__, url_prefix="/staff/quotes")

PLACEHOLDER_PATTERN = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))
DOWNLOADS = {
    "md": ("text/markdown", "citaten.md"),
    "csv": ("text/csv", "citaten.csv"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "citaten.docx",
    ),
}
INFOBLAD_DOWNLOADS = {
    "md": ("text/markdown", "infoblad-ervaringswijzer.md"),
    "html": ("text/html", "infoblad-ervaringswijzer.html"),
    "docx": (DOWNLOADS["docx"][0], "infoblad-ervaringswijzer.docx"),
}


def _filter(
    period: PublicationPeriod, status: str | None, group: str | None
) -> tuple[quotes.QuoteFilter | None, list[str]]:
    """The queue's filter for `period`, `status` and `group` (None: both groups), and the
    chosen groups whose figures are hidden for `period` (their quotes are left out; with no
    chosen group published, the filter is None)."""
    k = current_app.config["MIN_CELL_SIZE"]
    chosen = [group] if group else list(GROUPS)
    db = get_session()
    provider = current_user.provider  # a provider's account: its own families' quotes only
    place = {"provider": provider} if provider else None
    published = [g for g in chosen if is_published(db, k, period, g, place)]
    hidden = [g for g in chosen if g not in published]
    if not published:
        return None, hidden
    where = quotes.QuoteFilter(
        status=status,
        group=published[0] if len(published) == 1 else None,
        start=period.start,
        end=period.end,
        provider=provider,
    )
    return where, hidden


def highlighted(comment: Comment) -> Markup:
    """The quote text, escaped, with every placeholder in a <mark>."""
    text = quotes.shown_text(comment)
    if comment.quote_text is None and comment.placeholders:
        spans = [tuple(p) for p in json.loads(comment.placeholders)]
    else:  # edited by staff: find the placeholders that are still there
        spans = [m.span() for m in PLACEHOLDER_PATTERN.finditer(text)]
    out, cursor = [], 0
    for start, end in spans:
        out.append(escape(text[cursor:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        cursor = end
    out.append(escape(text[cursor:]))
    return Markup("").join(out)


PAGE_SIZE = 25


@bp.route("/")
def queue() -> str:
    """Quote candidates to review, filtered by status, group and period, a page at a time.

    Only groups whose figures are published for the period are listed; for the others the page
    says there are too few responses.
    """
    form = from_request(QuoteFilterForm)
    period, status, group = form.publication, form.value("status"), form.value("group")
    where, hidden = _filter(period, status or None, group or None)
    db = get_session()
    total = quotes.count_comments(db, where) if where else 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(form.value("page") or 1, pages)
    rows = (
        quotes.comments(db, where, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE) if where else []
    )
    forms = {
        comment.response_id: QuoteDecisionForm(formdata=None, text=quotes.shown_text(comment))
        for comment, _ in rows
    }
    return render_template(
        "staff/quotes.html",
        rows=rows,
        forms=forms,
        status=status,
        group=group,
        hidden=hidden,
        period=period,
        period_label=period.label(select_locale()),
        form=form,
        highlighted=highlighted,
        total=total,
        page=page,
        pages=pages,
        args=form.args(),
    )


@bp.route("/<response_id>", methods=["POST"])
def decide(response_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Approve, reject or save an edited quote; every decision goes into the audit log."""
    form = QuoteDecisionForm()
    filters = from_request(QuoteFilterForm)
    back = url_for("quotes.queue", page=filters.value("page") or 1, **filters.args())
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)  # an expired or foreign form: the generic page says to try again
        flash(_("Nothing was changed: the quote cannot be empty."))
        return redirect(back)
    try:
        quotes.decide(
            get_session(),
            response_id,
            form.action.data,
            current_user.user,
            text=form.text.data,
            provider=current_user.provider,
        )
    except quotes.DecisionError:
        abort(404)
    flash(
        {
            "approve": _("Quote approved."),
            "reject": _("Quote rejected."),
            "save": _("Changes saved."),
        }[form.action.data]
    )
    return redirect(back)


@bp.route("/<response_id>/original")
def original(response_id: str) -> str:
    """The comment as the family typed it: admins only, and every view is audited."""
    db = get_session()
    comment = db.get(Comment, response_id)
    if comment is None:
        abort(404)
    response = db.get(SurveyResponse, response_id)
    assert response is not None, "a comment's response_id is a foreign key to its response"
    audit.record(db, "view_original", object_type="comment", object_id=response_id)
    return render_template(
        "staff/quote_original.html", comment=comment, text=quotes.original_text(response)
    )


@bp.route("/export.<fmt>")
def export(fmt: str) -> Response:
    """Approved quotes as Markdown, CSV or Word; audited."""
    if fmt not in DOWNLOADS:
        abort(404)
    db = get_session()
    approved = quotes.approved(
        db, current_app.config["MIN_CELL_SIZE"], provider=current_user.provider
    )
    body = quote_exports.QUOTE_FORMATS[fmt](approved)
    audit.record(db, "export", object_type="quotes", object_id=fmt)
    mimetype, filename = DOWNLOADS[fmt]
    return download(body, filename, mimetype)


@bp.route("/infoblad.<fmt>")
def infoblad_section(fmt: str) -> Response:
    """The infoblad section for one publication period (`period=2026-Q1`; an invalid or unknown
    one gives the default period): results, chart and approved quotes; audited."""
    if fmt not in INFOBLAD_DOWNLOADS:
        abort(404)
    period = from_request(PeriodFilterForm).publication
    db = get_session()
    section = infoblad.build_section(db, current_app.config, period)
    body = infoblad.SECTION_FORMATS[fmt](section)
    audit.record(db, "export", object_type="infoblad", object_id=fmt, detail=period.key)
    mimetype, filename = INFOBLAD_DOWNLOADS[fmt]
    return download(body, filename, mimetype)
