"""Open items are censored observations: weighting them recovers the truth, dropping does not."""

from __future__ import annotations

import numpy as np
import pytest

from eta.calibration import ScoreDistribution
from eta.censoring import (
    censoring_survival,
    effective_sample_size,
    ipcw_weights,
    still_running_share,
)


def test_censoring_survival_matches_a_hand_computed_kaplan_meier() -> None:
    hours = np.array([1, 2, 2, 3, 4, 5.0])
    finished = np.array([True, False, True, False, True, False])
    times, survival = censoring_survival(hours, finished)
    # Censorings at 2 (5 at risk; the tied finish leaves first) and at 3 (3 at risk) and 5 (1).
    g = dict(zip(times, survival, strict=True))
    assert np.isclose(g[2], 4 / 5)
    assert np.isclose(g[3], 4 / 5 * 2 / 3)
    assert np.isclose(g[5], 0.0)


def test_ipcw_recovers_the_p90_that_dropping_open_items_underestimates() -> None:
    rng = np.random.default_rng(0)
    truth = rng.lognormal(mean=2.0, sigma=0.8, size=60_000)
    look = rng.uniform(0, 40, size=truth.size)  # looked at a random age
    finished = truth <= look
    observed = np.where(finished, truth, look)
    true_p90 = np.quantile(truth, 0.9)

    weights = ipcw_weights(observed, finished)
    dist = ScoreDistribution.fit(np.log(observed), weights)
    weighted_p90 = np.exp(dist.quantile(np.array([0.9]))[0])
    naive_p90 = np.quantile(observed[finished], 0.9)

    assert abs(weighted_p90 / true_p90 - 1) < 0.03
    assert naive_p90 / true_p90 < 0.85  # the bias that breaks promises


def test_weights_are_zero_for_open_items_and_average_one_under_independent_censoring() -> None:
    rng = np.random.default_rng(1)
    finish, look = rng.exponential(5, 20_000), rng.exponential(10, 20_000)
    finished = finish <= look
    w = ipcw_weights(np.minimum(finish, look), finished)
    assert (w[~finished] == 0).all() and (w[finished] >= 1).all()
    assert abs(w.mean() - 1.0) < 0.03  # E[delta / G(T-)] = 1
    assert 0 < effective_sample_size(w) <= finished.sum()


def test_censoring_that_depends_on_the_segment_is_corrected_within_each_segment() -> None:
    rng = np.random.default_rng(2)
    n = 40_000
    slow = rng.random(n) < 0.5
    truth = rng.lognormal(np.where(slow, 3.0, 1.0), 0.6)
    # Slow items are looked at much later than quick ones, as a queue's own rhythm would have it.
    look = rng.uniform(0, np.where(slow, 120.0, 8.0))
    finished = truth <= look
    observed = np.where(finished, truth, look)
    pooled = ipcw_weights(observed, finished)
    stratified = ipcw_weights(observed, finished, np.where(slow, "slow", "quick"))
    for group in (slow, ~slow):
        true_p90 = np.quantile(truth[group], 0.9)
        by = {}
        for name, w in (("pooled", pooled), ("stratified", stratified)):
            dist = ScoreDistribution.fit(np.log(observed[group]), w[group])
            by[name] = np.exp(dist.quantile(np.array([0.9]))[0]) / true_p90
        assert abs(by["stratified"] - 1) < 0.05
        assert abs(by["pooled"] - 1) > 2 * abs(by["stratified"] - 1)


def test_the_share_still_running_past_every_finish_is_kaplan_meier() -> None:
    finished_at = np.arange(1.0, 51.0)  # one finish an hour, while 50 items run past them all
    hours = np.r_[finished_at, np.full(50, 100.0)]
    finished = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    assert still_running_share(hours, finished) == pytest.approx(0.5)  # prod (1 - 1/n), n=100..51
    assert still_running_share(finished_at, np.ones(50, bool)) == 0.0
