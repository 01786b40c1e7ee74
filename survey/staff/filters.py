"""The filter forms of the staff pages: WTForms forms filled from the query string.

They change nothing, so they are GET forms without a CSRF token, and a link can carry them. A
value that is not one of the choices (an old bookmark, a hand-edited address) never fails the
page: that field takes its default and the page shows what it can (`FilterForm.value`).

Every form has the publication period (`PeriodFilterForm`): one calendar month, quarter, half
year or year with data, never free dates (`survey.staff.periods`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Self, TypeVar

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from analysis.publication import GROUPS, PublicationPeriod
from survey.enums import QuoteStatus
from survey.reporting.dimensions import place_dimensions
from survey.staff import dashboard_figures as figures
from survey.staff.periods import period_options, periods


class FilterForm(Form):
    """A GET form: no CSRF token (it changes nothing), and no field ever fails the page."""

    class Meta:
        csrf = False

    def value(self, name: str) -> Any:
        """Field `name`'s value, or its default when the query string's value is not valid."""
        field = self[name]
        return field.default if field.errors else field.data


class PeriodFilterForm(FilterForm):
    """The publication period, chosen from the periods with data (grouped per year).

    Links from before the fixed periods carry `from` and `to`; they count only when they are
    exactly one period with data (a whole month, quarter, half year or year), since no other
    range is published.
    """

    period = SelectField(_l("Care ended in"))
    start = DateField(name="from", validators=[Optional()])
    end = DateField(name="to", validators=[Optional()])

    publication: PublicationPeriod

    @classmethod
    def read(
        cls,
        args: Mapping[str, str],
        available: Collection[PublicationPeriod],
        default: PublicationPeriod,
    ) -> Self:
        """The form filled from `args`, with `publication` the period it asks for (`default`
        when it asks for none, or for one without data)."""
        form = cls(args)  # a MultiDict (request.args): WTForms reads it with getlist
        form.period.choices = [
            SelectChoice(key, label, optgroup=str(year))
            for year, options in period_options(list(available), default)
            for key, label in options
        ]
        form.validate()
        form.publication = form._chosen(available, default)
        form.period.data = form.publication.key  # the select shows what the page shows
        return form

    def _chosen(
        self, available: Collection[PublicationPeriod], default: PublicationPeriod
    ) -> PublicationPeriod:
        if self.period.raw_data:
            return PublicationPeriod.parse(self.period.data) if not self.period.errors else default
        if self.start.data and self.end.data:
            try:
                legacy = PublicationPeriod.from_range(self.start.data, self.end.data)
            except ValueError:  # PeriodError: not exactly one period
                return default
            return legacy if legacy in available else default
        return default


def _select(label: Any, names: tuple[str, ...], labelled: Any, default: str) -> Any:
    """A select of `names`, each labelled by `labelled(name)` in the request's language (the
    choices are a callable, resolved per form)."""
    return SelectField(
        label, choices=lambda: [SelectChoice(n, labelled(n)) for n in names], default=default
    )


class DashboardFilterForm(PeriodFilterForm):
    """The dashboard's choices: period, breakdown (one or two dimensions), trend grain and
    measure."""

    by = _select(_l("Breakdown by"), figures.BREAKDOWNS, figures.dimension_label, "quarter")
    by2 = SelectField(
        _l("and by"),
        choices=lambda: [
            SelectChoice("", _("(nothing)")),
            *(SelectChoice(n, figures.dimension_label(n)) for n in figures.SECOND_DIMENSIONS),
        ],
        default="group",
    )
    grain = _select(_l("Trend per"), figures.TREND_GRAINS, figures.dimension_label, "quarter")
    measure = _select(_l("Trend of"), figures.MEASURES, figures.measure_label, "response_rate")

    def query(
        self, municipality: str | None = None, provider: str | None = None
    ) -> figures.DashboardQuery:
        """The dashboard view the form asks for, within `municipality` or `provider` for an
        account scoped to one (`limit_to_scope` first).

        One period grain at a time: a second dimension equal to the first, or a second period
        grain (month × quarter), is dropped rather than shown as a cross-table. At most two of
        team (or provider), municipality and care type, the scope included: the most any
        published table holds (within a municipality: one of team and care type).
        """
        by, by2 = self.value("by"), self.value("by2") or None
        if by2 == by or (by2 in figures.PERIODS and by in figures.PERIODS):
            by2 = None
        given = {"municipality": municipality, "provider": provider}
        scope = [name for name, value in given.items() if value]
        if by2 and len(place_dimensions([by, by2, *scope])) > 2:
            by2 = None
        query = figures.DashboardQuery(
            publication=self.publication,
            by=by,
            by2=by2,
            grain=self.value("grain"),
            measure=self.value("measure"),
            municipality=municipality,
            provider=provider,
        )
        self.by2.data = query.by2 or ""  # the selects show what the page shows
        for name in ("by", "grain", "measure"):
            self[name].data = getattr(query, name)
        return query

    def limit_to_scope(self, dimension: str) -> Self:
        """The form of an account scoped to a municipality or a provider (`dimension`): no
        breakdown by it (the page holds one). Call before `query`."""
        for name in ("by", "by2"):
            field = self[name]
            field.choices = [c for c in field.choices if c.value != dimension]
            if field.data == dimension:
                field.data = field.default
        return self


class ExportFilterForm(DashboardFilterForm):
    """A dashboard table to download: the dashboard's choices, which of its tables, and for the
    CSV whether it is for people (the default) or for scripts."""

    table = SelectField(choices=list(figures.TABLES), default="breakdown")
    variant = SelectField(choices=["people", "machine"], default="people")  # CSV only


class CommentsFilterForm(PeriodFilterForm):
    """The comments page: one respondent group (never both) in one period."""

    group = SelectField(
        _l("Group"),
        choices=lambda: [SelectChoice(group, figures.value_labels()[group]) for group in GROUPS],
        default=GROUPS[0],
    )


class QuoteFilterForm(PeriodFilterForm):
    """The quotes queue: review status (or all), group (or both) and period, and the page."""

    status = SelectField(
        _l("Status"),
        choices=lambda: [
            SelectChoice(QuoteStatus.NEW, _("To review")),
            SelectChoice(QuoteStatus.APPROVED, _("Approved")),
            SelectChoice(QuoteStatus.REJECTED, _("Rejected")),
            SelectChoice("", _("All")),
        ],
        default=QuoteStatus.NEW,
    )
    group = SelectField(
        _l("Group"),
        choices=lambda: [
            SelectChoice("", _("Both")),
            *(SelectChoice(group, figures.value_labels()[group]) for group in GROUPS),
        ],
        default="",
    )

    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1)])

    def args(self) -> dict[str, Any]:
        """The queue's own filters (not the page) as links and redirects pass them on."""
        return {
            "status": self.value("status"),
            "group": self.value("group"),
            "period": self.publication.key,
        }


F = TypeVar("F", bound=PeriodFilterForm)


def from_request(form_class: type[F]) -> F:
    """Filter form `form_class` filled from this request's query string."""
    available, default = periods()
    return form_class.read(request.args, available, default)
