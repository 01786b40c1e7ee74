"""Staff side: sign-in with password and TOTP, server-side sessions, roles, admin pages.

`init_app` wires Flask-Login (a signed-in user is `SignedIn`, loaded from `staff_session`), the
deny-by-default role check for every /staff route (survey.accounts.permissions), and the blueprints.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user

from survey.accounts.permissions import PUBLIC, allowed
from survey.accounts.users import load_session
from survey.db import get_session
from survey.enums import Language
from survey.models import LANGUAGES, StaffSession, StaffUser, utcnow
from survey.staff.dashboard import bp as dashboard_bp
from survey.staff.quotes import bp as quotes_bp
from survey.web.i18n import select_locale, use_language

bp = Blueprint("staff", __name__, url_prefix="/staff")
admin_bp = Blueprint("admin", __name__, url_prefix="/staff/admin")
login_manager = LoginManager()


class SignedIn(UserMixin):
    """The signed-in staff member; its Flask-Login id is the (secret) session id."""

    def __init__(self, raw_session_id: str, staff_session: StaffSession) -> None:
        self.raw_session_id = raw_session_id
        self.user: StaffUser = staff_session.user

    def get_id(self) -> str:
        return self.raw_session_id

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def municipality(self) -> str | None:
        """The municipality the account is limited to; None for a regional account."""
        return self.user.municipality.name if self.user.municipality else None

    @property
    def provider(self) -> str | None:
        """The slug of the provider the account is limited to; None for every provider."""
        return self.user.provider.slug if self.user.provider else None

    @property
    def provider_name(self) -> str | None:
        return self.user.provider.name if self.user.provider else None

    def may(self, endpoint: str) -> bool:
        """Whether this account may open `endpoint` (for links: show only what works)."""
        return allowed(endpoint, self.role, self.municipality, self.provider)


@login_manager.user_loader
def _load(raw_session_id: str) -> SignedIn | None:
    staff_session = load_session(get_session(), raw_session_id, utcnow())
    return SignedIn(raw_session_id, staff_session) if staff_session else None


def choose_language() -> None:
    """Staff pages speak the language the staff member chose with the language link
    (`?lang=en` on any staff page, kept in the session): Dutch unless asked otherwise."""
    if not request.path.startswith("/staff"):
        return
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["language"] = asked
    use_language(session.get("language"))


def language_switch() -> dict[str, str]:
    """The other language of a staff page, and this page's address in it."""
    other = Language.EN if select_locale() == Language.NL else Language.NL
    args = {**(request.view_args or {}), **request.args.to_dict(), "lang": other.value}
    return {"language": other.value, "url": url_for(request.endpoint or "staff.home", **args)}


def check_access() -> ResponseReturnValue | None:
    """Before every /staff request: signed in, and the role and scope may use this endpoint."""
    if not request.path.startswith("/staff") or request.endpoint in PUBLIC:
        return None
    if request.endpoint is None:
        return None  # a 404 or 405 follows
    if not current_user.is_authenticated:
        return redirect(url_for("staff.login"))
    if not current_user.may(request.endpoint):
        abort(403)
    if current_user.provider:  # a provider's staff read their own name, never another's
        g.provider_name = current_user.provider_name
    return None


def init_app(app: Flask) -> None:
    """Register login handling, the access check and the staff blueprints."""
    # here, not at the top: admin and views import bp, admin_bp and SignedIn from this package
    # (import cycle); importing them registers their routes.
    from survey.staff import admin, links, passkeys, sso, views  # noqa: F401

    sso.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "staff.login"
    app.before_request(choose_language)
    app.before_request(check_access)
    app.context_processor(lambda: {"staff_language_switch": language_switch})
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(quotes_bp)
