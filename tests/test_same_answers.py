"""The engine's fast paths give exactly the answers of the straightforward ones.

A quote for one item is on a checkout page's critical path, so the engine avoids pandas where
a handful of values would pay more for pandas than for the work (see ``benchmarks/
QUOTE_LATENCY.md``). Each test here pins one such path to a plain reference, to the last bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eta.calendar import (
    _offset_changes,
    utc_from_wall,
    utc_instants,
    utc_nanoseconds,
    wall_nanoseconds,
)
from eta.data import START
from eta.features import LOAD_RATIOS, Events, recent_history
from eta.model import _path_table
from eta.quote import prepare_items, quote_items
from eta.usual import iso_weeks


def test_iso_weeks_are_pandas_isocalendar_weeks() -> None:
    days = np.arange(np.datetime64("1899-12-25"), np.datetime64("2101-01-08"))
    expected = pd.DatetimeIndex(days).isocalendar().week.to_numpy()
    np.testing.assert_array_equal(iso_weeks(days), expected)


def test_contributions_are_the_tree_by_tree_sums(tickets_model, tickets_sim) -> None:
    items, _ = prepare_items(tickets_sim.history.tail(2_500), tickets_model.spec)  # > a chunk
    features = tickets_model.features(items)
    for level, booster in tickets_model.boosters_.items():
        got = tickets_model.contributions(items, features, level=level)
        leaves = booster.predict(tickets_model._matrix(features), pred_leaf=True).astype(int)
        table, baseline = _path_table(booster)
        expected = np.zeros((len(items), table.shape[2]))
        for tree in range(table.shape[0]):
            expected += table[tree, leaves[:, tree]]
        np.testing.assert_array_equal(got.to_numpy()[:, :-1], expected)
        assert (got["baseline"] == baseline).all()


def _recent_history_by_groupby(events: Events, segment: np.ndarray, at: np.ndarray):
    """The straightforward way: group queries and events by segment with pandas, per call."""
    segment = np.asarray(segment).astype(str)
    names = ("backlog", "finished_7d", "started_7d", *LOAD_RATIOS)
    out = {name: np.zeros(len(at)) for name in names}
    out["recent_log_hours_7d"] = np.full(len(at), np.nan)
    window = pd.Timedelta(days=7).value
    finished = events.end != np.iinfo(np.int64).min
    # An item leaves the backlog when it finishes or, last seen open, when tested in
    # test_features.py: events.leave has both.
    out["backlog_all"] = np.searchsorted(np.sort(events.start), at) - np.searchsorted(
        np.sort(events.leave), at
    ).astype(float)
    # Usual weekly arrivals: over the last 26 weeks, or since the first start (a day at least).
    week = pd.Timedelta(weeks=1).value
    weeks = np.clip(at - events.start.min(), week / 7, 26 * week) / week

    def weekly(starts: np.ndarray, t: np.ndarray, span: np.ndarray) -> np.ndarray:
        return (
            (starts[None, :] < t[:, None]) & (starts[None, :] >= (t - span * week)[:, None])
        ).sum(1) / span

    def per(count: np.ndarray, rate: np.ndarray) -> np.ndarray:
        return np.where(rate > 0, count / np.where(rate > 0, rate, 1), np.nan)

    out["queue_weeks"] = per(out["backlog_all"], weekly(events.start, at, weeks))
    queries = pd.Series(np.arange(len(at))).groupby(segment).indices
    groups = pd.Series(np.arange(len(events.start))).groupby(events.segment).indices
    for key, rows in queries.items():
        idx = groups.get(key)
        if idx is None:
            continue
        t = at[rows]
        starts = np.sort(events.start[idx])
        done = idx[finished[idx]]
        order = np.argsort(events.end[done], kind="stable")
        ends = events.end[done][order]
        logs = np.concatenate([[0.0], np.cumsum(np.log(events.hours[done][order]))])
        ended, ended_before = np.searchsorted(ends, t), np.searchsorted(ends, t - window)
        out["backlog"][rows] = np.searchsorted(starts, t) - np.searchsorted(
            np.sort(events.leave[idx]), t
        )
        out["started_7d"][rows] = np.searchsorted(starts, t) - np.searchsorted(starts, t - window)
        count = ended - ended_before
        out["finished_7d"][rows] = count
        mean = (logs[ended] - logs[ended_before]) / np.maximum(count, 1)
        out["recent_log_hours_7d"][rows] = np.where(count > 0, mean, np.nan)
        rate = weekly(starts, t, weeks[rows])
        for name in ("backlog", "finished_7d", "started_7d"):
            out[f"{name}_weeks"][rows] = per(out[name][rows], rate)
    return pd.DataFrame(out)


def test_recent_history_counts_as_grouping_by_segment_does(tickets_history) -> None:
    frame = tickets_history.frame
    events = Events.from_frame(frame)
    queries = frame.sample(2_000, random_state=3)
    segment = queries["segment"].to_numpy().astype(str)
    segment[:50] = "never seen / anywhere"
    at = queries[START].astype("int64").to_numpy() + 1
    got = recent_history(events, segment, at)
    expected = _recent_history_by_groupby(events, segment, at)
    pd.testing.assert_frame_equal(got, expected[got.columns], check_exact=True)
    again = recent_history(events, segment, at)  # from the events' cached timeline
    pd.testing.assert_frame_equal(again, got, check_exact=True)


@pytest.mark.parametrize("locale", ["en", "fa"])
@pytest.mark.parametrize("later", [None, pd.Timedelta(days=3)])
@pytest.mark.parametrize("dataset", ["tickets", "deliveries"])
def test_each_item_quoted_alone_reads_as_in_a_batch(request, dataset, locale, later) -> None:
    """One path for every batch size: a single quote is the batch's row for that item."""
    model = request.getfixturevalue(f"{dataset}_model")
    raw = request.getfixturevalue(f"{dataset}_sim").history.tail(40).reset_index(drop=True)
    raw.loc[3, model.spec.start] = None  # answered with its error, alone and in the batch
    items, _ = prepare_items(raw, model.spec)
    now = None if later is None else items[START].max() + later
    batch = quote_items(model, items, locale=locale, now=now)
    for i in range(len(items)):
        alone = quote_items(model, items.iloc[[i]], locale=locale, now=now)
        # pandas makes a column of strings 'str' and one of only None 'object': the row that
        # could not be quoted has the same values, not the same column types.
        pd.testing.assert_frame_equal(alone, batch.iloc[[i]], check_exact=True, check_dtype=i != 3)


def test_instants_wrapped_fast_are_what_pandas_builds() -> None:
    ns = np.array([0, np.iinfo(np.int64).min, 1_700_000_000_123_456_789, -5])
    got = utc_instants(ns)
    expected = pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC")
    pd.testing.assert_index_equal(got, expected, exact=True)
    ns[0] = 42  # the index does not share the caller's array
    assert got[0] == pd.Timestamp(0, tz="UTC")
    np.testing.assert_array_equal(utc_nanoseconds(got.tz_convert("Asia/Tehran")), got.asi8)


@pytest.mark.parametrize(
    "zone",
    ["Europe/Sarajevo", "Asia/Tehran", "Australia/Lord_Howe", "Pacific/Apia", "Europe/Dublin",
     "Africa/Casablanca", "America/St_Johns", "Asia/Kathmandu", "UTC"],
)  # fmt: skip
def test_wall_clock_times_are_what_pandas_converts(zone: str) -> None:
    changes, _ = _offset_changes(zone)
    rng = np.random.default_rng(1)
    anywhere = rng.integers(-(2**62), 2**62, 2_000)  # also beyond the table: pandas itself
    nearby = changes[1:, None] + np.array([-3_600 * 10**9, -(10**9), -1, 0, 1, 10**9])
    utc = np.concatenate([anywhere, nearby.ravel(), [np.iinfo(np.int64).min]])
    expected = utc_instants(utc).tz_convert(zone).tz_localize(None).asi8
    np.testing.assert_array_equal(wall_nanoseconds(utc, zone), expected)


@pytest.mark.parametrize(
    "zone",
    ["Europe/Sarajevo", "Australia/Lord_Howe", "Pacific/Apia", "Europe/Dublin",
     "America/St_Johns", "Antarctica/Troll", "Asia/Gaza", "America/Santiago"],
)  # fmt: skip
def test_wall_clock_times_read_back_as_pandas_localizes_them(zone: str) -> None:
    """Repeated times take their first occurrence; times in a gap move as pandas moves them."""
    changes, offsets = _offset_changes(zone)
    around = np.array([-7_200, -3_600, -1_800, -1, 0, 1, 1_800, 3_600, 7_200]) * 10**9
    walls = [changes[1:] + offsets[:-1], changes[1:] + offsets[1:]]  # each change, both sides
    wall = np.concatenate([(w[:, None] + around).ravel() for w in walls])
    wall = np.concatenate([wall, np.random.default_rng(2).integers(-(2**62), 2**62, 2_000)])

    def pandas(values: np.ndarray) -> np.ndarray:
        naive = pd.DatetimeIndex(values.view("datetime64[ns]"))
        first = np.ones(len(values), dtype=bool)
        return naive.tz_localize(zone, ambiguous=first, nonexistent="shift_forward").asi8

    expected = pandas(wall)
    alone = np.array([utc_from_wall(wall[i : i + 1], zone)[0] for i in range(len(wall))])
    np.testing.assert_array_equal(alone, expected)
    np.testing.assert_array_equal(utc_from_wall(wall, zone), expected)
