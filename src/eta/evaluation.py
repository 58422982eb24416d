"""How good are promises: on-time rate against the target, padding, lateness, pinball loss.

One place for the quality measures that backtests, reports, promotion gates and benchmarks share.
Everything is in clock hours from the item's effective start, so tickets and deliveries compare
the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.censoring import censoring_survival
from eta.data import FINISHED, HOURS

MIN_SEGMENT_ITEMS = 300
"""Segments smaller than this are too noisy to call the worst (the engine issue's threshold)."""


def pinball_loss(actual: np.ndarray, predicted: np.ndarray, level: float) -> float:
    """Mean quantile (pinball) loss at ``level``; lower is better at the same on-time rate."""
    losses = pinball_losses(actual, predicted, level)
    if not losses.size:
        return float("nan")  # nothing to judge (as the on-time rate of no items)
    return float(np.mean(losses))


def pinball_losses(actual: np.ndarray, predicted: np.ndarray, level: float) -> np.ndarray:
    """Each item's quantile (pinball) loss at ``level``."""
    diff = np.asarray(actual, float) - np.asarray(predicted, float)
    return np.maximum(level * diff, (level - 1.0) * diff)


def known_outcomes(items: pd.DataFrame, promise_hours: np.ndarray) -> np.ndarray:
    """Actual clock hours where the outcome is known at the export, NaN where it is not.

    A finished item is known. An item still open is known to be late once it has been open for
    longer than the promise: its hours so far stand in, a lower bound on its lateness. Until
    then nobody knows whether the promise will hold. Judged on finished items alone, a backtest
    whose slowest items are still open counts only the promises that were kept.
    """
    hours = items[HOURS].to_numpy(float)
    finished = items[FINISHED].to_numpy(bool)
    return np.where(finished | (hours > promise_hours), hours, np.nan)


def on_time_estimate(hours: pd.Series, finished: pd.Series, promise_hours: np.ndarray) -> float:
    """Share of promises kept, counting in the items whose outcome is not known yet.

    An item still open within its promise might yet make it; dropping it keeps the quick items
    and loses the slow ones, so the rate over known outcomes runs high. This is the Kaplan-Meier
    estimate of P(hours <= promise) on the scale ``hours / promise``, on which an item still
    open is censored at its hours so far: it stands for the items of its promise's horizon
    that were still open as long, and the outcomes of later items are assumed to be like those
    of earlier ones (Kaplan & Meier (1958), Nonparametric estimation from incomplete
    observations, *JASA* 53(282)). It is the mean of :func:`kept_probability`.
    """
    kept = kept_probability(hours, finished, promise_hours)
    return float(np.nanmean(kept)) if (~np.isnan(kept)).any() else float("nan")


def kept_probability(
    hours: pd.Series | np.ndarray, finished: pd.Series | np.ndarray, promise_hours: np.ndarray
) -> np.ndarray:
    """Each promise's chance of being kept (NaN where there is no promise): 1 or 0 where the
    outcome is known; for an item still open at ``r = hours / promise < 1``, the chance that
    items still open that far into their promise finish within it, ``(S(r) - S(1)) / S(r)``,
    with ``S`` the Kaplan-Meier survival of all the items on the scale ``hours / promise``.

    Their mean is the Kaplan-Meier estimate itself (its self-consistency: Efron (1967), The
    two sample problem with censored data, *Proc. 5th Berkeley Symposium* 4), and their mean
    over a part (a week, a segment) uses the curve of all the items. A part's own curve ends
    with its longest-watched item: in the last days of an export, where every promise is still
    running, it cannot reach the promise, and would count every unknown outcome broken."""
    promise = np.asarray(promise_hours, float)
    kept = np.full(len(promise), np.nan)
    quoted = ~np.isnan(promise)
    ratio = np.asarray(hours, float)[quoted] / np.maximum(promise[quoted], 1e-9)
    finish = np.asarray(finished, bool)[quoted]
    # The Kaplan-Meier estimator censoring weights use, with the finish as the event.
    times, still_open = censoring_survival(ratio, ~finish)

    def survival(r: np.ndarray | float) -> np.ndarray:
        k = np.searchsorted(times, r, side="right")
        return np.where(k > 0, still_open[np.maximum(k - 1, 0)], 1.0)

    reached, by_promise = survival(ratio), survival(1.0)
    open_within = ~finish & (ratio < 1.0)
    chance = (reached - by_promise) / np.maximum(reached, 1e-12)
    kept[quoted] = np.where(finish, ratio <= 1.0, np.where(open_within, chance, 0.0))
    return kept


def with_unknowns_estimated(
    metrics: dict,
    items: pd.DataFrame,
    promise_hours: np.ndarray,
    confidence: float,
    kept: np.ndarray | None = None,
) -> dict:
    """``metrics`` of :func:`promise_metrics` with ``on_time_rate`` (and ``gap``) counting in
    the ``items`` still open within their promise (:func:`on_time_estimate`), and the rate over
    known outcomes beside it as ``on_time_rate_known``: the same names in backtests and
    retraining runs (a backtest logged the rate over known outcomes as ``on_time_rate``).

    The worst segment is judged alike, over its items known and not: a city's housing agency,
    twice as slow since the month before, had 1,051 items finished, every one on time, and
    1,209 still open; the backtest named it as its best segment, at 100%, where 79% were kept."""
    metrics = metrics | {"on_time_rate_known": metrics["on_time_rate"]}
    if not metrics["not_yet_known"]:
        return metrics
    if kept is None:  # each promise's chance of being kept (the caller may have it already)
        kept = kept_probability(items[HOURS], items[FINISHED], promise_hours)
    estimate = float(np.nanmean(kept)) if (~np.isnan(kept)).any() else float("nan")
    actual = known_outcomes(items, promise_hours)
    table = on_time_by_segment(actual, promise_hours, items["segment"].to_numpy(), kept)
    quoted = table["items"] + table["not_yet_known"]
    big = table.loc[quoted >= MIN_SEGMENT_ITEMS, "on_time_rate"].dropna()
    worst = big.idxmin() if len(big) else None
    return metrics | {
        "on_time_rate": estimate,
        "gap": estimate - confidence,
        "worst_segment": worst,
        "worst_segment_on_time_rate": None if worst is None else float(big[worst]),
        "worst_segment_items": None if worst is None else int(quoted[worst]),
    }


def promise_metrics(
    actual_hours: np.ndarray,
    promise_hours: np.ndarray,
    segments: np.ndarray,
    confidence: float,
    *,
    min_segment_items: int = MIN_SEGMENT_ITEMS,
) -> dict[str, float | str | int | None]:
    """Quality of promises for items whose actual finish (clock hours) is known.

    Returns the number of items with a known outcome and of those not yet known (still open
    within their promise: the slow ones, so the rate over known outcomes runs high, and
    ``on_time_rate_at_least`` / ``_at_most`` count them all broken / all kept), on-time rate,
    its gap to ``confidence``,
    the worst segment with at least ``min_segment_items`` items, mean promise, mean padding
    (promise - actual, over kept promises; NaN when none was kept), mean lateness of broken
    promises (NaN when none was broken) and the pinball loss at ``confidence``.
    """
    nan = float("nan")  # nothing to average: not zero hours
    actual = np.asarray(actual_hours, float)
    promise = np.asarray(promise_hours, float)
    known = ~np.isnan(actual) & ~np.isnan(promise)
    unknown = int((np.isnan(actual) & ~np.isnan(promise)).sum())
    actual, promise, segments = actual[known], promise[known], np.asarray(segments)[known]
    on_time = actual <= promise
    quoted = len(on_time) + unknown
    by_segment = on_time_by_segment(actual, promise, segments)
    big = by_segment[by_segment["items"] >= min_segment_items]
    worst = big["on_time_rate"].idxmin() if len(big) else None
    late = ~on_time
    return {
        "items": int(known.sum()),
        "not_yet_known": unknown,
        "on_time_rate": float(on_time.mean()) if len(on_time) else float("nan"),
        "on_time_rate_at_least": float(on_time.sum() / quoted) if quoted else nan,
        "on_time_rate_at_most": float((on_time.sum() + unknown) / quoted) if quoted else nan,
        "gap": float(on_time.mean() - confidence) if len(on_time) else float("nan"),
        "worst_segment": worst,
        "worst_segment_on_time_rate": float(big["on_time_rate"].min()) if len(big) else None,
        "worst_segment_items": int(big.loc[worst, "items"]) if worst is not None else None,
        "mean_promise_hours": float(promise.mean()) if len(promise) else float("nan"),
        "mean_padding_hours": float((promise - actual)[on_time].mean()) if on_time.any() else nan,
        "mean_lateness_hours": float((actual - promise)[late].mean()) if late.any() else nan,
        "pinball_loss": pinball_loss(actual, promise, confidence),
    }


def on_time_by_segment(
    actual_hours: np.ndarray,
    promise_hours: np.ndarray,
    segments: np.ndarray,
    kept: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per segment, worst first: items with a known outcome, their on-time rate, and items
    whose outcome is not known yet (see :func:`promise_metrics`). Given each promise's chance
    of being kept (:func:`kept_probability`), the rate counts in the unknown outcomes as
    estimated, and the rate over known outcomes is ``on_time_rate_known``."""
    actual = np.asarray(actual_hours, float)
    promise = np.asarray(promise_hours, float)
    quoted = ~np.isnan(promise)
    known = quoted & ~np.isnan(actual)
    columns = {
        "items": known,
        "kept": known & (actual <= promise),
        "not_yet_known": quoted & ~known,
    }
    if kept is not None:
        columns["estimated"] = np.where(quoted, np.nan_to_num(np.asarray(kept, float)), 0.0)
    table = pd.DataFrame(columns).groupby(np.asarray(segments, dtype=object)).sum()
    table = table[table["items"] + table["not_yet_known"] > 0]
    table.insert(1, "on_time_rate", table.pop("kept") / table["items"].where(table["items"] > 0))
    if kept is not None:
        table.insert(2, "on_time_rate_known", table.pop("on_time_rate"))
        # A segment none of whose outcomes is known has no rate of its own to estimate: the
        # pooled curve alone gave one with no judged item 100% at the very end of an export.
        table["estimated"] = table["estimated"].where(table["items"] > 0)
        table.insert(
            1, "on_time_rate", table.pop("estimated") / (table["items"] + table["not_yet_known"])
        )
    table.index.name = "segment"
    return table.sort_values(["on_time_rate", "items"], ascending=[True, False])


def format_metrics(metrics: dict) -> str:
    """A short human summary, one measure per line."""
    lines = []
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:>28}: {shown}")
    return "\n".join(lines)
