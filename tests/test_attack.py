"""The curious insider, through the product's own outputs: every period, every breakdown.

Real invitations and answers are written through the service for one year; then every table
the `report` command offers — every publication period of that year (months, quarters, halves,
the year) × every breakdown (group, the period grains, one or two of team, municipality and
care type) — is fetched as JSON, and every shown figure becomes an equation over the leaves
(group × month × team × municipality × care type). The attacker solves the system exactly: no
group of 1 to k-1 responses that any table hid may be derivable, nor small unions of them.
The same battery runs over the web (tests/test_attack_web.py).
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from analysis.disclosure import TOTAL, TOTAL_LABEL
from analysis.publication import PublicationPeriod, periods_between
from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import Comment
from tests.factories import make_episode, make_invited

YEAR = 2025
TEAMS, MUNICIPALITIES, CARE = (
    ["Team A", "Team B", "Team C"],
    ["Oost", "West"],
    ["Begeleiding", "Verblijf"],
)
PLACES = {"team": TEAMS, "municipality": MUNICIPALITIES, "care_type": CARE}
GROUPS = ("youth", "parent")
SHAPE = (2, 12, len(TEAMS), len(MUNICIPALITIES), len(CARE))


def fill_year(db, seed: int, *, rate: float = 1.1) -> tuple[np.ndarray, np.ndarray]:
    """Invitations, answers and some comments for YEAR through the real service; the true
    answers and comments per leaf."""
    random = np.random.default_rng(seed)
    questionnaires = load_questionnaires()
    answers, comments = np.zeros(SHAPE, dtype=int), np.zeros(SHAPE, dtype=int)
    now = datetime(YEAR + 1, 1, 10, 12)
    for index in np.ndindex(SHAPE):
        g, m, t, mu, c = index
        for _ in range(random.poisson(rate)):
            episode = make_episode(
                db,
                end_date=date(YEAR, m + 1, 1 + int(random.integers(0, 28))),
                team=TEAMS[t],
                municipality=MUNICIPALITIES[mu],
                care_type=CARE[c],
                youth_age=16,
            )
            invitation, _ = make_invited(
                db, episode=episode, respondent_group=GROUPS[g], now=now - timedelta(days=5)
            )
            if random.random() < 0.45:
                given = {"self_direction": int(random.integers(1, 11)), "usefulness": 7}
                if random.random() < 0.5:
                    given["comment"] = f"Opmerking {int(random.integers(1_000_000))}"
                    comments[index] += 1
                assert submit_response(db, invitation, questionnaires[GROUPS[g]], given, "nl", now)
                answers[index] += 1
    for comment in db.scalars(select(Comment)):
        text = next(a.value_text for a in comment.response.answers if a.item_id == "comment")
        comment.deidentified_text = text  # as the worker does
    db.commit()
    return answers, comments


def leaf_mask(values: dict, period: PublicationPeriod) -> np.ndarray:
    """The leaves a figure of `period` counts: a dimension absent or `TOTAL` is a margin.

    Downloads name a margin by its label ("Totaal"); this year has no team of that name.
    """
    values = {key: TOTAL if value == TOTAL_LABEL else value for key, value in values.items()}
    mask = np.zeros(SHAPE, dtype=bool)
    group = values.get("group", TOTAL)
    groups = [GROUPS.index(group)] if group != TOTAL else [0, 1]
    months = range(period.start.month - 1, period.end.month)
    for grain in ("month", "quarter", "year"):
        label = values.get(grain, TOTAL)
        if label != TOTAL:
            inner = PublicationPeriod.parse(label)
            if period.contains(inner):
                months = range(inner.start.month - 1, inner.end.month)
    selectors = [groups, list(months)]
    for dim, levels in PLACES.items():
        value = values.get(dim, TOTAL)
        selectors.append([levels.index(value)] if value != TOTAL else list(range(len(levels))))
    mask[np.ix_(*selectors)] = True
    return mask


def row_space(masks: list[np.ndarray]) -> np.ndarray:
    """An orthonormal basis of what the published figures determine."""
    matrix = np.array([m.reshape(-1) for m in masks], dtype=float)
    _, singular, vt = np.linalg.svd(matrix, full_matrices=False)
    return vt[: int((singular > 1e-9 * max(matrix.shape) * singular.max()).sum())]


def derivable(basis: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the sum over `mask` follows from the published figures."""
    vector = mask.reshape(-1).astype(float)
    return bool(np.abs(vector - basis.T @ (basis @ vector)).max() < 1e-8)


BREAKDOWNS = [
    (),
    ("group",),
    *[(grain,) for grain in ("month", "quarter", "year")],
    *[("group", grain) for grain in ("month", "quarter")],
    *[(d,) for d in PLACES],
    *[("group", d) for d in PLACES],
    *[(grain, d) for grain in ("month", "quarter") for d in PLACES],
    *[tuple(pair) for pair in itertools.combinations(PLACES, 2)],
    *[("group", *pair) for pair in itertools.combinations(PLACES, 2)],
    *[("month", *pair) for pair in itertools.combinations(PLACES, 2)],
]


def published_equations(runner) -> tuple[list[np.ndarray], list[float], list[np.ndarray]]:
    """Every shown figure of every table of the year as (leaf mask, responses), and the masks
    of every hidden figure."""
    shown_masks, values, hidden_masks = [], [], []
    finer = {"year": ("half", "quarter", "month"), "half": ("quarter", "month")}
    finer["quarter"] = ("month",)
    for period in periods_between(date(YEAR, 1, 1), date(YEAR, 12, 1)):
        for dims in BREAKDOWNS:
            grains = [d for d in dims if d in ("month", "quarter", "year")]
            if grains and grains[0] not in finer.get(period.kind, ()):
                continue  # the same table as without that grain
            args = ["report", "--period", period.key, "--format", "json"]
            if dims:
                args += ["--by", ",".join(dims)]
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
            for row in json.loads(result.output)["rows"]:
                mask = leaf_mask({d: row[d] for d in dims}, period)
                if row["suppressed"]:
                    hidden_masks.append(mask)
                else:
                    shown_masks.append(mask)
                    values.append(row["responded"])
    return shown_masks, values, hidden_masks


# The tables come from the same kept cells on both databases (tests/test_cells.py); the web
# battery (tests/test_attack_web.py) runs on PostgreSQL.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_combination_of_every_published_table_singles_out_a_small_group(runner, db):
    seed = 1
    truth, _ = fill_year(db, seed)
    shown, values, hidden = published_equations(runner)
    # every shown figure is true, and none rests on fewer than 5 responses
    for mask, value in zip(shown, values, strict=True):
        assert truth[mask].sum() == value
        assert value >= 5
    basis = row_space(shown)
    k = 5
    small = [m for m in hidden if 1 <= truth[m].sum() < k]
    assert len(small) > 30  # the year really has small groups to protect
    leaks = [m for m in small if derivable(basis, m)]
    assert leaks == []
    # unions and differences of two hidden small groups
    random = np.random.default_rng(seed)
    for _ in range(400):
        a, b = (small[i] for i in random.choice(len(small), 2, replace=False))
        for mask in (a | b, a & ~b):
            if 1 <= truth[mask].sum() < k:
                assert not derivable(basis, mask)


def test_free_dates_and_finer_tables_are_refused(runner, db):
    fill_year(db, 3)
    free = runner.invoke(args=["report", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-02-28"])
    assert free.exit_code == 2
    assert "not a publication period" in free.output
    assert "Traceback" not in free.output
    one_side = runner.invoke(args=["report", "--from", f"{YEAR}-01-01"])
    assert one_side.exit_code == 2 and "both --from and --to" in one_side.output
    triple = runner.invoke(args=["report", "--by", "team,municipality,care_type"])
    assert triple.exit_code == 2 and "at most two" in triple.output
    quarter = runner.invoke(
        args=["report", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-03-31", "--format", "json"]
    )
    by_key = runner.invoke(args=["report", "--period", f"{YEAR}-Q1", "--format", "json"])
    assert quarter.exit_code == 0 and quarter.output == by_key.output
