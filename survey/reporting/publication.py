"""The one protected publication, read from the database (see `analysis.publication`).

Every staff view, export, chart, the comments page, the infoblad section and the `report`
command ask this module two things: which publication periods exist, and whether a node of the
year's lattice is hidden. The lattice of a year is built from the pair cells the database keeps
(`survey.cells`), so it costs two small queries; the pattern itself is cached per year, k and a
fingerprint of those cells, and is decided again only when a figure of that year changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from flask import g, has_request_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analysis.disclosure import TOTAL
from analysis.publication import (
    GROUPS,
    PLACE_DIMENSIONS,
    PROVIDER,
    Lattice,
    PeriodError,
    PublicationPeriod,
    axis_size,
    build_lattice,
    level_code,
    periods_between,
    small_groups,
    time_node_of_label,
)
from survey.cells import MARK_ITEMS, funnel_cell, mark_cell
from survey.models import Provider, PublicationPattern, utcnow

PERIOD_DIMENSIONS = ("month", "quarter", "year")
_CACHE: OrderedDict[tuple, Lattice] = OrderedDict()
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def data_months(session: Session) -> tuple[date, date] | None:
    """The first and last month of care that any invitation counts in (None: no data)."""
    first, last = session.execute(
        select(func.min(funnel_cell.c.end_month), func.max(funnel_cell.c.end_month)).where(
            funnel_cell.c.invited > 0
        )
    ).one()
    if first is None:
        return None
    return _as_date(first), _as_date(last)


def available_periods(session: Session) -> list[PublicationPeriod]:
    """Every publication period with data, newest first (years before their halves …)."""
    span = data_months(session)
    return periods_between(*span) if span else []


def default_period(session: Session, today: date | None = None) -> PublicationPeriod:
    """The year of the newest data (this year when there is none yet)."""
    span = data_months(session)
    return PublicationPeriod((span[1] if span else (today or date.today())).year, "year")


def resolve_period(
    session: Session, start: date | None, end: date | None, key: str | None = None
) -> PublicationPeriod:
    """A publication period from `--period`, or from `--from`/`--to` (both or neither)."""
    if key:
        if start or end:
            raise PeriodError("give either --period or --from/--to, not both")
        return PublicationPeriod.parse(key)
    if start is None and end is None:
        return default_period(session)
    if start is None or end is None:
        raise PeriodError(
            "give both --from and --to (a whole month, quarter, half year or year), or neither"
        )
    return PublicationPeriod.from_range(start, end)


IN_REQUEST_LIMIT = 2_000
"""A page decides a year's pattern itself only for up to this many small groups (about two
seconds); beyond that it shows the year without breakdowns until the worker has decided it."""


def lattice_of(session: Session, year: int, k: int) -> Lattice:
    """The lattice and suppression pattern of `year` for the cells as they are now.

    From this process's cache, else from the pattern the worker stored for exactly these cells
    (`decide_patterns`), else decided here — but a web request does not wait for a large year:
    it gets the year without breakdowns (`build_lattice(coarse=True)`, milliseconds) until the
    worker has decided. Never a pattern of other cells: a stale pattern could show a new small
    group.
    """
    # A page shows several tables of one year: read its cells once per request.
    page = g.setdefault("publication_lattices", {}) if has_request_context() else {}
    if (year, int(k)) not in page:
        page[year, int(k)] = _lattice_now(session, year, k)
    return page[year, int(k)]


def _lattice_now(session: Session, year: int, k: int) -> Lattice:
    leaves = year_leaves(session, year)
    digest = _digest(leaves)
    key = (str(session.get_bind().engine.url), year, int(k), digest)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    stored = session.get(PublicationPattern, (year, int(k)))
    if stored is not None and stored.digest == digest:
        with contextlib.suppress(ValueError):  # a pattern that does not fit is decided again
            return _remember(key, build_lattice(leaves, year, k, hidden=_unpack(stored.hidden)))
    previous = stored.state if stored is not None else None
    if has_request_context() and small_groups(leaves, k) > IN_REQUEST_LIMIT:
        coarse_key = (*key, "coarse")
        with _LOCK:
            cached = _CACHE.get(coarse_key)
        quick = build_lattice(leaves, year, k, coarse=True, previous=previous)
        return cached or _remember(coarse_key, quick)
    return _remember(key, _decide(session, year, k, leaves, digest, stored))


def _decide(
    session: Session,
    year: int,
    k: int,
    leaves: pd.DataFrame,
    digest: str,
    stored: PublicationPattern | None,
) -> Lattice:
    """Decide the year's pattern, keeping what the stored one showed, and store it.

    Every full pattern that anyone may see is stored before it is shown: the next one is
    decided around it (`build_lattice(previous=…)`), so two downloads on different days never
    hold two patterns that were decided apart.
    """
    lattice = build_lattice(leaves, year, k, previous=stored.state if stored else None)
    packed = np.packbits(lattice.hidden).tobytes()
    state = lattice.state()
    if stored is None:
        session.add(
            PublicationPattern(
                year=year, min_cell_size=int(k), digest=digest, hidden=packed, state=state
            )
        )
    else:
        stored.digest, stored.hidden, stored.state = digest, packed, state
        stored.decided_at = utcnow()
    try:
        session.commit()
    except IntegrityError:  # another process stored it at the same moment: show that one
        session.rollback()
        stored = session.get(PublicationPattern, (year, int(k)))
        if stored is not None and stored.digest == digest:
            return build_lattice(leaves, year, k, hidden=_unpack(stored.hidden))
        # Decided for other cells: show only what it showed unchanged, until decided again.
        lattice = build_lattice(leaves, year, k, previous=stored.state if stored else None)
        lattice.hidden[:] = ~lattice.kept
    return lattice


def _remember(key: tuple, lattice: Lattice) -> Lattice:
    with _LOCK:
        _CACHE[key] = lattice
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return lattice


def decide_patterns(session: Session, k: int) -> int:
    """Decide and store the pattern of every year whose cells changed; how many were decided.

    Run by the worker and `send` after answers arrive, so that no page waits for it.
    """
    span = data_months(session)
    if span is None:
        return 0
    decided = 0
    for year in range(span[0].year, span[1].year + 1):
        leaves = year_leaves(session, year)
        digest = _digest(leaves)
        stored = session.get(PublicationPattern, (year, int(k)))
        if stored is not None and stored.digest == digest:
            continue
        _decide(session, year, k, leaves, digest, stored)
        decided += 1
    return decided


PATTERN_VERSION = b"4"
"""Part of every fingerprint: a pattern decided by an older rule is never reused."""


def _digest(leaves: pd.DataFrame) -> str:
    cells = pd.util.hash_pandas_object(leaves, index=False).to_numpy().tobytes()
    return hashlib.sha256(PATTERN_VERSION + cells).hexdigest()


def _unpack(packed: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(packed, dtype=np.uint8)).astype(bool)


def year_leaves(session: Session, year: int) -> pd.DataFrame:
    """The pair cells of `year`: sent, and the responses (smallest and largest count)."""
    start, end = date(year, 1, 1), date(year, 12, 1)
    keys = ["pair", "end_month", "respondent_group", "provider_id", *PLACE_DIMENSIONS]
    funnel = pd.DataFrame(
        session.execute(
            select(*(funnel_cell.c[c] for c in keys), funnel_cell.c.sent, funnel_cell.c.responded)
            .where(funnel_cell.c.end_month.between(start, end), funnel_cell.c.invited > 0)
            .order_by(*(funnel_cell.c[c] for c in keys))
        ).all(),
        columns=[*keys, "sent", "responded"],
    )
    marks = pd.DataFrame(
        session.execute(
            select(*(mark_cell.c[c] for c in keys), mark_cell.c.item_id, mark_cell.c.n)
            .where(
                mark_cell.c.end_month.between(start, end),
                mark_cell.c.item_id.in_(MARK_ITEMS),
                mark_cell.c.n > 0,
            )
            .order_by(*(mark_cell.c[c] for c in keys), mark_cell.c.item_id)
        ).all(),
        columns=[*keys, "item_id", "n"],
    )
    if len(marks):
        per_item = marks.pivot_table(
            index=keys, columns="item_id", values="n", aggfunc="sum", fill_value=0
        ).reindex(columns=list(MARK_ITEMS), fill_value=0)
        per_item.columns = [f"n_{item}" for item in per_item.columns]
        frame = funnel.merge(per_item.reset_index(), on=keys, how="outer")
    else:
        frame = funnel.assign(**{f"n_{item}": 0 for item in MARK_ITEMS})
    counts = ["sent", "responded", *(f"n_{item}" for item in MARK_ITEMS)]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    months = pd.to_datetime(frame["end_month"].map(_as_date))
    slugs = dict(session.execute(select(Provider.id, Provider.slug)).all())
    leaves = pd.DataFrame(
        {
            "pair": frame["pair"],
            "group": frame["respondent_group"],
            "month": months.dt.month.astype("int64"),
            **{dim: frame[dim].astype(str) for dim in PLACE_DIMENSIONS},
            "provider": frame["provider_id"].map(slugs).astype(str),
            "sent": frame["sent"],
            "n": frame[counts[1:]].min(axis=1),
            "n_max": frame[counts[1:]].max(axis=1),
        }
    ).reset_index(drop=True)
    return _one_provider_per_team(leaves)


def _one_provider_per_team(leaves: pd.DataFrame) -> pd.DataFrame:
    """A team is one provider's (imports refuse a team name of another provider). Should two
    providers' teams share a name all the same (data from before that rule, a manual fix), each
    becomes its own level, named with its provider: a table that adds both up under the one
    name has no node in the lattice, so it is hidden, never shown unprotected."""
    has_team = leaves["team"] != ""
    owners = leaves.loc[has_team, ["team", "provider"]].drop_duplicates()
    shared = set(owners.loc[owners["team"].duplicated(), "team"])
    if not shared:
        return leaves
    rename = has_team & leaves["team"].isin(shared)
    leaves.loc[rename, "team"] = (
        leaves.loc[rename, "team"] + " (" + leaves.loc[rename, "provider"] + ")"
    )
    return leaves


def hidden_rows(
    lattice: Lattice,
    table: pd.DataFrame,
    dims: Sequence[str],
    period: PublicationPeriod,
    where: Mapping[str, str] | None = None,
) -> pd.Series:
    """For each row of a cohort table of `period` (cells and margins): is its node hidden?

    `where` fixes place coordinates (the table of one municipality, or of one provider: its
    slug): its rows are the nodes with that level. A level the year does not know has no node,
    and neither has a row finer than the lattice: every such row is hidden. A provider lies on
    the team axis (a team is finer: a row with both is the team's node).

    One code per distinct value of each dimension, then one lookup for the whole table (a
    team × municipality table has well over a thousand rows).
    """
    group_of = {**{g: i for i, g in enumerate(GROUPS)}, TOTAL: len(GROUPS)}
    levels = lattice.levels
    coordinates = [np.full(len(table), len(GROUPS)), np.full(len(table), period.time_node)]
    coordinates += [np.full(len(table), axis_size(levels, d) - 1) for d in PLACE_DIMENSIONS]
    unknown = np.zeros(len(table), dtype=bool)
    place_of = {PROVIDER: "team", **{d: d for d in PLACE_DIMENSIONS}}
    for dim, value in (where or {}).items():
        code = level_code(levels, place_of[dim], value)
        if code < 0:
            return pd.Series(True, index=table.index, dtype=bool)
        coordinates[2 + PLACE_DIMENSIONS.index(place_of[dim])] = np.full(len(table), code)
    # the team's code, where a table has both, wins over its provider's
    for dim in sorted(dims, key=lambda d: d == "team"):
        values = table[dim].astype(object)
        if dim == "group":
            axis, mapping = 0, group_of
        elif dim in PERIOD_DIMENSIONS:
            axis = 1
            mapping = {v: time_node_of_label(str(v), period) for v in values.unique() if v != TOTAL}
            mapping[TOTAL] = period.time_node
        else:
            axis = 2 + PLACE_DIMENSIONS.index(place_of[dim])
            mapping = {v: level_code(levels, place_of[dim], str(v)) for v in values.unique()}
        column = values.map(mapping).to_numpy(dtype=np.int64)
        if axis >= 2:  # a margin keeps the scope's level: all teams of a provider are its node
            column = np.where(values.to_numpy() == TOTAL, coordinates[axis], column)
        unknown |= column < 0
        coordinates[axis] = column
    unknown |= foreign_rows(lattice, table, dims).to_numpy()
    codes = np.stack(coordinates, axis=1) @ lattice.strides
    index = lattice.lookup(np.where(unknown, -1, codes))
    # A row that is no node of the lattice is published nowhere: it is not shown either.
    hidden = np.where(index >= 0, lattice.hidden[np.maximum(index, 0)], True)
    return pd.Series(hidden, index=table.index, dtype=bool)


def foreign_rows(lattice: Lattice, table: pd.DataFrame, dims: Sequence[str]) -> pd.Series:
    """Rows of a provider × team table that pair a team with another provider than its own:
    no families, no node — a cross table has them, a reader should not."""
    if PROVIDER not in dims or "team" not in dims:
        return pd.Series(False, index=table.index, dtype=bool)
    owner = dict(
        zip(lattice.levels["team"], lattice.levels.get("provider_of_team", []), strict=False)
    )
    teams, providers = table["team"].astype(object), table[PROVIDER].astype(object)
    set_both = (teams != TOTAL) & (providers != TOTAL)
    return set_both & (teams.map(owner) != providers)


def is_published(
    session: Session,
    k: int,
    period: PublicationPeriod,
    group: str = TOTAL,
    place: Mapping[str, str] | None = None,
) -> bool:
    """Whether the figures of one cohort (group, at most two place dims) of `period` are shown."""
    place = {d: v for d, v in (place or {}).items() if v}
    if len(place) > 2:
        return False
    lattice = lattice_of(session, period.year, k)
    code = lattice.code_of(group, period.time_node, place)
    if code < 0:
        return False
    index = int(lattice.lookup(np.array([code]))[0])
    return index >= 0 and not bool(lattice.hidden[index])


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
