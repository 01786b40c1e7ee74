"""Hypothesis settings and input strategies for the fuzz tests (tests/test_fuzz_*.py).

Whatever arrives (any field names and values, NUL, lone surrogates sent as invalid UTF-8, 10 kB
strings, repeated keys, odd content types), the answer is a page with a status from ALLOWED,
never a 500. `quick_hashing` is a fixture (registered in tests/conftest.py).
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey.accounts import passwords

ALLOWED = {200, 302, 400, 401, 404, 409, 410, 413, 429}
# About 30 s for the three tests on both backends; raise max_examples locally to dig deeper.
FUZZ = settings(
    deadline=None,
    database=None,  # no .hypothesis directory in the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PAYLOAD = '"><svg onload=alert(1)> {{7*7}}'

# -- input strategies --------------------------------------------------------------------------

any_character = st.characters(exclude_categories=())  # surrogates included
odd_values = st.sampled_from(
    ["", " ", "\x00", "\ud800", "\udfff", "\u202e", "\r\n", "1", "10", "0", "11", "7.5", " 8",
     "٨", "²", "y", "on", "nl", "en", "xx", PAYLOAD, "é" * 4001]
)  # fmt: skip
long_values = st.sampled_from([4_000, 4_001, 10_000]).map(lambda n: "é" * n)
values = st.one_of(st.text(any_character, max_size=40), odd_values, long_values)
field_names = st.one_of(
    st.sampled_from(
        ["self_direction", "usefulness", "listened", "comment", "quote_consent", "lang"]
    ),
    st.text(any_character, max_size=20),
)
marks = st.sampled_from([str(mark) for mark in range(1, 11)])
good_answers = st.fixed_dictionaries(
    {"self_direction": marks, "usefulness": marks},
    optional={"listened": marks, "comment": values, "quote_consent": st.sampled_from(["y", ""])},
).map(lambda answers: list(answers.items()))
# Mostly a plausible answer with odd extras, so that the storing path is fuzzed too.
survey_pairs = st.tuples(
    st.one_of(good_answers, good_answers, st.just([])),
    st.lists(st.tuples(field_names, values), max_size=6),
).map(lambda both: both[0] + both[1])
usually = st.sampled_from([True, True, True, False])
RAW_TYPES = [
    None,
    "text/plain",
    "application/json",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/x-www-form-urlencoded; charset=utf-16",
    "nonsense/../;;==",
]


def encoded(text: str) -> bytes:
    """UTF-8, with lone surrogates passed through as the invalid bytes a broken client sends."""
    return text.encode("utf-8", "surrogatepass")


def form_body(pairs: list[tuple[str, str]], kind: str, raw_type: str | None) -> dict:
    """Request options for `pairs` sent as a form (urlencoded or multipart) or as a raw body."""
    if kind == "urlencoded":
        body = b"&".join(
            quote_from_bytes(encoded(k)).encode() + b"=" + quote_from_bytes(encoded(v)).encode()
            for k, v in pairs
        )
        return {"data": body, "content_type": "application/x-www-form-urlencoded"}
    if kind == "multipart":
        boundary = b"fuzzboundary7MA4YWxk"
        chunks = [
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + encoded(k) + b'"'
            b"\r\n\r\n" + encoded(v) + b"\r\n"
            for k, v in pairs
        ]
        body = b"".join(chunks) + b"--" + boundary + b"--\r\n"
        return {"data": body, "content_type": "multipart/form-data; boundary=" + boundary.decode()}
    body = b"\n".join(encoded(k) + b"=" + encoded(v) for k, v in pairs)
    return {"data": body, "content_type": raw_type} if raw_type else {"data": body}


@pytest.fixture
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lowest cost: these tests are about input handling, not hashing time."""
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", quick)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", quick.hash("timing equaliser"))


def count(db, column) -> int:
    db.rollback()
    db.expire_all()
    return db.scalar(select(func.count(column)))
