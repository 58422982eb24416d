"""Features known at an item's start: the declared columns, the calendar, and recent history.

Recent-history features describe what happened to the same segment *before* the item started:
how many items were still open (the backlog), how many finished in the last week and how long those
took. They are computed from the events that were known at that moment (a finish counts only once
it has happened), so the same function serves training, quoting and replay without look-ahead.

The counts are said to people as counts ("42 tickets open, usually 30", :mod:`eta.usual`), but
the quantile models learn them in weeks of the segment's usual arrivals (:data:`LOAD_RATIOS`):
a growing business has more of everything every month, and counts then tell the trees *when* an
item started, not how loaded the queue was. A history whose last months held a ten-day strike
was learnt as "this many open parcels in May is slow", and every later month, with more parcels
at least as open, was promised as if on strike: twice the true 90th percentile for the rest of
the year (a tester's Olist-like export). Relative to arrivals, the strike's backlog stands out
and the busier autumn does not.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eta.calendar import NAT, NS_PER_DAY, NS_PER_HOUR, NS_PER_MINUTE, Clock, utc_nanoseconds
from eta.data import END, HOURS, SEEN, SEGMENT, START, category_texts
from eta.spec import DatasetSpec

RECENT_WINDOW = pd.Timedelta(days=7)
USUAL_SPAN = pd.Timedelta(days=14)
"""Past the end of the record, recent-history features fade to their mean over its last weeks,
at the same hour of the week (see :attr:`Events.last_and_usual`)."""
HOURS_PER_WEEK = 168
_NEVER_SEEN = "\x00never seen"
USUAL_RATE_WINDOW = pd.Timedelta(weeks=26)
"""Arrivals over the last half-year (or since the record began) set the usual weekly rate: a
quarter soaked up a season's extra arrivals and hid how much busier a peak was."""
LOAD_COUNTS = ("backlog", "backlog_all", "finished_7d", "started_7d")
"""Counts, for people: not model inputs (see the module docstring)."""
LOAD_RATIOS = ("backlog_weeks", "queue_weeks", "finished_7d_weeks", "started_7d_weeks")
"""The same counts in weeks of usual arrivals (the segment's; for the queue, everyone's)."""
RATE_UNIT = pd.Timedelta(weeks=1).value
RECENT_FEATURES = (*LOAD_COUNTS, "recent_log_hours_7d", *LOAD_RATIOS)
"""Everything :func:`recent_history` computes."""
RECORD_ENDED = "record_ended"
"""Not a model input: whether the item starts after its recent history's record ended, so its
recent-history features are a forecast and its calibration is the one for quotes made ahead
(see :meth:`eta.calibration.MondrianCalibration.with_ahead`)."""
SEASON = "day_of_year"
"""The local day of the year an item starts: the same time last year, for a model that has seen
a whole year (see :data:`eta.model.SEASONAL_SPAN`)."""
WAIT = "hours_until_open"
"""Clock hours an item waits for the calendar to open (:meth:`eta.calendar.Clock.hours_until_open`):
learnt only where some item waits, on a wall clock with closed hours (see
:func:`eta.model.learnt_inputs`)."""
CALENDAR_FEATURES = (
    "start_hour", "start_weekday", "after_cutoff", "days_off_next_7d", SEASON, WAIT
)  # fmt: skip


@dataclass(frozen=True)
class Events:
    """Start and finish events of past items, the raw material of recent-history features.

    ``end`` is NaT for items still open; ``hours`` is the clock duration of finished items.
    ``seen`` is when an open item was last seen open (``None``: at the end of the record), for
    the time it leaves the backlog (see :func:`_leave`). ``known_until`` (int64 ns UTC) is when
    the record was taken: a model's events stop at its as-of time, and what happened after it
    is unknown, not absent. Items starting later are described by the last state known, fading
    over ``fade`` (ns, e-folding) to the usual state of the record's last weeks (see
    :func:`recent_history`).
    """

    segment: np.ndarray
    start: np.ndarray  # int64 ns UTC
    end: np.ndarray  # int64 ns UTC, NaT as int64 min for open items
    hours: np.ndarray
    known_until: int = np.iinfo(np.int64).max
    fade: float = math.inf
    seen: np.ndarray | None = None  # int64 ns UTC, NaT where the state is known to the end

    @functools.cached_property
    def timeline(self) -> _Timeline:
        """The events sorted for counting (built on first use)."""
        return _timeline(self)

    @functools.cached_property
    def last_and_usual(self) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        """Per segment (its row, by key; the last row stands for segments the record never
        saw), the :data:`RECENT_FEATURES` at ``known_until``, and per hour of the week after
        it (``usual[row, hour]``, hours counted from ``known_until``) their mean at that hour
        of the week over the :data:`USUAL_SPAN` before it.

        The hour of the week, not every hour alike: a queue's load has its week (a Friday's
        backlog is not a Monday's) and a flight's its day, and the trees learn from items that
        each started in their own hour. A pallet carrier's quotes made ahead, each given the
        week's mean, were promised a third less eight weeks out than at the export (237 h to
        162 h), though nothing changed."""
        keys = [*sorted(self.timeline.by_segment), _NEVER_SEEN]
        hours = np.arange(int(USUAL_SPAN / pd.Timedelta(hours=1)) + 1)
        segment = np.repeat(np.array(keys, dtype=object), len(hours))
        at = np.tile(self.known_until - hours * NS_PER_HOUR, len(keys))
        values = _counts(self, segment, at)
        table = np.column_stack([values[name] for name in RECENT_FEATURES])
        table = table.reshape(len(keys), len(hours), len(RECENT_FEATURES))
        # Hour h after the record ends falls at the hour of the week of h - k hours before it,
        # for every k a multiple of the week's 168: the samples k = (-h) mod 168, + 168, ...
        phase = (-hours) % HOURS_PER_WEEK
        usual = np.empty((len(keys), HOURS_PER_WEEK, len(RECENT_FEATURES)))
        with warnings.catch_warnings():  # no finish in a segment for weeks: NaN, as it is live
            warnings.simplefilter("ignore", RuntimeWarning)
            for h in range(HOURS_PER_WEEK):
                usual[:, h] = np.nanmean(table[:, phase == h], axis=1)
            rows = {key: k for k, key in enumerate(keys)}
            return rows, table[:, 0], usual

    @functools.cached_property
    def leave(self) -> np.ndarray:
        """When each item leaves the backlog (int64 ns UTC; int64 max: not before the record
        ends), see :func:`_leave`."""
        return _leave(self.start, self.end, self.seen)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Events:
        end = frame[END]
        return cls(
            segment=frame[SEGMENT].astype(str).to_numpy(),
            start=utc_nanoseconds(frame[START]),
            end=utc_nanoseconds(end),
            hours=np.where(end.notna(), frame[HOURS].to_numpy(float), np.nan),
            seen=utc_nanoseconds(pd.to_datetime(frame[SEEN].where(end.isna()), utc=True))
            if SEEN in frame
            else None,
        )

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                SEGMENT: self.segment,
                START: pd.to_datetime(self.start, utc=True),
                END: pd.to_datetime(np.where(self.end == NAT, NAT, self.end), utc=True),
                HOURS: self.hours,
            }
        )
        if self.seen is not None:
            frame[SEEN] = pd.to_datetime(self.seen, utc=True)
        return frame

    def since(self, moment: pd.Timestamp, fade: pd.Timedelta | None = None) -> Events:
        """The record as known at ``moment``, keeping only the events that matter for queries
        at or after ``moment - USUAL_SPAN``; ``fade`` sets :attr:`fade`.

        An item that left the backlog before the recent window of the earliest query adds one
        start and one finish to every later count, which cancel in the backlog and fall outside
        the window; only its start is still needed, for the usual arrival rate.
        """
        horizon = moment.value - RECENT_WINDOW.value - USUAL_SPAN.value
        rate_horizon = moment.value - USUAL_RATE_WINDOW.value - USUAL_SPAN.value
        keep = (self.leave >= horizon) | (self.start >= rate_horizon)
        return Events(
            self.segment[keep],
            self.start[keep],
            self.end[keep],
            self.hours[keep],
            min(self.known_until, moment.value),
            self.fade if fade is None else fade.value,
            None if self.seen is None else self.seen[keep],
        )


def _leave(start: np.ndarray, end: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """When each item leaves the backlog: its finish, or for an item last seen open before the
    record ends, as long again after that look as it had been running then.

    Whether such an item is still open is unknown, not certain: counted open forever, every
    item whose tracking stopped stays in every later backlog, which then grows all year. With
    30% of tickets looked at once at a random age, 77-100% of each month's items saw backlogs
    above any the months before them had, so no past item described a busy queue (now 0% but
    December's, as without the looks). Doubling the age at
    the last look is the median remaining life when nothing but the age is known (Gott 1993,
    "Implications of the Copernican principle for our future prospects", Nature 363), needs
    nothing fitted, and uses only what was known at the look, so counts stay free of
    look-ahead.
    """
    never = np.iinfo(np.int64).max
    leave = np.where(end == NAT, never, end)
    if seen is None:
        return leave
    looked = (end == NAT) & (seen != NAT)
    age = seen[looked] - start[looked]
    leave[looked] = seen[looked] + np.minimum(age, never - seen[looked])
    return leave


def recent_history(events: Events, segment: np.ndarray, at: np.ndarray) -> pd.DataFrame:
    """Recent-history features for queries (segment, time) using only events before each time.

    A finish counts when it happened strictly before the query time; a start likewise. The result
    does not depend on anything that happened at or after the query time (tests pin this).

    A query after ``events.known_until`` is a forecast: the last state known, fading with the
    time since then (``exp(-lag / events.fade)``) to the usual state of the record's last
    :data:`USUAL_SPAN` at the same hour of the week. Counted up to the query time instead, a
    model quoting a month after its training saw a queue where nothing started or finished for
    weeks (no training item looked like that) and kept 64-85% of promises in the last weeks of
    a month of tickets. Carried forward unfaded, one moment's state stood for a whole month:
    fine for a ticket queue that changes slowly, but for flights, where the last evening's
    weather is forgotten by the next morning, it kept 79% of promises instead of 89%. Hence a
    fade as fast as the speed of
    recent items fades (:meth:`eta.model.EtaModel.predict`): both say where things stood.
    """
    return pd.DataFrame(_recent_history(events, segment, at))


def _recent_history(events: Events, segment: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
    at = np.asarray(at, dtype=np.int64)
    segment = _texts(segment)
    late = at > events.known_until
    out = _counts(events, segment, np.minimum(at, events.known_until))
    if late.any():
        keys, last, usual = events.last_and_usual
        which = np.fromiter(
            (keys.get(key, len(keys) - 1) for key in segment[late]), np.intp, int(late.sum())
        )
        lag = at[late] - events.known_until
        weight = np.exp(-lag / events.fade)[:, None]
        hour = np.rint(lag / NS_PER_HOUR).astype(np.int64) % HOURS_PER_WEEK
        last, usual = last[which], usual[which, hour]
        state = np.where(np.isnan(last), usual, weight * last + (1.0 - weight) * usual)
        for j, name in enumerate(RECENT_FEATURES):
            out[name][late] = state[:, j]
    return out


def _texts(segment: np.ndarray) -> np.ndarray:
    """Segment keys as Python strings, not a fixed-width array: one 32,000-character value
    would take every row 128 KB (a 280 KB file trained in 3.6 GB). Keys that are ``str``
    already are taken as they are: converting one through pandas cost a quote 0.2 ms."""
    if segment.dtype == object and all(type(key) is str for key in segment):
        return segment
    return pd.Series(segment, dtype="string").fillna(str(pd.NA)).to_numpy(dtype=object)


def _counts(events: Events, segment: np.ndarray, at: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`RECENT_FEATURES` counted from the record, for queries no later than it."""
    out = {name: np.zeros(len(at)) for name in RECENT_FEATURES}
    out["recent_log_hours_7d"][:] = np.nan
    window = RECENT_WINDOW.value
    timeline = events.timeline
    # The usual rate counts arrivals over the last half-year, or since the record began.
    origin = timeline.starts[0] if len(timeline.starts) else 0
    weeks = np.clip(at - origin, NS_PER_DAY, USUAL_RATE_WINDOW.value) / RATE_UNIT
    n_started = np.searchsorted(timeline.starts, at)
    backlog_all = n_started - np.searchsorted(timeline.leaves, at)
    out["backlog_all"] = backlog_all.astype(float)  # a forecast past the record is a mean
    usual = (n_started - np.searchsorted(timeline.starts, at - weeks * RATE_UNIT)) / weeks
    out["queue_weeks"] = _per_usual(out["backlog_all"], usual)
    inverse, keys = pd.factorize(segment, sort=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    for k, key in enumerate(keys):
        group = timeline.by_segment.get(key)
        if group is None:
            continue
        rows = order[bounds[k] : bounds[k + 1]]
        t = at[rows]
        n_ended = np.searchsorted(group.ends, t)
        n_ended_before_window = np.searchsorted(group.ends, t - window)
        n_started = np.searchsorted(group.starts, t)
        out["backlog"][rows] = n_started - np.searchsorted(group.leaves, t)
        out["started_7d"][rows] = n_started - np.searchsorted(group.starts, t - window)
        count = n_ended - n_ended_before_window
        out["finished_7d"][rows] = count
        total = group.logs[n_ended] - group.logs[n_ended_before_window]
        out["recent_log_hours_7d"][rows] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        span = weeks[rows]
        usual = (n_started - np.searchsorted(group.starts, t - span * RATE_UNIT)) / span
        for count_name, ratio_name in zip(LOAD_COUNTS, LOAD_RATIOS, strict=True):
            if count_name != "backlog_all":
                out[ratio_name][rows] = _per_usual(out[count_name][rows], usual)
    return out


def _per_usual(count: np.ndarray, weekly: np.ndarray) -> np.ndarray:
    """``count`` in weeks of ``weekly`` arrivals; NaN where nothing arrived (no usual rate)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weekly > 0, count / weekly, np.nan)


@dataclass(frozen=True)
class _Timeline:
    """Events sorted for counting: starts and leaving the backlog, overall and per segment;
    per segment also finishes, with the running sum of finished items' log hours in finish
    order. Built once per :class:`Events` (a model's recent events never change), so a quote
    only searches sorted arrays."""

    starts: np.ndarray
    leaves: np.ndarray
    by_segment: dict[str, _Timeline]
    ends: np.ndarray | None = None
    logs: np.ndarray | None = None


def _timeline(events: Events) -> _Timeline:
    finished = events.end != NAT
    order = np.argsort(events.segment, kind="stable")  # rows of a segment stay in order
    keys, bounds = np.unique(events.segment[order], return_index=True)
    bounds = np.append(bounds, len(order))
    by_segment = {}
    for k, key in enumerate(keys):
        idx = order[bounds[k] : bounds[k + 1]]
        done = idx[finished[idx]]
        ends_order = np.argsort(events.end[done], kind="stable")
        logs = np.concatenate([[0.0], np.cumsum(np.log(events.hours[done][ends_order]))])
        by_segment[str(key)] = _Timeline(
            np.sort(events.start[idx]),
            np.sort(events.leave[idx]),
            {},
            events.end[done][ends_order],
            logs,
        )
    return _Timeline(np.sort(events.start), np.sort(events.leave), by_segment)


def calendar_features(start: pd.Series, clock: Clock) -> pd.DataFrame:
    """Local start hour and weekday, whether the item came after the cut-off, days off ahead,
    the day of the year, and the hours it waits for the calendar to open."""
    return pd.DataFrame(_calendar_features(start, clock))


def _calendar_features(start: pd.Series, clock: Clock) -> dict[str, np.ndarray]:
    wall = clock.wall_clock(start)
    valid = wall != NAT
    day, time_of_day = np.divmod(wall, NS_PER_DAY)
    # As pandas' .hour, .minute and .day_of_week give them: int32, or float with NaN for NaT.
    weekday = ((day + 3) % 7).astype(np.int32)  # 1970-01-01 was a Thursday; Monday = 0
    hour = time_of_day // NS_PER_HOUR + (time_of_day % NS_PER_HOUR) // NS_PER_MINUTE / 60.0
    date = day.astype("datetime64[D]")
    day_of_year = (date - date.astype("datetime64[Y]")).astype(np.int64).astype(float)
    if not valid.all():
        weekday, hour = np.where(valid, weekday, np.nan), np.where(valid, hour, np.nan)
        day_of_year = np.where(valid, day_of_year, np.nan)
    # The next seven local dates of every start, asked of the calendar in one call.
    ahead = day[:, None] + np.arange(1, 8)
    ahead[~valid] = NAT
    working = clock.is_working_day(ahead.ravel().view("datetime64[D]"))
    days_ahead = np.zeros(len(wall))
    for k in range(7):  # summed in the same order as one day at a time: identical floats
        days_ahead += ~working[k::7]
    return {
        "start_hour": hour,
        "start_weekday": weekday,
        "after_cutoff": clock.after_cutoff(start).astype(float),
        "days_off_next_7d": days_ahead,
        SEASON: day_of_year,
        WAIT: clock.hours_until_open(start),
    }


def feature_frame(
    items: pd.DataFrame, spec: DatasetSpec, clock: Clock, events: Events
) -> pd.DataFrame:
    """The model's input for items in canonical columns (``start``, ``segment`` and features).

    Categorical columns become pandas categories; their category lists are fixed by the model
    (see :meth:`eta.model.EtaModel`), so an unseen category is simply unknown, never an error.
    """
    columns: dict[str, object] = feature_columns(items, spec, clock, events)
    strings = pd.StringDtype()
    for column in spec.features.categorical:
        columns[column] = pd.array(columns[column], dtype=strings)
    return pd.DataFrame(columns, index=items.index)


def feature_columns(
    items: pd.DataFrame, spec: DatasetSpec, clock: Clock, events: Events
) -> dict[str, np.ndarray]:
    """:func:`feature_frame`'s columns as arrays by name (categorical values as ``str``
    objects, a missing one as '(missing)'): what the engine predicts from, because a frame
    would cost a single quote more to build and take apart than the prediction itself."""
    columns: dict[str, np.ndarray] = {}
    for column in spec.features.categorical:
        columns[column] = category_texts(items[column])
    for column in spec.features.numeric:
        values = items[column]
        if values.dtype != np.float64:
            values = pd.to_numeric(values, errors="coerce").astype(float)
        columns[column] = values.to_numpy()
    start = items[START]
    columns.update(_calendar_features(start, clock))
    at = utc_nanoseconds(start)
    columns.update(_recent_history(events, items[SEGMENT].to_numpy(), at))
    columns[RECORD_ENDED] = at > events.known_until
    return columns


def model_inputs(features: pd.DataFrame | dict[str, np.ndarray]) -> list[str]:
    """The columns of a feature frame the model learns from: all but :data:`RECORD_ENDED` and
    the :data:`LOAD_COUNTS`, learnt as :data:`LOAD_RATIOS` (see the module docstring)."""
    return [c for c in features if c != RECORD_ENDED and c not in LOAD_COUNTS]
