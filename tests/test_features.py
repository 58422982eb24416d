"""Recent-history features are computed as of each item's start: no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.data import END, FINISHED, HOURS, SEEN, START, seen_at
from eta.features import SEASON, Events, calendar_features, recent_history
from eta.synthetic import load_spec


def test_features_at_a_moment_ignore_everything_that_happens_later(tickets_history) -> None:
    frame = tickets_history.frame
    moment = frame[START].quantile(0.6)
    queries = frame[(frame[START] >= moment)].head(300)
    before = recent_history(
        Events.from_frame(frame), queries["segment"], queries[START].astype("int64")
    )

    # Rewrite the future: every finish after `moment` moves, every later item is dropped.
    altered = frame[frame[START] < moment].copy()
    late = altered[END] > moment
    altered.loc[late, END] = altered.loc[late, END] + pd.Timedelta(days=30)
    altered.loc[late, HOURS] = altered.loc[late, HOURS] * 3
    at = np.full(len(queries), moment.value)
    after = recent_history(Events.from_frame(altered), queries["segment"], at)
    original = recent_history(Events.from_frame(frame), queries["segment"], at)
    pd.testing.assert_frame_equal(original, after)
    assert before.shape == original.shape


def test_backlog_counts_items_started_and_not_yet_finished(tickets_history) -> None:
    frame = tickets_history.frame.head(3000)
    moment = frame[START].iloc[-1]
    segment = frame["segment"].iloc[-1]
    got = recent_history(Events.from_frame(frame), np.array([segment]), np.array([moment.value]))
    same = frame[frame["segment"] == segment]
    open_then = (same[START] < moment) & ~(same[FINISHED] & (same[END] < moment))
    assert got["backlog"].iloc[0] == open_then.sum()
    recent = same[FINISHED] & (same[END] < moment) & (same[END] >= moment - pd.Timedelta(days=7))
    assert got["finished_7d"].iloc[0] == recent.sum()
    if recent.any():
        assert np.isclose(
            got["recent_log_hours_7d"].iloc[0], np.log(same.loc[recent, HOURS]).mean()
        )


def test_an_item_last_seen_open_leaves_the_backlog_as_long_after_as_it_had_run() -> None:
    day = pd.Timedelta(days=1)
    t0 = pd.Timestamp("2025-03-03", tz="UTC")
    export = t0 + 30 * day
    frame = pd.DataFrame(
        {
            "segment": "a",
            START: [t0, t0, t0 + day],
            END: [pd.NaT, pd.NaT, t0 + 3 * day],
            SEEN: [t0 + 2 * day, export, t0 + 3 * day],  # looked at on day 2; open at export
            HOURS: [48.0, 720.0, 48.0],
        }
    )
    events = Events.from_frame(frame)
    days = np.array([1.5, 3.5, 4.5, 29.5])
    got = recent_history(
        events, np.full(len(days), "a"), (t0 + pd.to_timedelta(days, unit="D")).asi8
    )
    # Both open ones count until day 4 (looked at aged 2 days); then only the one still open.
    np.testing.assert_array_equal(got["backlog"], [3, 2, 1, 1])
    np.testing.assert_array_equal(got["backlog_all"], [3, 2, 1, 1])
    np.testing.assert_array_equal(got["finished_7d"], [0, 1, 1, 0])  # leaving is not finishing
    saved = Events.from_frame(events.to_frame())
    np.testing.assert_array_equal(saved.leave, events.leave)
    unseen = Events.from_frame(frame.drop(columns=SEEN))  # a spec without observed_until
    np.testing.assert_array_equal(
        recent_history(
            unseen, np.full(len(days), "a"), (t0 + pd.to_timedelta(days, unit="D")).asi8
        )["backlog"],
        [3, 2, 2, 2],
    )


def test_after_the_record_ends_the_last_state_fades_to_the_usual_one(tickets_history) -> None:
    frame = tickets_history.frame
    moment = frame[START].quantile(0.7)
    record = Events.from_frame(seen_at(tickets_history, moment).frame)
    segments = np.array(sorted(frame["segment"].unique()))

    def at(events: Events, when: pd.Timestamp) -> pd.DataFrame:
        return recent_history(events, segments, np.full(len(segments), when.value))

    last = at(record, moment)
    # Never fading: three weeks on, nothing new is known, so the last state stands.
    kept = at(record.since(moment), moment + pd.Timedelta(days=20))
    known = last.notna()
    pd.testing.assert_frame_equal(kept[known], last[known])
    assert last["started_7d"].sum() > 0  # not the empty queue of an unrecorded month

    # Fading over a day: a month on, the state is the mean of the last two weeks' states at the
    # same hour of the week (a Friday evening's queue is not a Monday morning's).
    def usual_at(when: pd.Timestamp) -> pd.DataFrame:
        weeks = [when - pd.Timedelta(weeks=j) for j in range(1, 12)]
        same_hour = [w for w in weeks if pd.Timedelta(0) <= moment - w <= pd.Timedelta(days=14)]
        assert len(same_hour) == 2
        return pd.concat([at(record, h) for h in same_hour]).groupby(level=0).mean()

    for later in (pd.Timedelta(days=30), pd.Timedelta(days=30, hours=7)):
        usual = usual_at(moment + later)
        faded = at(record.since(moment, pd.Timedelta(days=1)), moment + later)
        pd.testing.assert_frame_equal(faded, usual.set_axis(faded.index), check_dtype=False)
    hours = moment - pd.to_timedelta(np.arange(14 * 24 + 1), unit="h")
    flat = pd.concat([at(record, h) for h in hours]).groupby(level=0).mean()
    assert not np.allclose(faded["backlog"], flat["backlog"])  # not every hour alike
    usual = usual_at(moment + pd.Timedelta(hours=1))
    soon = at(record.since(moment, pd.Timedelta(days=1)), moment + pd.Timedelta(hours=1))
    both = known & usual.notna().to_numpy()
    between = (soon - last).abs() <= (usual.to_numpy() - last).abs() + 1e-9
    assert between[both].all().all() and not soon.equals(faded)


def test_the_day_of_the_year_is_the_local_one() -> None:
    clock = Clock.from_spec(load_spec("tickets"))  # Europe/Sarajevo, UTC+1 in winter
    starts = pd.Series(
        pd.to_datetime(
            ["2025-12-31 22:30", "2025-12-31 23:30", "2024-12-31 12:00", "2025-03-01 12:00"],
            utc=True,
        )
    )
    features = calendar_features(starts, clock)
    # New Year's Eve (day 364), New Year's Day, a leap year's last day, 1 March after 28 February.
    np.testing.assert_array_equal(features[SEASON], [364, 0, 365, 59])
