"""Who may use which staff page: one table, deny by default (DESIGN §9).

Every route under /staff must appear here (a test builds the full route × role × scope matrix
from the app's url_map and fails on a route without a rule). `PUBLIC` pages are for signing in.

An account scoped to a municipality may, besides what its role allows, use only the pages of
`MUNICIPALITY_PAGES`: aggregates of its own municipality, never comments, quotes, the audit log or
the admin pages. An account scoped to a provider may use only `PROVIDER_PAGES`: its own
families' aggregates, comments and quotes — not a municipality's startfoto or the regional
infoblad, which count every provider. What those pages show is limited to the scope by the pages
themselves (`survey.staff.dashboard`, `survey.staff.quotes`).
"""

from __future__ import annotations

from survey.enums import Role

ADMIN = frozenset({Role.ADMIN})
EVERY_ROLE = frozenset(Role)
ANALYSTS = frozenset({Role.ADMIN, Role.QUALITY, Role.VIEWER})
QUALITY = frozenset({Role.ADMIN, Role.QUALITY})
COMMUNICATIONS = frozenset({Role.ADMIN, Role.COMMUNICATIONS})

PUBLIC = frozenset(
    {
        "staff.login",
        "staff.mfa",
        "staff.open_link",
        "staff.choose_password",
        "staff.forgot_password",
        "staff.sso_start",
        "staff.sso_callback",
        "staff.mfa_passkey_options",
        "staff.mfa_passkey",
    }
)

# The pages every scoped account may open (its role may allow fewer): its own aggregates.
_AGGREGATE_PAGES = frozenset(
    {
        "staff.home",
        "staff.logout",
        "staff.password",
        "staff.security",
        "staff.passkey_options",
        "staff.passkey_add",
        "staff.passkey_remove",
        "dashboard.index",
        "dashboard.chart",
        "dashboard.export_csv",
        "dashboard.export_xlsx",
    }
)
# A municipality's account: also its startfoto (every provider together).
MUNICIPALITY_PAGES = _AGGREGATE_PAGES | {"dashboard.startfoto"}
# A provider's account: also its own families' comments and quotes, and for its admin the audit
# log of its own staff (never accounts, imports, sending or a comment's original text).
PROVIDER_PAGES = _AGGREGATE_PAGES | {
    "dashboard.comments",
    "quotes.queue",
    "quotes.decide",
    "quotes.export",
    "admin.audit_log",
}

RULES: dict[str, frozenset[str]] = {
    "staff.home": EVERY_ROLE,
    "staff.logout": EVERY_ROLE,
    "staff.password": EVERY_ROLE,
    "staff.security": EVERY_ROLE,
    "staff.passkey_options": EVERY_ROLE,
    "staff.passkey_add": EVERY_ROLE,
    "staff.passkey_remove": EVERY_ROLE,
    "admin.import_episodes_page": ADMIN,
    "admin.outbox": ADMIN,
    "admin.send": ADMIN,
    "admin.users": ADMIN,
    "admin.update_user": ADMIN,
    "admin.audit_log": ADMIN,
    "dashboard.index": ANALYSTS,
    "dashboard.chart": ANALYSTS,
    "dashboard.export_csv": ANALYSTS,
    "dashboard.export_xlsx": ANALYSTS,
    "dashboard.startfoto": ANALYSTS,
    "dashboard.comments": QUALITY,
    "quotes.queue": COMMUNICATIONS,
    "quotes.decide": COMMUNICATIONS,
    "quotes.original": ADMIN,
    "quotes.export": COMMUNICATIONS,
    "quotes.infoblad_section": COMMUNICATIONS | QUALITY,
}


def allowed(
    endpoint: str | None,
    role: str | None,
    municipality: str | None = None,
    provider: str | None = None,
) -> bool:
    """Whether `role` (scoped to `municipality` or `provider`, if any) may use `endpoint`;
    unknown endpoints are denied."""
    if endpoint in PUBLIC:
        return True
    roles = RULES.get(endpoint or "")
    if roles is None or role not in roles:
        return False
    if municipality is not None and endpoint not in MUNICIPALITY_PAGES:
        return False
    return provider is None or endpoint in PROVIDER_PAGES
