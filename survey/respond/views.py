"""Views of the survey blueprint: the questionnaire page, its POST, and the thank-you page.

Thin by design: find the invitation, choose the language, validate the form, call
`submit_response`, redirect. Every way a link can be unusable (unknown, answered, expired) gets a
kind page in the family's language and stores nothing.
"""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.answers.operations import submit_response
from survey.db import get_session
from survey.invitations.operations import current_time, find_by_token, is_expired, mark_opened
from survey.invitations.optout import is_suppressed, opt_out
from survey.models import LANGUAGES, Invitation, Provider
from survey.respond import bp
from survey.respond.forms import OptOutForm, build_form
from survey.web.errors import in_both_languages
from survey.web.i18n import use_language
from survey.web.limits import UNKNOWN_TOKENS_PER_IP, limiter
from survey.web.security import csrf

# The questionnaire form checks its own CSRF token, so that a stale token re-shows the form with
# the answers kept instead of an error page that loses them.
csrf.exempt(bp)


def _speak_for(invitation: Invitation) -> Provider:
    """Pages about an invitation carry the name of its trajectory's provider, never another's
    (templates/base.html reads `g.provider_name`)."""
    provider = invitation.episode.provider
    g.provider_name = provider.name
    return provider


def _unknown_link(response: WerkzeugResponse) -> bool:
    return response.status_code == 404


@bp.route("/s/<token>", methods=["GET", "POST"])
@limiter.limit(UNKNOWN_TOKENS_PER_IP, deduct_when=_unknown_link)
def questionnaire(token: str) -> tuple[str, int] | WerkzeugResponse:
    """Show the questionnaire of a personal link, and store its answers once."""
    session = get_session()
    invitation = find_by_token(session, token)
    if invitation is None:
        return _unknown(), 404
    language = use_language(request.values.get("lang") or invitation.language)
    provider = _speak_for(invitation)
    now = current_time()
    if invitation.responded_at is not None:
        status = 409 if request.method == "POST" else 200
        return render_template("respond/already_answered.html"), status
    if is_expired(invitation, now):
        return render_template("respond/expired.html"), 410

    questionnaire = current_app.extensions["questionnaires"][invitation.respondent_group]
    items = questionnaire.items_for(invitation.episode.youth_age)
    switch = request.form.get("switch_language") if request.method == "POST" else None
    if switch in LANGUAGES:
        # The language button: the same page in the other language, answers kept, nothing stored.
        language = use_language(switch)
    form = build_form(items, language, current_app.config["COMMENT_MAX_CHARS"])
    if switch not in LANGUAGES and form.validate_on_submit():
        answers = form.answers()
        if not submit_response(session, invitation, questionnaire, answers, language, now):
            return render_template("respond/already_answered.html"), 409
        return redirect(url_for("respond.thanks", lang=language, provider=provider.slug))
    if request.method == "GET":
        mark_opened(session, invitation, now)
    return render_template(
        "respond/questionnaire.html",
        form=form,
        questionnaire=questionnaire,
        items=items,
        language=language,
        token=token,
    ), (400 if form.errors else 200)


UNKNOWN_LINK = (
    _l("Link not found"),
    _l("This link does not work"),
    _l(
        "We do not know this link. Maybe it was not copied completely. "
        "Please click the link in the email again."
    ),
)


def _unknown() -> str:
    """The kind page for a link we do not know, in Dutch and English (we do not know whose)."""
    return render_template("respond/unknown.html", texts=in_both_languages(UNKNOWN_LINK))


@bp.route("/afmelden/<token>", methods=["GET", "POST"])
@limiter.limit(UNKNOWN_TOKENS_PER_IP, deduct_when=_unknown_link)
def unsubscribe(token: str) -> tuple[str, int] | str:
    """Confirm page for opting out of mail; only the confirming POST changes anything."""
    session = get_session()
    invitation = find_by_token(session, token)
    if invitation is None:
        return _unknown(), 404
    use_language(invitation.language)
    _speak_for(invitation)
    if invitation.opted_out_at is not None or is_suppressed(session, invitation.email or ""):
        return render_template("respond/opted_out.html")
    form = OptOutForm()
    if form.validate_on_submit():
        opt_out(session, invitation, current_time())
        return render_template("respond/opted_out.html")
    return render_template("respond/opt_out.html", form=form), (400 if form.errors else 200)


def _page(template: str) -> str:
    """A page without data, in the language of `?lang=` (Dutch by default)."""
    use_language(request.args.get("lang"))
    return render_template(template)


@bp.route("/")
def index() -> str:
    """A short welcome: families arrive through their personal link, not here."""
    return _page("index.html")


@bp.route("/bedankt")
def thanks() -> str:
    """The thank-you page after a stored response, in the name of the family's provider."""
    slug = request.args.get("provider")
    provider = get_session().scalar(select(Provider).where(Provider.slug == slug)) if slug else None
    if provider is not None:
        g.provider_name = provider.name
    return _page("respond/thanks.html")


@bp.route("/toegankelijkheid")
def accessibility() -> str:
    """The accessibility statement (toegankelijkheidsverklaring)."""
    return _page("accessibility.html")


@bp.route("/privacy")
def privacy() -> str:
    """What happens with the answers, who sees them, and when contact data is erased."""
    return _page("privacy.html")
