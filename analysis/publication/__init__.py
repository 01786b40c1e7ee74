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
With teams of two or more providers, the team axis is a tree like time: a provider is the sum
of its teams, the region the sum of its providers (`lattice`), so what a provider sees, what a
municipality sees and what the region sees are nodes of one pattern.
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

The package, leaves first (each module imports only those above it):

- `periods`: the fixed publication periods and the time nodes of a year.
- `lattice`: `Lattice`, its axes (`GROUPS`, `PLACE_DIMENSIONS`, `PAIRS`), the providers on the
  team axis (`PROVIDER`, `levels_of`, `level_code`) and its nodes from the pair cells
  (`_nodes`).
- `previous`: which nodes the previous pattern showed unchanged (`Lattice.kept`).
- `line_rule`: the line equations (`lines`) and the line rule.
- `certificates`: the certificate box per small node (`_Boxes`).
- `exact`: the exact audit over the leaves (`exact_derivable`).
- `pair_audit`: `_group_audit`.
- `set_audit`: `_set_audit`.
- `build`: `build_lattice` and `_suppress`, which runs the steps above.

This module only re-exports. A test that replaces a name (monkeypatch) patches it in the
submodule that uses it, e.g. `analysis.publication.build._suppress`.
"""

from analysis.publication.build import build_lattice
from analysis.publication.exact import _leaf_indicators, _row_space, exact_derivable
from analysis.publication.lattice import (
    GROUPS,
    PAIRS,
    PLACE_DIMENSIONS,
    PROVIDER,
    Lattice,
    _nodes,
    axis_size,
    level_code,
    levels_of,
    small_groups,
)
from analysis.publication.line_rule import lines
from analysis.publication.periods import (
    MONTH_NAMES_EN,
    MONTH_NAMES_NL,
    PERIOD_KINDS,
    TIME_EQUATIONS,
    TIME_NODES,
    YEAR_NODE,
    PeriodError,
    PublicationPeriod,
    periods_between,
    time_node_of_label,
)
from analysis.publication.set_audit import SET_AUDIT_LEAVES

__all__ = [
    "GROUPS",
    "MONTH_NAMES_EN",
    "MONTH_NAMES_NL",
    "PAIRS",
    "PERIOD_KINDS",
    "PLACE_DIMENSIONS",
    "PROVIDER",
    "SET_AUDIT_LEAVES",
    "TIME_EQUATIONS",
    "TIME_NODES",
    "YEAR_NODE",
    "Lattice",
    "PeriodError",
    "PublicationPeriod",
    "_leaf_indicators",
    "_nodes",
    "_row_space",
    "axis_size",
    "build_lattice",
    "exact_derivable",
    "level_code",
    "levels_of",
    "lines",
    "periods_between",
    "small_groups",
    "time_node_of_label",
]
