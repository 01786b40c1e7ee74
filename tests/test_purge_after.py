"""Retention (`ervaringswijzer purge`, DESIGN §3): after the purge, for the families.

A purged link shows the kind "unknown link" page, whatever the family did with it; an address
that opted out stays suppressed for later imports (the mix of tests/purge_region.py).
"""

from __future__ import annotations

from datetime import timedelta

from tests.pages import text_of
from tests.purge_region import (
    PURGE_DAY,
    row,
)


def test_purged_links_show_the_kind_unknown_page(region):
    region.purge(PURGE_DAY)
    client = region.app.test_client()
    for what in ("answered", "opened", "opted out"):
        address = next(a for a, did in region.outcome.items() if did == what and "-e" in a)
        token = region.tokens[address]
        for response in (
            client.get(f"/s/{token}"),
            client.post(f"/s/{token}", data={"self_direction": "8", "usefulness": "8"}),
            client.get(f"/afmelden/{token}"),
            client.post(f"/afmelden/{token}", data={"csrf_token": "x"}),
        ):
            assert response.status_code == 404, (what, response.status_code)
            assert "Deze link werkt niet" in text_of(response.get_data(as_text=True))
    # A late link is still known: answered, it says so kindly.
    late = client.get(f"/s/{region.tokens['ouder-l01@example.org']}")
    assert late.status_code == 200
    assert "Deze link werkt niet" not in text_of(late.get_data(as_text=True))


def test_an_opted_out_address_stays_suppressed_after_its_purge(region):
    region.purge(PURGE_DAY)
    opted = sorted(a for a, did in region.outcome.items() if did == "opted out")
    assert opted
    region.import_rows(
        [
            row("N01", "Soest", PURGE_DAY - timedelta(days=1), "", "", opted[0].upper()),
            row("N02", "Soest", PURGE_DAY - timedelta(days=1), "", "", "nieuw@example.org"),
        ],
        "new.csv",
    )
    before = len(region.handler.received)
    region.send(PURGE_DAY)
    assert [r.rcpt_tos for r in region.handler.received[before:]] == [["nieuw@example.org"]]
