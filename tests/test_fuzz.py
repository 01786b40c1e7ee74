"""Fuzzing with Hypothesis: the survey form, the sign-in form and the episode upload never fail.

Whatever arrives (any field names and values, NUL, lone surrogates sent as invalid UTF-8, 10 kB
strings, repeated keys, odd content types, arbitrary bytes as a CSV file), the answer is a page
with a status from ALLOWED, never a 500. An upload is imported completely or refused with
line-numbered errors and nothing written. Rate limits are reset before every example, so
throttling never hides what a request would do.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from urllib.parse import quote_from_bytes

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey.episodes import KNOWN_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from survey.limits import limiter
from survey.models import Episode, Invitation, Response
from survey.staff import passwords
from survey.staff.accounts import AccountError, normalise_email
from tests.factories import make_episode, make_invited
from tests.pages import csrf_token
from tests.staff_helpers import LOGIN_URL, get, make_staff, request, signed_in_client

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


# -- the survey form ---------------------------------------------------------------------------


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


# -- the sign-in form --------------------------------------------------------------------------


@pytest.fixture
def account(db, quick_hashing):
    user, password, _ = make_staff(db, "admin")
    return user.email, password


def spellings(email: str) -> st.SearchStrategy[str]:
    """The account's address as people (and attackers) type it; all name the same account."""
    local, domain = email.split("@")
    return st.sampled_from(
        [email, email.upper(), f"  {email} ", f"{local}@{domain.replace('a', 'ａ')}"]
    )


emails = st.one_of(
    st.text(any_character, max_size=300),
    st.sampled_from(["x\x00@example.org", "a" * 10_000, "@", "a@b", PAYLOAD, "\ud800@example.org"]),
)
secrets_ = st.one_of(st.text(any_character, max_size=200), st.sampled_from(["p" * 10_000, "\x00"]))


@settings(FUZZ, max_examples=150)
@given(
    data=st.data(),
    with_csrf=usually,
    kind=st.sampled_from(["urlencoded", "urlencoded", "multipart", "raw"]),
    raw_type=st.sampled_from(RAW_TYPES),
)
def test_sign_in_form_answers_every_post_without_failing(
    client, account, data, with_csrf, kind, raw_type
):
    limiter.reset()
    real_email, real_password = account
    email = data.draw(st.one_of(emails, spellings(real_email)), label="email")
    password = data.draw(
        st.one_of(secrets_, st.sampled_from([real_password, real_password + "\x00"])),
        label="password",
    )
    pairs = [("email", email), ("password", password)]
    if with_csrf:
        pairs.append(("csrf_token", csrf_token(get(client, LOGIN_URL).get_data(as_text=True))))
    answer = request(client, "POST", LOGIN_URL, **form_body(pairs, kind, raw_type))
    assert answer.status_code in ALLOWED
    if answer.status_code == 302:  # only the real address and password get past this step
        assert answer.headers["Location"].endswith("/staff/mfa")
        assert password == real_password
        try:
            assert normalise_email(email) == real_email
        except AccountError:
            pytest.fail(f"signed in with an invalid address {email!r}")


# -- the episode upload ------------------------------------------------------------------------

VALID_CELLS = {
    "end_date": st.dates(date(2020, 1, 1), date(2030, 12, 31)).flatmap(
        lambda day: st.sampled_from([day.isoformat(), day.strftime("%d-%m-%Y")])
    ),
    "team": st.sampled_from(["Team Soest", "Team Zuid – één", "Team, met komma", 'Team "Q"']),
    "municipality": st.sampled_from(["Soest", "Bunschoten-Spakenburg", "'s-Hertogenbosch"]),
    "care_type": st.sampled_from(["Begeleiding", "Behandeling ggz", PAYLOAD, " Diagnostiek "]),
    "youth_age": st.sampled_from(["", "0", "12", "16", "27"]),
    "youth_email": st.sampled_from(["", "jongere@example.org", "Jongere.Twee@Example.org"]),
    "parent_email": st.sampled_from(["", "ouder@example.org", "ÖUDER@example.org"]),
    "language": st.sampled_from(["", "nl", "en", "NL", " en "]),
}
ODD_CELLS = st.one_of(
    st.text(any_character.filter(lambda c: not "\ud800" <= c <= "\udfff"), max_size=30),
    st.sampled_from(
        ["²", "٣", "-1", "28", "2026-02-30", "31-12-9999", "\x00", "\r\n", '"', 'a"b', "x" * 201,
         "x@", "@x", "nl\x00", "\ufeff", "0000-01-01", ""]
    ),
)  # fmt: skip


@st.composite
def episode_files(draw) -> tuple[bytes, list[dict[str, str]] | None]:
    """CSV-like bytes, and the rows they hold when a correct reader must see exactly those."""
    columns = list(REQUIRED_COLUMNS) + draw(
        st.lists(st.sampled_from(OPTIONAL_COLUMNS), unique=True)
    )
    columns = draw(st.permutations(columns))
    if draw(st.integers(0, 9)) == 0:
        columns = [*columns, draw(st.sampled_from(["", "extra", "team", PAYLOAD]))]
    clean = draw(st.integers(0, 2)) > 0
    rows = []
    for number in range(draw(st.integers(0, 6))):
        row = {}
        for column in columns:
            odd = not clean and draw(st.integers(0, 3)) == 0
            if odd or column not in KNOWN_COLUMNS:
                row[column] = draw(ODD_CELLS)
            elif column == "episode_id":
                row[column] = f"F{number}-{draw(st.integers(0, 3))}"
            else:
                row[column] = draw(VALID_CELLS[column])
        rows.append(row)
    header = [draw(st.sampled_from([c, c.upper(), f" {c} "])) for c in columns]
    delimiter = draw(st.sampled_from([",", ",", ",", ";", ";", ";", "\t", "|"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    proper = draw(st.integers(0, 3)) > 0
    out = io.StringIO()
    if proper:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=ending)
        writer.writerow(header)
        writer.writerows([row[c] for c in columns] for row in rows)
    else:  # hand-made: stray and unbalanced quotes, delimiters inside values
        quote = draw(st.sampled_from(["", '"']))
        for cells in [header, *([row[c] for c in columns] for row in rows)]:
            out.write(delimiter.join(f"{quote}{cell}{quote}" for cell in cells) + ending)
    text = ("\ufeff" if draw(st.booleans()) else "") + out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252", "utf-16", "latin-1"]))
    content = text.encode(encoding, "replace")
    if draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(content)))
        content = content[:at] + draw(st.binary(min_size=1, max_size=8)) + content[at:]
    try:
        seen = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        seen = content.decode("cp1252", "replace")
    exact = proper and seen == text.removeprefix("\ufeff") and delimiter in ",;"
    return content, (rows if exact else None)


HEADER = ",".join(REQUIRED_COLUMNS)


def snapshot(db) -> tuple[list, list]:
    db.rollback()
    db.expire_all()
    episodes = db.execute(
        select(
            Episode.external_id,
            Episode.end_date,
            Episode.team,
            Episode.municipality,
            Episode.care_type,
            Episode.youth_age,
            Episode.language,
        ).order_by(Episode.external_id)
    ).all()
    invitations = db.execute(
        select(Invitation.episode_id, Invitation.respondent_group, Invitation.email).order_by(
            Invitation.episode_id, Invitation.respondent_group
        )
    ).all()
    return episodes, invitations


@pytest.fixture
def admin(app, db, quick_hashing):
    client, _ = signed_in_client(app, db, "admin")
    return client


def upload(client, content: bytes):
    page = get(client, "/staff/admin/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(content), "export.csv")}
    return request(client, "POST", "/staff/admin/import", data=data)


def check_rows_stored(db, rows: list[dict[str, str]]) -> None:
    """Each row of an accepted file is in the database as written."""
    for row in rows:
        if not any(value.strip() for value in row.values()):
            continue  # a blank line
        episode = db.scalars(
            select(Episode).where(Episode.external_id == row["episode_id"].strip())
        ).one()
        assert (episode.team, episode.municipality, episode.care_type) == (
            row["team"].strip(),
            row["municipality"].strip(),
            row["care_type"].strip(),
        )
        assert row["end_date"].strip() in (
            episode.end_date.isoformat(),
            episode.end_date.strftime("%d-%m-%Y"),
        )
        assert episode.language == (row.get("language", "").strip().lower() or "nl")
        age = row.get("youth_age", "").strip()
        assert episode.youth_age == (int(age) if age else None)
        invited = {i.respondent_group: i.email for i in episode.invitations}
        if row.get("parent_email", "").strip():
            assert invited["parent"] == row["parent_email"].strip().lower()


@settings(FUZZ, max_examples=200)
@given(file=st.one_of(st.binary(max_size=3000).map(lambda b: (b, None)), episode_files()))
@example(file=(f"{HEADER},youth_age\nA,2026-01-01,T,M,C,²\n".encode(), None))  # '²'.isdigit()
@example(file=(f"\ufeff{HEADER.replace(',', ';')}\r\nB;01-02-2026;T;M;C\r\n".encode(), None))
@example(file=(f'{HEADER}\nC,2026-01-01,"open,M,C\n'.encode(), None))
@example(file=(f"{HEADER}\n".encode("utf-16"), None))
@example(file=(b"\x00\x81\x8d\x8f\x90\x9d", None))
@example(file=(b"", None))
def test_upload_imports_everything_or_nothing(db, admin, file):
    content, rows = file
    limiter.reset()
    before = snapshot(db)
    answer = upload(admin, content)
    assert answer.status_code in ALLOWED
    body = answer.get_data(as_text=True)
    if answer.status_code == 200:
        summary = re.search(
            r"Rows read: (\d+)\s+Episodes: (\d+) new, (\d+) updated, (\d+) unch", body
        )
        assert summary, body
        read, new, updated, unchanged = map(int, summary.groups())
        assert new + updated + unchanged == read
        assert len(snapshot(db)[0]) == len(before[0]) + new
        if rows is not None:
            check_rows_stored(db, rows)
    else:
        assert answer.status_code in (400, 413)
        if answer.status_code == 400:
            assert re.search(r"<tr><td>\d+</td>", body), "no line-numbered error shown"
        assert snapshot(db) == before
