"""Mail written as `.eml` files (no SMTP_HOST) holds an address and a personal link: purge erases
those files with the rest of the contact data, and keeps the ones still needed."""

from __future__ import annotations

import os
import re
import time
from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from tests.pages import csrf_token

TOKEN_IN_LINK = re.compile(rb"/s/([A-Za-z0-9_-]{43})")
SENT = date.today()


def invite_two_families(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> dict[str, Path]:
    csv = tmp_path / "episodes.csv"
    end = (SENT - timedelta(days=2)).isoformat()
    csv.write_text(
        "episode_id,end_date,team,municipality,care_type,parent_email\n"
        f"A1,{end},Team Noord,Leusden,Ambulant,ouder-a@example.org\n"
        f"B2,{end},Team Noord,Leusden,Ambulant,ouder-b@example.org\n",
        encoding="utf-8",
    )
    assert runner.invoke(args=["import-episodes", str(csv)]).exit_code == 0
    sent = runner.invoke(args=["send", "--today", SENT.isoformat()])
    assert sent.exit_code == 0, sent.output
    files = {}
    for path in Path(app.config["MAIL_FILE_DIR"]).glob("*.eml"):
        data = path.read_bytes()
        address = "a" if b"ouder-a@example.org" in data else "b"
        files[address] = path
    assert set(files) == {"a", "b"}
    return files


def test_purge_erases_the_mail_files_of_purged_invitations_only(app, runner, client, tmp_path):
    files = invite_two_families(app, runner, tmp_path)
    token = TOKEN_IN_LINK.search(files["a"].read_bytes()).group(1).decode()
    page = client.get(f"/s/{token}")
    answer = {"csrf_token": csrf_token(page.text), "self_direction": "9", "usefulness": "8"}
    assert client.post(f"/s/{token}", data=answer).status_code == 302

    # Family A answered today: its contact data goes 30 days later; B's link is still open.
    early = runner.invoke(args=["purge", "--today", (SENT + timedelta(days=29)).isoformat()])
    assert "Mail files erased (.eml): 0" in early.output, early.output
    assert files["a"].exists() and files["b"].exists()

    purged = runner.invoke(args=["purge", "--today", (SENT + timedelta(days=31)).isoformat()])
    assert purged.exit_code == 0, purged.output
    assert "Invitations erased (address and token): 1" in purged.output, purged.output
    assert "Mail files erased (.eml): 1" in purged.output, purged.output
    assert not files["a"].exists()
    assert files["b"].exists()
    again = runner.invoke(args=["purge", "--today", (SENT + timedelta(days=31)).isoformat()])
    assert "Mail files erased (.eml): 0" in again.output, again.output


def test_purge_erases_mail_files_left_from_before_past_every_retention_period(
    app, runner, tmp_path
):
    files = invite_two_families(app, runner, tmp_path)
    folder = Path(app.config["MAIL_FILE_DIR"])
    left_over = folder / "from-an-older-version_at_example.org.eml"
    left_over.write_bytes(b"To: oud@example.org\r\n\r\nhttps://ervaringswijzer.test/s/oud\r\n")
    keep_days = app.config["EXPIRE_AFTER_DAYS"] + app.config["PURGE_AFTER_DAYS"]
    long_ago = time.time() - (keep_days + 1) * 86400
    os.utime(left_over, (long_ago, long_ago))

    result = runner.invoke(args=["purge", "--today", SENT.isoformat()])
    assert "Mail files erased (.eml): 1" in result.output, result.output
    assert not left_over.exists()
    assert files["a"].exists() and files["b"].exists()


def test_purge_never_stops_on_odd_entries_and_touches_only_the_transports_files(
    app, runner, tmp_path
):
    invite_two_families(app, runner, tmp_path)
    folder = Path(app.config["MAIL_FILE_DIR"])
    long_ago = time.time() - 400 * 86400
    directory = folder / "map_at_example.org.eml"  # a directory with a message-like name
    directory.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the app's")
    link = folder / "link_at_example.org.eml"
    link.symlink_to(elsewhere)
    foreign = folder / "notities.eml"  # old, but not a file the transport writes
    foreign.write_text("eigen aantekeningen")
    stale = folder / "oud_at_example.org.eml"
    stale.write_text("To: oud@example.org")
    for path in (directory, foreign, stale):
        os.utime(path, (long_ago, long_ago))
    os.utime(link, (long_ago, long_ago), follow_symlinks=False)

    # A clock moved far ahead erases nothing the real clock would keep.
    result = runner.invoke(args=["purge", "--today", (SENT + timedelta(days=3650)).isoformat()])
    assert result.exit_code == 0, result.output
    assert "Mail files erased (.eml): 3" in result.output, result.output  # stale + both families
    assert not stale.exists()
    assert directory.is_dir() and link.is_symlink() and elsewhere.exists() and foreign.exists()
