"""The model: calibrated against ground truth, censoring-aware, non-crossing, persistent."""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from eta.backtest import period_items, run_backtest
from eta.calendar import Clock
from eta.calibration import AHEAD, MIN_SEGMENT_ITEMS
from eta.censoring import effective_sample_size, ipcw_weights
from eta.data import FINISHED, HOURS, MISSING, SEGMENT, START, load_history, seen_at
from eta.features import SEASON, WAIT, Events
from eta.model import MAX_CALIBRATION_SHARE, EtaModel, NotFittedError, Settings
from eta.online import ALL
from eta.predictive import FAR_TAIL_QUOTES
from eta.quote import prepare_items
from eta.spec import DatasetSpec
from eta.synthetic import SyntheticHistory, deliveries, tickets
from eta.tables import DataError


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


def test_a_value_the_model_never_saw_is_quoted_from_what_else_is_known(censored_sim) -> None:
    history = load_history(censored_sim.history, censored_sim.spec)
    start = pd.Timestamp("2025-08-01", tz="UTC")
    model = EtaModel(history.spec).fit(seen_at(history, start))
    items = period_items(history, start, start + pd.Timedelta(days=31))
    assert (
        history.frame["queue_open"].notna().all() and MISSING not in model.categories_["priority"]
    )
    truth = truth_hours(censored_sim, items)
    unknown = {
        "known": {},
        "new priority": {"priority": "galactic"},
        "blank priority": {"priority": MISSING},
        "no priority column": {"priority": None},
        "missing queue size": {"queue_open": np.nan},
    }
    on_time, promise = {}, {}
    for name, values in unknown.items():
        p90 = model.quantiles(items.assign(**values), [0.9])[:, 0]
        on_time[name], promise[name] = np.mean(truth <= p90), np.median(p90)
    # ~1,000 items, seeded. LightGBM alone sends an unknown category down its "other" branches
    # (79.2% kept, promises 40% shorter) and reads a missing number as 0 (87.9%). Learnt from
    # training copies with one value blanked: 90.2% and 88.8%, against 90.1% all known.
    assert on_time["known"] > 0.87, on_time
    for name in unknown:
        assert on_time[name] > on_time["known"] - 0.03, (name, on_time, promise)


@pytest.mark.slow
def test_items_starting_weeks_after_training_keep_their_promises(censored_sim) -> None:
    # What `eta quote` does a month after `eta train`: nothing after the as-of time is known.
    # Two months before the support peak, which a model of one year has never seen.
    history = load_history(censored_sim.history, censored_sim.spec)
    kept = []
    for as_of in (pd.Timestamp("2025-09-01", tz="UTC"), pd.Timestamp("2025-10-01", tz="UTC")):
        model = EtaModel(history.spec).fit(seen_at(history, as_of))
        later = (as_of + pd.Timedelta(days=14), as_of + pd.Timedelta(days=31))
        items = period_items(history, *later)
        promise = model.quantiles(items, [0.9], online=False)[:, 0]
        kept.extend(truth_hours(censored_sim, items) <= promise)
    # ~1,000 items: binomial sd at 90% is ~0.9 pt; quoted from an empty queue it was 70-80%.
    assert np.mean(kept) > 0.86, np.mean(kept)


def test_items_starting_after_the_record_ends_are_quoted_as_made_ahead(
    tickets_model, tickets_history
) -> None:
    items = tickets_history.frame.tail(40)
    later = items.assign(start=tickets_model.as_of_ + pd.Timedelta(days=3))
    assert not any(t.startswith(AHEAD) for t in tickets_model.predict(items).segment)
    made_ahead = tickets_model.predict(later)
    assert all(t.startswith(AHEAD) for t in made_ahead.segment)
    # ... unless the caller's record goes on (replay, where every earlier event is known).
    live = tickets_model.features(later, Events.from_frame(tickets_history.frame))
    assert not any(t.startswith(AHEAD) for t in tickets_model.predict(later, live).segment)


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
    offsets=st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)),
)
def test_quantiles_never_cross_and_never_lie_in_the_past(
    tickets_model, tickets_history, level, elapsed, row, offsets
):
    items = tickets_history.frame.iloc[[row]]
    levels = np.array([[1 - level, 0.5, (0.5 + level) / 2, level]])
    predictive = tickets_model.predict(items)
    corrections = np.array([offsets])  # online calibration's, anywhere in their range
    q = predictive.hours(levels, np.array([elapsed]), corrections, tickets_model.spec.confidence)[0]
    assert np.all(np.diff(q) >= 0)
    assert q[0] > elapsed
    assert q[-1] > q[1]  # even far past anything seen, the promise stays beyond the likely time


def test_a_longer_running_tail_stretches_the_time_left_for_overdue_items_a_shorter_one_not(
    tickets_model, tickets_history
) -> None:
    predictive = tickets_model.predict(tickets_history.frame.iloc[:300])
    confidence = tickets_model.spec.confidence
    levels = np.tile([0.5, confidence], (300, 1))
    usual, slower = np.zeros((300, 2)), np.tile([0.0, 0.3], (300, 1))
    fresh = predictive.hours(levels, None, usual, confidence)
    fresh_slower = predictive.hours(levels, None, slower, confidence)
    np.testing.assert_allclose(fresh_slower[:, 0], fresh[:, 0])  # the median stays
    np.testing.assert_allclose(fresh_slower[:, 1], fresh[:, 1] * np.exp(0.3))  # the promise moves
    # Three promises late, deep in the memoryless exponential tail: a shift would change nothing.
    overdue = 3 * fresh[:, 1]
    left = predictive.hours(levels[:, 1:], overdue, usual, confidence)[:, 0] - overdue
    left_slower = predictive.hours(levels[:, 1:], overdue, slower, confidence)[:, 0] - overdue
    assert np.all(left_slower > 1.1 * left)
    # A shorter one does not shrink it: that evidence comes from new items' promises.
    faster = np.tile([0.0, -0.3], (300, 1))
    left_faster = predictive.hours(levels[:, 1:], overdue, faster, confidence)[:, 0] - overdue
    np.testing.assert_allclose(left_faster, left)


def test_a_history_whose_recent_items_all_look_open_still_trains(tickets_sim) -> None:
    """An export that lost its recent finishes leaves a calibration period mostly open, whose
    tail has no end in sight: training crashed ("hours are too large to add to an instant")
    judging where its promises reach."""
    history, spec = tickets_sim.history.head(6_000).copy(), tickets_sim.spec
    history.loc[history.index[-2_000:], spec.end] = pd.NaT
    loaded = load_history(history, spec)
    model = EtaModel(spec).fit(loaded)
    quotes = model.quantiles(loaded.frame.tail(50), [0.5, 0.9])
    assert np.all(np.isfinite(quotes)) and np.all(quotes[:, 1] >= quotes[:, 0])


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


def test_feature_names_with_json_characters_learn_and_quote_as_any_other(tickets_sim) -> None:
    """LightGBM refuses feature names with ':', ',', brackets or quotes; the spec may use them."""
    spec, history = tickets_sim.spec, tickets_sim.history.head(3_000)
    names = {"category": "sla:tier", "queue_open": 'queue "open", [now]'}
    features = spec.features.model_copy(
        update={
            "categorical": tuple(names.get(c, c) for c in spec.features.categorical),
            "numeric": tuple(names.get(c, c) for c in spec.features.numeric),
            "phrases": {},
        }
    )
    segments = tuple(names.get(c, c) for c in spec.segments)
    renamed = spec.model_copy(update={"features": features, "segments": segments})
    promises = []
    for s, h in [(spec, history), (renamed, history.rename(columns=names))]:
        loaded = load_history(h, s)
        model = EtaModel(s).fit(loaded)
        promises.append(model.quantiles(loaded.frame.tail(100), [0.5, 0.9]))
    np.testing.assert_allclose(promises[1], promises[0])


def test_an_unfitted_model_says_so(tickets_history) -> None:
    with pytest.raises(NotFittedError, match="fit"):
        EtaModel(tickets_history.spec).quantiles(tickets_history.frame.head(3), [0.9])


def test_thin_segments_fall_back_to_their_parent(tickets_model) -> None:
    depths = {tag.split(":")[0] for tag in tickets_model.calibration_.by_key}
    assert "0" in depths  # everyone
    by_key, enough = tickets_model.calibration_.by_key, tickets_model.calibration_.min_items
    for tag, distribution in by_key.items():
        # A thin segment has only a median of its own, on a wider group's distribution.
        if distribution.borrowed_from is None:
            assert distribution.n_effective >= enough or tag.endswith("0:all"), tag
        else:
            assert by_key[distribution.borrowed_from].borrowed_from is None
    assert any(d.borrowed_from for d in by_key.values())  # the small fixture has some


def test_an_item_far_older_than_any_in_history_still_gets_a_sane_promise(tickets_model) -> None:
    # Twenty years of business hours: beyond anything the tail was fitted on.
    items = tickets_model.events_.to_frame().head(1).assign(priority="low", category="billing")
    items = items.assign(channel="email", queue_open=3.0)
    elapsed = np.array([20 * 52 * 40.0])
    promise = tickets_model.quantiles(items, [0.9], elapsed=elapsed)[0, 0]
    fresh = tickets_model.quantiles(items, [0.9])[0, 0]
    assert elapsed[0] < promise <= elapsed[0] + FAR_TAIL_QUOTES * fresh + 1e-6


def saved_without(model: EtaModel, directory: Path, *keys: str) -> dict:
    """Save ``model`` as a version from before ``keys`` existed would have; the full state."""
    model.save(directory)
    path = directory / "model.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    older = {key: value for key, value in state.items() if key not in keys}
    path.write_text(json.dumps(older), encoding="utf-8")
    return state


def test_a_model_saved_before_the_as_of_speed_still_loads(
    tickets_model, tickets_history, tmp_path: Path
) -> None:
    saved_without(tickets_model, tmp_path / "m", "speed", "speed_memory_days", "group_levels")
    loaded = EtaModel.load(tmp_path / "m")
    assert loaded.speed_ == {} and loaded.group_levels_ == {}
    assert np.isfinite(loaded.quantiles(tickets_history.frame.tail(20), [0.5, 0.9])).all()


def test_the_share_still_running_past_every_finish_is_kept_per_segment(tickets_model) -> None:
    shares = tickets_model.info_["still_running_by_segment"]
    assert len(shares) >= 3 and all(0.0 <= v <= 1.0 for v in shares.values())
    assert max(shares.values()) < 0.1  # a year of tickets: every segment's tail is seen


def test_a_values_speed_fades_for_later_quotes_to_its_level_not_to_none(
    tickets_model, tickets_history
) -> None:
    model = copy.copy(tickets_model)
    model.speed_ = {ALL: 0.0, "channel=chat": 0.5}
    model.group_levels_ = {"channel=chat": 0.2}
    items = tickets_history.frame.tail(2).assign(channel=["chat", "email"])
    soon = items.assign(start=model.as_of_)
    later = items.assign(start=model.as_of_ + pd.Timedelta(days=365))
    segments = np.full(2, "0:all", dtype=object)
    at_once = model._speed(soon[START], segments, model._groups(soon, segments))
    a_year_on = model._speed(later[START], segments, model._groups(later, segments))
    np.testing.assert_allclose(at_once, [0.5, 0.0])
    np.testing.assert_allclose(a_year_on, [0.2, 0.0], atol=1e-3)


def test_values_calibration_does_not_reach_have_speed_estimates_of_their_own(
    tickets_model, tickets_history
) -> None:
    """A new seller, calibrated with everyone, was heard only by everyone's corrections (one
    kept 64% of 213 promises in replay): a segment column's value that its item's calibration
    segment does not reach is a key of its own, as is a category value never seen; a segment
    value with a distribution of its own, or a missing value, is not."""
    items = tickets_history.frame.tail(3).assign(
        priority=["high", "urgent-new", "high"], channel=["chat", "fax", None]
    )
    segments = np.array(["2:high / billing", "0:all", "1:high"], dtype=object)
    priority, category, channel = tickets_model._groups(items, segments)
    assert priority.tolist() == ["", "priority=urgent-new", ""]
    assert category.tolist() == ["", f"category={items['category'].iloc[1]}", category[2]]
    assert category[2] == f"category={items['category'].iloc[2]}"
    assert channel.tolist() == ["channel=chat", "channel=fax", ""]


def test_the_wait_for_opening_is_learnt_only_where_items_wait(tickets_sim, tickets_model) -> None:
    """A business clock does not run while closed: the wait is 0 for every ticket."""
    assert WAIT not in tickets_model.inputs_
    wall = tickets_sim.spec.model_copy(update={"clock": "wall"})
    model = EtaModel(wall).fit(load_history(tickets_sim.history.head(3_000), wall))
    assert WAIT in model.inputs_


def test_a_model_saved_before_it_listed_its_inputs_reads_them_as_it_learnt_them(
    tickets_model, tickets_history, tmp_path: Path
) -> None:
    """Such a model learnt the calendar without the day of the year, and recent history as
    counts in the order they were computed then (before the loads in weeks of arrivals)."""
    saved_without(tickets_model, tmp_path / "m", "inputs")
    loaded = EtaModel.load(tmp_path / "m")
    spec = tickets_model.spec
    assert loaded.inputs_ == [
        *spec.features.categorical,
        *spec.features.numeric,
        *("start_hour", "start_weekday", "after_cutoff", "days_off_next_7d"),
        *("backlog", "backlog_all", "finished_7d", "recent_log_hours_7d", "started_7d"),
    ]
    assert len(loaded.inputs_) == len(tickets_model.inputs_)  # the trees' inputs, by place
    assert np.isfinite(loaded.quantiles(tickets_history.frame.tail(50), [0.5, 0.9])).all()


def test_a_slowdown_at_the_end_of_the_history_raises_promises_that_start_soon(
    tickets_sim, tickets_history
) -> None:
    raw, spec = tickets_sim.history, tickets_sim.spec
    start, end = raw[spec.start], raw[spec.end]
    late = start >= start.quantile(0.93)  # the last weeks' tickets took twice as long
    slower = end.where(~late, start + 2 * (end - start))
    slow = raw.assign(**{spec.end: slower.where(slower <= tickets_sim.as_of)})
    usual = EtaModel(spec).fit(tickets_history)
    slowed = EtaModel(spec).fit(load_history(slow, spec, as_of=tickets_history.as_of))
    assert slowed.speed_["*"] > usual.speed_["*"] + 0.2
    assert slowed.info_["episodes_left_out"] == []  # still going on: not a one-off episode
    items = tickets_history.frame.tail(50)
    soon = items.assign(start=slowed.as_of_ + pd.Timedelta(days=1))
    longer = slowed.quantiles(soon, [0.9], online=False) / usual.quantiles(
        soon, [0.9], online=False
    )
    assert np.log(longer).mean() > 0.15  # promises right after the slowdown are longer ...
    without_speed = copy.copy(slowed)
    without_speed.speed_ = {}
    gain = {}
    for days in (1, 120):
        shifted = items.assign(start=slowed.as_of_ + pd.Timedelta(days=days))
        ratio = slowed.quantiles(shifted, [0.9], online=False) / without_speed.quantiles(
            shifted, [0.9], online=False
        )
        gain[days] = np.log(ratio).mean()
    assert gain[1] > 0.1  # ... in part by the as-of speed of recent items ...
    assert gain[120] < gain[1] / 2  # ... which fades for items months later


@pytest.mark.slow
def test_a_model_that_has_seen_a_whole_year_promises_last_years_peak_again() -> None:
    # Parcels are 30% slower from Black Friday to Christmas Eve, and no column says so: the
    # day of the year can, once the history has seen that season before.
    sim = deliveries(16_000, seed=3, start="2024-01-01", days=731)
    as_of = pd.Timestamp("2025-11-01", tz="Europe/Berlin").tz_convert("UTC")
    known = seen_at(load_history(sim.history, sim.spec), as_of)
    this_year = known.frame[known.frame["start"] >= pd.Timestamp("2025-01-01", tz="UTC")]
    two_years = EtaModel(sim.spec).fit(known)
    one_year = EtaModel(sim.spec).fit(replace(known, frame=this_year.reset_index(drop=True)))
    assert SEASON in two_years.inputs_
    assert SEASON not in one_year.inputs_  # a year's drift is not a season
    items = known.frame.tail(300)

    def peak_over_before(model: EtaModel) -> float:
        def promise(day: str) -> np.ndarray:
            start = pd.Timestamp(f"{day} 10:00", tz="Europe/Berlin").tz_convert("UTC")
            return model.quantiles(items.assign(start=start), [0.9], online=False)[:, 0]

        # Two Wednesdays at 10:00 with a Sunday in the week ahead: only the season differs.
        return float(np.exp(np.mean(np.log(promise("2025-12-10") / promise("2025-11-12")))))

    assert peak_over_before(two_years) > 1.10  # measured 1.16 (the truth: 1.30)
    assert peak_over_before(one_year) < 1.06  # measured 1.02


def test_a_thin_history_calibrates_on_more_of_its_latest_items() -> None:
    sim = tickets(500, seed=3)
    history = load_history(sim.history, sim.spec)
    frame = history.frame.sort_values(START, kind="stable").reset_index(drop=True)
    fifth = frame.iloc[int(len(frame) * 0.8) :]
    weights = ipcw_weights(fifth[HOURS].to_numpy(), fifth[FINISHED].to_numpy(), fifth[SEGMENT])
    assert effective_sample_size(weights) < MIN_SEGMENT_ITEMS  # the usual fifth is too thin
    model = EtaModel(sim.spec).fit(history)
    share = (frame[START] >= pd.Timestamp(model.info_["calibration_from"])).mean()
    assert 0.2 < share <= MAX_CALIBRATION_SHARE
    assert model.calibration_.by_key["0:all"].n_effective >= MIN_SEGMENT_ITEMS
    larger = load_history(tickets(5_000, seed=3).history, sim.spec)
    starts = larger.frame[START]
    since = pd.Timestamp(EtaModel(sim.spec).fit(larger).info_["calibration_from"])
    assert (starts >= since).mean() == pytest.approx(0.2, abs=0.001)  # enough: the usual fifth


def test_a_damaged_model_directory_is_refused_naming_the_file(tickets_model, tmp_path) -> None:
    """A missing LightGBM file printed LightGBM's traceback; a cut model.json a JSON parser's
    message naming no file."""

    missing, cut, emptied = tmp_path / "missing", tmp_path / "cut", tmp_path / "emptied"
    for directory in (missing, cut, emptied):
        tickets_model.save(directory)
    (missing / "lightgbm_q90.txt").unlink()
    text = (cut / "model.json").read_text()
    (cut / "model.json").write_text(text[: len(text) // 2])
    (emptied / "online.json").write_text("[]")  # valid JSON, not online state: was a traceback
    with pytest.raises(DataError, match=r"lightgbm_q90\.txt: missing; the model directory"):
        EtaModel.load(missing)
    with pytest.raises(DataError, match=r"model\.json: cannot be read \("):
        EtaModel.load(cut)
    with pytest.raises(DataError, match=r"online\.json: cannot be read \("):
        EtaModel.load(emptied)


def test_a_cut_tree_file_is_refused_before_lightgbm_reads_it(tickets_model, tmp_path) -> None:
    """A tree file cut short made LightGBM abort the process from its native code: `eta quote`
    died with exit 134 and "terminate called without an active exception". Run in a child
    process, as such a failure would take this one down."""
    import subprocess
    import sys

    tickets_model.save(tmp_path / "cut")
    trees = tmp_path / "cut" / "lightgbm_q90.txt"
    trees.write_bytes(trees.read_bytes()[: trees.stat().st_size // 2])
    load = f"from eta.model import EtaModel; EtaModel.load({str(tmp_path / 'cut')!r})"
    done = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True)
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    assert "lightgbm_q90.txt: cannot be read (its bytes are not those saved" in done.stderr
    assert "the model directory is incomplete or damaged" in done.stderr


def test_a_spec_edited_after_training_is_refused_naming_the_file(tickets_model, tmp_path) -> None:
    """Business hours changed by hand in a model's spec.yaml were loaded without a word, and the
    model promised on a clock it never learnt."""
    from eta.model import SpecChanged

    directory = tickets_model.save(tmp_path / "m")
    spec = directory / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("'17:00'", "'19:00'"), "utf-8")
    with pytest.raises(SpecChanged) as error:
        EtaModel.load(directory)
    message = str(error.value)
    assert message.startswith(f"{spec}: changed after the model was trained")
    assert "Retrain with the new spec (eta train" in message


def test_a_spec_copied_with_other_line_endings_still_loads(tickets_model, tmp_path) -> None:
    directory = tickets_model.save(tmp_path / "m")
    spec = directory / "spec.yaml"
    spec.write_bytes(spec.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout's copy
    assert EtaModel.load(directory).spec == tickets_model.spec


def test_a_model_saved_before_its_spec_was_fingerprinted_still_loads(
    tickets_model, tmp_path
) -> None:
    """Nothing to check it against: it loads as it did, even with the spec edited."""
    directory = tmp_path / "m"
    state = saved_without(tickets_model, directory, "spec_sha256")
    assert "spec_sha256" in state  # what is saved now
    spec = directory / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("'17:00'", "'19:00'"), "utf-8")
    assert EtaModel.load(directory).spec.calendar.hours[1] != tickets_model.spec.calendar.hours[1]


def test_the_oldest_in_flight_ages_take_in_the_items_before_the_calibration_period(
    deliveries_sim: SyntheticHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A year of parcels: the calibration period's lost parcels are still open at the export,
    too few finished past the oldest ages for a table; the earlier items fill those in."""
    from eta.inflight import AGES, SPREAD_BANDS, InFlightBySpread

    fitted = InFlightBySpread.fit.__func__
    calls: list[tuple[int, int | None, InFlightBySpread]] = []

    def spy(cls, levels, finished, spread, older=None):
        table = fitted(cls, levels, finished, spread, older)
        calls.append((len(levels), None if older is None else len(older[0]), table))
        return table

    monkeypatch.setattr(InFlightBySpread, "fit", classmethod(spy))
    history = load_history(deliveries_sim.history, deliveries_sim.spec)
    model = EtaModel(history.spec).fit(history)
    (calibration, _, alone), (_, earlier, joined) = calls
    assert len(alone.whole.ages) < len(AGES) == len(joined.whole.ages)
    assert earlier > calibration and calibration + earlier <= len(history.frame)  # none twice
    assert model.in_flight_ is joined and len(joined.bands) == SPREAD_BANDS
    for old, new in zip((*alone.bands, alone.whole), (*joined.bands, joined.whole), strict=True):
        assert len(new.ages) >= len(old.ages)
        for k in range(len(old.ages)):  # where the calibration items suffice, theirs alone
            np.testing.assert_array_equal(new.values[k], old.values[k])


def test_a_model_saved_over_another_replaces_it_whole_and_a_foreign_folder_is_refused(
    tickets_model, tmp_path
) -> None:
    directory = tickets_model.save(tmp_path / "m")
    (directory / "lightgbm_q75.txt").write_text("a tree of an older model")
    (directory / ".saving-x1").mkdir()  # a save cut short
    (directory / "backtest.json").write_text("{}")  # the demo's, of the model replaced
    tickets_model.save(directory)
    assert not (directory / "lightgbm_q75.txt").exists()  # none of the old model's files
    assert not (directory / "backtest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # nothing left beside it
    assert not list(directory.glob(".*"))  # nor in it
    assert EtaModel.load(directory).spec == tickets_model.spec
    # Through a symlink (a 'current' pointing at a version), the link stays a link.
    (tmp_path / "current").symlink_to(directory)
    tickets_model.save(tmp_path / "current")
    assert (tmp_path / "current").is_symlink() and EtaModel.load(tmp_path / "current")

    for name, files in (("work", ["notes.txt"]), ("mixed", ["history.csv", "model.json"])):
        (tmp_path / name).mkdir()
        for file in files:
            (tmp_path / name / file).write_text("mine")
        with pytest.raises(DataError, match=rf"{name}: holds files that are not a model's \("):
            tickets_model.save(tmp_path / name)
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == files  # all still there


def test_a_save_killed_between_its_moves_loads_the_new_model_whole(
    tickets_model, deliveries_model, tmp_path
) -> None:
    """Killed after moving one file of a new model into the folder, a save left half of each
    model there, and a restarted service served neither: a load reads the files not yet moved
    from the save's own folder, which holds the new model whole."""
    from service.sources import fingerprint

    new = deliveries_model.save(tmp_path / "new")
    for name, whole in (("moving", True), ("writing", False)):
        directory = tickets_model.save(tmp_path / name)
        before = fingerprint(directory)
        staging = directory / ".saving-cut"
        shutil.copytree(new, staging)
        assert fingerprint(directory) == before  # a save's own folder is not the model
        if whole:  # killed after its first move
            (staging / ".written").touch()
            os.replace(staging / "lightgbm_q90.txt", directory / "lightgbm_q90.txt")
        expected = deliveries_model if whole else tickets_model  # or while still writing
        assert EtaModel.load(directory).spec == expected.spec


def _repairs(n: int, seed: int, start: str = "2025-01-06") -> tuple[pd.DataFrame, np.ndarray]:
    """Repairs of five customer types, 3% of them recalls: 2.5x slower and wider than the rest,
    with twenty fault codes and a price that lengthen any repair; the true median hours too."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(
        ["retail", "online", "dealer", "fleet", "recall"], n, p=[0.4, 0.3, 0.17, 0.1, 0.03]
    )
    fault = rng.integers(20, size=n)
    price = rng.uniform(0, 5000, n)
    slower = {"retail": 0.0, "online": -0.2, "dealer": 0.25, "fleet": -0.35, "recall": 0.9}
    wider = {"retail": 0.55, "online": 0.6, "dealer": 0.7, "fleet": 0.5, "recall": 1.0}
    median = np.exp(
        2.5 + np.vectorize(slower.get)(kinds) + np.linspace(-0.6, 0.6, 20)[fault]
        + 0.5 * np.log1p(price / 400)
    )  # fmt: skip
    hours = median * np.exp(np.vectorize(wider.get)(kinds) * rng.standard_normal(n))
    starts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 300, n)), unit="D"
    )
    frame = pd.DataFrame(
        {
            "received": starts,
            "closed": starts + pd.to_timedelta(hours, unit="h"),
            "customer_type": kinds,
            "fault_code": [f"F{f}" for f in fault],
            "part_price": price,
        }
    )
    return frame, median


def test_a_thin_segment_with_fewer_training_items_than_folds_still_trains() -> None:
    """A queue launched a few weeks before the export: three items before the calibration
    period, twenty in it. Cross-fitting in five folds crashed training (an empty fold)."""
    history, _ = _repairs(4_000, seed=1)
    kinds = history["customer_type"].to_numpy(object)
    kinds[kinds != "online"] = "retail"  # two large segments, and the new one
    kinds[[10, 200, 400, *range(3_300, 4_000, 35)]] = "recall"
    history["customer_type"] = kinds
    spec = DatasetSpec.from_dict(
        {
            "name": "repairs", "kind": "resolution", "start": "received", "end": "closed",
            "timezone": "UTC", "clock": "wall",
            "features": {"categorical": ["customer_type"], "numeric": ["part_price"]},
            "segments": ["customer_type"],
        }
    )  # fmt: skip
    model = EtaModel(spec).fit(load_history(history, spec, as_of=history["received"].max()))
    assert model.calibration_.by_key["1:recall"].borrowed_from == "0:all"


def _claims(n: int, seed: int, days: float, start: str = "2024-01-01") -> pd.DataFrame:
    """Glass, collision and injury claims, 50%, 42% and 8%, taking 5, 20 and 150 days at the
    median (times a fault code's factor) and spreading 0.5, 0.6 and 0.7 in the log; the true
    median alongside."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["glass", "collision", "injury"], n, p=[0.5, 0.42, 0.08])
    fault = rng.integers(20, size=n)
    days_ = pd.Series({"glass": 5.0, "collision": 20.0, "injury": 150.0})[kind].to_numpy()
    wide = pd.Series({"glass": 0.5, "collision": 0.6, "injury": 0.7})[kind].to_numpy()
    median = 24 * days_ * np.exp(np.linspace(-0.5, 0.5, 20)[fault])
    starts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, days, n)), unit="D"
    )
    hours = median * np.exp(wide * rng.standard_normal(n))
    return pd.DataFrame(
        {
            "received": starts,
            "closed": starts + pd.to_timedelta(hours, unit="h"),
            "kind": kind,
            "fault_code": [f"F{f}" for f in fault],
            "true_median": median,
        }
    )


@pytest.mark.slow
def test_a_thin_segment_median_counts_its_earlier_items_still_open() -> None:
    # Injury claims take five months at the median: thin in the calibration period (most of
    # its latest still open), their median is read from earlier items too, many of those also
    # open. Counting only the finished ones read their censoring weights, which stand for the
    # open ones too, as a larger share of the kind: -0.03, -0.10, -0.09 in log hours from the
    # true median; with the open ones counted, +0.07, -0.03, -0.01.
    spec = DatasetSpec.from_dict(
        {
            "name": "claims", "kind": "resolution", "start": "received", "end": "closed",
            "timezone": "UTC", "clock": "wall",
            "features": {"categorical": ["kind", "fault_code"]}, "segments": ["kind"],
        }
    )  # fmt: skip
    export = pd.Timestamp("2025-12-31", tz="UTC")
    errors = []
    for seed in (0, 1, 2):
        history = _claims(6_000, seed, days=730).drop(columns="true_median")
        history["closed"] = history["closed"].where(history["closed"] <= export)
        model = EtaModel(spec).fit(load_history(history, spec, as_of=export))
        assert model.calibration_.by_key["1:injury"].borrowed_from == "0:all"
        new = _claims(4_000, seed + 100, days=30, start=str(export.date()))
        new = new[new["kind"] == "injury"]
        items, _ = prepare_items(new.drop(columns=["closed", "true_median"]), spec)
        likely = model.quantiles(items, [0.5])[:, 0]
        errors.append(np.median(np.log(likely / new["true_median"].to_numpy())))
    assert np.mean(errors) > -0.035, errors


@pytest.mark.slow
def test_a_thin_segment_is_measured_by_trees_that_did_not_learn_its_items() -> None:
    # Recall repairs, ~150 a year: too few in the calibration period for a distribution of
    # their own, so their median is read from all of theirs, and the trees, which fit the
    # training items they grew on, said these sat near their own median (an outside harness's
    # finding this mirrors: in-sample, promises 0.57x the true P90 of new recalls).
    spec = DatasetSpec.from_dict(
        {
            "name": "repairs", "kind": "resolution", "start": "received", "end": "closed",
            "timezone": "UTC", "clock": "wall",
            "features": {"categorical": ["customer_type", "fault_code"], "numeric": ["part_price"]},
            "segments": ["customer_type"],
        }
    )  # fmt: skip
    errors, widths = [], []
    for seed in (11, 12, 13):  # one workshop's recalls are too few to tell bias from chance
        history, _ = _repairs(5_000, seed=seed)
        end = history["received"].max()
        model = EtaModel(spec).fit(load_history(history, spec, as_of=end))
        assert model.calibration_.by_key["1:recall"].borrowed_from == "0:all"
        items, true_median = _repairs(20_000, seed=seed + 100, start=str(end.date()))
        recall = items["customer_type"].to_numpy() == "recall"
        quoted, _ = prepare_items(items[recall].drop(columns="closed"), spec)
        likely, promise = model.quantiles(quoted, [0.5, 0.9]).T
        errors.append(np.median(np.log(likely / true_median[recall])))
        widths.append(np.median(promise / (true_median[recall] * np.exp(norm.ppf(0.9)))))
    # ~600 new recalls each. In-sample: -0.20, -0.28, -0.25 in log hours; cross-fitted in
    # fifths, -0.03, +0.01, +0.01 (halves: +0.05, +0.10, +0.14).
    assert abs(np.mean(errors)) < 0.1, errors
    # Their P90 over the true one: 0.63, 0.80, 0.90 in their parent's shape, 0.69, 0.91, 1.08
    # widened as much as their earlier items are wider than everyone's.
    assert np.mean(widths) > 0.85, widths
