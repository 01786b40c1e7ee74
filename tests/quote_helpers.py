"""Helpers for the quote tests: de-identify, decide in the review queue as a browser would, read
exports and the audit log.
"""

from __future__ import annotations

import io

from sqlalchemy import select

from survey.models import AuditEvent
from survey.quotes import operations as quotes
from tests.pages import csrf_token, soup
from tests.staff_helpers import get, request

PROVIDER = "MetMaya"  # the test app's PROVIDER_NAME


def prepare(app, db) -> int:
    return quotes.prepare_comments(db, app.config["PROVIDER_NAME"])


def decide(client, response_id: str, action: str, text: str | None = None, query: str = ""):
    """Press a button of one quote in the queue, as a browser would (CSRF token of the page).

    Without `text`, the text in the quote's own box is sent back unchanged.
    """
    page = get(client, f"/staff/quotes/?status={query}").get_data(as_text=True)
    if text is None:
        shown = soup(page).find("textarea", id=f"text-{response_id}")
        assert shown, "the quote is not in the queue"
        text = shown.get_text().strip()
    form = {"csrf_token": csrf_token(page), "action": action, "text": text}
    return request(client, "POST", f"/staff/quotes/{response_id}", data=form)


def docx_text(body: bytes) -> str:
    from docx import Document

    document = Document(io.BytesIO(body))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def audited(db, column, condition) -> list:
    """One column of the audit events that match `condition`, oldest first (as committed)."""
    db.rollback()
    return db.scalars(select(column).where(condition).order_by(AuditEvent.id)).all()
