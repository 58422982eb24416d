"""The rounding allowance: promises as told (rounded) are kept at the level, not above it."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from eta import synthetic
from eta.allowance import LEVELS, RoundingAllowance, _level
from eta.backtest import period_items, seen_at
from eta.data import START, load_history
from eta.model import EtaModel
from eta.online import ALL
from eta.quote import quote_items


def test_the_level_quoted_is_the_lowest_whose_rounded_promises_reach_the_target() -> None:
    assert _level(0.9, np.zeros(len(LEVELS))) == pytest.approx(0.9)
    assert _level(0.9, np.full(len(LEVELS), 0.04)) == pytest.approx(0.86)
    # Between two levels of the grid, linearly; never above the target, even if rounding
    # seemed to lose promises.
    assert _level(0.9, np.full(len(LEVELS), 0.0325)) == pytest.approx(0.8675)
    assert _level(0.9, np.full(len(LEVELS), -0.01)) == pytest.approx(0.9)
    allowance = RoundingAllowance({ALL: np.full(len(LEVELS), 0.04), "1:x": np.zeros(len(LEVELS))})
    levels = allowance.levels(0.9, np.array(["1:x", "ahead|1:x", "1:new"], dtype=object))
    np.testing.assert_allclose(levels, [0.9, 0.9, 0.86])  # a segment unknown: the model's
    saved = RoundingAllowance.from_dict(allowance.to_dict())
    np.testing.assert_allclose(saved.gains["1:x"], 0.0)


def test_parcels_promised_by_the_date_are_kept_at_the_level_not_above_it() -> None:
    sim = synthetic.deliveries(24_000, seed=21, days=300)
    history = load_history(sim.history, sim.spec)
    start = history.frame[START].quantile(0.6)
    model = EtaModel(sim.spec).fit(seen_at(history, start))
    items = period_items(history, start, start + pd.Timedelta(days=60))
    truth = sim.truth.set_index(sim.spec.id).loc[items[sim.spec.id], "true_hours"].to_numpy()
    assert len(items) > 3_000
    # Without the allowance, the calibrated promise rounded up to the end of its date.
    plain = copy.copy(model)
    plain.allowance_ = None
    kept = {}
    for name, m in (("allowance", model), ("plain", plain)):
        quotes = quote_items(m, items, online=False)
        told = quotes["promise_hours"].to_numpy()
        exact = m.clock_.hours_between(
            m.clock_.effective_start(items[START]), pd.DatetimeIndex(quotes["promise_at"])
        )
        np.testing.assert_allclose(told, np.maximum(exact, told - 1e-6), atol=1e-6)
        kept[name] = np.mean(truth <= told)
    # The calibrated promise (whatever months of drift did to it since training) is kept as
    # often as the one told with the allowance; rounded plainly, a few points more often.
    calibrated = np.mean(truth <= model.quantiles(items, [0.9], online=False)[:, 0])
    assert kept["plain"] > calibrated + 0.02
    assert abs(kept["allowance"] - calibrated) < 0.01
