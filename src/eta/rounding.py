"""Rounding quote times to what a person says, on the spec's calendar.

A calibrated promise lands on some minute like Thursday 15:46; nobody says that. A promise is
rounded *up* (never earlier than the calibrated quantile, so it can only be kept more often) to:

* ``hour``: the next full hour, or the closing time when that comes first ("by 16:00"); a
  promise due at midnight is said at 23:59 of the day it ends, when that is not before it
  ("by Thursday 23:59": "by Friday 00:00" is read as Friday night, a day later than meant);
* ``day``: the close of the business day it falls on ("by Thursday 20:00", "by Saturday 14:00"
  when Saturdays close early; a 24:00 close is said as 23:59);
* ``date``: the end of its calendar date ("by Thursday"), represented by 23:59 local time;
  the date is the customer's (``timezone``), so "by Thursday" means Thursday where they are;
* ``minute``: the next whole minute.

A follow-up is the opposite kind of time: the moment to call the customer if the item is not
done, so it must come *before* the promise and inside business hours. It is rounded *down* to
a full hour when that keeps it after the likely time and after "now", and kept to the minute
otherwise. On a wall clock, where work goes on round the clock, the people told still sleep:
a follow-up falls within :data:`CONTACT_HOURS` (of the calendar's hours and working days)
whenever the time between the likely time and the promise holds such a moment.

Everything works on local wall times in the spec's time zone (a full hour is a full hour where
the team works, also across DST changes) as int64 nanoseconds, so a single quote costs a few
array operations, not a few dozen pandas ones.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from eta.calendar import (
    NAT,
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    NS_PER_SECOND,
    Clock,
    utc_from_wall,
    utc_instants,
    utc_nanoseconds,
    wall_nanoseconds,
)

ROUNDINGS = ("minute", "hour", "day", "date")
_LAST_MINUTE = NS_PER_DAY - NS_PER_MINUTE
CONTACT_HOURS = ("08:00", "20:00")
"""When a person can be told something: a wall clock's follow-ups fall in these local hours
(where the calendar's hours overlap them) instead of at midnight or in the small hours, and a
follow-up outside them in the customer's zone is said by the part of the day
(:func:`eta.messages.compose`)."""
_CONTACT_NS = tuple(
    int(hour) * NS_PER_HOUR + int(minute) * NS_PER_MINUTE
    for hour, minute in (t.split(":") for t in CONTACT_HOURS)
)
_MAX_DAYS_OFF = 370
"""How far to look for a working day (a year of holidays is already an absurd calendar)."""


def in_contact_hours(local: np.ndarray) -> np.ndarray:
    """Whether local wall-clock nanoseconds fall within :data:`CONTACT_HOURS`."""
    minute = np.asarray(local, dtype=np.int64) % NS_PER_DAY
    return (minute >= _CONTACT_NS[0]) & (minute <= _CONTACT_NS[1])


def round_promise(
    clock: Clock, exact: pd.DatetimeIndex, how: str, timezone: str | None = None
) -> pd.DatetimeIndex:
    """Promises rounded up to what a person says; never earlier than ``exact`` (UTC in, UTC out).

    See the module docstring for the meaning of ``how``; ``timezone`` is where a ``date`` is
    said (default: the spec's). ``NaT`` stays ``NaT``.
    """
    if how not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {how!r}")
    utc = _ns(exact)
    floor = _ceil(utc, NS_PER_MINUTE)
    if how == "minute" or len(utc) == 0:
        return _index(floor)
    calendar = _Calendar(clock)
    local = calendar.local(utc)
    day = calendar.day(local)
    if how == "hour":
        close = calendar.span_close(day, local)
        up = _ceil(local, NS_PER_HOUR)
        up = np.where((local <= close) & (up > close), close, up)
        # Midnight is said as the last minute of the day it ends, when that is still not before
        # the promise: "by Friday 12:00 AM" is read as Friday night, a day later than meant.
        last_minute = up - NS_PER_MINUTE
        midnight = (up % NS_PER_DAY == 0) & (calendar.local(floor) <= last_minute)
        up = np.where(midnight, last_minute, up)
    elif how == "day":
        day = calendar.closed_by(day, local)
        # On the wall clock, or in real time: a close the clocks skip (02:00 on the spring
        # night) is read at 03:00; the autumn night's second 02:00 is still said "by 02:00".
        closes = calendar.closes(day)
        inside = calendar.working(day) & ((local <= closes) | (utc <= calendar.utc(closes)))
        up = calendar.end_of_day(calendar.next_working_day(day, keep=inside))
    else:  # date, where the customer is
        zone = timezone or clock.timezone
        local_floor = calendar.local(floor, zone)
        ends = date_ends(local_floor - local_floor % NS_PER_DAY, zone)
        return _index(np.where(utc == NAT, NAT, np.maximum(ends, floor)))
    out = np.maximum(calendar.utc(up, None), floor)
    out[utc == NAT] = NAT
    return _index(out)


def date_ends(days: np.ndarray, zone: str) -> np.ndarray:
    """When each local date (its midnight as wall-clock nanoseconds) ends in ``zone``, as a
    promise to it is said: the minute before the next date begins (UTC nanoseconds). Not 23:59
    on the wall, the first of two where the clocks go back at midnight (Santiago's): promises
    in the second were left unrounded at 23:07, and a date promised for that day was refused."""
    return utc_from_wall(np.asarray(days, dtype=np.int64) + NS_PER_DAY, zone) - NS_PER_MINUTE


def follow_up(
    clock: Clock,
    target: pd.DatetimeIndex,
    lower: pd.DatetimeIndex,
    upper: pd.DatetimeIndex,
) -> pd.DatetimeIndex:
    """When to get back to the customer: near ``target``, inside business hours, in
    ``[lower, upper)`` (after the likely time and now, before the promise), on a full hour if
    possible.

    Candidates, first that fits wins: the full hour at or before ``target`` (the latest
    business moment up to ``target``), that moment itself to the minute, the first business
    moment at or after ``lower``. When nothing fits (a promise minutes after the likely time)
    the answer is ``lower``.

    On a wall clock the candidates are first sought within :data:`CONTACT_HOURS` (a person's
    day: a follow-up at 00:00 or 03:00 is a call nobody wants) of working days, then of any day
    (the work goes on through holidays: an update on a holiday evening beats one at midnight),
    then on the calendar's own hours when the whole of ``[lower, upper)`` is at night (and then
    not at midnight: the hour before, or ``lower`` when that is later).
    """
    target_ns, low, high = _ns(target), _ceil(_ns(lower), NS_PER_MINUTE), _ns(upper)
    if len(target_ns) == 0:
        return _index(target_ns)
    out = low.copy()
    todo = np.ones(len(out), dtype=bool)
    calendars = [_Calendar(clock)]
    if clock.kind == "wall":  # a person's day: on working days, else on any day
        day = _Calendar(clock).during(*_CONTACT_NS)
        calendars[:0] = [day, day.every_day()]
    for calendar in calendars:
        _follow_up_on(calendar, target_ns, low, high, out, todo)
    if clock.kind == "wall":  # a night with no day in it: not at midnight ("Tuesday 12:00 AM"
        # is read as Tuesday night), but the hour before, or the likely time if that is later
        night = calendars[-1]
        local = night.local(out)
        midnight = (out != NAT) & (local % NS_PER_DAY == 0)
        before = np.minimum(np.maximum(night.utc(local - NS_PER_HOUR), low), out)
        out = np.where(midnight, before, out)
    return _index(out)


def _follow_up_on(
    calendar: _Calendar,
    target_ns: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    out: np.ndarray,
    todo: np.ndarray,
) -> None:
    """:func:`follow_up`'s candidates on one calendar, for the rows still ``todo``: each row
    that one fits gets it in ``out`` and leaves ``todo``."""
    rows = np.flatnonzero(todo)
    if len(rows) == 0:
        return
    target_ns, low, high = target_ns[rows], low[rows], high[rows]
    target_local = calendar.local(target_ns)
    local = calendar.last_business_moment(target_local)
    latest = target_ns.copy()  # on a business clock the target is inside business hours
    moved = local != target_local
    if moved.any():
        latest[moved] = np.minimum(calendar.utc(local[moved]), target_ns[moved])
    day = calendar.day(local)
    hour = np.maximum(local - local % NS_PER_HOUR, calendar.span_open(day, local))
    left = np.ones(len(rows), dtype=bool)
    candidates = (
        lambda at: calendar.utc(hour[at]),
        lambda at: _ceil(latest[at], NS_PER_MINUTE),
        lambda at: calendar.utc(calendar.first_business_moment(calendar.local(low[at]))),
    )
    for candidate in candidates:  # the first that fits wins; later ones only where needed
        at = np.flatnonzero(left)
        if len(at) == 0:
            break
        values = candidate(at)
        fits = (values >= low[at]) & (values < high[at])
        out[rows[at[fits]]] = values[fits]
        left[at[fits]] = False
    todo[rows] = left


def in_business_hours(clock: Clock, instants: pd.DatetimeIndex) -> np.ndarray:
    """Whether each instant is on a working day between opening and closing time (inclusive;
    a 24:00 closing time is the next midnight)."""
    calendar = _Calendar(clock)
    local = calendar.local(_ns(instants))
    day = calendar.day(local)
    day = calendar.closed_by(day, local)
    return calendar.working(day) & calendar.inside(day, local)


class _Calendar:
    """A clock's calendar on local wall-clock nanoseconds (days are multiples of ``NS_PER_DAY``)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._opens, self._closes = clock.span_opens, clock.span_closes  # (weekday, span)
        # 'By the end of the day' is the closing time, or 23:59 for a day that closes at
        # midnight or runs round the clock (said on the day itself, not at the next 00:00).
        last = self._closes[:, -1]
        self._ends = np.where(last > NS_PER_DAY, last, np.minimum(last, _LAST_MINUTE))
        self._day_begins = int(clock.calendar.day_begins.total_seconds()) * NS_PER_SECOND
        self._every_day = False

    def during(self, opens: int, closes: int) -> _Calendar:
        """This calendar with each day's hours cut to ``[opens, closes]`` (ns after midnight; a
        day whose hours miss them entirely, such as a night shift's, gets them whole), its days
        beginning at midnight: the hours in which a person is told something."""
        cut_opens = np.clip(self._opens, opens, closes)
        cut_closes = np.clip(self._closes, opens, closes)
        kept = cut_closes > cut_opens
        new_opens, new_closes = np.empty_like(cut_opens), np.empty_like(cut_closes)
        for weekday in range(len(cut_opens)):
            spans = kept[weekday]
            if not spans.any():
                a, b = np.array([opens]), np.array([closes])
            else:
                a, b = cut_opens[weekday, spans], cut_closes[weekday, spans]
            # Spans first, then empty ones at the last close (as Clock pads its spans).
            pad = len(cut_opens[weekday]) - len(a)
            new_opens[weekday] = np.r_[a, np.full(pad, b[-1])]
            new_closes[weekday] = np.r_[b, np.full(pad, b[-1])]
        cut = copy.copy(self)
        cut._opens, cut._closes, cut._day_begins = new_opens, new_closes, 0
        last = new_closes[:, -1]
        cut._ends = np.minimum(last, _LAST_MINUTE)
        return cut

    def every_day(self) -> _Calendar:
        """This calendar with every day a working day (holidays and days off too)."""
        every = copy.copy(self)
        every._every_day = True
        return every

    def spans(self, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each day's spans of working hours as local times: opens and closes, ``(days, spans)``."""
        weekday = _weekday(day)
        day = np.asarray(day, dtype=np.int64)[:, None]
        return day + self._opens[weekday], day + self._closes[weekday]

    def closed_by(self, day: np.ndarray, local: np.ndarray) -> np.ndarray:
        """``day``, or the day before where ``local`` is its close (the next midnight belongs to
        the working day it ends, not to the one it begins; so does 03:00 on the spring night
        a night shift's 02:00 close is skipped, the instant the clocks read then)."""
        yesterday = np.where(day == NAT, NAT, day - NS_PER_DAY)
        ends = self.working(yesterday) & (self.utc(local) == self.utc(self.closes(yesterday)))
        return np.where(ends, yesterday, day)

    def opens(self, day: np.ndarray) -> np.ndarray:
        """When each day (a local midnight) first opens, as a local time."""
        return day + self._opens[_weekday(day), 0]

    def closes(self, day: np.ndarray) -> np.ndarray:
        """When each day last closes, as a local time (the next morning for a night shift)."""
        return day + self._closes[_weekday(day), -1]

    def end_of_day(self, day: np.ndarray) -> np.ndarray:
        """What 'by the end of the day' means on each day (see ``__init__``)."""
        return day + self._ends[_weekday(day)]

    def inside(self, day: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Whether each local time is in one of its day's spans (both ends included; a close
        the clocks skip is the instant they read after it, see :meth:`closed_by`)."""
        opens, closes = self.spans(day)
        within = ((local[:, None] >= opens) & (local[:, None] <= closes)).any(axis=1)
        rest = np.flatnonzero(~within & (local != NAT))  # only these can be a skipped close
        if len(rest):
            at_close = self.utc(local[rest]) == self.utc(self.closes(day[rest]))
            within[rest] = at_close
        return within

    def span_open(self, day: np.ndarray, local: np.ndarray) -> np.ndarray:
        """When the span each local time is in (or the last one before it) opened."""
        opens, _ = self.spans(day)
        return np.where(opens <= local[:, None], opens, opens[:, :1]).max(axis=1)

    def span_close(self, day: np.ndarray, local: np.ndarray) -> np.ndarray:
        """When the span each local time is in (or the next one) closes; the day's last close
        after it."""
        _, closes = self.spans(day)
        return np.where(closes >= local[:, None], closes, closes[:, -1:]).min(axis=1)

    def day(self, local: np.ndarray) -> np.ndarray:
        """The local midnight of the working day each local time belongs to: its date, or for
        a night shift's small hours (up to its closing time) the day before, when it opened."""
        shifted = local - self._day_begins - (self._day_begins > 0)
        return np.where(local == NAT, NAT, shifted - shifted % NS_PER_DAY)

    def local(self, utc: np.ndarray, zone: str | None = None) -> np.ndarray:
        """UTC nanoseconds to local wall-clock nanoseconds (in the spec's zone by default)."""
        return wall_nanoseconds(utc, zone or self.clock.timezone)

    def utc(self, local: np.ndarray, zone: str | None = None) -> np.ndarray:
        """Local wall times back to UTC: a time in a DST gap moves forward, a repeated one takes
        its first occurrence (as :class:`eta.calendar.Clock` reads naive times)."""
        return utc_from_wall(local, zone or self.clock.timezone)

    def working(self, day: np.ndarray) -> np.ndarray:
        if self._every_day:
            return np.ones(len(day), dtype=bool)
        return self.clock.is_working_day(np.asarray(day, dtype=np.int64).view("datetime64[ns]"))

    def next_working_day(self, day: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """``day`` itself where ``keep`` (default: where it is a working day), else the first
        working day after it."""
        keep = self.working(day) if keep is None else keep
        return self._walk(day, ~np.asarray(keep, dtype=bool), step=NS_PER_DAY)

    def previous_working_day(self, day: np.ndarray) -> np.ndarray:
        """The last working day strictly before each ``day``."""
        return self._walk(day, np.ones(len(day), dtype=bool), step=-NS_PER_DAY)

    def last_business_moment(self, local: np.ndarray) -> np.ndarray:
        """The latest local time at or before ``local`` that is inside business hours."""
        day = self.day(local)
        _, closes = self.spans(day)
        working = self.working(day)
        inside = working & self.inside(day, local)
        closed = closes <= local[:, None]  # spans of the day that closed by then
        after_close = working & closed.any(axis=1)
        out = np.where(inside, local, np.where(closed, closes, closes[:, :1]).max(axis=1))
        earlier = ~(inside | after_close)  # before opening, or a day off: the last close before
        if earlier.any():
            out[earlier] = self.closes(self.previous_working_day(day[earlier]))
        return out

    def first_business_moment(self, local: np.ndarray) -> np.ndarray:
        """The earliest local time at or after ``local`` that is inside business hours."""
        day = self.day(local)
        opens, _ = self.spans(day)
        working = self.working(day)
        inside = working & self.inside(day, local)
        ahead = opens > local[:, None]  # spans of the day still to open
        before_open = working & ahead.any(axis=1)
        out = np.where(inside, local, np.where(ahead, opens, opens[:, -1:]).min(axis=1))
        later = ~(inside | before_open)  # after closing, or a day off: the next opening
        if later.any():
            out[later] = self.opens(self.next_working_day(day[later] + NS_PER_DAY))
        return out

    def _walk(self, day: np.ndarray, move: np.ndarray, step: int) -> np.ndarray:
        out = np.array(day, dtype=np.int64, copy=True)
        todo = move & (out != NAT)  # a missing day stays missing
        for k in range(1, _MAX_DAYS_OFF + 1):
            if not todo.any():
                return out
            rows = np.flatnonzero(todo)
            candidate = day[rows] + k * step
            found = self.working(candidate)
            out[rows[found]] = candidate[found]
            todo[rows[found]] = False
        raise ValueError("no working day within a year; check the calendar")


def _weekday(day: np.ndarray) -> np.ndarray:
    """Monday = 0 for local midnights (1970-01-01 was a Thursday); any index for NaT."""
    return (np.asarray(day, dtype=np.int64) // NS_PER_DAY + 3) % 7


def _ns(instants: pd.DatetimeIndex) -> np.ndarray:
    """UTC int64 nanoseconds (NaT as int64 min)."""
    return utc_nanoseconds(instants)


def _index(utc: np.ndarray) -> pd.DatetimeIndex:
    return utc_instants(utc)


def _ceil(values: np.ndarray, unit: int) -> np.ndarray:
    """Round up to a multiple of ``unit`` (NaT stays)."""
    out = -(-values // unit) * unit
    return np.where(values == NAT, NAT, out)
