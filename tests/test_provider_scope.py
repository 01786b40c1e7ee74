"""Accounts scoped to a provider, and anonymity across every scope of a region.

A provider's staff see their own families' figures (with the region's beside them), comments
and quotes, and nothing of another provider: not its name, not its figures, not its quotes, not
by URL. The privacy promise across scopes: whatever a provider, a municipality and the region see
is a node of the one protected publication of the year, suppressed alike — so an attacker who
holds what all of them see together learns no group of 1 to k-1 families (the exact audits of
`analysis`, run on the data of a real database).
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select, text

from analysis.audit import small_set_derivable
from analysis.publication import PublicationPeriod, exact_derivable
from survey.models import Episode, Invitation, Municipality, Provider, StaffUser
from survey.region.operations import add_municipality
from survey.reporting.cohorts import cohort_rows
from survey.reporting.dimensions import Period
from survey.reporting.publication import lattice_of
from tests.dashboard_data import mixed_region, page_html, table_after
from tests.factories import make_comment
from tests.pages import csrf_token, options, text_of
from tests.staff_helpers import (
    fast_hashing,  # noqa: F401  (the fixture)
    get,
    make_staff,
    signed_in_client,
)
from tests.test_cells import kept, rebuilt
from tests.test_providers import two_providers_in_soest

MEASURES = ("invited", "responded", "response_rate", "self_direction_mean", "usefulness_mean")


def rows_of(table) -> dict[str, list[str]]:
    cells = [[text_of(str(c)) for c in row.find_all(["th", "td"])] for row in table("tr")]
    return {row[0]: row for row in cells[1:]}


def test_a_provider_account_sees_its_own_families_with_the_region_beside(app, db):
    two_providers_in_soest(db)
    client, _ = signed_in_client(app, db, "quality", provider="kompas")
    page = page_html(client, "/staff/dashboard/?period=2026&by=team&by2=")

    assert "MetMaya" not in page and "Team Soest" not in page  # not the other's name or team
    assert "Jeugdzorg Kompas" in text_of(page)
    parents = rows_of(table_after(page, "results"))["Ouders"]
    # Kompas: 19 sent, 11 answered, (9 × 6 + 2 × 9) / 11 = 6.55; the region: 39 sent, 23
    # answered, (12 × 8 + 72) / 23 = 7.30.
    assert parents[1:6] == ["19", "11", "58%", "6,55", "6,55"]
    assert parents[6:] == ["59%", "7,30", "7,30"]
    teams = rows_of(table_after(page, "breakdown"))
    assert set(teams) == {"Kompas Soest", "Kompas Jeugd", "Totaal"}
    # Kompas Jeugd (2 families) is hidden, and so is Kompas Soest: with Kompas's total it
    # would give Kompas Jeugd away.
    assert (
        "te weinig reacties" in teams["Kompas Jeugd"]
        and "te weinig reacties" in teams["Kompas Soest"]
    )
    assert "provider" not in options(page, "by") and "provider" not in options(page, "by2")
    asked = page_html(client, "/staff/dashboard/?period=2026&by=provider&by2=")
    assert "MetMaya" not in asked  # asking by URL gives the default breakdown, not others
    export = get(client, "/staff/dashboard/export.csv?period=2026&by=team&by2=&table=breakdown")
    assert export.status_code == 200 and "MetMaya" not in export.get_data(as_text=True)
    assert "Team Soest" not in export.get_data(as_text=True)
    assert get(client, "/staff/dashboard/startfoto.docx?period=2026").status_code == 403


def test_a_provider_reads_and_decides_only_its_own_comments_and_quotes(app, db):
    from survey.quotes import operations as quotes
    from tests.quote_helpers import prepare

    kompas = Provider(slug="kompas", name="Jeugdzorg Kompas")
    db.add(kompas)
    db.flush()
    ended = date(2026, 3, 10)
    ids = {}
    for n in range(6):  # 6 parents of each provider: both published at k = 5
        ids["metmaya", n] = make_comment(db, f"Goed geholpen, rood {n}.", end_date=ended)
        ids["kompas", n] = make_comment(
            db, f"Goed geholpen, blauw {n}.", end_date=ended, provider=kompas, team="Kompas"
        )
    db.commit()
    prepare(app, db)

    quality, _ = signed_in_client(app, db, "quality", provider="kompas")
    listed = text_of(get(quality, "/staff/dashboard/comments?period=2026&group=parent").text)
    assert "Goed geholpen, blauw 3." in listed and "rood" not in listed

    comms, _ = signed_in_client(app, db, "communications", provider="kompas")
    queue = get(comms, "/staff/quotes/?period=2026&group=parent").text
    assert "Goed geholpen, blauw 1." in text_of(queue) and "rood" not in queue
    token = csrf_token(queue)
    theirs = comms.post(
        f"/staff/quotes/{ids['metmaya', 1]}",
        data={"csrf_token": token, "action": "approve", "text": "Goed geholpen, rood 1."},
    )
    assert theirs.status_code == 404  # another provider's quote: as if it did not exist
    ours = comms.post(
        f"/staff/quotes/{ids['kompas', 1]}",
        data={"csrf_token": token, "action": "approve", "text": "Goed geholpen, blauw 1."},
    )
    assert ours.status_code == 302
    db.expire_all()
    regional = make_staff(db, "communications")[0]
    quotes.decide(db, ids["metmaya", 2], "approve", regional)
    exported = get(comms, "/staff/quotes/export.md").get_data(as_text=True)
    assert "Goed geholpen, blauw 1." in exported and "rood" not in exported
    assert exported.rstrip().endswith("(Bron: Ervaringswijzer Jeugdzorg Kompas)")
    assert get(comms, "/staff/quotes/infoblad.md?period=2026").status_code == 403


def test_users_create_scopes_an_account_to_a_provider(app, db, runner):
    from sqlalchemy.exc import IntegrityError

    db.add(Provider(slug="kompas", name="Jeugdzorg Kompas"))
    add_municipality(db, "Soest")
    db.commit()

    def create(*args: str):
        return runner.invoke(
            args=["users", "create", *args, "--password-stdin"],
            input="een lang en sterk wachtwoord\n",
        )

    made = create("kwaliteit@kompas.example.nl", "--role", "quality", "--provider", "kompas")
    assert made.exit_code == 0 and "limited to Jeugdzorg Kompas" in made.output
    for args, reason in (
        (("--role", "viewer", "--provider", "kompass"), "'kompass' is not a provider"),
        (
            ("--role", "viewer", "--provider", "kompas", "--municipality", "Soest"),
            "not both",
        ),
    ):
        refused = create("iemand@kompas.example.nl", *args)
        assert refused.exit_code == 1 and reason in refused.output, refused.output
    assert db.scalar(select(func.count()).select_from(StaffUser)) == 1
    user = db.scalar(select(StaffUser))
    user.municipality = db.scalar(select(Municipality))  # two scopes, however it is written:
    with pytest.raises(IntegrityError):  # the database refuses it
        db.commit()
    db.rollback()


# --- anonymity across scopes -----------------------------------------------------------------


@pytest.fixture
def region_of_two_providers(db):
    """The mixed region of the dashboard tests, Team Oost moved to a second provider (with its
    episodes and answers, as a correction would): MetMaya has Noord and Zuid, Kompas has Oost."""
    mixed_region(db)
    kompas = Provider(slug="kompas", name="Jeugdzorg Kompas")
    db.add(kompas)
    db.flush()
    for table in ("episode", "response"):
        db.execute(
            text(f"UPDATE {table} SET provider_id = :p WHERE team = 'Team Oost'"),
            {"p": kompas.id},
        )
    db.commit()
    for name in ("Amersfoort", "Leusden"):
        add_municipality(db, name)
    db.commit()
    return kompas


def test_moving_trajectories_to_another_provider_moves_their_counts(db, region_of_two_providers):
    connection = db.connection()
    assert kept(connection) == rebuilt(connection)
    providers = connection.execute(text("SELECT DISTINCT provider_id FROM funnel_cell")).all()
    assert len(providers) == 2


def test_every_scope_publishes_only_nodes_of_the_one_pattern(app, db, region_of_two_providers):
    """A provider's tables are the region's provider × X tables of that provider, a
    municipality's the region's municipality × X of it, suppressed alike: combining scopes can
    only combine nodes of one pattern."""
    k = app.config["MIN_CELL_SIZE"]
    compared = hidden = 0
    for key in ("2025", "2026-Q1", "2025-03"):
        period = Period.of(PublicationPeriod.parse(key))
        for scope, values in (("provider", ("metmaya", "kompas")), ("municipality", ("Leusden",))):
            for other in ("team", "municipality", "care_type", "group"):
                if other == scope:
                    continue
                region = cohort_rows(db, (scope, other), period, k, margins=True)
                for value in values:
                    where = {scope: value}
                    scoped = cohort_rows(db, (other,), period, k, margins=True, where=where)
                    expected = {r[other]: r for r in region if r[scope] == value}
                    assert {r[other] for r in scoped} <= set(expected), (key, where, other)
                    for row in scoped:
                        twin = expected[row[other]]
                        assert row["suppressed"] == twin["suppressed"], (key, where, row[other])
                        hidden += row["suppressed"]
                        for measure in MEASURES:
                            assert row[measure] == twin[measure], (key, where, row[other], measure)
                        compared += 1
    assert compared > 80 and hidden > 0


def true_leaves(db, lattice, year: int) -> np.ndarray:
    """Answered invitations per leaf (group × month × team × municipality × care type) of
    `year`, counted from the base tables, in the lattice's level order."""
    levels = lattice.levels
    shape = (2, 12, *(len(levels[d]) for d in ("team", "municipality", "care_type")))
    leaves = np.zeros(shape, dtype=np.int64)
    rows = db.execute(
        select(
            Invitation.respondent_group,
            Episode.end_date,
            Episode.team,
            Episode.municipality,
            Episode.care_type,
        )
        .join(Invitation.episode)
        .where(Invitation.responded_at.is_not(None))
    ).all()
    for group, ended, team, town, care in rows:
        if ended.year != year:
            continue
        index = (
            ("youth", "parent").index(group),
            ended.month - 1,
            levels["team"].index(team),
            levels["municipality"].index(town),
            levels["care_type"].index(care),
        )
        leaves[index] += 1
    return leaves


@pytest.mark.parametrize("year", [2025, 2026])
def test_what_every_scope_sees_together_gives_no_small_group_away(
    app, db, region_of_two_providers, year
):
    """The attack: two providers' staff, a municipality and the region pool every figure they
    can see, of every period and breakdown of the year. All of it is a shown node of the year's
    pattern (the test above); no hidden group of 1 to k-1 families, and no set of leaves with 1
    to k-1 families, follows from the shown nodes — solved exactly."""
    k = app.config["MIN_CELL_SIZE"]
    lattice = lattice_of(db, year, k)
    assert lattice.levels["provider"] == ["kompas", "metmaya"]
    assert not lattice.is_hidden("youth", 0, {"provider": "metmaya"})  # providers are shown
    leaves = true_leaves(db, lattice, year)
    small = int(((leaves >= 1) & (leaves < k)).sum())
    assert small > 10  # many small groups to protect
    assert exact_derivable(leaves, lattice)[0] == []
    found = small_set_derivable(leaves, lattice)
    assert found is None, f"{int(leaves[found].sum())} families follow from {found.sum()} leaves"


def test_report_by_provider_in_json_names_each_provider(app, db, runner, region_of_two_providers):
    done = runner.invoke(
        args=["report", "--period", "2025", "--by", "provider,group", "--format", "json"]
    )
    rows = json.loads(done.output)["rows"]
    assert {r["provider"] for r in rows} == {"kompas", "metmaya"}
    invited = db.scalar(
        select(func.count())
        .select_from(Invitation)
        .join(Invitation.episode)
        .where(Episode.team == "Team Oost")
        .where(Episode.end_date.between(date(2025, 1, 1), date(2025, 12, 31)))
    )
    assert sum(r["invited"] for r in rows if r["provider"] == "kompas") == invited


def test_an_admin_makes_a_provider_account_on_the_accounts_page(app, db):
    from tests.pages import field_error

    for slug, name in (("metmaya", "MetMaya"), ("kompas", "Jeugdzorg Kompas")):
        db.add(Provider(slug=slug, name=name))
    add_municipality(db, "Soest")
    db.commit()
    admin, _ = signed_in_client(app, db, "admin")
    page = get(admin, "/staff/admin/users").get_data(as_text=True)
    assert options(page, "provider") == ["", "kompas", "metmaya"]
    fields = {"email": "kwaliteit@kompas.example.nl", "password": "een lang en sterk wachtwoord"}
    refused = admin.post(
        "/staff/admin/users",
        data={
            **fields,
            "role": "quality",
            "provider": "kompas",
            "municipality": "Soest",
            "csrf_token": csrf_token(page),
        },
    )
    assert refused.status_code == 400
    message = "Fout: Kies een gemeente of een zorgaanbieder, niet allebei."
    assert field_error(refused.get_data(as_text=True), "provider") == message
    made = admin.post(
        "/staff/admin/users",
        data={**fields, "role": "quality", "provider": "kompas", "csrf_token": csrf_token(page)},
    )
    assert made.status_code == 302
    listing = text_of(get(admin, "/staff/admin/users").get_data(as_text=True))
    assert "kwaliteit@kompas.example.nl" in listing and "Jeugdzorg Kompas" in listing
    user = db.scalar(select(StaffUser).where(StaffUser.email == "kwaliteit@kompas.example.nl"))
    assert user.provider.slug == "kompas" and user.role == "quality"


def test_a_providers_admin_reads_what_its_own_staff_did_and_administers_nothing(app, db):
    from survey.accounts import audit

    two_providers_in_soest(db)
    ours = make_staff(db, "communications", provider="kompas")[0]
    theirs = make_staff(db, "communications")[0]
    for actor, what in ((ours, "kompas-export"), (theirs, "region-export")):
        audit.record(db, "export", object_type="quotes", object_id=what, actor=actor)
    db.commit()
    admin, _ = signed_in_client(app, db, "admin", provider="kompas")
    log = text_of(get(admin, "/staff/admin/audit").get_data(as_text=True))
    assert "kompas-export" in log and "region-export" not in log
    assert theirs.email not in log
    for page in ("/staff/admin/users", "/staff/admin/import", "/staff/admin/outbox"):
        assert get(admin, page).status_code == 403, page
