"""One-off episodes in the calibration period: weeks when everything ran far slower, then stopped.

Calibration learns how far finish times stray from what the model says on the latest stretch of
history, a few weeks to a few months. A ten-day strike inside that stretch is a third of it in a
short history and a tenth in a long one, where it happens once in years: the 90th percentile of
such a mixture is the strike's, and promises made after the strike ended were twice the true
90th percentile, 99% kept, until the next retraining (a tester's Olist-like export three months
after a truckers' strike; ``benchmarks/SHOCK.md``).

An *ended episode* is a run of weeks (by start) whose items ran at least :data:`SLOWDOWN` times
as slow as the calibration period's usual week, followed by weeks that ran as usual again.
Calibration leaves its items out and the data team is told so (``eta train`` says "check the
data"). A slowdown still going on at the end of the history is not an episode: it is where the
world stands now, and promises must pay for it (a peak season, a carrier's bad month); nor is
one as long as half the period, which is the usual week itself. Nothing here guesses whether an
episode will recur: once it has ended, static promises are for the world without it, and live
recalibration (:mod:`eta.feedback`) answers the next one as it happens.

Each week's speed is the shift of log time at which its items' finishes, open items included,
match their distributions (:func:`eta.online.speed_shift`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eta.calendar import NS_PER_DAY
from eta.online import speed_shift

SLOWDOWN = 2.0
"""How many times slower than the usual week an episode's weeks ran (in the median item's time).
A parcel peak runs 1.3x, a stormy week of flights rarely 1.5x; a strike holding every parcel
under way for ten days runs 2-3x."""
SPILL = 1.25
"""Neighbouring weeks at least this many times as slow belong to the episode: a strike also
holds parcels that started the week before, and ends part-way through a week."""
MIN_FINISHES = 30
"""Finished items a week needs for its speed to be judged (about a tenth of a log-hour's error)."""
WEEK = 7 * NS_PER_DAY


@dataclass(frozen=True)
class Episode:
    """Items that started from ``first`` to ``last`` ran ``slowdown`` times as slow as usual;
    ``items`` counts them and those that started before but were promised into it."""

    first: pd.Timestamp
    last: pd.Timestamp
    items: int
    slowdown: float

    def to_dict(self) -> dict:
        return {
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "items": self.items,
            "slowdown": round(self.slowdown, 2),
        }


def ended_episodes(
    starts: pd.Series, reach: np.ndarray, hazard: np.ndarray, finished: np.ndarray
) -> tuple[np.ndarray, list[Episode]]:
    """Which items (rows, oldest first) belong to ended episodes, and the episodes.

    ``reach``: when each item's promise falls due (int64 ns UTC); an item that started before
    an episode but was promised into it was exposed to it too (a strike holds the slow
    services' parcels of the week before, though the week as a whole ran as usual), and is
    left out with it, whatever its outcome. ``hazard``: each item's cumulative hazard under
    shifts of log time (:func:`eta.online.cumulative_hazard`); ``finished``: whether it
    finished.
    """
    ns = pd.DatetimeIndex(starts).as_unit("ns").asi8
    inside = np.zeros(len(ns), dtype=bool)
    if not len(ns):
        return inside, []
    week = (ns - ns[0]) // WEEK
    judged, speeds = [], []
    for w in np.unique(week):
        rows = np.flatnonzero(week == w)
        if finished[rows].sum() >= MIN_FINISHES:
            judged.append(w)
            speeds.append(speed_shift(hazard[rows], finished[rows])[0])
    if len(judged) < 3:
        return inside, []
    excess = np.asarray(speeds) - np.median(speeds)
    slow, spilt = excess >= math.log(SLOWDOWN), excess >= math.log(SPILL)
    runs: list[tuple[int, int]] = []  # first and last judged week of each episode
    for k in np.flatnonzero(slow):
        if runs and k <= runs[-1][1]:
            continue  # already inside the last one
        first, last = k, k
        while first > 0 and spilt[first - 1] and not (runs and first - 1 <= runs[-1][1]):
            first -= 1
        while last + 1 < len(judged) and spilt[last + 1]:
            last += 1
        if last + 1 == len(judged):  # still going on at the end of the history
            break
        runs.append((first, last))
    episodes = []
    for first, last in runs:
        rows = (week >= judged[first]) & (week <= judged[last])
        members = pd.DatetimeIndex(starts)[rows]
        rows |= (ns < ns[rows].min()) & (reach >= ns[rows].min())
        inside |= rows
        slowdown = math.exp(float(np.mean(excess[first : last + 1])))
        episodes.append(Episode(members.min(), members.max(), int(rows.sum()), slowdown))
    return inside, episodes


__all__ = ["SLOWDOWN", "Episode", "ended_episodes"]
