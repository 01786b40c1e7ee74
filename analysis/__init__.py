"""Cohort analytics for Ervaringswijzer: pure pandas, no Flask, no SQLAlchemy, no I/O.

`survey/reporting/queries.py` computes small per-cell aggregate tables in SQL and hands them here:

* `analysis.scores`     — mean, SD, 95% t interval and 1-10 distribution from n/sum/sumsq/counts
* `analysis.cohorts`    — margins (the cohort cube), response rates, the full cohort report
* `analysis.disclosure` — primary and secondary cell suppression (MIN_CELL_SIZE)
* `analysis.formatting` — Dutch number formats and the infoblad Markdown table
"""
