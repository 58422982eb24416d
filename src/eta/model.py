"""The finish-time model: LightGBM quantiles on censored history, conformally calibrated.

``EtaModel.fit`` splits the history in time: the older part trains two LightGBM quantile models of
log clock hours (the median and the P90, giving each item a location and a spread), weighted by
inverse probability of censoring so open items pull the quantiles up as they should; the most
recent part calibrates them into a full predictive distribution per segment
(:mod:`eta.calibration`). ``quantiles`` then answers any level for any item, including items
already in progress: given ``e`` hours elapsed, the level-``p`` finish time comes from
``T | T > e``, i.e. ``F^-1(F(e) + p (1 - F(e)))``.

References
----------
Koenker, R. & Bassett, G. (1978). Regression quantiles. *Econometrica* 46(1).
Romano, Y., Patterson, E. & Candès, E. (2019). Conformalized quantile regression. *NeurIPS*.
Bang, H. & Tsiatis, A. A. (2000). Estimating medical costs with censored data (IPCW).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias, TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from eta import __version__, allowance
from eta.allowance import RoundingAllowance
from eta.calendar import NAT, NS_PER_DAY, Clock, Instants, utc_nanoseconds
from eta.calibration import (
    AHEAD,
    MIN_SEGMENT_ITEMS,
    MondrianCalibration,
    Scores,
    own_segments,
    tag_depth,
)
from eta.censoring import effective_sample_size, ipcw_weights, still_running_share
from eta.data import (
    END,
    FINISHED,
    HOURS,
    MIN_HOURS,
    MISSING,
    SEGMENT,
    START,
    History,
    category_texts,
    look_up,
    segment_keys,
    segment_levels,
    segment_values,
)
from eta.episodes import Episode, ended_episodes
from eta.familiarity import Familiarity
from eta.features import (
    RECORD_ENDED,
    SEASON,
    WAIT,
    Events,
    feature_columns,
    feature_frame,
    model_inputs,
)
from eta.inflight import FarTail, InFlightBySpread
from eta.online import ALL, OnlineCalibration, cumulative_hazard, group_levels, recent_speed
from eta.predictive import MIN_SPREAD, Predictive
from eta.spec import DatasetSpec
from eta.tables import DataError, some_of
from eta.usual import Usual

_T = TypeVar("_T")
Features: TypeAlias = "pd.DataFrame | Mapping[str, np.ndarray]"
"""Model input: a feature frame, or its columns by name (:func:`eta.features.feature_columns`)."""
Boosters: TypeAlias = "dict[float, lgb.Booster]"
"""The quantile models by level (0.5 and 0.9)."""

BLANKED_SHARE = 0.2
"""Share of training items the quantile models also learn with one declared feature unknown
(see :meth:`EtaModel._blanked`)."""
CROSS_FIT_FOLDS = 5
"""Folds in which the training items of thin segments are scored by trees grown without them
(:meth:`EtaModel._thin_segments_before`): trees grown on four fifths of a segment's items err
about it nearly as the model's own trees, grown on all of them, err about its new items (on
halves, eight generated workshops' recall repairs came out 0.15 log hours slow at the median,
on fifths 0.05)."""
CROSS_FIT_ROWS = 50_000
"""Most items of the thin segments that are cross-fitted, and of the others cross-fitted beside
them: enough for what they share, and a bound on what the folds cost a history of millions
(five pairs of trees on at most 80,000 items)."""
MIN_FINISHED = 50
"""Finished items a history needs before a model can learn from it."""
MIN_WAITING = 50
"""Items of a history that wait for its calendar to open before the wait is an input: as many
as a leaf of the trees holds (:attr:`Settings.min_child_samples`), the fewest a split on it
could learn from."""
UNKNOWN = "\x00unknown"
"""A category value no history holds: what a blanked training copy has instead of its own."""
AHEAD_LAGS = pd.Timedelta(days=28)
"""Quotes made ahead are calibrated for records that ended up to four weeks before the item
started: a model retrained monthly quotes with records that old."""
SPEED_MEMORY = 3.0
"""The as-of speed of recent items fades over three promise horizons for items starting later."""
MAX_CALIBRATION_SHARE = 0.5
"""A thin history calibrates on at most its latest half: the quantile models need the rest."""
SEASONAL_SPAN = pd.Timedelta(days=365)
"""The day of the year is a model input once the items the quantile models learn from span a
whole year: each day then stands for the same time last year, so a peak season that no column
shows (parcels 30% slower from Black Friday) is learnt from last year's. In a shorter history it
would only say how far into the history an item started, which is drift, and a quote next
January would read it as last January."""


@dataclass(frozen=True)
class Settings:
    """How the model learns. Defaults suit histories from a few thousand to millions of rows."""

    calibration_share: float = 0.2
    n_estimators: int = 200
    learning_rate: float = 0.08
    num_leaves: int = 31
    min_child_samples: int = 50
    max_bin: int = 127
    seed: int = 0
    use_open_items: bool = True
    """False drops open items instead of weighting them (only to measure what that buys)."""
    online_gain: float = 0.3

    def lightgbm_params(self, alpha: float) -> dict:
        return {
            "objective": "quantile",
            "alpha": alpha,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "max_bin": self.max_bin,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": 0,
            "verbose": -1,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.9,
        }


class NotFittedError(RuntimeError):
    """The model was used before ``fit`` (or ``load``)."""


class EtaModel:
    """Finish-time distributions for items of one dataset spec.

    Parameters
    ----------
    spec : the dataset spec the model serves.
    settings : learning settings; see :class:`Settings`.

    Examples
    --------
    >>> from eta import synthetic
    >>> sim = synthetic.tickets(3000, seed=1)
    >>> model = EtaModel(sim.spec).fit(load_history(sim.history, sim.spec))  # doctest: +SKIP
    >>> model.quantiles(items, [0.5, 0.9])  # doctest: +SKIP
    """

    def __init__(self, spec: DatasetSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or Settings()

    # -- learning -----------------------------------------------------------------------------

    def fit(self, history: History) -> EtaModel:
        """Train on the older part of ``history`` and calibrate on its most recent part."""
        frame = history.frame.sort_values(START, kind="stable").reset_index(drop=True)
        if frame[FINISHED].sum() < MIN_FINISHED:
            raise DataError(
                f"{history.source}: only {frame[FINISHED].sum()} finished items; "
                f"need {MIN_FINISHED}+"
            )
        self.clock_ = Clock.from_spec(self.spec)
        events = Events.from_frame(frame)
        features = feature_frame(frame, self.spec, self.clock_, events)
        self.usual_ = Usual.fit(frame, features, self.clock_)  # "busier than usual", peak weeks
        self.categories_ = {
            c: sorted(features[c].dropna().unique().tolist())
            for c in self.spec.features.categorical
        }
        # Trees answer flat beyond the values they were grown on: a quote outside says so.
        # So does one starting at an hour no item of the history started at: a grocery open
        # 07:00-23:00 promised an order placed at 02:00 "by 2:46 AM", from trees that never saw
        # the night.
        self.ranges_ = {
            c: (float(features[c].min()), float(features[c].max()))
            for c in (*self.spec.features.numeric, "start_hour")
            if features[c].notna().any()
        }
        if not self.settings.use_open_items:  # the naive way, kept only to measure against
            keep = frame[FINISHED].to_numpy()
            frame = frame[keep].reset_index(drop=True)
            features = features[keep].reset_index(drop=True)
        hours = frame[HOURS].to_numpy(float)
        log_hours = np.log(hours)
        finished = frame[FINISHED].to_numpy(bool)
        # Censoring may differ by segment (slow queues are looked at later): G per segment.
        strata = frame[SEGMENT].astype(str).to_numpy()
        cut = self._calibration_cut(hours, finished, strata)
        train, calib = slice(0, cut), slice(cut, None)
        self.inputs_ = learnt_inputs(features, frame[START].iloc[train])
        x = self._encode(features)

        w_train = ipcw_weights(hours[train], finished[train], strata[train])
        rows = np.flatnonzero(w_train > 0)
        copied, x_copies = self._blanked(frame.iloc[rows], events)
        x_fit = pd.concat([x.iloc[rows], x_copies], ignore_index=True)
        rows = np.r_[rows, rows[copied]]
        self.boosters_ = self._grown(x_fit, log_hours[rows], w_train[rows])

        # The quantile models answer for the calibration items once; episodes only drop rows.
        median, raw_spread = self._median_spread(x.iloc[calib])
        self.typical_spread_ = _geometric_mean(raw_spread)
        calm, episodes = self._without_ended_episodes(
            frame.iloc[calib],
            median,
            self._shrunk(raw_spread),
            hours[calib],
            finished[calib],
            strata[calib],
        )
        calib = np.arange(cut, len(frame))[calm]
        if episodes:
            self.typical_spread_ = _geometric_mean(raw_spread[calm])
        location = median[calm]
        spread = self._shrunk(raw_spread[calm])
        w_calib = ipcw_weights(hours[calib], finished[calib], strata[calib])
        self.familiarity_ = self._familiarity(
            x.iloc[train], x.iloc[calib], log_hours[calib] - location, spread, w_calib
        )
        spread = spread * self._widening(x.iloc[calib])
        scores = (log_hours[calib] - location) / spread
        if not (w_calib > 0).any():
            raise DataError(f"{history.source}: no finished items in the calibration period")
        keys = self._segment_levels(frame.iloc[calib])
        older = self._thin_segments_before(
            frame.iloc[train], x.iloc[train], log_hours[train], w_train, keys, w_calib
        )
        self.calibration_ = MondrianCalibration.fit(scores, w_calib, keys, older=older)
        tags = self.calibration_.segment_of(keys)
        reached = self.calibration_.levels(scores, tags)
        self.in_flight_ = InFlightBySpread.fit(reached, finished[calib], spread)
        if not self.in_flight_.complete:  # the oldest ages: earlier items' finishes too
            earlier, earlier_spread = self._levels(
                frame.iloc[train], x.iloc[train], log_hours[train]
            )
            self.in_flight_ = InFlightBySpread.fit(
                reached, finished[calib], spread, (earlier, finished[train], earlier_spread)
            )
        self.far_tail_ = self._far_tail(frame, x, hours, finished)
        self.allowance_ = self._rounding_allowance(
            frame.iloc[calib], Predictive(location, spread, tags, self.calibration_), w_calib
        )
        groups = self._groups(frame.iloc[calib], tags)
        pace, horizon, horizon_days = _pace(frame.iloc[calib], [tags, *groups])
        # Where the latest items stand at the as-of time, open ones included (see predict).
        speed = recent_speed(
            self.calibration_,
            tags,
            location,
            spread,
            hours[calib],
            finished[calib],
            pace,
            groups,
        )
        self.group_levels_ = group_levels(
            self.calibration_, tags, location, spread, hours[calib], finished[calib], groups
        )
        self.speed_memory_days_ = SPEED_MEMORY * horizon_days
        if len(calib):
            location_ahead, spread_ahead = self._quoted_ahead(frame.iloc[calib], events)
            scores_ahead = (log_hours[calib] - location_ahead) / spread_ahead
            self.calibration_ = self.calibration_.with_ahead(scores_ahead, w_calib, keys, older)
        segments = set(self.calibration_.segments)
        self.speed_ = _with_ahead_twins(speed, segments)
        self.online_ = OnlineCalibration(
            self.spec.confidence,
            self.settings.online_gain,
            _with_ahead_twins(pace, segments),
            horizon=horizon,
            own_columns=tuple(self.spec.segments),
        )
        # Open items stay in the backlog either way; the state at the as-of time fades as the
        # speed does for items that start later.
        self.events_ = events.since(history.as_of, self._memory())
        self.as_of_ = history.as_of
        self.info_ = {
            "eta_version": __version__,
            "spec": self.spec.name,
            "as_of": history.as_of.isoformat(),
            "training_window": [
                frame[START].iloc[0].isoformat(),
                frame[START].iloc[-1].isoformat(),
            ],
            "calibration_from": frame[START].iloc[cut].isoformat() if cut < len(frame) else None,
            "rows": len(frame),
            "open_share": float(1 - finished.mean()),
            "still_running_share": still_running_share(hours, finished),
            "still_running_by_segment": _still_running_by_segment(frame, hours, finished),
            "longest_finish_hours": float(hours[finished].max()) if finished.any() else 0.0,
            "median_finish_hours": float(np.median(hours[finished])) if finished.any() else 0.0,
            # Finished within the clock's first minute: many means the calendar is wrong for
            # the data (items finish while it says everyone is off), and so is every promise.
            "no_clock_time_share": float(np.mean(hours[finished] <= MIN_HOURS)),
            "rejected_rows": len(history.rejected),
            "given_share": _given_share(frame, self.spec),
            "segments": self.calibration_.segments,
            "episodes_left_out": [episode.to_dict() for episode in episodes],
        }
        return self

    def _without_ended_episodes(
        self,
        items: pd.DataFrame,
        location: np.ndarray,
        spread: np.ndarray,
        hours: np.ndarray,
        finished: np.ndarray,
        strata: np.ndarray,
    ) -> tuple[np.ndarray, list[Episode]]:
        """Which calibration ``items`` are not in an ended one-off episode (:mod:`eta.episodes`),
        and the episodes; judged against a first calibration on all of them."""
        weights = ipcw_weights(hours, finished, strata)
        if not (weights > 0).any():
            return np.ones(len(items), dtype=bool), []
        keys = self._segment_levels(items)
        rough = MondrianCalibration.fit((np.log(hours) - location) / spread, weights, keys)
        tags = rough.segment_of(keys)
        hazard = cumulative_hazard(rough, tags, location, spread, hours)
        promised = Predictive(location, spread, tags, rough).hours(
            np.full((len(items), 1), self.spec.confidence)
        )[:, 0]
        starts = items[START]
        # A calibration period whose items are mostly still open (an export that lost its
        # recent finishes) has a tail without end; episodes need promises only as far as the
        # oldest item's age, which reaches the export.
        promised = np.minimum(promised, hours.max())
        reach = self.clock_.add_hours(self.clock_.effective_start(starts), promised)
        inside, episodes = ended_episodes(starts, utc_nanoseconds(reach), hazard, finished)
        return ~inside, episodes

    def _blanked(self, items: pd.DataFrame, events: Events) -> tuple[np.ndarray, pd.DataFrame]:
        """Which of ``items`` are also learnt with one declared feature unknown (a random
        :data:`BLANKED_SHARE` of them), and the model input of those copies: one category
        never seen, or one number missing, each.

        Quotes meet values the model never saw: a new queue, a blank field, a column missing
        from the file. LightGBM alone sends an unknown category down whichever branch the
        "other categories" took in each split and reads a number it never saw missing as 0: a
        missing ``priority`` column cut every promise to a quarter (42% were kept), a missing
        queue size halved them. Learnt from copies like these, the quantile models answer for
        an unknown value what history says given everything else known about the item: a
        flight to an unknown airport still flies its distance. (Averaging the item over other
        items' values ignored that: from October to December, 76.7% of promises to an unknown
        destination were kept against 84.7% with it known; 82.7% now, see
        ``benchmarks/UNKNOWN_VALUES.md``.) The copies' recent history is recomputed, as a quote
        of an unknown segment sees it."""
        columns = [c for c in self.spec.feature_columns if c in self.inputs_]
        rng = np.random.default_rng(0)
        copied = np.flatnonzero(rng.random(len(items)) < BLANKED_SHARE) if columns else []
        copies = items.iloc[copied].copy()
        blank = rng.integers(max(len(columns), 1), size=len(copies))
        for j, column in enumerate(columns):
            rows = copies.index[blank == j]
            if column in self.categories_:
                copies[column] = copies[column].astype(object)
                copies.loc[rows, column] = UNKNOWN
            else:
                copies.loc[rows, column] = np.nan
        copies[SEGMENT] = segment_keys(copies, self.spec)
        x = self._encode(feature_frame(copies, self.spec, self.clock_, events))
        return np.asarray(copied, dtype=int), x

    def _rounding_allowance(
        self, items: pd.DataFrame, predictive: Predictive, weights: np.ndarray
    ) -> RoundingAllowance | None:
        """What rounding adds to the on-time rate of the calibration items' promises (a seeded
        sample of at most :data:`eta.allowance.MAX_ITEMS`), see :mod:`eta.allowance`."""
        rows = np.arange(len(items))
        if len(rows) > allowance.MAX_ITEMS:
            rng = np.random.default_rng(self.settings.seed)
            rows = np.sort(rng.choice(rows, allowance.MAX_ITEMS, replace=False))
        sample = predictive.take(rows)
        calibrated = sample.hours(np.tile(allowance.LEVELS, (len(rows), 1)))
        return RoundingAllowance.fit(
            self.clock_,
            self.spec.promise_rounding,
            self.clock_.effective_start(items[START].iloc[rows]),
            calibrated,
            items[HOURS].to_numpy(float)[rows],
            weights[rows],
            sample.segment,
        )

    def _grown(self, x: pd.DataFrame, log_hours: np.ndarray, weights: np.ndarray) -> Boosters:
        """The two quantile models (P50 and P90 of log hours) grown on ``x``."""
        boosters = {}
        for alpha in (0.5, 0.9):
            data = lgb.Dataset(
                x,
                log_hours,
                weight=weights,
                # The trees know columns by place, as predictions give them (_matrix): LightGBM
                # refuses names with JSON's special characters, and 'sla:tier' is a fine name.
                feature_name=[f"x{j}" for j in range(x.shape[1])],
                categorical_feature=[j for j, c in enumerate(x) if c in self.categories_],
                free_raw_data=True,
            )
            params = self.settings.lightgbm_params(alpha)
            boosters[alpha] = lgb.train(params, data, self.settings.n_estimators)
        return boosters

    def _thin_segments_before(
        self,
        items: pd.DataFrame,
        x: pd.DataFrame,
        log_hours: np.ndarray,
        weights: np.ndarray,
        calibration_keys: list[np.ndarray],
        calibration_weights: np.ndarray,
    ) -> Scores | None:
        """Scores of training items, for the segments too thin in the calibration period for a
        distribution of their own (:meth:`MondrianCalibration.fit`): theirs for their medians
        and widths, and others' for their parents' widths, measured alike.

        Cross-fitted: each item is scored by trees grown without it (:data:`CROSS_FIT_FOLDS`
        folds of at most :data:`CROSS_FIT_ROWS` thin items and as many others). Scored by the
        trees that learnt from them, they said what those trees had memorised: an outside
        harness's recall repairs (149 a year, truly 2.5x slower than the rest and wider) sat
        0.10 log hours from their in-sample median and 0.36 from their true one, and were
        promised 0.57x their true P90."""
        keys = self._segment_levels(items)
        own = own_segments(calibration_weights, calibration_keys)
        thin = np.zeros(len(items), dtype=bool)
        for depth in range(1, len(keys)):  # of a thin segment the calibration period has
            present = np.unique(calibration_keys[depth])
            thin |= ~np.isin(keys[depth], list(own[depth])) & np.isin(keys[depth], present)
        # Open ones too: a censoring-weighted median counts them (with weight 0). Left out, the
        # finished ones' weights, which stand for them too, were read as a larger share of the
        # segment: slow claims, many of their earlier items still open, came out 0.13-0.36 log
        # hours short at the median.
        rows = np.flatnonzero(thin)
        if not len(rows):
            return None
        rng = np.random.default_rng(self.settings.seed)
        others = np.flatnonzero(~thin & (weights > 0))
        # Each group drawn at its own rate, and each row counted for the items it stands for.
        represents = np.r_[
            np.full(min(len(rows), CROSS_FIT_ROWS), max(len(rows) / CROSS_FIT_ROWS, 1.0)),
            np.full(min(len(others), CROSS_FIT_ROWS), max(len(others) / CROSS_FIT_ROWS, 1.0)),
        ]
        if len(rows) > CROSS_FIT_ROWS:  # a median needs dozens, not a million
            rows = np.sort(rng.choice(rows, CROSS_FIT_ROWS, replace=False))
        if len(others) > CROSS_FIT_ROWS:
            others = np.sort(rng.choice(others, CROSS_FIT_ROWS, replace=False))
        folds = min(CROSS_FIT_FOLDS, len(rows) + len(others))
        fold = np.r_[rng.permutation(len(rows)), rng.permutation(len(others))] % folds
        rows = np.r_[rows, others]
        location, spread = np.empty(len(rows)), np.empty(len(rows))
        for k in range(folds):
            held = fold == k
            learn = rows[~held & (weights[rows] > 0)]
            # Too few to grow trees on (a history of thin segments only): scored in-sample.
            boosters = (
                self._grown(x.iloc[learn], log_hours[learn], weights[learn])
                if len(learn) >= MIN_FINISHED
                else None
            )
            location[held], spread[held] = self._location_spread(x.iloc[rows[held]], boosters)
        scores = (log_hours[rows] - location) / spread
        return Scores(scores, weights[rows], [k[rows] for k in keys], represents)

    def _calibration_cut(self, hours: np.ndarray, finished: np.ndarray, strata: np.ndarray) -> int:
        """Where calibration begins: the latest ``calibration_share`` of the history, or more of
        it, up to :data:`MAX_CALIBRATION_SHARE`, until it holds as many effective finished items
        as a segment needs for a distribution of its own.

        Three weeks of tickets left the latest fifth 3.4 effective items, most of the latest
        ones being still open: its 90% promises were kept 75% of the time; calibrating on the
        latest 35% (27 items) kept 89%, and on half (41 items) 94%. Histories of a few
        thousand rows and more are not affected."""
        share = self.settings.calibration_share
        while True:
            cut = int(len(hours) * (1.0 - share))
            weights = ipcw_weights(hours[cut:], finished[cut:], strata[cut:])
            enough = effective_sample_size(weights) >= MIN_SEGMENT_ITEMS
            if enough or share >= MAX_CALIBRATION_SHARE:
                return cut
            share = min(share + 0.05, MAX_CALIBRATION_SHARE)

    # -- prediction ---------------------------------------------------------------------------

    def features(self, items: pd.DataFrame, events: Events | None = None) -> pd.DataFrame:
        """Model input for items in canonical columns, with recent history from ``events``."""
        self._check_fitted()
        return feature_frame(items, self.spec, self.clock_, events or self.events_)

    def spelled_as_learnt(self, items: pd.DataFrame) -> pd.DataFrame:
        """``items`` with each category value the model learnt in another case ('EMAIL' for
        'email') written as learnt, and their segments to match; the same frame when there is
        none. Training took such values as one (:func:`eta.data.one_spelling`), so a quote must
        too: otherwise the item is quoted as having a value never seen, from its wider group's
        calibration, and the order form's capitals cost it its own segment."""
        codes, learnt = self._vocabulary()
        changed = {}
        for column, known in codes.items():
            values = items[column].to_numpy(dtype=object)
            new = [v for v in set(values) if isinstance(v, str) and v not in known]
            folded = learnt[column]
            written = {v: folded[v.casefold()] for v in new if v.casefold() in folded}
            if written:
                changed[column] = pd.array([written.get(v, v) for v in values], dtype="string")
        if not changed:
            return items
        items = items.assign(**changed)
        items[SEGMENT] = pd.array(segment_values(items, self.spec), dtype="string")
        return items

    def begins(self, start: Instants) -> pd.DatetimeIndex:
        """When each item's clock starts: after the calendar's cut-off rule and, on a wall
        clock whose history never waited for the calendar to open, at its next opening.

        Such a model never saw what a closed night does to a duration, and its trees read an
        hour no item started at as the nearest they know: a grocery open 07:00-23:00 promised
        an order placed at 02:00 "by 2:46 AM", when nobody would pick it before 07:00. Where
        some item of the history waits, the wait is an input (:data:`eta.features.WAIT`) and
        its durations hold it."""
        self._check_fitted()
        if not self.waits_for_opening:
            return self.clock_.effective_start(start)
        return self.clock_.next_open(start)

    @property
    def waits_for_opening(self) -> bool:
        """Whether an item's clock starts at the calendar's next opening (:meth:`begins`): on a
        wall clock whose history never waited for it. A business clock does not run while
        closed, and a learnt wait is in the durations."""
        return self.clock_.kind == "wall" and WAIT not in self.inputs_

    def predict(self, items: pd.DataFrame, features: Features | None = None) -> Predictive:
        """Each item's calibrated finish-time distribution (see :class:`Predictive`)."""
        self._check_fitted()
        if features is None:
            features = self._inputs(items)
        location, spread = self._location_spread(self._matrix(features))
        ahead = np.asarray(features[RECORD_ENDED], bool) if RECORD_ENDED in features else None
        segments = self.calibration_.segment_of(self._segment_levels(items), ahead)
        groups = self._groups(items, segments)
        location = location + self._speed(items[START], segments, groups)
        return Predictive(
            location,
            spread,
            segments,
            self.calibration_,
            self.in_flight_,
            tuple(groups),
            getattr(self, "far_tail_", None),  # none in models saved before it
        )

    def quantiles(
        self,
        items: pd.DataFrame,
        levels: np.ndarray | list[float],
        *,
        elapsed: np.ndarray | None = None,
        features: Features | None = None,
        online: bool = True,
    ) -> np.ndarray:
        """Finish times in clock hours from each item's (effective) start, one column per level.

        ``levels`` may be one list for all items or an ``(n_items, n_levels)`` array. With
        ``elapsed`` (clock hours already spent, NaN for new items) the quantiles are those of
        ``T | T > elapsed``. With ``online`` the distribution is scaled by the factor that
        outcomes fed back so far call for (:class:`eta.online.OnlineCalibration`).
        """
        predictive = self.predict(items, features)
        levels = np.asarray(levels, dtype=float)
        if levels.ndim == 1:
            levels = np.tile(levels, (len(items), 1))
        offsets = self.online_.offsets(predictive.segment, predictive.groups) if online else None
        return predictive.hours(levels, elapsed, offsets, self.online_.confidence)

    def contributions(
        self, items: pd.DataFrame, features: Features | None = None, level: float = 0.9
    ) -> pd.DataFrame:
        """Each feature's additive contribution to each item's raw ``level`` quantile of log
        hours, plus the column ``baseline`` they start from: what moved *this* item's promise,
        for risk notes and agents. ``level`` is 0.5 (the median model) or 0.9 (the promise).

        Path attribution (Saabas 2014, "treeinterpreter"): along each tree's path to the item's
        leaf every split moves the expected value (count-weighted mean of the leaves below) from
        the parent's to the child's, and the move is credited to the split's feature. Like
        TreeSHAP (LightGBM's ``pred_contrib``) the contributions add up exactly to the
        prediction; unlike it, it costs one pass over the trees (``pred_leaf``): TreeSHAP takes
        ~100x a prediction here, over a minute for 100,000 quotes. The price is that credit for
        interactions depends on split order, which does not matter for naming the one or two
        features that lengthen a promise most.
        """
        self._check_fitted()
        if level not in self.boosters_:
            raise ValueError(f"no model for level {level}; use one of {sorted(self.boosters_)}")
        if features is None:
            features = self._inputs(items)
        values = self._credits(features, level)
        return pd.DataFrame(values, index=items.index, columns=[*self.inputs_, "baseline"])

    def _credits(self, features: Features, level: float) -> np.ndarray:
        """:meth:`contributions` as an array: one column per feature, then the baseline."""
        x = self._matrix(features)
        leaves = _lightgbm(self.boosters_[level], x, pred_leaf=True).astype(np.int64)
        table, baseline = _path_table(self.boosters_[level])
        trees, per_tree, features = table.shape
        values = np.zeros((len(x), features + 1))
        paths = table.reshape(trees * per_tree, features)  # one row per (tree, leaf)
        where = (leaves + np.arange(trees) * per_tree).T  # trees first
        for rows in range(0, len(x), _CHUNK):  # bounded memory: (rows, trees, features)
            credit = paths.take(where[:, rows : rows + _CHUNK].ravel(), axis=0)
            # Reducing the first axis of a contiguous array adds one tree at a time, in tree
            # order: the same sums, to the last bit, as a loop over the trees.
            values[rows : rows + _CHUNK, :-1] = np.add.reduce(
                credit.reshape(trees, -1, features), axis=0
            )
        values[:, -1] = baseline
        return values

    # -- persistence --------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the model in native, inspectable formats (no pickles): text, JSON, Parquet.

        ``model.json`` records the fingerprint of ``spec.yaml`` as written (:data:`SPEC_SHA256`),
        so that :meth:`load` can refuse a spec edited afterwards. The files hold no time of
        saving: the same history, spec and settings write the same bytes, which is how a
        retrain tells a candidate identical to the champion (:mod:`eta.promotion`).

        The model in the folder is replaced whole (:func:`_replacing`): a model saved over
        another leaves none of the old one's files, and a folder holding anything but a model
        is refused, not filled (``--out .`` would have logged the working folder to MLflow).
        """
        self._check_fitted()
        with _replacing(Path(directory)) as staging:
            self._write(staging)
        return Path(directory)

    def _write(self, directory: Path) -> None:
        spec_text = self.spec.to_yaml()
        (directory / "spec.yaml").write_text(spec_text, encoding="utf-8")
        trees = {}
        for alpha, booster in self.boosters_.items():
            path = directory / f"lightgbm_q{int(alpha * 100)}.txt"
            booster.save_model(path)
            trees[path.name] = _sha256(path)
        state = {
            SPEC_SHA256: spec_fingerprint(spec_text),
            TREES_SHA256: trees,
            "info": self.info_,
            "settings": self.settings.__dict__,
            "inputs": self.inputs_,
            "categories": self.categories_,
            "ranges": self.ranges_,
            "typical_spread": self.typical_spread_,
            "calibration": self.calibration_.to_dict(),
            "in_flight": self.in_flight_.to_dict() if self.in_flight_ else None,
            "far_tail": self.far_tail_.to_dict() if self.far_tail_ else None,
            "usual": self.usual_.to_dict(),
            "speed": self.speed_,
            "speed_memory_days": self.speed_memory_days_,
            "group_levels": self.group_levels_,
            "familiarity": self.familiarity_.to_dict() if self.familiarity_ else None,
            "rounding_allowance": self.allowance_.to_dict() if self.allowance_ else None,
        }
        (directory / "model.json").write_text(json.dumps(state), encoding="utf-8")
        (directory / "online.json").write_text(json.dumps(self.online_.to_dict()), encoding="utf-8")
        self.events_.to_frame().to_parquet(directory / "recent_events.parquet", index=False)

    @classmethod
    def load(cls, directory: str | Path) -> EtaModel:
        directory = Path(directory)
        saved = _saved_files(directory)
        if not saved("model.json").exists():
            raise FileNotFoundError(f"{directory}: not a model directory (no model.json)")
        state = _model_file(saved("model.json"), _json)
        _check_spec_unchanged(saved("spec.yaml"), state.get(SPEC_SHA256))
        spec = DatasetSpec.from_yaml(saved("spec.yaml"))
        model = cls(spec, Settings(**state["settings"]))
        model.clock_ = Clock.from_spec(spec)
        trees = state.get(TREES_SHA256, {})  # none in models saved before they were kept
        model.boosters_ = {
            alpha: _model_file(
                saved(f"lightgbm_q{int(alpha * 100)}.txt"),
                lambda path: lgb.Booster(model_file=str(_as_saved(path, trees.get(path.name)))),
            )
            for alpha in (0.5, 0.9)
        }
        model.inputs_ = state.get("inputs") or _inputs_before_seasons(spec)
        model.categories_ = state["categories"]
        model.ranges_ = {c: tuple(r) for c, r in state.get("ranges", {}).items()}  # none: before
        model.typical_spread_ = state["typical_spread"]
        model.calibration_ = MondrianCalibration.from_dict(state["calibration"])
        in_flight = state.get("in_flight")  # absent in models saved before it existed
        model.in_flight_ = InFlightBySpread.from_dict(in_flight) if in_flight else None
        far_tail = state.get("far_tail")  # absent in models saved before it existed
        model.far_tail_ = FarTail.from_dict(far_tail) if far_tail else None
        model.usual_ = Usual.from_dict(state.get("usual"))  # absent in models saved before it
        model.speed_ = state.get("speed", {})  # models saved before the as-of speed: none
        model.speed_memory_days_ = state.get("speed_memory_days", 0.0)
        model.group_levels_ = state.get("group_levels", {})  # none in models saved before
        familiarity = state.get("familiarity")  # absent in models saved before it existed
        model.familiarity_ = Familiarity.from_dict(familiarity) if familiarity else None
        # Models saved before the allowance quote the calibrated level, as they did.
        model.allowance_ = RoundingAllowance.from_dict(state.get("rounding_allowance"))
        model.online_ = _model_file(
            saved("online.json"), lambda path: OnlineCalibration.from_dict(_json(path))
        )
        model.info_ = state["info"]
        model.as_of_ = pd.Timestamp(model.info_["as_of"])
        recent = Events.from_frame(_model_file(saved("recent_events.parquet"), pd.read_parquet))
        model.events_ = recent.since(model.as_of_, model._memory())
        return model

    # -- internals ----------------------------------------------------------------------------

    def _encode(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model's input frame: categories on the model's lists, no bookkeeping columns."""
        x = features[self.inputs_].copy()
        for column, categories in self.categories_.items():
            values = x[column].astype(object)
            known = values.isin(categories)  # never seen in training: unknown (see _blanked)
            x[column] = pd.Categorical(
                values.where(known, UNKNOWN), categories=[*categories, UNKNOWN]
            )
        return x

    def _inputs(self, items: pd.DataFrame) -> dict[str, np.ndarray]:
        """:meth:`features` as arrays by column (:func:`eta.features.feature_columns`)."""
        return feature_columns(items, self.spec, self.clock_, self.events_)

    def _matrix(self, features: Features) -> np.ndarray:
        """Model input as a float matrix, categories as the codes LightGBM derives from the
        model's category lists (unknown: the code after the last). Same predictions as
        :meth:`_encode`'s frame, but LightGBM's pandas route re-checks every column on every
        call: 2 ms for one item."""
        columns = [(column, features[column]) for column in self.inputs_]
        x = np.empty((len(columns[0][1]) if columns else 0, len(columns)))
        codes = self._category_codes()
        for j, (column, values) in enumerate(columns):
            table = codes.get(column)
            if isinstance(values, pd.Series):
                dtype = float if table is None else object
                values = values.to_numpy(dtype=dtype, na_value=np.nan)
            x[:, j] = values if table is None else look_up(values, table, len(table))
        return x

    def _category_codes(self) -> dict[str, dict[str, int]]:
        """Per categorical column, each known value's code (its place in the category list)."""
        return self._vocabulary()[0]

    def _vocabulary(self) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, str]]]:
        """Per categorical column, each known value's code, and each known value by its
        case-folded spelling; built once per category lists."""
        cached = self.__dict__.get("_vocabulary_cache")
        if cached is None or cached[0] is not self.categories_:
            codes = {c: {v: k for k, v in enumerate(cs)} for c, cs in self.categories_.items()}
            folded = {c: {v.casefold(): v for v in cs} for c, cs in self.categories_.items()}
            cached = self._vocabulary_cache = (self.categories_, codes, folded)
        return cached[1], cached[2]

    def _location_spread(
        self, x: pd.DataFrame | np.ndarray, boosters: Boosters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        median, spread = self._median_spread(x, boosters)
        return median, self._shrunk(spread) * self._widening(x)

    def _familiarity(
        self,
        x_train: pd.DataFrame,
        x_calib: pd.DataFrame,
        residuals: np.ndarray,
        spread: np.ndarray,
        weights: np.ndarray,
    ) -> Familiarity | None:
        """:class:`Familiarity` of the training items' values, widening bands of calibration
        items; none without categorical inputs."""
        n_codes = {
            c: len(values) + 1 for c, values in self.categories_.items() if c in self.inputs_
        }
        if not n_codes:
            return None
        return Familiarity.fit(
            self._codes(x_train),
            n_codes,
            self._codes(x_calib),
            residuals / spread,
            weights,
            self.spec.confidence,
        )

    def _widening(self, x: pd.DataFrame | np.ndarray) -> np.ndarray | float:
        """Each item's spread factor for how rarely training saw its values (1 in models
        saved before it)."""
        familiarity = getattr(self, "familiarity_", None)
        return familiarity.factor(self._codes(x)) if familiarity is not None else 1.0

    def _codes(self, x: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
        """Each learnt categorical column's value codes in model input ``x`` (:meth:`_encode`'s
        frame or :meth:`_matrix`'s array)."""
        columns = [c for c in self.categories_ if c in self.inputs_]
        if isinstance(x, pd.DataFrame):
            return {c: x[c].cat.codes.to_numpy() for c in columns}
        return {c: x[:, self.inputs_.index(c)] for c in columns}

    def _shrunk(self, raw_spread: np.ndarray) -> np.ndarray:
        """One model's P90-P50 gap is noisy: each item's spread shrunk halfway (geometrically)
        towards the typical one. In the benchmark this kept coverage and cut pinball loss ~2%."""
        return np.sqrt(raw_spread * self.typical_spread_)

    def _speed(
        self, starts: pd.Series, segments: np.ndarray, groups: list[np.ndarray]
    ) -> np.ndarray:
        """The as-of speed of recent items, fading for items that start later: it says where
        things stand when the model was trained, not where they will be in a month."""
        if not self.speed_:
            return np.zeros(len(segments))
        shared = self.speed_.get(ALL, 0.0)
        speed = np.array([shared + self.speed_.get(tag, 0.0) for tag in segments], dtype=float)
        level = np.zeros(len(segments))  # where a value's speed fades to (see group_levels)
        for keys in groups:
            speed += look_up(keys, self.speed_, 0.0)
            level += look_up(keys, self.group_levels_, 0.0)
        if not self.speed_memory_days_:
            return speed
        ns = utc_nanoseconds(starts)
        later = np.where(ns == NAT, 0, ns - self.as_of_.value) / NS_PER_DAY
        return level + (speed - level) * np.exp(
            -np.clip(later, 0.0, None) / self.speed_memory_days_
        )

    def _quoted_ahead(self, items: pd.DataFrame, events: Events) -> tuple[np.ndarray, np.ndarray]:
        """Location and spread of calibration ``items`` as quotes made ahead would have them:
        each from a record of recent history that ended a while before it started (up to
        :data:`AHEAD_LAGS`, weekly, from the calibration period's start on). Many record ends,
        not one: what changed after a single one (a carrier's bad month ending) would otherwise
        be learnt as the rule for every quote made ahead."""
        starts = utc_nanoseconds(items[START])
        first = int(starts.min())
        lags = np.random.default_rng(0).uniform(0.0, AHEAD_LAGS.value, len(items)).astype(np.int64)
        week = pd.Timedelta(days=7).value
        ends = first + np.maximum(starts - lags - first, 0) // week * week
        location, spread = np.empty(len(items)), np.empty(len(items))
        for end in np.unique(ends):
            rows = np.flatnonzero(ends == end)
            record = events.since(pd.Timestamp(int(end), tz="UTC"), self._memory())
            x = self._encode(feature_frame(items.iloc[rows], self.spec, self.clock_, record))
            location[rows], spread[rows] = self._location_spread(x)
        return location, spread

    def _memory(self) -> pd.Timedelta | None:
        """How fast what was known at the as-of time fades for items that start later."""
        return pd.Timedelta(days=self.speed_memory_days_) if self.speed_memory_days_ else None

    def _median_spread(
        self, x: pd.DataFrame | np.ndarray, boosters: Boosters | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        boosters = self.boosters_ if boosters is None else boosters
        median = _lightgbm(boosters[0.5], x)
        return median, np.maximum(_lightgbm(boosters[0.9], x) - median, MIN_SPREAD)

    def _levels(
        self, items: pd.DataFrame, x: pd.DataFrame, log_hours: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each item's level under its calibrated distribution, and its spread. For the items
        the trees were grown on, an in-sample answer: used only where calibration items run
        out, for how far the oldest ones go, which the trees could not learn from any feature."""
        location, spread = self._location_spread(x)
        tags = self.calibration_.segment_of(self._segment_levels(items))
        return self.calibration_.levels((log_hours - location) / spread, tags), spread

    def _far_tail(
        self, items: pd.DataFrame, x: pd.DataFrame, hours: np.ndarray, finished: np.ndarray
    ) -> FarTail:
        """:class:`FarTail` of the whole history, each item's age in its own fresh promises
        (in-sample for the items the trees grew on: how long a late item still takes is what
        no feature told them)."""
        location, spread = self._location_spread(x)
        tags = self.calibration_.segment_of(self._segment_levels(items))
        predictive = Predictive(location, spread, tags, self.calibration_)
        promise = predictive.hours(np.full((len(items), 1), self.spec.confidence))[:, 0]
        level = 1.0 - (1.0 - self.spec.confidence) / 4.0
        return FarTail.fit(hours / promise, finished, level)

    def _segment_levels(self, items: pd.DataFrame) -> list[np.ndarray]:
        return segment_levels(items, self.spec)

    def _groups(self, items: pd.DataFrame, segments: np.ndarray) -> list[np.ndarray]:
        """Each item's value of every declared category that is not a segment, as a key of the
        speed estimates ('channel=chat'), and its value of each segment column that its
        calibration segment (``segments``, tags) does not reach: a slowdown that only such a
        value shows is caught by its own estimate, which calibration segments cannot give it.
        A value the model never saw has one too: a marketplace's new sellers, calibrated with
        all sellers, kept 82% of their promises after their hundredth order (one 64% of 213 at
        0.55 times its true P90), their outcomes heard only by everyone's corrections. A
        missing value has none ('')."""
        tags, where = np.unique(np.asarray(segments, dtype=object), return_inverse=True)
        depth = np.array([tag_depth(tag) for tag in tags], dtype=int)[where]
        groups = []
        for column in self.spec.features.categorical:
            if column not in items:
                continue
            if column in self.spec.segments:
                beyond = depth <= self.spec.segments.index(column)
            else:
                beyond = np.ones(len(items), bool)
            values = category_texts(items[column])
            keys = np.full(len(values), "", dtype=object)
            named = beyond & (values != MISSING)
            keys[named] = [f"{column}={v}" for v in values[named]]
            groups.append(keys)
        return groups

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibration_"):
            raise NotFittedError("call fit() or EtaModel.load() before asking for quantiles")


PARALLEL_ROWS = 10_000
"""Rows from which LightGBM predicts on all cores. For a few rows, waking OpenMP's threads
costs more than predicting, and on a busy machine a sleeping thread can wait milliseconds for
a time slice: one row took p99 2.4 ms on two cores and 0.04 ms on one (measured under load).
Each call sets its own thread count (LightGBM resets it from every call's parameters)."""


def _lightgbm(booster: lgb.Booster, x: pd.DataFrame | np.ndarray, **kwargs) -> np.ndarray:
    """``booster.predict``, on one core for fewer than :data:`PARALLEL_ROWS` rows."""
    threads = 0 if len(x) >= PARALLEL_ROWS else 1  # 0: all cores (OpenMP's default)
    return np.asarray(booster.predict(x, num_threads=threads, **kwargs))


_CHUNK = 256
"""Items per step of :meth:`EtaModel.contributions`: a step holds items x trees x features
(~6 MB for 200 trees of 14 features, so it is summed while still in cache)."""
_PATHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Path tables per booster, built once (a trained booster never changes)."""


def _path_table(booster: lgb.Booster) -> tuple[np.ndarray, float]:
    """``table[tree, leaf, feature]``: what the path to each leaf credits each feature; and the
    sum of the trees' root expectations (the baseline)."""
    cached = _PATHS.get(booster)
    if cached is not None:
        return cached
    dump = booster.dump_model()
    trees = dump["tree_info"]
    n_features = len(dump["feature_names"])
    width = max(t["num_leaves"] for t in trees)
    table = np.zeros((len(trees), width, n_features))
    baseline = 0.0

    def expectation(node: dict) -> tuple[float, float]:
        if "split_feature" not in node:  # a leaf (a tree of one leaf has no leaf_index)
            return node["leaf_value"], float(node.get("leaf_count", 1) or 1)
        left, right = expectation(node["left_child"]), expectation(node["right_child"])
        count = left[1] + right[1]
        node["_value"] = (left[0] * left[1] + right[0] * right[1]) / count
        return node["_value"], count

    def walk(node: dict, tree: int, credit: np.ndarray) -> None:
        if "split_feature" not in node:
            table[tree, node.get("leaf_index", 0)] = credit
            return
        for child in (node["left_child"], node["right_child"]):
            value = child["_value"] if "split_feature" in child else child["leaf_value"]
            step = credit.copy()
            step[node["split_feature"]] += value - node["_value"]
            walk(child, tree, step)

    for index, tree in enumerate(trees):
        root = tree["tree_structure"]
        baseline += expectation(root)[0]
        walk(root, index, np.zeros(n_features))
    _PATHS[booster] = (table, baseline)
    return table, baseline


def _still_running_by_segment(
    frame: pd.DataFrame, hours: np.ndarray, finished: np.ndarray
) -> dict[str, float]:
    """:func:`still_running_share` of each segment with enough items: a history long enough
    for most items can be far too short for one kind (a team whose items take four months,
    three quarters of them open), which the whole history's share hides."""
    out = {}
    for segment, rows in frame.groupby(SEGMENT, observed=True).indices.items():
        if len(rows) >= MIN_SEGMENT_ITEMS:
            out[str(segment)] = still_running_share(hours[rows], finished[rows])
    return out


def _pace(
    items: pd.DataFrame, keys: list[np.ndarray]
) -> tuple[dict[str, float], dict[str, float], float]:
    """How many judgements online calibration hears per promise horizon, and how soon.

    Returns the items started during one typical promise (wall-time P90 of finished items),
    overall and per key (each calibration segment, each group of :meth:`EtaModel._groups`),
    each checkpoint's typical wait as a share of the promise's (the likely time: wall-time
    median over P90), and the promise horizon in days.
    """
    days = max((items[START].max() - items[START].min()) / pd.Timedelta(days=1), 1.0)
    finished = items[FINISHED].to_numpy()
    wall = (items[END] - items[START])[finished] / pd.Timedelta(days=1)
    median, horizon = np.quantile(wall, [0.5, 0.9]) if finished.any() else (1.0, 1.0)
    counts = pd.Series(np.concatenate(keys) if keys else []).value_counts()
    per_day = {key: n / days for key, n in counts.items() if key}
    pace = {ALL: len(items) / days * horizon, **{k: v * horizon for k, v in per_day.items()}}
    share = float(np.clip(median / max(horizon, 1e-9), 0.05, 1.0))
    return pace, {"likely": share}, float(horizon)


def learnt_inputs(features: pd.DataFrame, training_starts: pd.Series) -> list[str]:
    """The feature columns quantile models learn from, given when their training items
    started: all, but the day of the year only once those span :data:`SEASONAL_SPAN`, and the
    wait for the calendar to open only where :data:`MIN_WAITING` items of the history or more
    wait (a wall clock with closed hours). Elsewhere it is 0 for (nearly) every item and tells
    the trees nothing: a grocery's twelve orders shifted past closing by a clock change turned
    it on, and its order placed at 02:00 was still promised "by 2:46 AM". Without it, an item
    that waits is quoted from the opening (:meth:`EtaModel.begins`)."""
    inputs = model_inputs(features)
    if not training_starts.max() - training_starts.min() >= SEASONAL_SPAN:  # NaT when empty
        inputs.remove(SEASON)
    if not np.count_nonzero(features[WAIT].to_numpy(float) > 0) >= MIN_WAITING:
        inputs.remove(WAIT)
    return inputs


def _inputs_before_seasons(spec: DatasetSpec) -> list[str]:
    """The inputs of models saved before the day of the year was one (they did not list them)."""
    calendar = ["start_hour", "start_weekday", "after_cutoff", "days_off_next_7d"]
    recent = ["backlog", "backlog_all", "finished_7d", "recent_log_hours_7d", "started_7d"]
    return [*spec.features.categorical, *spec.features.numeric, *calendar, *recent]


def _with_ahead_twins(by_key: dict[str, float], segments: set[str]) -> dict[str, float]:
    """Per-segment values (pace, speed) shared by each segment's twin for quotes made ahead
    (the whole model and groups have none: an item quoted ahead keeps their keys)."""
    return {**by_key, **{AHEAD + tag: v for tag, v in by_key.items() if tag in segments}}


def _given_share(frame: pd.DataFrame, spec: DatasetSpec) -> dict[str, float]:
    """Per declared feature, the share of the history's items that have a value: a quote
    without one is noted where nearly every item had one (:func:`eta.risks.assess`)."""
    shares = {
        column: float((frame[column] != MISSING).mean()) for column in spec.features.categorical
    }
    shares |= {column: float(frame[column].notna().mean()) for column in spec.features.numeric}
    return shares


def _model_file(path: Path, read: Callable[[Path], _T]) -> _T:
    """``read(path)``, or an error naming the file of a model directory that cannot be read: a
    missing LightGBM file printed LightGBM's traceback, a cut JSON file a parser's message that
    named no file."""
    try:
        return read(path)
    except Exception as exc:  # each reader fails its own way; all are said alike
        gone = isinstance(exc, FileNotFoundError) or not path.exists()
        why = "missing" if gone else f"cannot be read ({exc})"
        raise DataError(
            f"{path}: {why}; the model directory is incomplete or damaged (copy it whole, or "
            "train again)"
        ) from None


SPEC_SHA256 = "spec_sha256"
"""Where ``model.json`` keeps the fingerprint of the ``spec.yaml`` saved beside it."""
TREES_SHA256 = "lightgbm_sha256"
"""Where ``model.json`` keeps the fingerprints of the LightGBM files saved beside it."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


BACKTEST_FILE = "backtest.json"
"""Optional file beside a model: metrics of the backtest that vetted it (``eta demo`` writes
it, the service's ``GET /v1/models`` shows it)."""
MODEL_FILES = (
    "spec.yaml",
    "model.json",
    "online.json",
    "recent_events.parquet",
    "lightgbm_q*.txt",
    BACKTEST_FILE,
)
"""What a model folder holds; a save replaces these and nothing else."""
_SAVING = ".saving-"
"""Prefix of the folder a save writes in, inside the model's own (left by a save cut short)."""
_WRITTEN = ".written"
"""Marks a save's folder as whole: its files are moved into place from then on."""


def _saved_files(directory: Path) -> Callable[[str], Path]:
    """Where each of a model's files is: in the folder, or still in a whole save's folder
    whose moves were cut short (killed between them): that model is read, the new one whole,
    where the folder alone holds half of each and a restarted service served neither."""
    whole = [p for p in directory.glob(f"{_SAVING}*") if (p / _WRITTEN).exists()]

    def where(name: str) -> Path:
        for staging in whole:
            if (staging / name).exists():
                return staging / name
        return directory / name

    return where


def check_model_folder(directory: Path) -> None:
    """Refuse to save a model where it does not belong: a file, or a folder holding anything
    but a model (``--out .`` or ``--out models`` would have mixed the model into it, and a
    save over it would have replaced the other files too)."""
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory}: is a file; a model is a folder")
    if not directory.is_dir():
        return
    others = sorted(
        entry.name
        for entry in directory.iterdir()
        if not entry.name.startswith(_SAVING) and not any(entry.match(f) for f in MODEL_FILES)
    )
    if others:
        raise DataError(
            f"{directory}: holds files that are not a model's ({some_of(others)}); "
            "save a model in a new folder or over another model"
        )


@contextmanager
def _replacing(directory: Path) -> Iterator[Path]:
    """A fresh folder to write a model in, whose files then replace the model in ``directory``.

    A model's files go together: loading one with another's trees or calibration promises
    what neither learnt. So a save writes aside, inside the folder (the same file system, the
    folder's own owner and mode: a symlink, a mount point or ``.`` stay what they are), then
    moves each file into place, ``model.json`` last: it holds the other files' fingerprints, so
    a service reading in between sees a model that does not match its trees and waits for the
    next look. A save that fails before the moves leaves the model that was there; files of an
    older model that the new one does not write are removed."""
    check_model_folder(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f"{_SAVING}*"):  # a save cut short
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=_SAVING, dir=directory))
    try:
        yield staging
        written = sorted(staging.iterdir(), key=lambda path: path.name == "model.json")
        (staging / _WRITTEN).touch()  # whole: a load reads the files not yet moved from here
        for new in written:
            os.replace(new, directory / new.name)
        names = {path.name for path in written}
        for old in directory.iterdir():
            if old.is_file() and old.name not in names:
                old.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _as_saved(path: Path, fingerprint: str | None) -> Path:
    """``path``, once its bytes are the ones saved: LightGBM reads a cut file by aborting the
    process from its native code ("terminate called without an active exception", exit 134),
    and a tester's truncated tree file took `eta quote` down without a word."""
    if fingerprint is not None and path.exists() and _sha256(path) != fingerprint:
        raise ValueError("its bytes are not those saved (cut short, or edited)")
    return path


class SpecChanged(DataError):
    """A model's ``spec.yaml`` no longer says what the model learnt with: it was edited."""


def spec_fingerprint(text: str) -> str:
    """SHA-256 of a spec's text as read (``read_text`` reads Windows line endings as ``\\n``:
    a copy through a Windows checkout changes them, not the spec)."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_spec_unchanged(path: Path, recorded: str | None) -> None:
    """Refuse a ``spec.yaml`` edited after the model was saved. The spec sets the clock, the
    calendar and the features the model learnt on; a model loaded with another quietly promises
    hours it never learnt (business hours changed by hand, the clock turned to wall time).
    Models saved before the fingerprint was recorded (``recorded`` None) load as they did."""
    if recorded is None:
        return
    text = _model_file(path, lambda p: p.read_text(encoding="utf-8"))
    if spec_fingerprint(text) != recorded:
        raise SpecChanged(
            f"{path}: changed after the model was trained (it no longer matches the "
            "fingerprint model.json recorded of it); the model learnt its hours and features "
            "with the spec it was saved with and cannot quote with another. "
            "Retrain with the new spec (eta train --spec NEW_SPEC --out ...), or restore the "
            "file as it was saved"
        )


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _geometric_mean(spread: np.ndarray) -> float:
    """The typical spread, towards which each item's is shrunk (see ``EtaModel._shrunk``)."""
    return float(np.exp(np.mean(np.log(spread))))


__all__ = [
    "EtaModel",
    "NotFittedError",
    "Settings",
    "SpecChanged",
    "learnt_inputs",
    "spec_fingerprint",
]
