"""The publication-wide suppression pattern of one year, at region and national size.

`python -m bench.publication --size quick|full` builds random years (group × month × team ×
municipality × care type, sparse as real data is: each team works in a few municipalities) and
times `analysis.publication.build_lattice` — the certificate per small group and the line rule
over every node any view of any period of the year can show — against its baseline, the bare
lattice (the same nodes, counts and margins, no protection), median of 3 runs. At the small
size it also times the exact audit (the dense row-space test over the leaves that the tests
use), which grows with the cube of the number of leaves and cannot run at region size.

The pattern is decided once per year and version of that year's cells
(`survey.reporting.publication` caches it), not per request; a page pays the cache lookup.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from analysis.publication import PAIRS, PLACE_DIMENSIONS, _nodes, build_lattice, exact_derivable
from bench.common import median_seconds, record

SIZES = {
    # teams, municipalities, care types, responses per year
    "small": (3, 2, 2, 150),
    "region": (10, 10, 5, 2_000),
    "national": (40, 40, 6, 200_000),
}


def random_year(teams: int, municipalities: int, care: int, responses: int, seed: int = 1):
    random = np.random.default_rng(seed)
    shape = (2, 12, teams, municipalities, care)
    weights = random.dirichlet(np.ones(teams * municipalities * care) * 0.3)
    weights = weights.reshape(shape[2:])
    sent = random.poisson(np.broadcast_to(weights, shape) / 24 * responses * 3)
    return random.binomial(sent, 0.33), sent


def pair_cells(leaves: np.ndarray, sent: np.ndarray) -> pd.DataFrame:
    frames = []
    levels = {
        d: [f"{d[0]}{i}" for i in range(leaves.shape[2 + j])]
        for j, d in enumerate(PLACE_DIMENSIONS)
    }
    for pair in PAIRS:
        axes = [2 + PLACE_DIMENSIONS.index(d) for d in pair]
        drop = tuple(a for a in (2, 3, 4) if a not in axes)
        n, s = leaves.sum(axis=drop), sent.sum(axis=drop)
        g, m, x, y = np.nonzero(s)
        frame = pd.DataFrame(
            {
                "pair": "+".join(pair),
                "group": np.array(["youth", "parent"])[g],
                "month": m + 1,
                **dict.fromkeys(PLACE_DIMENSIONS, ""),
                "n": n[g, m, x, y],
                "sent": s[g, m, x, y],
            }
        )
        frame[pair[0]] = np.array(levels[pair[0]])[x]
        frame[pair[1]] = np.array(levels[pair[1]])[y]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def bench_size(name: str, runs: int) -> dict:
    leaves, sent = random_year(*SIZES[name])
    cells = pair_cells(leaves, sent)
    levels = {d: sorted(set(cells.loc[cells[d] != "", d])) for d in PLACE_DIMENSIONS}
    bare = median_seconds(lambda: _nodes(cells.assign(n_max=cells["n"]), levels), runs)
    product = median_seconds(lambda: build_lattice(cells, 2026, 5), runs)
    lattice = build_lattice(cells, 2026, 5)
    extra = {
        "responses": int(leaves.sum()),
        "nodes": len(lattice.codes),
        "small_groups": int(lattice.certified),
        "hidden_share": float(lattice.hidden.mean()),
        "group_totals_shown": all(not lattice.is_hidden(g, 0) for g in ("youth", "parent")),
    }
    if name == "small":
        started = time.perf_counter()
        bad, _ = exact_derivable(leaves, lattice)
        extra["exact_audit_s"] = time.perf_counter() - started
        extra["exact_audit_leaks"] = len(bad)
        extra["leaves"] = int(np.prod(leaves.shape))
    return record(
        f"publication/{name}",
        ratio=product / bare,
        target="pattern of a year once per version of its cells (cached); region < 10 s",
        baseline_s=bare,
        product_s=product,
        **extra,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["quick", "full"], default="quick")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    names = ["small", "region"] + (["national"] if args.size == "full" else [])
    for name in names:
        bench_size(name, args.runs)


if __name__ == "__main__":
    sys.exit(main())
