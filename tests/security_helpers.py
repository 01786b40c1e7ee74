"""Shared by the staff security tests: the payloads, the audit trail, where an answer leads."""

from __future__ import annotations

from sqlalchemy import select

from survey.models import AuditEvent

COOKIE = "ervaringswijzer_session"
XSS = '"><svg onload=alert(1)>'
SSTI = "{{7*7}}"
PAYLOAD = f"{XSS} {SSTI}"
ESCAPED_XSS = "&#34;&gt;&lt;svg onload=alert(1)&gt;"
NEW_PASSWORD = "een heel ander wachtwoord voor 2025"


def audit_events(db, action: str) -> list[AuditEvent]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def goes_to(answer, path: str) -> bool:
    return answer.status_code == 302 and answer.headers["Location"].endswith(path)
