"""Fuzzing the survey form with Hypothesis: every POST gets an answer from ALLOWED, never a 500,
and a response is stored exactly when the family is sent to the thank-you page.
Rate limits are reset before every example, so throttling never hides what a request would do.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from survey.models import Invitation, Response
from survey.web.limits import limiter
from tests.factories import make_episode, make_invited
from tests.fuzzing import (
    ALLOWED,
    FUZZ,
    PAYLOAD,
    RAW_TYPES,
    count,
    form_body,
    survey_pairs,
    usually,
)
from tests.pages import csrf_token
from tests.staff_helpers import get, request


@settings(FUZZ, max_examples=120)
@given(
    pairs=survey_pairs,
    group=st.sampled_from(["youth", "parent"]),
    with_csrf=usually,
    kind=st.sampled_from(["urlencoded", "urlencoded", "multipart", "raw"]),
    raw_type=st.sampled_from(RAW_TYPES),
    age=st.sampled_from([None, 14, 16]),
    query=st.sampled_from(["", "?lang=en", "?lang=xx", "?lang=%00", "?lang=%ED%A0%80"]),
)
@example(
    pairs=[],
    group="parent",
    with_csrf=False,
    kind="urlencoded",
    raw_type=None,
    age=None,
    query="",
)  # an empty body: no form data at all
@example(
    pairs=[("comment", "x")],
    group="parent",
    with_csrf=True,
    kind="raw",
    raw_type="text/plain",
    age=None,
    query="",
)
@example(
    pairs=[("self_direction", "5"), ("self_direction", "7"), ("usefulness", "7")],
    group="parent", with_csrf=True, kind="urlencoded", raw_type=None, age=None, query="",
)  # fmt: skip
@example(
    pairs=[("self_direction", "8"), ("usefulness", "7"), ("comment", "\x00\ud800" + PAYLOAD)],
    group="youth", with_csrf=True, kind="multipart", raw_type=None, age=16, query="",
)  # fmt: skip
@example(
    pairs=[("self_direction", "8"), ("usefulness", "7"), ("comment", "é" * 1_100_000)],
    group="parent", with_csrf=True, kind="urlencoded", raw_type=None, age=None, query="",
)  # fmt: skip
def test_survey_form_answers_every_post_without_failing(
    client, db, pairs, group, with_csrf, kind, raw_type, age, query
):
    limiter.reset()
    episode = make_episode(db, youth_age=age)
    invitation, token = make_invited(db, episode=episode, respondent_group=group)
    url = f"/s/{token}{query}"
    if with_csrf:
        page = get(client, url).get_data(as_text=True)
        pairs = [*pairs, ("csrf_token", csrf_token(page))]
    before = count(db, Response.id)
    answer = request(client, "POST", url, **form_body(pairs, kind, raw_type))
    assert answer.status_code in ALLOWED
    stored = count(db, Response.id) - before
    if answer.status_code == 302:
        assert answer.headers["Location"].startswith("/bedankt")
        assert stored == 1
        assert db.get(Invitation, invitation.id).responded_at is not None
    else:
        assert stored == 0
