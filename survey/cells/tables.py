"""The two tables of kept cells, `funnel_cell` and `mark_cell`, and their constants.

What a cell is and how the triggers keep it: `survey.cells`.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Table

from survey.db import Base

MARK_ITEMS = ("self_direction", "usefulness")
MARKS = tuple(range(1, 11))
# Each pair of cell dimensions, smallest first (teams × municipalities is the largest).
PAIRS = {
    "team+care_type": ("team", "care_type"),
    "municipality+care_type": ("municipality", "care_type"),
    "team+municipality": ("team", "municipality"),
}
CELL_DIMENSIONS = ("team", "municipality", "care_type")
FUNNEL_MEASURES = (
    "invited",
    "sent",
    "opened",
    "responded",
    "bounced",
    "opted_out",
    "after_reminder",
)
MARK_MEASURES = ("n", "total", "total_sq", *(f"count_{m}" for m in MARKS))


def _key_columns() -> list[Column]:
    return [
        Column("pair", String(30), primary_key=True),
        Column("end_month", Date, primary_key=True),
        Column("respondent_group", String(10), primary_key=True),
        # Every cell is one provider's: a team is one provider's, and a region's figures are
        # the sums over its providers (`analysis.publication`: the provider tree).
        Column("provider_id", Integer, ForeignKey("provider.id"), primary_key=True),
        *(Column(name, String(200), primary_key=True) for name in CELL_DIMENSIONS),
    ]


funnel_cell = Table(
    "funnel_cell",
    Base.metadata,
    *_key_columns(),
    *(Column(name, Integer, nullable=False) for name in FUNNEL_MEASURES),
)
mark_cell = Table(
    "mark_cell",
    Base.metadata,
    *_key_columns(),
    Column("item_id", String(64), primary_key=True),
    *(Column(name, Integer, nullable=False) for name in MARK_MEASURES),
)
