"""Second factors at rest and in a race (issue 20, points 5 and 4 of what it must show).

* The TOTP secret is sealed with MFA_ENCRYPTION_KEY: the database alone (a copied SQLite file, a
  dump of the PostgreSQL rows) holds no secret and no key opens it without the environment.
* The secret being set up lives on the server, sealed; the session cookie never carries it.
* A code works exactly once, also when two sign-ins race with it: the time step is claimed with a
  conditional UPDATE.
* Rotation: a new key in front, `users rotate-mfa-key`, the old key removed: every account still
  signs in.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from survey.accounts import users
from survey.accounts.secrets import SecretUnreadable, make_cipher, unseal
from survey.config import ConfigError
from survey.models import StaffUser
from tests.conftest import make_test_app
from tests.pages import csrf_token, field_error
from tests.staff_helpers import (
    HOME_URL,
    MFA_URL,
    TEST_CIPHER,
    database,
    enrolment_page,
    enrolment_secret,
    get,
    make_staff,
    post_form,
    sign_in,
    submit_password,
    totp_code,
)


def stored_secrets(db) -> list[str]:
    db.rollback()
    return [s for s in db.scalars(select(StaffUser.totp_secret)) if s is not None]


def test_the_database_alone_holds_no_totp_secret(app, db, tmp_path):
    secrets_in_clear = [make_staff(db, role)[2] for role in ("admin", "quality", "viewer")]
    stored = stored_secrets(db)
    assert len(stored) == 3
    dump = "\n".join(stored)
    for secret in secrets_in_clear:
        # Neither the base32 text an authenticator reads nor its raw bytes appear anywhere.
        assert secret not in dump and secret.lower() not in dump.lower()
        raw = base64.b32decode(secret)
        assert raw.hex() not in dump and base64.b64encode(raw).decode() not in dump
    # Whoever has the rows but not the environment: no key they could guess opens them — not
    # one derived from nothing, nor a fresh one.
    for outsider in (
        make_cipher({}),
        make_cipher({"MFA_ENCRYPTION_KEY": Fernet.generate_key().decode()}),
    ):
        for sealed in stored:
            with pytest.raises(SecretUnreadable):
                unseal(sealed, outsider)
    # The app itself, with its environment, still opens every one of them.
    assert sorted(unseal(s, TEST_CIPHER) for s in stored) == sorted(secrets_in_clear)


def test_a_copied_sqlite_file_holds_no_secret_in_any_page(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'copy.db'}", tmp_path)
    from survey.db import Base

    Base.metadata.create_all(app.extensions["db_engine"])
    with database(app) as db:
        secret = make_staff(db, "admin")[2]
    app.extensions["db_engine"].dispose()
    sqlite3.connect(tmp_path / "copy.db").execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("copy.db*"))
    assert b"CREATE TABLE staff_user" in raw  # the file itself was read
    assert secret.encode() not in raw and base64.b32decode(secret) not in raw


def test_the_secret_being_set_up_stays_on_the_server(app, client, db):
    user, password, _ = make_staff(db, "quality", with_totp=False)
    secret = enrolment_secret(enrolment_page(client, user.email, password))
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    contents = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert "pending_user" in contents and secret not in json.dumps(contents)
    db.expire_all()
    pending = db.get(StaffUser, user.id).totp_pending
    assert pending and secret not in pending and unseal(pending, TEST_CIPHER) == secret
    # The same key on a reload, until the first code proves it.
    assert enrolment_secret(get(client, MFA_URL).get_data(as_text=True)) == secret
    answer = post_form(client, MFA_URL, {"code": totp_code(secret)})
    assert answer.headers["Location"].endswith(HOME_URL)
    db.expire_all()
    account = db.get(StaffUser, user.id)
    assert (account.totp_pending, account.totp_pending_at) == (None, None)
    assert unseal(account.totp_secret, TEST_CIPHER) == secret


def test_two_sign_ins_racing_with_one_code_let_exactly_one_in(app, db, monkeypatch):
    user, password, secret = make_staff(db, "viewer")
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert submit_password(client, user.email, password).headers["Location"].endswith(MFA_URL)
    # Both requests have read the account (no step used yet) and checked the code before
    # either claims the step: the moment a check-then-write would let both in.
    both_checked = threading.Barrier(2, timeout=10)
    real_compare = users.secrets.compare_digest

    def compare_then_wait(a, b):
        same = real_compare(a, b)
        if same:
            both_checked.wait()
        return same

    monkeypatch.setattr(users.secrets, "compare_digest", compare_then_wait)
    code = totp_code(secret)
    pages = [get(client, MFA_URL).get_data(as_text=True) for client in clients]

    def post(n: int):
        with app.app_context():
            data = {"csrf_token": csrf_token(pages[n]), "code": code}
            return clients[n].post(MFA_URL, data=data)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(post, range(2)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [302, 400], statuses
    winner = next(a for a in answers if a.status_code == 302)
    assert winner.headers["Location"].endswith(HOME_URL)
    loser = next(a for a in answers if a.status_code == 400)
    error = field_error(loser.get_data(as_text=True), "code")
    assert error == "Fout: Deze code klopt niet. Wacht op een nieuwe code en probeer het opnieuw."


def test_rotating_the_key_keeps_every_account_signing_in(tmp_path, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    from survey.db import Base

    first = make_test_app(url, tmp_path, MFA_ENCRYPTION_KEY=old)
    Base.metadata.create_all(first.extensions["db_engine"])
    with database(first) as db:
        accounts = [make_staff(db, role) for role in ("admin", "viewer")]
    first.extensions["db_engine"].dispose()

    both = make_test_app(url, tmp_path, MFA_ENCRYPTION_KEY=f"{new},{old}")
    result = both.test_cli_runner().invoke(args=["users", "rotate-mfa-key"])
    assert result.exit_code == 0, result.output
    assert "2 second-factor secret(s) sealed" in result.output
    both.extensions["db_engine"].dispose()

    only_new = make_test_app(url, tmp_path, MFA_ENCRYPTION_KEY=new)
    for user, password, secret in accounts:
        sign_in(only_new.test_client(), user.email, password, secret)
    only_new.extensions["db_engine"].dispose()

    # The old key alone opens nothing any more.
    rows = sqlite3.connect(tmp_path / "rotate.db").execute("SELECT totp_secret FROM staff_user")
    sealed_now = [sealed for (sealed,) in rows]
    assert len(sealed_now) == 2
    for sealed in sealed_now:
        with pytest.raises(SecretUnreadable):
            unseal(sealed, make_cipher({"MFA_ENCRYPTION_KEY": old}))


def test_production_refuses_to_start_without_a_key_of_its_own(tmp_path):
    from survey.config import check_config, load_config

    env = {"SECRET_KEY": "9c" * 32, "PUBLIC_BASE_URL": "https://ervaringswijzer.example.org"}
    with pytest.raises(ConfigError, match="MFA_ENCRYPTION_KEY is not set"):
        check_config(load_config(tmp_path, env))
    with pytest.raises(ConfigError, match="key 2 is not a Fernet key"):
        bad = {**env, "MFA_ENCRYPTION_KEY": f"{Fernet.generate_key().decode()},geheim"}
        check_config(load_config(tmp_path, bad))
    check_config(
        load_config(tmp_path, {**env, "MFA_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    )


def test_the_upgrade_seals_secrets_stored_in_clear_and_the_downgrade_opens_them(tmp_path):
    from survey.migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cipher = make_cipher({"MFA_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    upgrade(url, "0013", mfa_cipher=cipher)
    secret = pyotp.random_base32(32)
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO staff_user (email, password_hash, role, active, totp_secret, "
                "created_at, password_changed_at) VALUES ('a@example.org', 'x', 'admin', 1, "
                ":secret, '2026-01-01', '2026-01-01')"
            ),
            {"secret": secret},
        )
    upgrade(url, "head", mfa_cipher=cipher)
    with engine.connect() as connection:
        sealed = connection.execute(text("SELECT totp_secret FROM staff_user")).scalar_one()
    assert secret not in sealed and unseal(sealed, cipher) == secret
    downgrade(url, "0013", mfa_cipher=cipher)
    with engine.connect() as connection:
        plain = connection.execute(text("SELECT totp_secret FROM staff_user")).scalar_one()
    assert plain == secret
    engine.dispose()


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "１２３４５６", "12345６"])
def test_digits_of_other_scripts_are_a_wrong_code_not_an_error(client, db, code):
    user, password, _ = make_staff(db, "viewer")
    submit_password(client, user.email, password)
    answer = post_form(client, MFA_URL, {"code": code})
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "code").startswith("Fout: Deze code klopt")
