"""Representativeness: which cohorts answer less (or more) than the whole population.

A response group speaks for the families it comes from only as far as every cohort answers at a
similar rate. For each cohort this compares its response rate with the overall rate: the
*rate ratio* (cohort rate / overall rate, 1 = as expected), the cohort's share of the
invitations next to its share of the responses, and a flag. A cohort is flagged
under-represented when even the top of its 95% Wilson interval lies below the overall rate —
so a small team with a low rate by chance is not flagged, a large team that really lags is.
Over-represented is the mirror image.

Works on rows that already passed disclosure control: a suppressed cohort gets no figures and no
flag (its row says why), so this view cannot reveal what the tables hide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNDER = "under"
OVER = "over"
AS_EXPECTED = "as_expected"
RATE_COLUMNS = ("response_rate", "response_rate_ci_low", "response_rate_ci_high")


def representativeness(cohorts: pd.DataFrame, *, sent: int, responded: int) -> pd.DataFrame:
    """Compare each cohort's response rate with the overall rate.

    Args:
        cohorts: one row per cohort with `sent`, `responded`, `response_rate`,
            `response_rate_ci_low`, `response_rate_ci_high` and `suppressed` (blank figures in
            suppressed rows, as `analysis.disclosure.suppress` leaves them).
        sent: invitations sent in the whole population the cohorts partition.
        responded: responses in that population.

    Returns:
        A copy with `invited_share` (sent / all sent; shown for every cohort, invitations are
        public), `response_share` (responded / all responded), `rate_ratio` (response_rate /
        overall rate) and `representation` (``"under"``, ``"over"``, ``"as_expected"``, or None
        for a suppressed cohort or when the overall rate is unknown).
    """
    required = ("sent", "responded", "suppressed", *RATE_COLUMNS)
    missing = [c for c in required if c not in cohorts.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    overall = responded / sent if sent > 0 else np.nan
    shown = ~cohorts["suppressed"].to_numpy(dtype=bool)
    rate = cohorts["response_rate"].to_numpy(dtype=float, na_value=np.nan)
    low = cohorts["response_rate_ci_low"].to_numpy(dtype=float, na_value=np.nan)
    high = cohorts["response_rate_ci_high"].to_numpy(dtype=float, na_value=np.nan)
    cohort_sent = cohorts["sent"].to_numpy(dtype=float, na_value=np.nan)
    cohort_responded = cohorts["responded"].to_numpy(dtype=float, na_value=np.nan)
    known = shown & ~np.isnan(rate) & ~np.isnan(overall)
    flag = np.where(high < overall, UNDER, np.where(low > overall, OVER, AS_EXPECTED))
    with np.errstate(divide="ignore", invalid="ignore"):
        return cohorts.assign(
            invited_share=cohort_sent / sent if sent > 0 else np.nan,
            response_share=np.where(shown & (responded > 0), cohort_responded / responded, np.nan),
            rate_ratio=np.where(known & (overall > 0), rate / overall, np.nan),
            representation=pd.Series(
                np.where(known, flag, np.array(None, dtype=object)),
                index=cohorts.index,
                dtype=object,
            ),
        )
