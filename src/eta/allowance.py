"""The rounding allowance: quote the level whose promises, *as told*, keep the target.

A promise is rounded up to what a person says (:mod:`eta.rounding`): "by Thursday" means 23:59
on Thursday. Rounding only ever moves a promise later, so a promise calibrated to be kept 90% of
the time is kept more often once it is said: parcels promised by the date were kept 93-94% of
the time on the benchmark's deliveries, where the end of the day is often most of a working day
after the calibrated instant. That is padding customers pay for (a later date at checkout) with
nothing to show for it, and an on-time rate that misses the level the business chose.

The allowance measures, on the calibration items, how many more promises rounding keeps at each
level, per calibration segment, and quotes the level ``L`` whose rounded promises keep the
target: the smallest ``L`` with ``L + gain(L) >= confidence``. The gain is measured like the
on-time rate itself, not modelled: the censoring-weighted share of items that finished between
the calibrated promise and its rounding. A segment's own gain is shrunk towards the whole
model's by its number of items (:data:`PRIOR_ITEMS`), as rounding adds more to short promises
(same-day parcels) than to long ones.

Online calibration does not see the allowance: it keeps the calibrated promise at its own level
from outcomes (:mod:`eta.feedback`), and the allowance maps that promise to the one said. Dates
are rounded in the spec's time zone here; a customer far from it has their own day boundaries,
and their promises keep the level only on average over the hours of the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eta.calendar import Clock, utc_instants, utc_nanoseconds
from eta.calibration import AHEAD
from eta.online import ALL
from eta.rounding import round_promise

LEVELS = np.round(np.arange(0.50, 0.995, 0.005), 3)
"""The levels the gain is measured at; quotes interpolate between them."""
MAX_ITEMS = 20_000
"""Calibration items the gain is measured on at most (a seeded sample beyond): its standard
error is then a fraction of a point, and a million-row history trains seconds, not minutes,
longer."""
FAR = 10.0
"""Promises longer than this many times the longest item are left out of the measurement."""
PRIOR_ITEMS = 500.0
"""How many items the whole model's gain is worth in a segment's own."""


@dataclass(frozen=True)
class RoundingAllowance:
    """Gains in on-time rate from rounding, by calibration segment (the tag of its live
    distribution; quotes made ahead use their live twin's), at each of :data:`LEVELS`."""

    gains: dict[str, np.ndarray]

    @classmethod
    def fit(
        cls,
        clock: Clock,
        rounding: str,
        begin: pd.DatetimeIndex,
        calibrated: np.ndarray,
        actual: np.ndarray,
        weights: np.ndarray,
        segments: np.ndarray,
    ) -> RoundingAllowance | None:
        """``calibrated``: each item's promise at every level of :data:`LEVELS` in clock hours
        from ``begin`` (shape ``(n, len(LEVELS))``); ``actual``: clock hours it took (open
        items have weight 0); ``weights``: inverse probability of censoring weights. ``None``
        when rounding adds nothing worth a quote ('minute')."""
        if rounding == "minute" or not len(begin):
            return None
        # Promises far beyond anything that took place gain nothing worth measuring from
        # rounding, and may lie beyond the years a calendar covers (one working day a week).
        told = calibrated.copy()
        near = calibrated <= FAR * np.nanmax(actual, initial=1.0)
        rows, columns = np.nonzero(near)
        told[rows, columns] = shown_hours(clock, begin[rows], calibrated[rows, columns], rounding)
        gained = (actual[:, None] > calibrated) & (actual[:, None] <= told)
        share = weights[:, None] * gained
        overall = share.mean(axis=0)
        gains = {ALL: overall}
        for tag in np.unique(segments):
            rows = segments == tag
            n = float(rows.sum())
            own = share[rows].mean(axis=0)
            gains[str(tag)] = (n * own + PRIOR_ITEMS * overall) / (n + PRIOR_ITEMS)
        return cls(gains)

    def levels(self, confidence: float, segments: np.ndarray) -> np.ndarray:
        """The level to quote each item at for its rounded promise to be kept ``confidence``
        of the time: never above ``confidence``, never below the grid."""
        out = np.full(len(segments), confidence)
        for tag in np.unique(segments):
            gain = self.gains.get(str(tag).removeprefix(AHEAD), self.gains[ALL])
            out[segments == tag] = _level(confidence, gain)
        return out

    def to_dict(self) -> dict:
        return {"levels": LEVELS.tolist(), "gains": {t: g.tolist() for t, g in self.gains.items()}}

    @classmethod
    def from_dict(cls, raw: dict | None) -> RoundingAllowance | None:
        if not raw:
            return None
        levels = np.asarray(raw["levels"])
        return cls({t: np.interp(LEVELS, levels, g) for t, g in raw["gains"].items()})


def _level(confidence: float, gain: np.ndarray) -> float:
    """The smallest level whose promise, with what rounding adds, reaches ``confidence``."""
    told = LEVELS + gain
    reached = np.flatnonzero(told >= confidence)
    if not len(reached):
        return confidence
    k = int(reached[0])
    if k == 0:
        return float(min(LEVELS[0], confidence))
    # Linear between the grid's levels on each side of the crossing.
    below, above = told[k - 1], told[k]
    part = (confidence - below) / (above - below) if above > below else 1.0
    return float(min(LEVELS[k - 1] + part * (LEVELS[k] - LEVELS[k - 1]), confidence))


def shown_hours(
    clock: Clock, begin: pd.DatetimeIndex, hours: np.ndarray, rounding: str
) -> np.ndarray:
    """Clock hours from ``begin`` to each promise of ``hours`` once rounded as customers are
    told it (in the spec's time zone); the same shape as ``hours`` (one row per item, one
    column per promise)."""
    hours = np.asarray(hours, dtype=float)
    matrix = hours.reshape(len(begin), -1)
    starts = utc_instants(np.repeat(utc_nanoseconds(begin), matrix.shape[1]))
    exact = clock.add_hours(starts, matrix.ravel())
    told = clock.hours_between(starts, round_promise(clock, exact, rounding))
    return np.maximum(told, matrix.ravel()).reshape(hours.shape)
