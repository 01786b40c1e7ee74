"""Opting out of mail: every email carries one opt-out link of its own and loads nothing remote.

The emails are the ones `send` delivers to a real SMTP server (tests/mailroom.py), invitation and
reminder, in Dutch and in English (DESIGN §3, §6).
"""

from __future__ import annotations

from datetime import timedelta

from tests.mailroom import (
    D0,
    OPT_OUT_LINK,
    OPTED,
    REMOTE_RESOURCES,
    SURVEY_LINK,
)
from tests.pages import links_in, parts


def test_every_email_has_one_opt_out_link_and_loads_nothing_remote(invited):
    _, reminders = invited.send(D0 + timedelta(days=7))
    assert len(reminders) == 6
    messages = [r.message for r in invited.handler.received]
    subjects = {m["Subject"] for m in messages}
    # Invitation and reminder, in Dutch and in English.
    assert subjects == {
        "Hoe was de hulp van MetMaya?",
        "Herinnering: hoe was de hulp van MetMaya?",
        "Your experience with MetMaya",
        "Reminder: your experience with MetMaya",
    }, subjects
    tokens_by_recipient: dict[str, set[str]] = {}
    for message in messages:
        bodies = parts(message)
        assert set(bodies) == {"plain", "html"}
        for subtype, body in bodies.items():
            opt_out = [u for u in links_in(body) if "/afmelden/" in u]
            survey = [u for u in links_in(body) if "/s/" in u]
            assert len(opt_out) == 1, (subtype, opt_out)
            assert body.count("/afmelden/") == 1, subtype
            match = OPT_OUT_LINK.fullmatch(opt_out[0])
            assert match, opt_out[0]
            # The opt-out link belongs to this very invitation: the same token as its survey link.
            assert SURVEY_LINK.fullmatch(survey[0]).group(1) == match.group(1)
            assert sorted(links_in(body)) == sorted(survey + opt_out)
            tokens_by_recipient.setdefault(message["To"].addresses[0].addr_spec, set()).add(
                match.group(1)
            )
        html = bodies["html"].lower()
        for remote in REMOTE_RESOURCES:
            assert remote not in html, remote
    # Each invitation has its own token; its reminder repeats it.
    assert len(tokens_by_recipient[OPTED]) == 2  # two trajectories, two invitations
    del tokens_by_recipient[OPTED]
    assert {len(tokens) for tokens in tokens_by_recipient.values()} == {1}
