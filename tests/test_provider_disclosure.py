"""Providers in the one protected publication: a provider's figures are nodes of the pattern.

A region publishes every provider's figures and the region's own. Region minus one provider is
the others; a provider with one small team in a month is that team. So the team axis is a tree
(teams under their providers, the providers under the region) and one pattern covers it all:
an attacker who holds every figure of every provider, every municipality and the region for
every period of the year must not learn the count of any set of 1 to k-1 families.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings

from analysis.audit import small_set_derivable
from analysis.disclosure import TOTAL
from analysis.publication import PublicationPeriod, build_lattice, exact_derivable, lines
from tests.test_group_disclosure import RANDOM_YEARS, every_level_used, random_years
from tests.test_publication import pair_leaves, random_year

TEAMS = ["A1", "A2", "B1", "C1"]
OWNER = {"A1": "Alfa", "A2": "Alfa", "B1": "Beta", "C1": "Gamma"}
NAMES = {"team": TEAMS, "municipality": ["X", "Y"], "care_type": ["c1", "c2"]}
SHAPES = ((2, 12, 3, 1, 1), (2, 12, 4, 1, 1), (2, 12, 3, 2, 1))
YEAR = PublicationPeriod(2026, "year").time_node


def levels_of(shape: tuple[int, ...]) -> dict[str, list[str]]:
    return {dim: NAMES[dim][:size] for dim, size in zip(NAMES, shape[2:], strict=True)}


def provider_leaves(leaves: np.ndarray, sent: np.ndarray) -> pd.DataFrame:
    """The pair cells with each team's provider, as the database gives them."""
    frame = pair_leaves(leaves, sent, levels_of(leaves.shape))
    return frame.assign(provider=frame["team"].map(OWNER).fillna(""))


def provider_year(seed: int, rate: float, k: int, shape: tuple[int, ...]):
    leaves, sent = random_year(seed, rate, shape)
    return leaves, build_lattice(provider_leaves(leaves, sent), 2026, k)


def test_a_provider_is_the_sum_of_its_teams_and_the_providers_make_the_region():
    shape = (2, 12, 4, 2, 1)
    leaves = np.full(shape, 6)
    lattice = build_lattice(provider_leaves(leaves, leaves + 2), 2026, 5)

    def n(place):
        index = lattice.lookup(np.array([lattice.code_of(TOTAL, YEAR, place)]))[0]
        assert index >= 0, f"{place} is no node"
        return int(lattice.n[index])

    assert lattice.levels["provider"] == ["Alfa", "Beta", "Gamma"]
    assert n({"provider": "Alfa"}) == 2 * 12 * 2 * 2 * 6  # two teams, two municipalities
    assert n({"provider": "Alfa", "municipality": "X"}) == 2 * 12 * 2 * 6
    assert sum(n({"provider": p}) for p in ("Alfa", "Beta", "Gamma")) == n({})
    assert n({"provider": "Beta"}) == n({"team": "B1"})
    # Every published figure is one of the lattice's equations' members, providers included.
    assert all(len(line) >= 2 for matrix in lines(lattice) for line in matrix)
    assert not lattice.hidden[lattice.n >= 5].any()  # nothing small: everything is shown


def test_one_provider_is_the_region_and_changes_nothing():
    shape = (2, 12, 2, 2, 1)
    leaves, sent = random_year(3, 1.5, shape)
    plain = build_lattice(pair_leaves(leaves, sent, levels_of(shape)), 2026, 5)
    frame = pair_leaves(leaves, sent, levels_of(shape))
    named = build_lattice(frame.assign(provider="Alfa"), 2026, 5)
    assert (plain.codes == named.codes).all() and (plain.hidden == named.hidden).all()
    assert named.code_of(TOTAL, YEAR, {"provider": "Alfa"}) == named.code_of(TOTAL, YEAR)
    assert named.code_of(TOTAL, YEAR, {"provider": "Elders"}) == -1


def test_a_team_of_two_providers_is_refused():
    shape = (2, 12, 2, 1, 1)
    leaves, sent = random_year(1, 1.5, shape)
    frame = provider_leaves(leaves, sent)
    frame.loc[frame.index[frame["team"] == "A1"][0], "provider"] = "Beta"
    with pytest.raises(ValueError, match="more than one provider"):
        build_lattice(frame, 2026, 5)


def test_the_region_minus_the_large_provider_does_not_give_the_small_one_away():
    # Beta's only team had 2 youth answers in March; Alfa's teams many. The region's March and
    # Alfa's March are both tempting to show — together they are Beta's March.
    shape = (2, 12, 3, 1, 1)
    leaves = np.full(shape, 8)
    leaves[0, 2, 2] = 2
    lattice = build_lattice(provider_leaves(leaves, leaves + 3), 2026, 5)
    march = PublicationPeriod(2026, "month", 3).time_node
    assert lattice.is_hidden("youth", march, {"provider": "Beta"})
    assert lattice.is_hidden("youth", march, {"team": "B1"})
    region = lattice.is_hidden("youth", march)
    alfa = lattice.is_hidden("youth", march, {"provider": "Alfa"})
    assert region or alfa, "the region's and Alfa's March are both shown: Beta's follows"
    assert exact_derivable(leaves, lattice)[0] == []
    assert small_set_derivable(leaves, lattice) is None


@pytest.mark.parametrize("seed", range(3))
def test_no_hidden_node_follows_with_three_providers(seed):
    leaves, lattice = provider_year(seed, 1.2, 5, (2, 12, 4, 2, 1))
    assert lattice.certified > 10 and not lattice.hidden.all()
    assert exact_derivable(leaves, lattice)[0] == []


@settings(max_examples=20, **RANDOM_YEARS)  # beside the fixed years of the tests above
@given(*random_years(SHAPES))
def test_no_small_set_of_families_follows_across_providers(seed, rate, k, shape):
    assume(every_level_used(seed, rate, shape))
    leaves, lattice = provider_year(seed, rate, k, shape)
    mask = small_set_derivable(leaves, lattice)
    assert mask is None, (
        f"seed={seed} rate={rate} k={k} shape={shape}: {int(mask.sum())} leaves with "
        f"{int(leaves[mask].sum())} responses follow"
    )


@pytest.mark.parametrize("seed", range(3))
def test_certificates_alone_protect_providers_in_years_too_large_for_the_set_audit(
    seed, monkeypatch
):
    # A national year has far more leaves than the exact set audit takes: there the
    # certificates (null patterns along the provider tree), the line rule over every
    # provider's teams and the pair audit must hold on their own.
    monkeypatch.setattr("analysis.publication.set_audit.SET_AUDIT_LEAVES", 0)
    leaves, lattice = provider_year(seed, 1.2, 5, (2, 12, 4, 2, 1))
    assert lattice.certified > 10 and not lattice.hidden.all()
    assert exact_derivable(leaves, lattice)[0] == []
