"""Inverse probability of censoring weights (IPCW) for open items.

Open tickets and in-transit orders are the slowest ones; dropping them biases every quantile low and
breaks promises. Instead, each finished item is weighted by ``1 / G(T-)``, where ``G`` is the
Kaplan-Meier estimate of the *censoring* survival function ("how likely was an item of this age
still
being watched"), and open items get weight 0. Then the weighted empirical distribution of finished
items estimates the distribution of all items, open ones included:
``E[delta * 1{T <= t} / G(T-)] = P(T <= t)`` when censoring is independent of the finish time.

References
----------
Robins, J. M. & Rotnitzky, A. (1992). Recovery of information and adjustment for dependent
censoring using surrogate markers. *AIDS Epidemiology*.
Bang, H. & Tsiatis, A. A. (2000). Estimating medical costs with censored data. *Biometrika* 87(2).
"""

from __future__ import annotations

import numpy as np

MAX_WEIGHT = 20.0
"""Weights are capped (G floored at 5%) so a few very old finished items cannot dominate."""
MIN_STRATUM_ITEMS = 200
"""A stratum (segment) gets its own censoring estimate from this many items; thinner ones share
the pooled one."""


def censoring_survival(hours: np.ndarray, finished: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the censoring survival function ``G(t) = P(C > t)``.

    Censoring is the "event" here, so the roles of finished and open items are swapped; at tied
    times finished items are taken to leave before the censored ones (the usual convention).

    Returns
    -------
    times, survival : arrays such that ``G(t) = survival[k]`` for ``times[k] <= t < times[k+1]``
        and ``G(t) = 1`` before ``times[0]``.
    """
    hours = np.asarray(hours, dtype=float)
    censored = ~np.asarray(finished, dtype=bool)
    order = np.lexsort((censored, hours))
    t, c = hours[order], censored[order]
    at_risk = len(t) - np.arange(len(t))
    times, first = np.unique(t, return_index=True)
    censored_at = np.add.reduceat(c.astype(float), first) if len(t) else np.array([])
    at_risk_at = at_risk[first] if len(t) else np.array([])
    survival = np.cumprod(1.0 - censored_at / np.maximum(at_risk_at, 1))
    return times, survival


def still_running_share(hours: np.ndarray, finished: np.ndarray) -> float:
    """Kaplan-Meier estimate of the share of items still running at the longest time an item
    took to finish: the part of the distribution this history cannot show. Above one minus the
    confidence, a promise lies beyond every finish seen and the tail model alone sets it (a
    four-month history of two-month items kept 61% of its 90% promises)."""
    _, survival = censoring_survival(hours, ~np.asarray(finished, dtype=bool))  # finish: event
    return float(survival[-1]) if len(survival) else 1.0


def ipcw_weights(
    hours: np.ndarray, finished: np.ndarray, strata: np.ndarray | None = None
) -> np.ndarray:
    """Weights ``1 / G(T-)`` for finished items and 0 for open ones.

    They are deliberately not normalised: ``sum(w * 1{T <= t}) / n`` estimates ``P(T <= t)``
    (Horvitz-Thompson), and the mass it cannot see (finish times beyond the longest follow-up, or
    beyond the weight cap) stays missing instead of being spread over the observed finish times,
    which would pull every quantile low.

    The weights correct for censoring that is independent of the finish time *given what G is
    estimated within*. With ``strata`` (e.g. each item's segment), ``G`` is estimated per
    stratum of at least :data:`MIN_STRATUM_ITEMS` items (pooled for thinner ones): censoring
    often depends on the kind of item (slow queues are looked at later, carriers report at
    different times), and one pooled ``G`` then weights each kind's slow items wrongly.

    Parameters
    ----------
    hours : clock hours until the item finished, or until it was last seen open.
    finished : True where the item has finished (its hours are a finish time).
    strata : optional group of each item, for a censoring estimate per group.
    """
    hours = np.asarray(hours, dtype=float)
    finished = np.asarray(finished, dtype=bool)
    weights = np.zeros(len(hours))
    if not finished.any():
        return weights
    if strata is not None:
        weights = ipcw_weights(hours, finished)
        strata = np.asarray(strata)
        for stratum in np.unique(strata):
            rows = np.flatnonzero(strata == stratum)
            if len(rows) >= MIN_STRATUM_ITEMS and finished[rows].any():
                weights[rows] = ipcw_weights(hours[rows], finished[rows])
        return weights
    times, survival = censoring_survival(hours, finished)
    # G(T-): survival strictly before T, i.e. at the last censoring time < T.
    idx = np.searchsorted(times, hours[finished], side="left") - 1
    g_before = np.where(idx >= 0, survival[np.clip(idx, 0, None)], 1.0)
    weights[finished] = 1.0 / np.maximum(g_before, 1.0 / MAX_WEIGHT)
    return weights


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective number of items behind a weighted estimate: (sum w)^2 / sum w^2."""
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    return float(total * total / np.square(weights).sum()) if total > 0 else 0.0
