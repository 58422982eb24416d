"""Features known at an item's start: the declared columns, the calendar, and recent history.

Recent-history features describe what happened to the same segment *before* the item started:
how many items were still open (the backlog), how many finished in the last week and how long those
took. They are computed from the events that were known at that moment (a finish counts only once
it has happened), so the same function serves training, quoting and replay without look-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.data import END, HOURS, SEGMENT, START
from eta.spec import DatasetSpec

RECENT_WINDOW = pd.Timedelta(days=7)
RECENT_FEATURES = ("backlog", "backlog_all", "finished_7d", "recent_log_hours_7d", "started_7d")
CALENDAR_FEATURES = ("start_hour", "start_weekday", "after_cutoff", "days_off_next_7d")


@dataclass(frozen=True)
class Events:
    """Start and finish events of past items, the raw material of recent-history features.

    ``end`` is NaT for items still open; ``hours`` is the clock duration of finished items.
    """

    segment: np.ndarray
    start: np.ndarray  # int64 ns UTC
    end: np.ndarray  # int64 ns UTC, NaT as int64 min for open items
    hours: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Events:
        end = frame[END]
        return cls(
            segment=frame[SEGMENT].astype(str).to_numpy(),
            start=_ns(frame[START]),
            end=_ns(end),
            hours=np.where(end.notna(), frame[HOURS].to_numpy(float), np.nan),
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                SEGMENT: self.segment,
                START: pd.to_datetime(self.start, utc=True),
                END: pd.to_datetime(np.where(self.end == _NAT, _NAT, self.end), utc=True),
                HOURS: self.hours,
            }
        )

    def since(self, moment: pd.Timestamp) -> Events:
        """Only the events that still matter for queries at or after ``moment``.

        An item that finished before ``moment - window`` adds one start and one finish to every
        later count, which cancel in the backlog and fall outside the recent window.
        """
        horizon = moment.value - RECENT_WINDOW.value
        keep = (self.end == _NAT) | (self.end >= horizon) | (self.start >= horizon)
        return Events(self.segment[keep], self.start[keep], self.end[keep], self.hours[keep])


_NAT = np.iinfo(np.int64).min


def _ns(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    return pd.DatetimeIndex(values).tz_convert("UTC").asi8.copy()


def recent_history(events: Events, segment: np.ndarray, at: np.ndarray) -> pd.DataFrame:
    """Recent-history features for queries (segment, time) using only events before each time.

    A finish counts when it happened strictly before the query time; a start likewise. The result
    does not depend on anything that happened at or after the query time (tests pin this).
    """
    at = np.asarray(at, dtype=np.int64)
    segment = np.asarray(segment).astype(str)
    out = {name: np.zeros(len(at)) for name in RECENT_FEATURES}
    out["recent_log_hours_7d"][:] = np.nan
    window = RECENT_WINDOW.value
    finished = events.end != _NAT

    all_starts = np.sort(events.start)
    all_ends = np.sort(events.end[finished])
    out["backlog_all"] = np.searchsorted(all_starts, at) - np.searchsorted(all_ends, at)

    query_groups = pd.Series(np.arange(len(at))).groupby(segment).indices
    event_groups = pd.Series(np.arange(len(events.start))).groupby(events.segment).indices
    for key, rows in query_groups.items():
        idx = event_groups.get(key)
        if idx is None:
            continue
        t = at[rows]
        starts = np.sort(events.start[idx])
        done = idx[finished[idx]]
        order = np.argsort(events.end[done], kind="stable")
        ends = events.end[done][order]
        logs = np.concatenate([[0.0], np.cumsum(np.log(events.hours[done][order]))])
        n_ended = np.searchsorted(ends, t)
        n_ended_before_window = np.searchsorted(ends, t - window)
        n_started = np.searchsorted(starts, t)
        out["backlog"][rows] = n_started - n_ended
        out["started_7d"][rows] = n_started - np.searchsorted(starts, t - window)
        count = n_ended - n_ended_before_window
        out["finished_7d"][rows] = count
        total = logs[n_ended] - logs[n_ended_before_window]
        out["recent_log_hours_7d"][rows] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return pd.DataFrame(out)


def calendar_features(start: pd.Series, clock: Clock) -> pd.DataFrame:
    """Local start hour and weekday, whether the item came after the cut-off, days off ahead."""
    local = clock.local(start)
    today = local.normalize().tz_localize(None)
    days_ahead = np.zeros(len(local))
    for k in range(1, 8):
        days_ahead += ~clock.is_working_day(today + pd.Timedelta(days=k))
    return pd.DataFrame(
        {
            "start_hour": local.hour + local.minute / 60.0,
            "start_weekday": local.day_of_week,
            "after_cutoff": clock.after_cutoff(start).astype(float),
            "days_off_next_7d": days_ahead,
        }
    )


def feature_frame(
    items: pd.DataFrame, spec: DatasetSpec, clock: Clock, events: Events
) -> pd.DataFrame:
    """The model's input for items in canonical columns (``start``, ``segment`` and features).

    Categorical columns become pandas categories; their category lists are fixed by the model
    (see :meth:`eta.model.EtaModel`), so an unseen category is simply unknown, never an error.
    """
    frame = pd.DataFrame(index=items.index)
    for column in spec.features.categorical:
        frame[column] = items[column].astype("string").fillna("(missing)")
    for column in spec.features.numeric:
        frame[column] = pd.to_numeric(items[column], errors="coerce").astype(float)
    cal = calendar_features(items[START], clock)
    cal.index = items.index
    recent = recent_history(events, items[SEGMENT].to_numpy(), _ns(items[START]))
    recent.index = items.index
    return pd.concat([frame, cal, recent], axis=1)
