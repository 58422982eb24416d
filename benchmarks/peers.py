"""Peer methods for P90 promises, trained on exactly the engine's rows and features of each fold.

Why this exists: an on-time rate of 90% says little on its own; a method that promises "a month"
for everything is always on time. The engine earns its keep only if it keeps promises at least as
well as what a data team would otherwise build, with promises that are no longer (lower pinball
loss). These are those alternatives, from the simplest to off-the-shelf conformal libraries:

* ``global quantile``: the P90 of all finished training durations, one promise for everything;
* ``segment quantile``: a P90 table per calibration segment (the spec's ``segments``), falling back
  to the global P90 for segments with fewer than 30 finished rows;
* ``LightGBM quantile``: LightGBM with the quantile objective at 0.9 on log clock hours, same
  features and similar settings as :class:`eta.model.Settings`, no calibration step;
* ``MAPIE CQR``: conformalized quantile regression (Romano et al. 2019) with MAPIE 1.x
  :class:`mapie.regression.ConformalizedQuantileRegressor` around the same LightGBM;
* ``crepes CPS``: a conformal predictive system (Vovk et al. 2017) with crepes'
  :class:`crepes.WrapRegressor` around a LightGBM point regressor (L2) of log clock hours.

Like a data team without survival analysis would, every peer **drops open rows**: it trains on
the rows that had finished by the fold's start. The conformal peers calibrate on the most recent
20% of those rows by start time (never a random split: the test period is later still).

Features are the engine's own (:func:`eta.features.feature_frame`): declared columns, calendar
features and recent-history features as of each row's start, so no peer sees the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.data import FINISHED, HOURS, SEGMENT, START, History, seen_at
from eta.features import Events, feature_frame
from eta.model import Settings, learnt_inputs
from eta.spec import DatasetSpec

CALIBRATION_SHARE = 0.2
"""Share of the (finished) training rows, the most recent by start, used to conformalize."""
MIN_SEGMENT_ROWS = 30
"""A segment quantile needs this many finished rows; thinner segments use the global quantile."""


@dataclass(frozen=True)
class FoldData:
    """One fold's training rows and test items, with the engine's features for both.

    ``train`` is the history as known at the fold's start (open rows included, sorted by start);
    ``x_train`` / ``x_test`` are their features with categoricals encoded as pandas categories
    whose categories are fixed by the training rows (an unseen test value becomes missing).
    """

    spec: DatasetSpec
    train: pd.DataFrame
    x_train: pd.DataFrame
    items: pd.DataFrame
    x_test: pd.DataFrame
    confidence: float

    @property
    def finished(self) -> np.ndarray:
        return self.train[FINISHED].to_numpy(bool)


def fold_data(history: History, items: pd.DataFrame, test_start: pd.Timestamp) -> FoldData:
    """Training rows known at ``test_start`` and the features of training rows and test items.

    ``items`` are the fold's test items (:func:`eta.backtest.period_items`). Peers quote
    statically, so their test features know only the events recorded by ``test_start``, carried
    forward (as the engine's static quotes do; see :func:`eta.features.recent_history`).
    """
    spec = history.spec
    clock = Clock.from_spec(spec)
    train = seen_at(history, test_start).frame.sort_values(START, kind="stable")
    train = train.reset_index(drop=True)
    x_train = feature_frame(train, spec, clock, Events.from_frame(train))
    x_test = feature_frame(items, spec, clock, Events.from_frame(train).since(test_start))
    # The inputs the engine would learn from on these rows (the day of the year once they
    # span a year), so that every method sees the same features.
    inputs = learnt_inputs(x_train, train[START].iloc[_time_split(len(train))[0]])
    x_train, x_test = x_train[inputs].copy(), x_test[inputs].copy()
    for column in spec.features.categorical:
        categories = sorted(x_train[column].dropna().unique().tolist())
        x_train[column] = pd.Categorical(x_train[column].astype(object), categories=categories)
        x_test[column] = pd.Categorical(x_test[column].astype(object), categories=categories)
    return FoldData(spec, train, x_train, items, x_test.reset_index(drop=True), spec.confidence)


class Peer(Protocol):
    """A method that learns from a fold's finished training rows and promises test items."""

    name: str

    def fit(self, fold: FoldData) -> None: ...

    def promise_hours(self, fold: FoldData) -> np.ndarray: ...


def _finished_rows(fold: FoldData) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Finished training rows (open rows dropped), their clock hours and features, by start."""
    keep = fold.finished
    return fold.train[keep], fold.train[HOURS].to_numpy(float)[keep], fold.x_train[keep]


def _time_split(n: int) -> tuple[slice, slice]:
    """Oldest part to fit, most recent :data:`CALIBRATION_SHARE` to calibrate (rows by start)."""
    cut = round(n * (1.0 - CALIBRATION_SHARE))
    return slice(0, cut), slice(cut, n)


def _conformal_split(fold: FoldData) -> tuple[pd.DataFrame, np.ndarray, slice, slice]:
    """Finished rows' features and log hours, split in time into a fit and a calibration part."""
    _, hours, x = _finished_rows(fold)
    y = np.log(hours)
    return (x, y, *_time_split(len(y)))


class _LightGBMPeer:
    """A peer built on LightGBM with the engine's learning settings."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()


def lightgbm_kwargs(settings: Settings) -> dict:
    """``LGBMRegressor`` arguments mirroring :meth:`eta.model.Settings.lightgbm_params`.

    ``n_jobs=0`` means "OpenMP's default", so a thread limit set by the caller (threadpoolctl or
    ``OMP_NUM_THREADS``) applies to peers and engine alike; LightGBM's own default (None) would
    count physical cores and ignore it.
    """
    return {
        "n_estimators": settings.n_estimators,
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_child_samples": settings.min_child_samples,
        "max_bin": settings.max_bin,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.9,
        "random_state": settings.seed,
        "deterministic": True,
        "n_jobs": 0,
        "verbose": -1,
    }


class GlobalQuantile:
    """One promise for every item: the P90 of finished training durations."""

    name = "global quantile"

    def fit(self, fold: FoldData) -> None:
        _, hours, _ = _finished_rows(fold)
        self.value_ = float(np.quantile(hours, fold.confidence))

    def promise_hours(self, fold: FoldData) -> np.ndarray:
        return np.full(len(fold.items), self.value_)


class SegmentQuantile:
    """P90 of finished training durations per segment; the global P90 for thin segments."""

    name = "segment quantile"

    def fit(self, fold: FoldData) -> None:
        rows, hours, _ = _finished_rows(fold)
        self.global_ = float(np.quantile(hours, fold.confidence))
        by_segment = pd.Series(hours).groupby(rows[SEGMENT].astype(str).to_numpy())
        table = by_segment.quantile(fold.confidence)
        self.table_ = table[by_segment.size() >= MIN_SEGMENT_ROWS].to_dict()

    def promise_hours(self, fold: FoldData) -> np.ndarray:
        segments = fold.items[SEGMENT].astype(str)
        return segments.map(self.table_).fillna(self.global_).to_numpy(float)


class LightGBMQuantile(_LightGBMPeer):
    """LightGBM quantile regression at the promise level on log clock hours (no calibration)."""

    name = "LightGBM quantile"

    def fit(self, fold: FoldData) -> None:
        from lightgbm import LGBMRegressor

        _, hours, x = _finished_rows(fold)
        self.model_ = LGBMRegressor(
            objective="quantile", alpha=fold.confidence, **lightgbm_kwargs(self.settings)
        ).fit(x, np.log(hours))

    def promise_hours(self, fold: FoldData) -> np.ndarray:
        return np.exp(self.model_.predict(fold.x_test))


class MapieCQR(_LightGBMPeer):
    """MAPIE 1.x split conformalized quantile regression, one-sided at the promise level.

    MAPIE's ``confidence_level`` is two-sided: at ``c`` it fits LightGBM quantiles ``(1-c)/2``,
    ``(1+c)/2`` and 0.5, and with ``symmetric_correction=False`` (its default) it corrects each
    bound separately, the upper one by the conformal ``(1+c)/2`` quantile of the scores
    ``y - q_hi(x)`` on the conformalization rows (with the ``(n+1)`` finite-sample adjustment;
    checked in ``mapie/regression/quantile_regression.py``, ``_MapieQuantileRegressor.predict``:
    ``alpha / 2`` is used per side when ``symmetry`` is false). So the upper bound alone has
    ``P(Y <= upper) >= (1+c)/2`` whatever the lower bound does, and ``c = 2 * 0.9 - 1 = 0.8``
    gives a one-sided P90 promise. The lower bound is ignored.
    """

    name = "MAPIE CQR"

    def fit(self, fold: FoldData) -> None:
        from lightgbm import LGBMRegressor
        from mapie.regression import ConformalizedQuantileRegressor

        x, y, fit, calib = _conformal_split(fold)
        # MAPIE needs ``alpha`` present to find the quantile parameter; it sets each level itself.
        estimator = LGBMRegressor(
            objective="quantile", alpha=fold.confidence, **lightgbm_kwargs(self.settings)
        )
        self.model_ = ConformalizedQuantileRegressor(
            estimator, confidence_level=2.0 * fold.confidence - 1.0
        )
        self.model_.fit(x.iloc[fit], y[fit]).conformalize(x.iloc[calib], y[calib])

    def promise_hours(self, fold: FoldData) -> np.ndarray:
        _, intervals = self.model_.predict_interval(fold.x_test, symmetric_correction=False)
        return np.exp(intervals[:, 1, 0])


class CrepesCPS(_LightGBMPeer):
    """crepes conformal predictive system on a LightGBM point regressor of log clock hours.

    ``WrapRegressor.calibrate(..., cps=True)`` on the most recent finished rows builds the
    predictive distribution ``prediction + residual``; its 90th percentile (``higher`` variant:
    the next residual up when the level falls between two) is the promise. Plain, neither
    normalized nor Mondrian: the residual spread is the same for every item on the log scale.
    """

    name = "crepes CPS"

    def fit(self, fold: FoldData) -> None:
        from crepes import WrapRegressor
        from lightgbm import LGBMRegressor

        x, y, fit, calib = _conformal_split(fold)
        self.model_ = WrapRegressor(
            LGBMRegressor(objective="regression", **lightgbm_kwargs(self.settings))
        )
        self.model_.fit(x.iloc[fit], y[fit])
        self.model_.calibrate(x.iloc[calib], y[calib], cps=True)

    def promise_hours(self, fold: FoldData) -> np.ndarray:
        level = 100.0 * fold.confidence
        percentiles = self.model_.predict_percentiles(fold.x_test, higher_percentiles=[level])
        return np.exp(np.asarray(percentiles, float).reshape(len(fold.x_test), -1)[:, 0])


def all_peers(settings: Settings | None = None) -> list[Peer]:
    """Every peer, in the order of the report."""
    return [
        GlobalQuantile(),
        SegmentQuantile(),
        LightGBMQuantile(settings),
        MapieCQR(settings),
        CrepesCPS(settings),
    ]


__all__ = [
    "CrepesCPS",
    "FoldData",
    "GlobalQuantile",
    "LightGBMQuantile",
    "MapieCQR",
    "Peer",
    "SegmentQuantile",
    "all_peers",
    "fold_data",
]
