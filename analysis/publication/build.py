"""`build_lattice`: the lattice of a year from the pair cells, and its pattern (`_suppress`)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from analysis.publication.certificates import _Boxes
from analysis.publication.lattice import Lattice, _nodes, levels_of
from analysis.publication.line_rule import _line_rule, lines
from analysis.publication.pair_audit import _group_audit
from analysis.publication.previous import _carried_over
from analysis.publication.set_audit import _set_audit

log = logging.getLogger("analysis.publication")  # one logger for the whole package


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
    levels = levels_of(leaves)
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
