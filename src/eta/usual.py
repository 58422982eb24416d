"""What is usual for a history, learned when a model is fitted: so a quote can say "busier than
usual" or "peak season" from the data instead of from hard-coded dates.

Two things are kept (small, JSON-friendly, saved with the model):

* **Usual load per segment**: the median and 90th percentile of the recent-history features that
  measure load (the segment's backlog, the items it started in the last week, the whole queue's
  backlog; see :mod:`eta.features`) over the last year of history, and the day's rhythm: each
  local hour's median and 90th percentile load over the whole day's, for everyone. A quote
  compares an item's own values with its segment's levels at its hour of the day: a grocery's
  ordinary dinner rush, measured against the whole day, was "busier than usual" on nearly
  every evening order.
* **Peak weeks**: ISO weeks of the year that were markedly slower or busier than the rest of the
  year *in every year the history covers*. Slower is judged on clock hours relative to the item's
  segment (IPCW-weighted so open items do not hide the slow ones) after removing the history's
  linear trend (a team that is 15% slower each year has no "peak" in December); busier on the
  number of items started per week against the trend. Requiring every year (and at least two of
  them: one year cannot tell a season from a bad month), and at least two marked weeks in a row,
  avoids calling one incident week a season.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.censoring import ipcw_weights
from eta.data import FINISHED, HOURS, SEGMENT, START, look_up

LOAD_FEATURES = ("backlog", "started_7d")
"""Per-segment load measures (from :data:`eta.features.RECENT_FEATURES`)."""
QUEUE_FEATURE = "backlog_all"
"""The whole queue's load, compared with its overall usual level."""
ALL = "*"
MIN_ITEMS = 30
"""A segment needs this many items for usual levels of its own (else the overall ones apply)."""
SLOWER = float(np.log(1.15))
"""A peak week is at least 15% slower (log scale) than the trend of its segment..."""
BUSIER = 1.4
"""...or has at least 1.4 times the items the trend expects."""
NOISE = 2.0
"""Standard errors a week's excess must exceed, in every year, to mark it."""
MIN_YEARS = 2
"""A week of the year is called a peak only when the history holds it in this many years."""
WARM_UP = pd.Timedelta(days=30)
"""Backlogs in the first month of a history are low only because its past is missing."""


@dataclass(frozen=True)
class Usual:
    """Usual load per segment and peak weeks of the year (see the module docstring)."""

    load: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """segment -> feature -> [median, 90th percentile]; segment ``'*'`` is everyone."""
    peak_weeks: dict[int, dict[str, float]] = field(default_factory=dict)
    """ISO week -> {'slower': duration factor, 'busier': volume factor} in the weakest year."""
    rhythm: dict[str, list[list[float]]] = field(default_factory=dict)
    """feature -> 24 pairs of factors: the median and the 90th percentile at each local start
    hour over the whole day's (1 for an hour with fewer than :data:`MIN_ITEMS` items). Both:
    a quiet hour's loads spread wider for their size than the day's, and its 90th percentile
    read from the median's factor called one night item in eight busier than usual."""

    @classmethod
    def fit(cls, frame: pd.DataFrame, features: pd.DataFrame, clock: Clock) -> Usual:
        """Learn from a history frame (canonical columns) and its feature frame (same rows)."""
        if frame.empty:
            return cls()
        start = frame[START]
        recent = (start >= start.min() + WARM_UP) & (start >= start.max() - pd.Timedelta(days=365))
        if recent.sum() < MIN_ITEMS:
            recent = pd.Series(True, index=frame.index)
        hours = clock.local(start[recent]).hour.to_numpy()
        return cls(
            _load_levels(features[recent.to_numpy()], frame.loc[recent, SEGMENT]),
            _peak_weeks(frame, clock),
            _rhythm(features[recent.to_numpy()], hours),
        )

    def level(
        self, segments: np.ndarray, feature: str, hours: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Usual (median, 90th percentile) of ``feature`` for each segment (NaN if unknown), at
        each item's local start hour when ``hours`` are given."""
        known = [s for s, v in self.load.items() if feature in v]
        fallback = self.load.get(ALL, {}).get(feature, [np.nan, np.nan])
        levels = np.array([*(self.load[s][feature] for s in known), fallback], dtype=float)
        at = look_up(segments, {s: k for k, s in enumerate(known)}, len(known)).astype(np.int64)
        factors = np.ones(2)
        if hours is not None and feature in self.rhythm:
            factors = np.asarray(self.rhythm[feature], dtype=float)[np.asarray(hours, dtype=int)]
        return levels[at, 0] * factors[..., 0], levels[at, 1] * factors[..., 1]

    def in_peak(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Whether each range of local dates ``[first, last]`` (datetime64[D]) meets a peak week."""
        if not self.peak_weeks or len(first) == 0:
            return np.zeros(len(first), dtype=bool)
        lo, last = first.min(), np.maximum(last, first)  # a range never ends before it begins
        weeks = iso_weeks(np.arange(lo, last.max() + 1))
        count = np.concatenate([[0], np.cumsum(np.isin(weeks, list(self.peak_weeks)))])
        begin = (first - lo).astype(int)
        end = (last - lo).astype(int) + 1
        return count[end] > count[begin]

    def to_dict(self) -> dict:
        peaks = {str(k): v for k, v in self.peak_weeks.items()}
        return {"load": self.load, "peak_weeks": peaks, "rhythm": self.rhythm}

    @classmethod
    def from_dict(cls, raw: dict | None) -> Usual:
        """From :meth:`to_dict`; ``None`` (a model saved before this existed) knows nothing."""
        if not raw:
            return cls()
        peaks = {int(k): v for k, v in raw.get("peak_weeks", {}).items()}
        return cls(raw.get("load", {}), peaks, raw.get("rhythm", {}))


def iso_weeks(days: np.ndarray) -> np.ndarray:
    """ISO 8601 week numbers (1-53) of dates (``datetime64[D]``), as pandas' ``isocalendar``
    gives them: the week of a date is the week of its Thursday, counted from that year's first
    Thursday. Integer arithmetic, because pandas takes milliseconds for a handful of dates."""
    day = np.asarray(days, dtype="datetime64[D]").astype(np.int64)
    thursday = day - (day + 3) % 7 + 3  # 1970-01-01 was a Thursday; Monday = 0
    first = thursday.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]")
    return (thursday - first.astype(np.int64)) // 7 + 1


def _load_levels(features: pd.DataFrame, segments: pd.Series) -> dict[str, dict[str, list[float]]]:
    def levels(values: pd.Series) -> list[float]:
        return [float(values.median()), float(values.quantile(0.9))]

    out: dict[str, dict[str, list[float]]] = {ALL: {}}
    for feature in (*LOAD_FEATURES, QUEUE_FEATURE):
        if feature in features:
            out[ALL][feature] = levels(features[feature])
    groups = pd.Series(np.arange(len(segments))).groupby(segments.astype(str).to_numpy())
    for segment, rows in groups.indices.items():
        if len(rows) >= MIN_ITEMS:
            part = features.iloc[rows]
            out[segment] = {f: levels(part[f]) for f in LOAD_FEATURES if f in part}
    return out


def _rhythm(features: pd.DataFrame, hours: np.ndarray) -> dict[str, list[list[float]]]:
    """Each load feature's median and 90th percentile per local start hour over the whole
    day's."""
    out = {}
    for feature in (*LOAD_FEATURES, QUEUE_FEATURE):
        if feature not in features:
            continue
        values = features[feature].to_numpy(float)
        known = ~np.isnan(values)
        if known.sum() < MIN_ITEMS:
            continue
        day = np.maximum(np.quantile(values[known], [0.5, 0.9]), 1.0)
        factors = np.ones((24, 2))
        for hour in range(24):
            at = values[known & (hours == hour)]
            if len(at) >= MIN_ITEMS:
                factors[hour] = np.maximum(np.quantile(at, [0.5, 0.9]), 1.0) / day
        out[feature] = factors.round(4).tolist()
    return out


def _peak_weeks(frame: pd.DataFrame, clock: Clock) -> dict[int, dict[str, float]]:
    local = clock.local(frame[START]).tz_localize(None)
    calendar = local.isocalendar()
    year, week = calendar.year.to_numpy(), calendar.week.to_numpy()
    years = (local - local.min()) / pd.Timedelta(days=365.25)
    years = np.asarray(years, dtype=float)

    # Slower: IPCW-weighted mean log hours per (year, week), relative to the segment and trend.
    weights = ipcw_weights(frame[HOURS].to_numpy(float), frame[FINISHED].to_numpy(bool))
    log_hours = np.log(frame[HOURS].to_numpy(float))
    segment = frame[SEGMENT].astype(str).to_numpy()
    centred = log_hours - _weighted_group_mean(log_hours, weights, segment)
    use = weights > 0
    if use.sum() < 2 * MIN_ITEMS or np.ptp(years[use]) == 0:  # no time to fit a trend over
        return {}
    slope, intercept = np.polyfit(years[use], centred[use], 1, w=np.sqrt(weights[use]))
    residual = centred - (intercept + slope * years)

    # Only whole weeks inside the history count (the first and last may be partial).
    key = pd.MultiIndex.from_arrays([year, week])
    day = local.normalize()
    whole = (day >= day.min() + pd.Timedelta(days=7)) & (day <= day.max() - pd.Timedelta(days=7))
    columns = {
        "w": weights * residual,
        "w2": weights * residual**2,
        "sw": weights,
        "sw2": weights**2,
        "n": 1.0,
        "t": years,
    }
    table = pd.DataFrame(columns, index=key)[np.asarray(whole)]
    if table.empty:
        return {}
    sums = dict.fromkeys(columns, "sum") | {"t": "mean"}
    weekly = table.groupby(level=[0, 1]).agg(sums)
    if weekly.index.get_level_values(0).nunique() < MIN_YEARS:
        return {}  # a season recurs: one year's weeks cannot show one (nor fit a trend)
    total = weekly["sw"].where(weekly["sw"] > 0)
    weekly["slower"] = weekly["w"] / total
    trend = np.polyfit(weekly["t"], np.log(weekly["n"]), 1)
    weekly["busier"] = np.exp(np.log(weekly["n"]) - np.polyval(trend, weekly["t"]))
    # A week's excess must stand out of its own noise too (two standard errors): a company of
    # ten jobs a week, with no season at all, was told its weeks 32-33 ran 32% slower.
    spread = np.sqrt(np.maximum(weekly["w2"] / total - weekly["slower"] ** 2, 0.0))
    effective = total**2 / weekly["sw2"].where(weekly["sw2"] > 0)
    weekly["slower_low"] = weekly["slower"] - NOISE * spread / np.sqrt(effective)
    weekly["busier_low"] = weekly["busier"] * np.exp(-NOISE / np.sqrt(weekly["n"]))
    weekly = weekly[weekly["n"] >= MIN_ITEMS / 3]
    lows = {"slower": "min", "busier": "min", "slower_low": "min", "busier_low": "min"}
    by_week = weekly.groupby(level=1).agg(lows | {"n": "size"})
    # A season recurs: a week seen in one year only cannot tell a season from a bad month.
    by_week = by_week[by_week["n"] >= MIN_YEARS]
    slower = (by_week["slower"] >= SLOWER) & (by_week["slower_low"] > 0)
    busier = (by_week["busier"] >= BUSIER) & (by_week["busier_low"] > 1)
    marked = by_week[slower | busier]
    weeks = set(marked.index.astype(int))
    # A season lasts: a marked week counts only next to another one (week 52/53 meets week 1).
    season = {w for w in weeks if {w - 1, w + 1} & weeks or (w == 1 and weeks & {52, 53})}
    season |= {w for w in weeks if w >= 52 and 1 in weeks}
    return {
        int(w): {
            "slower": float(np.exp(marked.loc[w, "slower"])),
            "busier": float(marked.loc[w, "busier"]),
        }
        for w in sorted(season)
    }


def _weighted_group_mean(values: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame({"wv": weights * values, "w": weights, "g": groups})
    sums = frame.groupby("g")[["wv", "w"]].transform("sum")
    overall = np.sum(weights * values) / max(np.sum(weights), 1e-12)
    mean = sums["wv"] / sums["w"].where(sums["w"] > 0)
    return mean.fillna(overall).to_numpy(float)
