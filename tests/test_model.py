"""The model: calibrated against ground truth, censoring-aware, non-crossing, persistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eta.backtest import period_items, run_backtest
from eta.calendar import Clock
from eta.data import load_history
from eta.model import FAR_TAIL_QUOTES, EtaModel, NotFittedError, Settings
from eta.synthetic import SyntheticHistory, tickets


def truth_hours(sim: SyntheticHistory, items: pd.DataFrame) -> np.ndarray:
    clock = Clock.from_spec(sim.spec)
    true_end = sim.truth.set_index(sim.spec.id).loc[items[sim.spec.id].astype(str), "true_end"]
    return clock.hours_between(clock.effective_start(items["start"]), true_end)


@pytest.fixture(scope="module")
def censored_sim() -> SyntheticHistory:
    # 30% of rows looked at a random age and left open if still running: slow rows are open.
    return tickets(12_000, seed=5, open_fraction_at_random_age=0.3)


@pytest.mark.slow
def test_promises_hold_against_the_truth_after_training(censored_sim) -> None:
    history = load_history(censored_sim.history, censored_sim.spec)
    start = pd.Timestamp("2025-08-01", tz="UTC")
    end = pd.Timestamp("2025-09-01", tz="UTC")
    items = period_items(history, start, end)
    result = run_backtest(history, start, end, actual_hours=truth_hours(censored_sim, items))
    # ~1,000 items: binomial sd at 90% is ~1 pt, so 3.5 pt is a real failure, not noise.
    assert abs(result.metrics["on_time_rate"] - 0.9) < 0.035, result.metrics


@pytest.mark.slow
def test_open_tickets_raise_the_promise(censored_sim) -> None:
    history = load_history(censored_sim.history, censored_sim.spec)
    start = pd.Timestamp("2025-08-01", tz="UTC")
    items = period_items(history, start, pd.Timestamp("2025-09-01", tz="UTC"))
    actual = truth_hours(censored_sim, items)
    aware = run_backtest(history, start, items["start"].max(), actual_hours=actual[:-1])
    naive = run_backtest(
        history,
        start,
        items["start"].max(),
        actual_hours=actual[:-1],
        settings=Settings(use_open_items=False),
    )
    assert aware.metrics["mean_promise_hours"] > 1.1 * naive.metrics["mean_promise_hours"]
    assert aware.metrics["on_time_rate"] > naive.metrics["on_time_rate"] + 0.03


@settings(max_examples=60, deadline=None)
@given(
    level=st.floats(0.51, 0.995),
    elapsed=st.one_of(st.just(0.0), st.floats(0.01, 20_000)),
    row=st.integers(0, 499),
)
def test_quantiles_never_cross_and_never_lie_in_the_past(
    tickets_model, tickets_history, level, elapsed, row
):
    items = tickets_history.frame.iloc[[row]]
    levels = [1 - level, 0.5, (0.5 + level) / 2, level]
    q = tickets_model.quantiles(items, levels, elapsed=np.array([elapsed]))[0]
    assert np.all(np.diff(q) >= 0)
    assert q[0] > elapsed
    assert q[-1] > q[1]  # even far past anything seen, the promise stays beyond the likely time


def test_a_saved_model_loads_and_quotes_identically(
    tickets_model, tickets_history, tmp_path: Path
) -> None:
    items = tickets_history.frame.tail(200)
    tickets_model.save(tmp_path / "m")
    loaded = EtaModel.load(tmp_path / "m")
    np.testing.assert_allclose(
        loaded.quantiles(items, [0.1, 0.5, 0.9]), tickets_model.quantiles(items, [0.1, 0.5, 0.9])
    )
    assert not list((tmp_path / "m").glob("*.pkl"))


def test_an_unfitted_model_says_so(tickets_history) -> None:
    with pytest.raises(NotFittedError, match="fit"):
        EtaModel(tickets_history.spec).quantiles(tickets_history.frame.head(3), [0.9])


def test_thin_segments_fall_back_to_their_parent(tickets_model) -> None:
    depths = {tag.split(":")[0] for tag in tickets_model.calibration_.by_key}
    assert "0" in depths  # everyone
    n_eff = {t: d.n_effective for t, d in tickets_model.calibration_.by_key.items()}
    assert all(n >= tickets_model.calibration_.min_items for t, n in n_eff.items() if t[0] != "0")


def test_an_item_far_older_than_any_in_history_still_gets_a_sane_promise(tickets_model) -> None:
    # Twenty years of business hours: beyond anything the tail was fitted on.
    items = tickets_model.events_.to_frame().head(1).assign(priority="low", category="billing")
    items = items.assign(channel="email", queue_open=3.0)
    elapsed = np.array([20 * 52 * 40.0])
    promise = tickets_model.quantiles(items, [0.9], elapsed=elapsed)[0, 0]
    fresh = tickets_model.quantiles(items, [0.9])[0, 0]
    assert elapsed[0] < promise <= elapsed[0] + FAR_TAIL_QUOTES * fresh + 1e-6
