"""Who may use which staff page: one table, deny by default (DESIGN §9).

Every route under /staff must appear here (a test builds the full route × role matrix from the
app's url_map and fails on a route without a rule). `PUBLIC` pages are for signing in.
"""

from __future__ import annotations

from survey.enums import Role

ADMIN = frozenset({Role.ADMIN})
EVERY_ROLE = frozenset(Role)
ANALYSTS = frozenset({Role.ADMIN, Role.QUALITY, Role.VIEWER})
QUALITY = frozenset({Role.ADMIN, Role.QUALITY})
COMMUNICATIONS = frozenset({Role.ADMIN, Role.COMMUNICATIONS})

PUBLIC = frozenset({"staff.login", "staff.mfa"})

RULES: dict[str, frozenset[str]] = {
    "staff.home": EVERY_ROLE,
    "staff.logout": EVERY_ROLE,
    "staff.password": EVERY_ROLE,
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
    "dashboard.comments": QUALITY,
    "quotes.queue": COMMUNICATIONS,
    "quotes.decide": COMMUNICATIONS,
    "quotes.original": ADMIN,
    "quotes.export": COMMUNICATIONS,
    "quotes.infoblad_section": COMMUNICATIONS | QUALITY,
}


def allowed(endpoint: str | None, role: str | None) -> bool:
    """Whether `role` may use `endpoint`; unknown endpoints are denied."""
    if endpoint in PUBLIC:
        return True
    roles = RULES.get(endpoint or "")
    return roles is not None and role in roles
