"""Backtests: train on the past, quote the period after it, and count the promises kept.

Static mode trains once at ``test_start`` and quotes every item of the test period. Replay mode
walks the test period in time order like production would: each item is quoted when it starts,
using only outcomes known by then (a kept promise is known when the item finishes, a broken one as
soon as its promise passes), and every known outcome recalibrates the promise level of its segment
online (:class:`eta.calibration.OnlineCalibration`). The data may hold the test period's outcomes;
it is this module, not the caller, that keeps them out of sight until their time.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eta.data import END, FINISHED, HOURS, START, History, seen_at
from eta.evaluation import promise_metrics
from eta.features import Events
from eta.model import EtaModel, Predictive, Settings
from eta.quote import quote_items


@dataclass(frozen=True)
class BacktestResult:
    metrics: dict
    quotes: pd.DataFrame
    model: EtaModel


def period_items(
    history: History, test_start: pd.Timestamp, test_end: pd.Timestamp | None
) -> pd.DataFrame:
    """Items that start in [test_start, test_end), with their finish as the full data knows it."""
    frame = history.frame
    mask = frame[START] >= test_start
    if test_end is not None:
        mask &= frame[START] < test_end
    items = frame[mask].copy()
    if history.spec.id:
        items["id"] = items[history.spec.id]
    return items


def run_backtest(
    history: History,
    test_start: pd.Timestamp,
    test_end: pd.Timestamp | None = None,
    *,
    replay: bool = False,
    settings: Settings | None = None,
    confidence: float | None = None,
    actual_hours: np.ndarray | None = None,
) -> BacktestResult:
    """Train on what was known at ``test_start``, quote the test period, measure the promises.

    Parameters
    ----------
    history : the whole history, possibly including the test period's outcomes.
    actual_hours : the true clock hours of the test items (e.g. a simulation's ground truth),
        in the order of :func:`period_items`; by default the finishes recorded in ``history``.
    """
    spec = history.spec
    confidence = spec.confidence if confidence is None else confidence
    model = EtaModel(spec, settings).fit(seen_at(history, test_start))
    items = period_items(history, test_start, test_end)
    if items.empty:
        raise ValueError(f"no items start in the test period from {test_start}")
    events = Events.from_frame(history.frame)  # as-of features only ever see earlier events
    features = model.features(items, events)
    levels = None
    if replay:
        levels = replay_levels(model, items, model.predict(items, features), confidence)
    quotes = quote_items(
        model, items, confidence=confidence, levels=levels, features=features, online=False
    )
    quotes.index = items.index
    if actual_hours is None:
        actual_hours = np.where(items[FINISHED], items[HOURS], np.nan)
    metrics = promise_metrics(
        actual_hours,
        quotes["promise_hours"].to_numpy(float),
        items["segment"].to_numpy(),
        confidence,
    )
    metrics.update(mode="replay" if replay else "static", train_rows=model.info_["rows"])
    quotes["actual_hours"] = actual_hours
    return BacktestResult(metrics, quotes.reset_index(drop=True), model)


def replay_levels(
    model: EtaModel, items: pd.DataFrame, predictive: Predictive, confidence: float
) -> np.ndarray:
    """Promise level for each item as adaptive conformal inference would have set it live.

    Items are quoted in start order. Before quoting an item, every outcome known by its start is
    fed back: kept promises whose item finished strictly earlier, broken promises whose promise
    passed. Nothing that happens at or after an item's start can change its quote.
    """
    clock = model.clock_
    online = model.online_.__class__(confidence, model.online_.step)
    order = np.argsort(items[START].to_numpy(), kind="stable")
    starts = items[START].to_numpy()[order]
    begin = clock.effective_start(items[START]).to_numpy()[order]
    ref = min(starts.min(), begin.min())
    # Clock positions (hours since ref): a promise has passed at t once pos(t) > its position.
    pos_start = clock.hours_between(pd.DatetimeIndex([ref] * len(order)), pd.DatetimeIndex(starts))
    pos_begin = clock.hours_between(pd.DatetimeIndex([ref] * len(order)), pd.DatetimeIndex(begin))
    finished = items[FINISHED].to_numpy()[order]
    hours = items[HOURS].to_numpy(float)[order]  # open items: hours until last seen
    end = items[END].to_numpy()[order]
    segment = predictive.segment[order]
    location, spread = predictive.location[order], predictive.spread[order]
    distributions = predictive.calibration.by_key
    hits: list[tuple[np.datetime64, int]] = []  # (finish instant, item)
    misses: list[tuple[float, int]] = []  # (clock position of the promise, item)
    levels = np.empty(len(order))
    for k in range(len(order)):
        now, now_pos = starts[k], pos_start[k]
        while hits and hits[0][0] < now:
            online.update(segment[heapq.heappop(hits)[1]], missed=False)
        while misses and misses[0][0] < now_pos:
            online.update(segment[heapq.heappop(misses)[1]], missed=True)
        level = float(online.level(segment[k : k + 1], confidence)[0])
        levels[k] = level
        z = distributions[segment[k]].quantile(np.array([level]))[0]
        promise = float(np.exp(location[k] + spread[k] * z))
        if finished[k] and hours[k] <= promise:
            heapq.heappush(hits, (end[k], k))
        elif hours[k] > promise:  # finished late, or still open when last seen after the promise
            heapq.heappush(misses, (pos_begin[k] + promise, k))
    model.online_ = online
    out = np.empty(len(order))
    out[order] = levels
    return out


__all__ = ["BacktestResult", "period_items", "replay_levels", "run_backtest"]
