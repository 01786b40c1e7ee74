"""One protected publication: fixed periods and one suppression pattern for everything shown.

Disclosure control table by table (`analysis.disclosure.suppress`) cannot see what other tables
give away: January–March minus January–February is March, and a team's March may be one family.
So every figure the product publishes is a node of one *lattice*, and one suppression pattern is
decided over the whole lattice before any table is shown.

**Fixed publication periods.** A period is a calendar month, quarter, half year or year, never
free dates: months add up to quarters, quarters to half years, half years to the year. Every
period lies inside one calendar year, so the years are independent blocks: no published figure
combines two years, and the pattern of one year is decided (and can be cached) on its own.

**The lattice of a year.** A node is respondent group × time × team × municipality × care type,
where each coordinate is a level or the margin `TOTAL`, and time is one of the year's 19 periods.
The product shows breakdowns of at most two of team, municipality and care type, so the
published nodes are those with at least one of the three at `TOTAL` (the union of the three
*pair cubes*); the nodes with all three set are never shown. Every published node obeys the line
equations of its pair cube: along group, team, municipality or care type the cells add up to the
margin, and along time each period is the sum of its parts. An attacker is assumed to know
every shown node of every pair cube of the year.

**The pattern.** Every node with 1 to k−1 responses is hidden and must not be derivable from the
shown nodes. Exact audits (a hidden node is derivable iff its indicator lies in the row space of
the equations restricted to the hidden nodes) need dense linear algebra over all hidden nodes of
a year at once, which does not scale. Instead each such node gets a *certificate*: a product of
one null pattern per axis (two sibling cells with opposite signs, or a cell and its margin with
equal signs; in time, two periods' paths up to their common parent with opposite signs, or a
month's path up to the year), all of whose corners are hidden or never published. Such a product
is a null vector of every line equation of the lattice, so the attacker's equations are also
solved by moving along it: the node's value is not determined (the hypercube method of
Repsilber, as in τ-ARGUS). Corners that are known to be empty (nothing was sent) cannot move and
are never used. The certificate is chosen per node by coordinate descent on the number of
responses it would newly hide. Then the line rule: in every line whose margin is shown, the
hidden cells that are not known to be empty hold no cells, or at least two and together at
least k responses (else their sum follows by subtraction).

`exact_derivable` is the exact audit over the leaves (group × month × team × municipality × care
type) for small blocks: the tests run it against this pattern.

Beyond single nodes and lines: `_group_audit` unties every pair of hidden nodes whose sum or
difference would follow, and `_set_audit` searches every set of leaves exactly (years up to
`SET_AUDIT_LEAVES`). A pattern decided after the cells changed keeps showing what the previous
one showed unchanged (`previous`), so two downloads hold nothing the new one was not decided
with.

What remains (docs/threat-model.md): bounds from non-negativity; sets of three or more hidden
groups in years above `SET_AUDIT_LEAVES`; and the answers given between two downloads of a
year that still receives answers.
"""

from __future__ import annotations

import calendar
import io
import itertools
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from analysis.disclosure import TOTAL

log = logging.getLogger(__name__)

PERIOD_KINDS = ("month", "quarter", "half", "year")
GROUPS = ("youth", "parent")
PLACE_DIMENSIONS = ("team", "municipality", "care_type")
PAIRS = (("team", "care_type"), ("municipality", "care_type"), ("team", "municipality"))

MONTH_NAMES_NL = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
MONTH_NAMES_EN = tuple(calendar.month_name[m] for m in range(1, 13))


class PeriodError(ValueError):
    """A period that is not one of the fixed publication periods."""


# --- periods ---------------------------------------------------------------------------------

# Time nodes of one year: 0 the year, 1-2 the halves, 3-6 the quarters, 7-18 the months.
YEAR_NODE = 0
_FIRST = {"year": 0, "half": 1, "quarter": 3, "month": 7}
_MONTHS_PER = {"year": 12, "half": 6, "quarter": 3, "month": 1}
TIME_NODES = 19


def _parent(node: int) -> int | None:
    if node == YEAR_NODE:
        return None
    if node < 3:
        return YEAR_NODE
    if node < 7:
        return 1 + (node - 3) // 2
    return 3 + (node - 7) // 3


def _children(node: int) -> list[int]:
    return [child for child in range(TIME_NODES) if _parent(child) == node]


def _months_of(node: int) -> list[int]:
    """The month nodes under a time node (itself for a month)."""
    if node >= 7:
        return [node]
    return [m for child in _children(node) for m in _months_of(child)]


def _path_up(node: int, stop: int | None = None) -> list[int]:
    """`node` and its ancestors up to (not including) `stop`, or to the year."""
    path = []
    current: int | None = node
    while current is not None and current != stop:
        path.append(current)
        current = _parent(current)
    return path


TIME_EQUATIONS = tuple((parent, tuple(_children(parent))) for parent in range(7))
"""Every period that is a sum of parts: (parent, its children)."""


@dataclass(frozen=True, order=True)
class PublicationPeriod:
    """A calendar month, quarter, half year or year: the only periods the product publishes."""

    year: int
    kind: str
    number: int = 1

    def __post_init__(self) -> None:
        if self.kind not in PERIOD_KINDS:
            raise PeriodError(f"unknown kind of period {self.kind!r}")
        if not 1 <= self.number <= 12 // _MONTHS_PER[self.kind]:
            raise PeriodError(f"there is no {self.kind} {self.number}")
        if not 1900 <= self.year <= 9999:
            raise PeriodError(f"year {self.year} is out of range")

    @property
    def start(self) -> date:
        return date(self.year, (self.number - 1) * _MONTHS_PER[self.kind] + 1, 1)

    @property
    def end(self) -> date:
        last_month = self.number * _MONTHS_PER[self.kind]
        return date(self.year, last_month, calendar.monthrange(self.year, last_month)[1])

    @property
    def key(self) -> str:
        """'2026-03', '2026-Q1', '2026-H1' or '2026': the value of forms and URLs."""
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        if self.kind == "half":
            return f"{self.year}-H{self.number}"
        return str(self.year)

    @property
    def time_node(self) -> int:
        return _FIRST[self.kind] + self.number - 1

    def label(self, language: str = "nl") -> str:
        """What readers see: 'maart 2026', '1e kwartaal 2026', '1e halfjaar 2026', '2026'."""
        english = language == "en"
        if self.kind == "month":
            names = MONTH_NAMES_EN if english else MONTH_NAMES_NL
            return f"{names[self.number - 1]} {self.year}"
        if self.kind == "quarter":
            return (
                f"Q{self.number} {self.year}" if english else f"{self.number}e kwartaal {self.year}"
            )
        if self.kind == "half":
            if english:
                return f"{'first' if self.number == 1 else 'second'} half of {self.year}"
            return f"{self.number}e halfjaar {self.year}"
        return str(self.year)

    def contains(self, other: PublicationPeriod) -> bool:
        return self.start <= other.start and other.end <= self.end

    @classmethod
    def parse(cls, text: str) -> PublicationPeriod:
        """'2026-03', '2026-Q1', '2026-H2' or '2026' (PeriodError otherwise)."""
        text = (text or "").strip().upper()
        patterns = {
            "month": r"(\d{4})-(\d{2})",
            "quarter": r"(\d{4})-Q(\d)",
            "half": r"(\d{4})-H(\d)",
            "year": r"(\d{4})",
        }
        for kind, pattern in patterns.items():
            match = re.fullmatch(pattern, text)
            if match:
                number = int(match.group(2)) if kind != "year" else 1
                return cls(int(match.group(1)), kind, number)
        raise PeriodError(
            f"{text!r} is not a publication period: use a month (2026-03), a quarter (2026-Q1), "
            "a half year (2026-H1) or a year (2026)"
        )

    @classmethod
    def from_range(cls, start: date, end: date) -> PublicationPeriod:
        """The period that runs exactly from `start` to `end` (PeriodError if none does)."""
        for kind in PERIOD_KINDS:
            size = _MONTHS_PER[kind]
            if start.day == 1 and (start.month - 1) % size == 0:
                period = cls(start.year, kind, (start.month - 1) // size + 1)
                if period.end == end:
                    return period
        raise PeriodError(
            f"{start.isoformat()} … {end.isoformat()} is not a publication period: choose a "
            "whole calendar month, quarter, half year or year (for example --from 2026-01-01 "
            "--to 2026-03-31)"
        )


def periods_between(first: date, last: date) -> list[PublicationPeriod]:
    """Every publication period that overlaps first … last, newest first, coarsest first."""
    result = []
    for year in range(last.year, first.year - 1, -1):
        for kind in PERIOD_KINDS[::-1]:
            for number in range(12 // _MONTHS_PER[kind], 0, -1):
                period = PublicationPeriod(year, kind, number)
                if period.start <= last and period.end >= first:
                    result.append(period)
    return result


def time_node_of_label(label: str, period: PublicationPeriod) -> int:
    """The time node of a period label ('2026-03', '2026-Q1', '2026') inside `period`.

    A label coarser than `period` (the year of a March table) stands for `period` itself: the
    table only holds that period's figures.
    """
    node = PublicationPeriod.parse(label)
    if node.year != period.year:
        raise PeriodError(f"{label} lies outside {period.key}")
    return node.time_node if period.contains(node) else period.time_node


# --- the lattice of one year -----------------------------------------------------------------


@dataclass
class Lattice:
    """Every publishable node of one year, with its counts and the suppression pattern.

    Nodes are stored by an integer code (mixed radix over group, time, team, municipality, care
    type; the margin of each axis is its last level). `hidden[i]` is the pattern.
    """

    year: int
    k: int
    levels: dict[str, list[str]]
    codes: np.ndarray  # sorted node codes
    n: np.ndarray  # responses per node (the smallest of the response counts given)
    sent: np.ndarray
    hidden: np.ndarray
    n_max: np.ndarray  # the largest response count: a node with any response needs protection
    certified: int = 0  # nodes with 1..k-1 responses that got a certificate
    kept: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Nodes shown by the previous pattern whose counts have not changed since: still shown."""

    # -- coding --
    @property
    def radix(self) -> tuple[int, ...]:
        return (3, TIME_NODES, *(len(self.levels[d]) + 1 for d in PLACE_DIMENSIONS))

    @property
    def strides(self) -> np.ndarray:
        radix = self.radix
        return np.array([int(np.prod(radix[i + 1 :])) for i in range(len(radix))], dtype=np.int64)

    def total_code(self, axis: int) -> int:
        return self.radix[axis] - 1 if axis != 1 else YEAR_NODE

    def code_of(self, group: str, time_node: int, place: dict[str, str] | None = None) -> int:
        """The code of a node: `group` ('youth', 'parent' or TOTAL), `place` dim → level."""
        place = place or {}
        coordinates = [GROUPS.index(group) if group != TOTAL else 2, time_node]
        for dim in PLACE_DIMENSIONS:
            value = place.get(dim, TOTAL)
            levels = self.levels[dim]
            single = len(levels) == 1  # its only level holds the same families as its margin
            coordinates.append(
                levels.index(value) if value != TOTAL and not single else len(levels)
            )
        return int(np.dot(coordinates, self.strides))

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Index of each code in the lattice, -1 for codes that are not published nodes."""
        codes = np.asarray(codes, dtype=np.int64)
        position = np.searchsorted(self.codes, codes)
        position = np.minimum(position, len(self.codes) - 1)
        found = self.codes[position] == codes
        return np.where(found, position, -1)

    def is_hidden(self, group: str, time_node: int, place: dict[str, str] | None = None) -> bool:
        """Whether the node is suppressed (a node not in the lattice has nothing in it)."""
        index = int(self.lookup(np.array([self.code_of(group, time_node, place)]))[0])
        return bool(self.hidden[index]) if index >= 0 else False

    def state(self) -> bytes:
        """The pattern with the counts it was decided for: the `previous` of the next one."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            levels=np.array(json.dumps(self.levels)),
            codes=self.codes,
            n=self.n,
            n_max=self.n_max,
            sent=self.sent,
            hidden=self.hidden,
        )
        return buffer.getvalue()

    @property
    def known(self) -> np.ndarray:
        """Nodes an attacker knows the value of although they are hidden: none.

        A hidden node shows no invitation count either, so "nothing was sent here" is not
        published; a reader who knows it from elsewhere (a team that never works in a
        municipality) has a bound like non-negativity, which this audit does not cover.
        """
        return np.zeros(len(self.codes), dtype=bool)


def build_lattice(
    leaves: pd.DataFrame,
    year: int,
    k: int,
    *,
    hidden: np.ndarray | None = None,
    coarse: bool = False,
    previous: bytes | None = None,
) -> Lattice:
    """The lattice of `year` from the pair cells, with its suppression pattern.

    Args:
        leaves: one row per pair cell: `pair` (one of `PAIRS`, as 'team+care_type'),
            `group` ('youth'/'parent'), `month` (1-12), the three place dims (the one not in
            the pair is ignored), `sent` and `n` (responses; with several counts of responses,
            such as answered invitations and marks given, their minimum decides what is shown)
            and optionally `n_max` (their maximum: a node with any response is protected).
        year: the calendar year of the block.
        k: MIN_CELL_SIZE.
        hidden: a pattern decided before for exactly these leaves (one flag per node, in node
            order): taken as it is instead of deciding it again.
        coarse: publish only the group × period table (every breakdown by team, municipality
            or care type hidden): decided in milliseconds, for a page that cannot wait for the
            whole pattern.
        previous: `Lattice.state()` of the pattern published before for this year. Whatever
            it showed has been seen; where the counts have not changed since, the new pattern
            shows it again (`Lattice.kept`) and is decided around it, so that no reader who
            holds both learns more than from the new one alone (see `_suppress`).
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError("k must be a whole number of at least 1")
    levels = {
        dim: sorted({str(v) for v in leaves.loc[_uses(leaves, dim), dim]})
        for dim in PLACE_DIMENSIONS
    }
    if "n_max" not in leaves.columns:
        leaves = leaves.assign(n_max=leaves["n"])
    codes, measures = _nodes(leaves, levels)
    lattice = Lattice(
        year,
        int(k),
        levels,
        codes,
        measures["n"],
        measures["sent"],
        np.zeros(len(codes), dtype=bool),
        measures["n_max"],
    )
    lattice.kept = _carried_over(previous, lattice)
    if hidden is None:
        _suppress(lattice, coarse=coarse)
    else:
        # Stored as packed bits, so up to 7 padding bits may follow.
        if not 0 <= len(hidden) - len(codes) < 8:
            raise ValueError("the stored pattern does not fit these cells")
        lattice.hidden[:] = hidden[: len(codes)]
        if (~lattice.hidden & (lattice.n < lattice.k)).any():
            raise ValueError("the stored pattern shows a group below k")
    return lattice


def _carried_over(previous: bytes | None, lattice: Lattice) -> np.ndarray:
    """Which nodes the previous pattern showed with exactly the counts they have now.

    Nodes are matched by their labels (a new team changes every code); a node whose counts
    changed (new answers, a purge) is free again: what was seen of it is a figure of other
    data.
    """
    kept = np.zeros(len(lattice.codes), dtype=bool)
    if not previous:
        return kept
    old = np.load(io.BytesIO(previous), allow_pickle=False)
    levels = json.loads(str(old["levels"]))
    radix = np.array((3, TIME_NODES, *(len(levels[d]) + 1 for d in PLACE_DIMENSIONS)))
    strides = np.array([int(np.prod(radix[i + 1 :])) for i in range(5)], dtype=np.int64)
    coordinates = (old["codes"][:, None] // strides) % radix
    for axis, dim in enumerate(PLACE_DIMENSIONS, start=2):
        now = lattice.levels[dim]
        total = len(now)
        mapping = [
            (total if len(now) == 1 else now.index(level)) if level in now else -1
            for level in levels[dim]
        ]
        coordinates[:, axis] = np.array([*mapping, total])[coordinates[:, axis]]
    valid = (coordinates >= 0).all(axis=1)
    index = lattice.lookup(np.where(valid, coordinates @ lattice.strides, -1))
    same = valid & (index >= 0) & ~old["hidden"]
    for measure in ("n", "n_max", "sent"):
        same &= getattr(lattice, measure)[index] == old[measure]
    kept[index[same]] = True
    return kept


def small_groups(leaves: pd.DataFrame, k: int) -> int:
    """How many nodes of the year's lattice hold 1 to k-1 responses: the work of a pattern."""
    if "n_max" not in leaves.columns:
        leaves = leaves.assign(n_max=leaves["n"])
    levels = {
        dim: sorted({str(v) for v in leaves.loc[_uses(leaves, dim), dim]})
        for dim in PLACE_DIMENSIONS
    }
    _, measures = _nodes(leaves, levels)
    return int(((measures["n_max"] >= 1) & (measures["n"] < k)).sum())


def _uses(leaves: pd.DataFrame, dim: str) -> pd.Series:
    return leaves["pair"].str.split("+").map(lambda pair: dim in pair).astype(bool)


_MEASURES = ("n", "sent", "n_max")


def _nodes(
    leaves: pd.DataFrame, levels: dict[str, list[str]]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The codes of every published node, and its counts."""
    radix = (3, TIME_NODES, *(len(levels[d]) + 1 for d in PLACE_DIMENSIONS))
    strides = np.array([int(np.prod(radix[i + 1 :])) for i in range(5)], dtype=np.int64)
    all_codes: list[np.ndarray] = []
    all_measures: dict[str, list[np.ndarray]] = {m: [] for m in _MEASURES}
    for pair in PAIRS:
        rows = leaves[leaves["pair"] == "+".join(pair)]
        a, b = pair
        shape = (3, TIME_NODES, len(levels[a]) + 1, len(levels[b]) + 1)
        cubes = {}
        for measure in _MEASURES:
            cube = np.zeros(shape, dtype=np.int64)
            if len(rows):
                index = (
                    rows["group"].map({g: i for i, g in enumerate(GROUPS)}).to_numpy(),
                    rows["month"].to_numpy(dtype=np.int64) + _FIRST["month"] - 1,
                    rows[a].astype(str).map({v: i for i, v in enumerate(levels[a])}).to_numpy(),
                    rows[b].astype(str).map({v: i for i, v in enumerate(levels[b])}).to_numpy(),
                )
                np.add.at(cube, index, rows[measure].to_numpy(dtype=np.int64))
            cubes[measure] = _with_margins(cube)
        grid = np.indices(shape).reshape(4, -1)
        coordinates = {0: grid[0], 1: grid[1]}
        for dim_axis, dim in enumerate(PLACE_DIMENSIONS):
            if dim == a:
                coordinates[2 + dim_axis] = grid[2]
            elif dim == b:
                coordinates[2 + dim_axis] = grid[3]
            else:
                coordinates[2 + dim_axis] = np.full(grid.shape[1], len(levels[dim]))
        codes = sum(coordinates[axis] * strides[axis] for axis in range(5))
        # A dimension with one level: that level and its margin are the same families, so
        # only the margin is a node (and no line runs along that dimension).
        keep = np.ones(len(codes), dtype=bool)
        for dim_axis, dim in enumerate(PLACE_DIMENSIONS):
            if len(levels[dim]) == 1:
                keep &= coordinates[2 + dim_axis] != 0
        all_codes.append(codes[keep])
        for measure in _MEASURES:
            all_measures[measure].append(cubes[measure].reshape(-1)[keep])
    codes = np.concatenate(all_codes)
    measures = {m: np.concatenate(values) for m, values in all_measures.items()}
    unique, first = np.unique(codes, return_index=True)
    # Shared faces (a team's margin is in two pair cubes) must agree: the pair cells count the
    # same people three times.
    check = pd.DataFrame({"code": codes, **measures}).groupby("code")[list(_MEASURES)]
    if ((check.max() - check.min()).to_numpy() != 0).any():
        raise ValueError("the pair cells disagree on their shared margins")
    return unique, {m: values[first] for m, values in measures.items()}


def _with_margins(cube: np.ndarray) -> np.ndarray:
    """Fill the margins of a (group, time, a, b) cube whose leaves hold the months' counts."""
    cube[2] = cube[0] + cube[1]
    for parent in range(6, -1, -1):  # quarters, then halves, then the year
        cube[:, parent] = cube[:, _children(parent)].sum(axis=1)
    cube[:, :, -1, :] = cube[:, :, :-1, :].sum(axis=2)
    cube[:, :, :, -1] = cube[:, :, :, :-1].sum(axis=3)
    return cube


# --- the pattern -----------------------------------------------------------------------------


def _suppress(lattice: Lattice, *, coarse: bool = False) -> None:
    """Primary suppression, a certificate per small node, then the line rule — in two stages.

    1. The group × period table alone (every breakdown by team, municipality or care type
       hidden): its small totals get certificates and its lines the line rule. This is the
       whole pattern with `coarse`, what a page shows while the full pattern is not decided.
    2. The breakdowns, with the totals of stage 1 fixed: no other total may be hidden to
       protect a breakdown cell. So everything stage 1 shows, the full pattern shows as well,
       and a reader who saw both learns nothing from the pair. When a breakdown cell cannot
       be protected that way, the year keeps the pattern of stage 1 (no breakdowns).

    Without breakdowns, only the small group × period totals need certificates: every shown
    figure is then a sum over all teams, municipalities and care types alike, so no
    combination of them singles out one cell of a dimension with two or more levels, and a
    dimension with one level is its own margin.
    """
    k, kept = lattice.k, lattice.kept
    matrices = lines(lattice)
    primaries = np.flatnonzero((lattice.n_max >= 1) & (lattice.n < k))
    lattice.certified = len(primaries)
    lattice.hidden[:] = lattice.n < k
    boxes = _Boxes(lattice, keep_totals=False)
    lattice.hidden[~boxes.place_total] = True
    kept_totals = kept & boxes.place_total
    if not (
        boxes.certify_all(primaries[boxes.place_total[primaries]])
        and _line_rule(lattice, fixed=kept_totals, matrices=matrices)
        and _group_audit(lattice, boxes, matrices, scope=boxes.place_total, fixed=kept_totals)
        and _set_audit(lattice, matrices, scope=boxes.place_total, fixed=kept_totals)
    ):
        log.warning("no certificate found in %s: only the figures shown before stay", lattice.year)
        lattice.hidden[:] = ~kept
        return
    totals = lattice.hidden & boxes.place_total
    kept_breakdowns = bool((kept & ~boxes.place_total).any())
    if coarse:
        if kept_breakdowns:  # they have been seen: the quick pattern was not decided with them
            lattice.hidden[:] = ~kept
        return
    coarse_pattern = lattice.hidden.copy()
    lattice.hidden[:] = (lattice.n < k) | totals
    boxes = _Boxes(lattice, keep_totals=True)
    fixed = boxes.place_total | kept
    if (
        boxes.certify_all(primaries)
        and _line_rule(lattice, fixed=fixed, matrices=matrices)
        and _group_audit(lattice, boxes, matrices, fixed=fixed)
        and _set_audit(lattice, matrices, fixed=fixed)
    ):
        return
    log.warning("%s: breakdowns withheld to protect a small group", lattice.year)
    lattice.hidden[:] = ~kept if kept_breakdowns else coarse_pattern


_FORBIDDEN = 1e12  # a corner known to be empty (it cannot move): counts, so fewer is better


class _Boxes:
    """Finds and hides a certificate box per node (see the module docstring), vectorised.

    An axis pattern is a row of coordinates (padded with -1) and a box is one pattern per
    axis; the codes of its corners are the outer sum of coordinate × stride over the axes. What
    a corner costs: nothing when it is never published (all three place coordinates set) or
    already hidden, its responses + 1 when it would have to be hidden, infinity when it is
    known to be empty (it cannot move) — so a box costs the responses it newly hides.
    """

    def __init__(self, lattice: Lattice, *, keep_totals: bool = True) -> None:
        self.lattice = lattice
        self.keep_totals = keep_totals
        self.strides = lattice.strides
        self.totals = np.array([lattice.total_code(axis) for axis in range(5)], dtype=np.int64)
        self.known = lattice.known
        self.certified = np.zeros(len(lattice.codes), dtype=bool)
        coordinates = (lattice.codes[:, None] // self.strides) % np.array(lattice.radix)
        margins = (coordinates[:, [0, 2, 3, 4]] == self.totals[[0, 2, 3, 4]]).sum(axis=1)
        coarse_time = np.select(
            [coordinates[:, 1] == 0, coordinates[:, 1] < 3, coordinates[:, 1] < 7], [3, 2, 1], 0
        )
        self.weights = 2.0 ** (margins + coarse_time)
        self.place_total = (coordinates[:, 2:] == self.totals[2:]).all(axis=1)

    def certify_all(self, primaries: np.ndarray) -> bool:
        for index in primaries:
            if self.certified[index] or not self.lattice.hidden[index]:
                continue  # a corner of an earlier box: that box's null vector moves it too
            if not self.certify(int(self.lattice.codes[index])):
                return False
        return True

    def node_costs(self) -> np.ndarray:
        """Responses hidden, weighted by how coarse the node is: hiding a team's month costs
        its responses, hiding a group's year (the infoblad table) many times more."""
        lattice = self.lattice
        cost = (lattice.n + 1).astype(float) * self.weights
        cost[lattice.hidden] = 0.0
        cost[self.known] = _FORBIDDEN
        if len(lattice.kept):  # shown before and unchanged: seen, so it stays shown
            cost[lattice.kept & ~lattice.hidden] = _FORBIDDEN
        if self.keep_totals:  # stage 2: the totals of stage 1 are fixed
            cost[self.place_total & ~lattice.hidden] = _FORBIDDEN
        return cost

    def certify(self, code: int, avoid: int | None = None) -> bool:
        """Hide a certificate box around the node `code`; `avoid`: a node the box may not use
        (a second certificate that tells two hidden nodes apart, see `_group_audit`)."""
        point = _decode(self.lattice, code)
        options = [self._options(axis, value) for axis, value in enumerate(point)]
        cost = self.node_costs()
        if avoid is not None:
            cost[avoid] = _FORBIDDEN
        chosen = [0] * 5
        # Start per axis from the option whose own corners (the others fixed at the node) are
        # cheapest, then improve one axis at a time while the whole box gets cheaper; when
        # known-empty corners block that path, restart from other options (seeded: the same
        # data always gives the same pattern), and as a last resort try every combination.
        single = [opt[:1, :1] * 0 + np.array([[v]]) for opt, v in zip(options, point, strict=True)]
        for axis in range(5):
            chosen[axis] = int(np.argmin(self._costs(options, single, axis, cost)))
        best, chosen = self._descend(options, chosen, cost)
        if best > 0 and self._is_margin(point) and self._heavy(options, chosen):
            # A margin (a whole team, month or group) is protected by a box of margins: a
            # local optimum there can hide a group's whole year. Descend from every option.
            for axis, axis_options in enumerate(options):
                for option in range(len(axis_options)):
                    start = list(chosen)
                    start[axis] = option
                    value, found = self._descend(options, start, cost)
                    if value < best:
                        best, chosen = value, found
        random = np.random.default_rng(code)
        for _ in range(8):
            if best < _FORBIDDEN:
                break
            start = [int(random.integers(len(o))) for o in options]
            best, chosen = self._descend(options, start, cost)
        if best >= _FORBIDDEN:
            best, chosen = self._search(options, cost)
            if best >= _FORBIDDEN:
                return False
        index = self._published_corners([options[a][chosen[a]] for a in range(5)])
        self.lattice.hidden[index] = True
        self.certified[index] = True
        return True

    def _heavy(self, options: list[np.ndarray], chosen: list[int]) -> bool:
        """Whether the box would newly hide a coarse node (a group's half year or year)."""
        index = self._published_corners([options[a][chosen[a]] for a in range(5)])
        newly = index[~self.lattice.hidden[index]]
        return bool(len(newly)) and float(self.weights[newly].max()) >= 2.0**4

    def _is_margin(self, point: list[int]) -> bool:
        place_totals = sum(point[a] == self.totals[a] for a in (2, 3, 4))
        return point[1] < 7 or point[0] == self.totals[0] or place_totals >= 2

    def _descend(
        self, options: list[np.ndarray], chosen: list[int], cost: np.ndarray
    ) -> tuple[float, list[int]]:
        chosen = list(chosen)
        best = np.inf
        for _ in range(6):
            improved = False
            for axis in range(5):
                fixed = [options[a][chosen[a] : chosen[a] + 1] for a in range(5)]
                costs = self._costs(options, fixed, axis, cost)
                option = int(np.argmin(costs))
                if costs[option] < best:
                    best, chosen[axis], improved = float(costs[option]), option, True
                if best == 0:
                    return best, chosen
            if not improved:
                break
        return best, chosen

    def _options(self, axis: int, value: int) -> np.ndarray:
        patterns = _axis_patterns(self.lattice, axis, value)
        width = max(len(p) for p in patterns)
        array = np.full((len(patterns), width), -1, dtype=np.int64)
        for row, pattern in enumerate(patterns):
            array[row, : len(pattern)] = [v for v, _ in pattern]
        return array

    def _costs(
        self, options: list[np.ndarray], fixed: list[np.ndarray], axis: int, cost: np.ndarray
    ) -> np.ndarray:
        """The cost of the box for every option of `axis`, the other axes as in `fixed`."""
        choices = options[axis]  # (n_options, width), padded with -1
        n = len(choices)

        def shaped(values: np.ndarray, a: int) -> np.ndarray:
            # (n or 1, 1, …, len at a + 1, …, 1)
            lead = values.shape[0] if values.ndim == 2 else 1
            shape = [lead, 1, 1, 1, 1, 1]
            shape[a + 1] = values.shape[-1]
            return values.reshape(shape)

        coordinates = [
            shaped(choices, a) if a == axis else shaped(fixed[a][0][fixed[a][0] >= 0], a)
            for a in range(5)
        ]
        codes = coordinates[0] * self.strides[0]
        for a in range(1, 5):
            codes = codes + coordinates[a] * self.strides[a]
        free = (coordinates[2] != self.totals[2]) & (coordinates[3] != self.totals[3])
        free = free & (coordinates[4] != self.totals[4])
        valid = coordinates[axis] >= 0
        index = self.lattice.lookup(codes.reshape(-1)).reshape(codes.shape)
        corner = np.where(index >= 0, cost[np.maximum(index, 0)], _FORBIDDEN)
        corner = np.where(free | ~valid, 0.0, corner)
        return (
            np.broadcast_to(corner, np.broadcast_shapes(corner.shape, (n, 1, 1, 1, 1, 1)))
            .reshape(n, -1)
            .sum(axis=1)
        )

    def _published_corners(self, patterns: list[np.ndarray]) -> np.ndarray:
        values = [p[p >= 0] for p in patterns]
        grids = np.meshgrid(*values, indexing="ij")
        codes = sum(grid * self.strides[a] for a, grid in enumerate(grids)).reshape(-1)
        free = (grids[2] != self.totals[2]) & (grids[3] != self.totals[3])
        free = (free & (grids[4] != self.totals[4])).reshape(-1)
        index = self.lattice.lookup(codes[~free])
        if (index < 0).any():
            raise ValueError("a certificate corner is not a node of the lattice")
        return index

    def _search(self, options: list[np.ndarray], cost: np.ndarray) -> tuple[float, list[int]]:
        """Known-empty corners block the descent: try every combination (bounded)."""
        best, chosen = float(_FORBIDDEN), [0] * 5
        ranges = [range(len(o)) for o in options[:4]]
        for trial in itertools.islice(itertools.product(*ranges), 20_000):
            fixed = [options[a][trial[a] : trial[a] + 1] for a in range(4)]
            fixed.append(options[4][:1])
            costs = self._costs(options, fixed, 4, cost)
            option = int(np.argmin(costs))
            if costs[option] < best:
                best, chosen = float(costs[option]), [*trial, option]
                if best == 0:
                    break
        return best, chosen


def _axis_patterns(lattice: Lattice, axis: int, value: int) -> list[list[tuple[int, int]]]:
    """Null patterns of one axis that hold `value` with sign +1."""
    if axis == 1:
        return _TIME_PATTERNS[value]
    total = lattice.radix[axis] - 1
    if axis >= 2 and total == 1:
        return [[(total, 1)]]  # one level: no line runs along it
    others = [v for v in range(total) if v != value]
    if value == total:
        return [[(value, 1), (other, 1)] for other in others]
    return [[(value, 1), (total, 1)], *([(value, 1), (other, -1)] for other in others)]


def _build_time_patterns(node: int) -> list[list[tuple[int, int]]]:
    patterns = []
    for month in _months_of(node):
        patterns.append([(n, 1) for n in _path_up(month)])
    for month in _months_of(node):
        for other in range(7, TIME_NODES):
            if other in _months_of(node):
                continue
            common = _common_ancestor(month, other)
            mine = _path_up(month, common)
            if node not in mine:
                continue
            patterns.append([*((n, 1) for n in mine), *((n, -1) for n in _path_up(other, common))])
    return patterns


def _common_ancestor(a: int, b: int) -> int:
    ancestors = set(_path_up(a))
    return next(n for n in _path_up(b) if n in ancestors)


_TIME_PATTERNS = {node: _build_time_patterns(node) for node in range(TIME_NODES)}


def _decode(lattice: Lattice, code: int) -> list[int]:
    coordinates = []
    for stride in lattice.strides:
        coordinates.append(code // int(stride))
        code %= int(stride)
    return coordinates


def lines(lattice: Lattice) -> list[np.ndarray]:
    """Every line equation of the published lattice as index matrices (margin last)."""
    radix = lattice.radix
    result = []
    for pair in PAIRS:
        axes = [0, 1, *(2 + PLACE_DIMENSIONS.index(d) for d in pair)]
        third = next(2 + i for i, d in enumerate(PLACE_DIMENSIONS) if d not in pair)
        for axis in axes:
            if axis >= 2 and radix[axis] == 2:
                continue  # one level: it is its own margin
            others = [a for a in axes if a != axis]
            ranges = [
                [radix[a] - 1] if a >= 2 and radix[a] == 2 else list(range(radix[a]))
                for a in others
            ]
            grid = np.array(list(itertools.product(*ranges)), dtype=np.int64).T
            base = np.full(grid.shape[1], (radix[third] - 1) * lattice.strides[third])
            for position, a in enumerate(others):
                base = base + grid[position] * lattice.strides[a]
            if axis == 1:
                for parent, children in TIME_EQUATIONS:
                    members = [*children, parent]
                    codes = base[:, None] + np.array(members) * lattice.strides[1]
                    result.append(_found(lattice.lookup(codes)))
            else:
                members = list(range(radix[axis]))  # the margin is the last level
                codes = base[:, None] + np.array(members) * lattice.strides[axis]
                result.append(_found(lattice.lookup(codes)))
    return result


def _found(index: np.ndarray) -> np.ndarray:
    if (index < 0).any():
        raise ValueError("a line of the lattice runs through a node that does not exist")
    return index


def _line_rule(
    lattice: Lattice,
    fixed: np.ndarray | None = None,
    matrices: list[np.ndarray] | None = None,
) -> bool:
    """Hide more until every line's hidden cells protect each other (see module docstring).

    `fixed`: nodes whose state may not change (the totals of stage 1); False when a line can
    only be mended by hiding one of them. `matrices`: `lines(lattice)`, when already known.
    """
    known, n = lattice.known, lattice.n
    fixed = np.zeros(len(n), dtype=bool) if fixed is None else fixed
    matrices = lines(lattice) if matrices is None else matrices
    while True:
        changed = False
        for matrix in matrices:
            exposed = _exposed(lattice, matrix)
            for row in np.flatnonzero(exposed):
                members = matrix[row]
                if not _still_exposed(lattice, members):
                    continue
                candidates = [
                    m for m in members if not lattice.hidden[m] and not known[m] and not fixed[m]
                ]
                if not candidates:
                    if fixed[members].any():
                        return False
                    raise ValueError("inconsistent lattice: a hidden node has no partner")
                lattice.hidden[min(candidates, key=lambda m: (n[m], m))] = True
                changed = True
        if not changed:
            return True


def _exposed(lattice: Lattice, matrix: np.ndarray) -> np.ndarray:
    """Per line (a row of node indices, margin last): does it give a hidden group away?

    Yes when it holds one hidden node with responses (it follows by subtraction), or when its
    margin is shown and its hidden nodes together hold 1 to k-1 responses. Hidden nodes that
    hold no responses at all may follow (that nobody of a group answered is not protected);
    a node inside a certificate never does, since the certificate gives it a partner in every
    line.
    """
    hidden = lattice.hidden[matrix] & ~lattice.known[matrix]
    count = hidden.sum(axis=1)
    anything = np.where(hidden, lattice.n_max[matrix], 0).sum(axis=1)
    inner = np.where(hidden[:, :-1], lattice.n_max[matrix[:, :-1]], 0).sum(axis=1)
    alone = (count == 1) & (anything >= 1)
    return alone | (~hidden[:, -1] & (inner >= 1) & (inner < lattice.k))


def _still_exposed(lattice: Lattice, members: np.ndarray) -> bool:
    return bool(_exposed(lattice, members[None, :])[0])


# --- sums of hidden groups across lines ------------------------------------------------------

_SAMPLES = 3  # random null vectors per audit: a false "derivable" needs a coincidence in all
_TOLERANCE = 1e-7
_DENSE = 1_500  # components up to this many hidden nodes are projected densely
_ROUNDS = 12


def _group_audit(
    lattice: Lattice,
    boxes: _Boxes,
    matrices: list[np.ndarray],
    *,
    scope: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> bool:
    """Hide more until no sum or difference of two hidden nodes gives a small group away.

    A certificate protects its own node, and the line rule the hidden cells of one line. Two
    hidden nodes in different lines can still be tied together: when every null vector of
    the attacker's equations moves them by opposite amounts, their sum follows (the two
    small diagonal corners of a box of three or more axes), and when it moves them equally
    while one holds the other, their difference does. Both are tested exactly, on random
    vectors of the null space of the line equations restricted to the hidden nodes: z_a +
    z_b is derivable iff r_a + r_b = 0 for every null vector r, and a coincidence on
    `_SAMPLES` random ones has probability zero. Each pair that gives away a set of 1 to
    k-1 responses (a union of two disjoint nodes, or a node minus one inside it) gets a
    second certificate around one of the two that avoids the other: its null vector moves
    one and not the other, which unties them. Sets of three or more hidden nodes are not
    searched here; the tests search every set of leaves exactly (`analysis.audit`).

    `scope`: the nodes that can be shown (stage 1: the group × period totals; the hidden
    breakdowns are free there, and equations through them tell nothing). False when a pair
    cannot be untied without changing a `fixed` node.
    """
    scope = np.ones(len(lattice.codes), dtype=bool) if scope is None else scope
    fixed = np.zeros(len(lattice.codes), dtype=bool) if fixed is None else fixed
    for _ in range(_ROUNDS):
        pairs = _tied_pairs(lattice, matrices, scope)
        if not pairs:
            return True
        for a, b in pairs:
            if not boxes.certify(int(lattice.codes[a]), avoid=b if b != a else None):
                return False
        if not _line_rule(lattice, fixed=fixed, matrices=matrices):
            return False
    return not _tied_pairs(lattice, matrices, scope)


def _tied_pairs(
    lattice: Lattice, matrices: list[np.ndarray], scope: np.ndarray
) -> list[tuple[int, int]]:
    """(a, b): hidden nodes whose union or difference is a derivable set of 1..k-1 responses.

    `a` holds responses; it is the node to untie. A single derivable node comes back as (a, a).
    """
    hidden = np.flatnonzero(lattice.hidden & ~lattice.known & scope)
    if not len(hidden):
        return []
    samples = _null_samples(lattice, matrices, hidden, scope)
    size = np.abs(samples).max(axis=1)
    k, n, n_max = lattice.k, lattice.n[hidden], lattice.n_max[hidden]
    result = [(int(hidden[i]), int(hidden[i])) for i in np.flatnonzero(size < _TOLERANCE)]
    result = [(a, b) for a, b in result if lattice.n_max[a] >= 1 and lattice.n[a] < k]
    moving = np.flatnonzero(size >= _TOLERANCE)
    if len(moving) < 2:
        return result
    from scipy.spatial import cKDTree

    tree = cKDTree(samples[moving])
    union = tree.query_ball_point(-samples[moving], r=_TOLERANCE)
    difference = tree.query_pairs(r=_TOLERANCE, output_type="ndarray")
    relation = _Relation(lattice, hidden)
    for i, partners in enumerate(union):
        for j in partners:
            a, b = moving[i], moving[j]
            small = n_max[a] + n_max[b] >= 1 and n[a] + n[b] < k
            if a < b and small and relation.disjoint(a, b):
                result.append(_untie(hidden, n_max, a, b))
    for i, j in difference:
        a, b = moving[i], moving[j]
        for outer, inner in ((a, b), (b, a)):
            small = n_max[outer] - n[inner] >= 1 and n[outer] - n_max[inner] < k
            if small and relation.inside(inner, outer):
                result.append((int(hidden[outer]), int(hidden[inner])))
    return result


def _untie(hidden: np.ndarray, n_max: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """The pair with the node that holds responses first (it gets the second certificate)."""
    return (int(hidden[a]), int(hidden[b])) if n_max[a] >= 1 else (int(hidden[b]), int(hidden[a]))


class _Relation:
    """Whether two nodes share no families, or one holds all of the other's."""

    def __init__(self, lattice: Lattice, nodes: np.ndarray) -> None:
        radix = np.array(lattice.radix)
        self.coordinates = (lattice.codes[nodes][:, None] // lattice.strides) % radix
        self.totals = np.array([lattice.total_code(axis) for axis in range(5)])
        self.months = _MONTH_MASKS[self.coordinates[:, 1]]

    def disjoint(self, a: int, b: int) -> bool:
        ca, cb = self.coordinates[a], self.coordinates[b]
        if not self.months[a] & self.months[b]:
            return True
        return any(
            ca[axis] != cb[axis] and self.totals[axis] not in (ca[axis], cb[axis])
            for axis in (0, 2, 3, 4)
        )

    def inside(self, inner: int, outer: int) -> bool:
        ci, co = self.coordinates[inner], self.coordinates[outer]
        if self.months[inner] & ~self.months[outer]:
            return False
        return all(co[axis] in (self.totals[axis], ci[axis]) for axis in (0, 2, 3, 4))


_MONTH_MASKS = np.array(
    [sum(1 << (m - 7) for m in _months_of(node)) for node in range(TIME_NODES)], dtype=np.int64
)


def _null_samples(
    lattice: Lattice, matrices: list[np.ndarray], hidden: np.ndarray, scope: np.ndarray
) -> np.ndarray:
    """`_SAMPLES` random vectors of the null space of the line equations over `hidden`.

    The equations are the lines whose nodes all lie in `scope`, restricted to their hidden
    nodes (the shown ones are constants to the attacker). The hidden nodes fall apart into
    components that share no equation; each is projected on its own (dense when small,
    LSQR when large), with a generator seeded by the data, so the same cells always give
    the same pattern.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import lsqr

    column = np.full(len(lattice.codes), -1, dtype=np.int64)
    column[hidden] = np.arange(len(hidden))
    row_parts, column_parts, value_parts, rows = [], [], [], 0
    for matrix in matrices:
        matrix = matrix[scope[matrix].all(axis=1)]
        columns = column[matrix]
        members = columns >= 0
        keep = members.any(axis=1)
        columns, members = columns[keep], members[keep]
        signs = np.ones(matrix.shape[1])
        signs[-1] = -1.0
        r, c = np.nonzero(members)
        row_parts.append(r + rows)
        column_parts.append(columns[r, c])
        value_parts.append(signs[c])
        rows += len(columns)
    equations = sparse.csr_matrix(
        (np.concatenate(value_parts), (np.concatenate(row_parts), np.concatenate(column_parts))),
        shape=(rows, len(hidden)),
    )
    random = np.random.default_rng(int(lattice.n.sum()) + len(hidden))
    result = random.standard_normal((len(hidden), _SAMPLES))
    linked = (equations.T @ equations).tocsr()
    count, label = connected_components(linked, directed=False)
    touched = equations.tocsc()
    for component in range(count):
        members = np.flatnonzero(label == component)
        block = touched[:, members]
        used = np.unique(block.nonzero()[0])
        if not len(used):
            continue  # in no equation: the node is free
        block = block[used]
        target = result[members]
        if len(members) <= _DENSE:
            dense = block.toarray()
            solution = np.linalg.lstsq(dense.T, target, rcond=None)[0]
            result[members] = target - dense.T @ solution
        else:
            transposed = block.T.tocsr()
            for sample in range(_SAMPLES):
                solution = lsqr(transposed, target[:, sample], atol=1e-14, btol=1e-14)[0]
                result[members, sample] = target[:, sample] - transposed @ solution
    return result


# --- every set of leaves, exactly (small years) ----------------------------------------------

SET_AUDIT_LEAVES = 1_500
"""Years with up to this many leaves (2 groups × 12 months × teams × municipalities × care
types) get the exact audit over every set of leaves; larger ones the pair audit only."""
_SET_ROUNDS = 200


def _set_audit(
    lattice: Lattice,
    matrices: list[np.ndarray],
    *,
    scope: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> bool:
    """Hide more until no set of leaves with 1 to k-1 responses follows from the shown nodes.

    Certificates, the line rule and the pair audit protect nodes, lines and pairs; a union of
    three hidden groups, or a period minus two months of another, can still follow. A set S
    of leaves follows iff its indicator v is a combination yᵀA of the shown nodes' leaf
    indicators A, and then its count is y · (the shown counts) — so whether any such set of
    1 to k-1 responses exists is a mixed-integer program over binary v and free y, which
    HiGHS answers exactly enough for small years (a near-solution only hides one node more
    than needed). Each set found is broken by hiding the cheapest shown node the derivation
    uses, and the search repeats. `scope`: as in `_group_audit` (stage 1: the totals, over
    leaves of group × month only). False when a set cannot be broken without a `fixed` node.
    """
    places = (1, 1, 1) if scope is not None else (len(lattice.levels[d]) for d in PLACE_DIMENSIONS)
    shape = (2, 12, *places)
    scope = np.ones(len(lattice.codes), dtype=bool) if scope is None else scope
    fixed = np.zeros(len(lattice.codes), dtype=bool) if fixed is None else fixed
    if int(np.prod(shape)) > SET_AUDIT_LEAVES or lattice.k <= 1:
        return True
    weights = _Boxes(lattice).weights
    for _ in range(_SET_ROUNDS):
        shown = np.flatnonzero(~lattice.hidden & scope)
        try:
            uses = _derivation_of_small_set(lattice, shown, shape)
        except _Unsolved:
            log.warning("%s: the set audit did not finish", lattice.year)
            return False
        if uses is None:
            return True
        candidates = [i for i in shown[uses] if not fixed[i] and not lattice.known[i]]
        if not candidates:
            return False
        cheapest = min(candidates, key=lambda i: ((lattice.n[i] + 1) * weights[i], i))
        lattice.hidden[cheapest] = True
        if not _line_rule(lattice, fixed=fixed, matrices=matrices):
            return False
    return False


def _derivation_of_small_set(
    lattice: Lattice, shown: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray | None:
    """Which shown nodes (positions in `shown`) derive a set of 1..k-1 responses, or None."""
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    if not len(shown):
        return None
    indicators = _sparse_indicators(lattice, shown, shape)  # (shown, leaves)
    counts = lattice.n_max[shown].astype(float)
    n_shown, n_leaves = indicators.shape
    equality = sparse.hstack([indicators.T, -sparse.identity(n_leaves, format="csr")], format="csr")
    size = sparse.hstack([sparse.csr_array(counts[None, :]), sparse.csr_array((1, n_leaves))])
    result = milp(
        np.zeros(n_shown + n_leaves),
        constraints=[LinearConstraint(equality, 0, 0), LinearConstraint(size, 1, lattice.k - 1)],
        integrality=np.concatenate([np.zeros(n_shown), np.ones(n_leaves)]),
        bounds=Bounds(
            np.concatenate([np.full(n_shown, -np.inf), np.zeros(n_leaves)]),
            np.concatenate([np.full(n_shown, np.inf), np.ones(n_leaves)]),
        ),
        options={"time_limit": 30.0},
    )
    if result.status == 2:  # infeasible: no such set
        return None
    if result.x is None:  # not solved in time: treat the year as unsafe
        raise _Unsolved
    return np.flatnonzero(np.abs(result.x[:n_shown]) > 1e-7)


class _Unsolved(Exception):
    """The exact set audit did not finish."""


def _sparse_indicators(lattice: Lattice, nodes: np.ndarray, shape: tuple[int, ...]):
    """The leaf indicators of `nodes` as a sparse matrix over leaves of `shape`."""
    from scipy import sparse

    coordinates = (lattice.codes[nodes][:, None] // lattice.strides) % np.array(lattice.radix)
    rows, columns = [], []
    grid = np.indices(shape).reshape(5, -1).T  # every leaf's coordinates
    flat = np.arange(grid.shape[0])
    month_masks = _MONTH_MASKS[coordinates[:, 1]]
    for row, (point, months) in enumerate(zip(coordinates, month_masks, strict=True)):
        member = ((months >> grid[:, 1]) & 1).astype(bool)
        if point[0] != 2:
            member &= grid[:, 0] == point[0]
        for axis in (2, 3, 4):
            if shape[axis] > 1 and point[axis] != lattice.total_code(axis):
                member &= grid[:, axis] == point[axis]
        columns.append(flat[member])
        rows.append(np.full(member.sum(), row))
    return sparse.csr_array(
        (np.ones(sum(len(c) for c in columns)), (np.concatenate(rows), np.concatenate(columns))),
        shape=(len(nodes), grid.shape[0]),
    )


# --- the exact audit (small blocks: tests and benchmarks) ------------------------------------


def exact_derivable(
    leaves: np.ndarray, lattice: Lattice, sets: Iterable[np.ndarray] = ()
) -> tuple[list[int], list[int]]:
    """Audit `lattice` exactly against the true leaves of the year (small blocks only).

    The attacker knows every shown node (any view of any period of the year); a set of leaves
    is derivable iff its indicator lies in the row space of the shown nodes' indicators.

    Args:
        leaves: responses per leaf, shape (2, 12, teams, municipalities, care types) in the
            lattice's level order.
        lattice: the lattice built from these leaves' pair sums.
        sets: extra candidate sets (boolean leaf masks) whose sum must not be derivable when it
            is between 1 and k-1.

    Returns:
        (hidden nodes with 1..k-1 responses that are derivable, indices of `sets` that are).
    """
    matrix_of = _leaf_indicators(lattice, leaves.shape)
    basis = _row_space(matrix_of(np.flatnonzero(~lattice.hidden)))

    def derivable(vector: np.ndarray) -> bool:
        residual = vector - basis.T @ (basis @ vector)
        return bool(np.abs(residual).max() < 1e-8)

    k = lattice.k
    flat = leaves.reshape(-1)
    small = np.flatnonzero(lattice.hidden & (lattice.n_max >= 1) & (lattice.n < k))
    bad_nodes = [int(i) for i in small if derivable(matrix_of(np.array([i]))[0])]
    bad_sets = []
    for j, mask in enumerate(sets):
        vector = mask.reshape(-1).astype(float)
        if 1 <= flat[mask.reshape(-1)].sum() < k and derivable(vector):
            bad_sets.append(j)
    return bad_nodes, bad_sets


def _row_space(rows: np.ndarray) -> np.ndarray:
    if not len(rows):
        return np.zeros((0, rows.shape[1]))
    _, singular, vt = np.linalg.svd(rows, full_matrices=False)
    rank = int((singular > 1e-9 * max(rows.shape) * max(singular.max(), 1)).sum())
    return vt[:rank]


def _leaf_indicators(lattice: Lattice, shape: tuple[int, ...]):
    """A function: node indices → their indicator rows over the leaves."""
    month_of = {node: [m - 7 for m in _months_of(node)] for node in range(TIME_NODES)}

    def rows(indices: np.ndarray) -> np.ndarray:
        result = np.zeros((len(indices), int(np.prod(shape))))
        for row, index in enumerate(indices):
            g, t, *place = _decode(lattice, int(lattice.codes[index]))
            mask = np.zeros(shape, dtype=bool)
            selector = [
                slice(None) if g == 2 else [g],
                month_of[t],
                *(
                    slice(None) if value == len(lattice.levels[dim]) else [value]
                    for dim, value in zip(PLACE_DIMENSIONS, place, strict=True)
                ),
            ]
            mask[np.ix_(*[_as_list(s, size) for s, size in zip(selector, shape, strict=True)])] = (
                True
            )
            result[row] = mask.reshape(-1)
        return result

    return rows


def _as_list(selector: object, size: int) -> list[int]:
    return list(range(size)) if isinstance(selector, slice) else list(selector)  # type: ignore[arg-type]
