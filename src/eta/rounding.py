"""Rounding quote times to what a person says, on the spec's calendar.

A calibrated promise lands on some minute like Thursday 15:46; nobody says that. A promise is
rounded *up* (never earlier than the calibrated quantile, so it can only be kept more often) to:

* ``hour``: the next full hour, or the closing time when that comes first ("by 16:00");
* ``day``: the close of the business day it falls on ("by Thursday 20:00"; a 24:00 close is
  said as 23:59);
* ``date``: the end of its calendar date ("by Thursday"), represented by 23:59 local time;
* ``minute``: the next whole minute.

A follow-up is the opposite kind of time: the moment to call the customer if the item is not
done, so it must come *before* the promise and inside business hours. It is rounded *down* to
a full hour when that keeps it after the likely time and after "now", and kept to the minute
otherwise.

All of it is vectorised and works on local wall times in the spec's time zone, so a full
hour is a full hour where the team works, also across DST changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.calendar import Clock

ROUNDINGS = ("minute", "hour", "day", "date")
_MINUTE = pd.Timedelta(minutes=1)
_LAST_MINUTE = pd.Timedelta(hours=23, minutes=59)
_MAX_DAYS_OFF = 370
"""How far to look for a working day (a year of holidays is already an absurd calendar)."""


def round_promise(clock: Clock, exact: pd.DatetimeIndex, how: str) -> pd.DatetimeIndex:
    """Promises rounded up to what a person says; never earlier than ``exact`` (UTC in, UTC out).

    See the module docstring for the meaning of ``how``; ``NaT`` stays ``NaT``.
    """
    if how not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, not {how!r}")
    exact = pd.DatetimeIndex(exact)
    floor = exact.ceil("min")
    if how == "minute" or len(exact) == 0:
        return floor
    local = _naive(clock, exact)
    day = local.normalize()
    if how == "hour":
        close = day + clock.calendar.closes
        up = local.ceil("h")
        up = up.where(~((local <= close) & (up > close)), close)
    elif how == "day":
        inside = clock.is_working_day(day) & (local <= day + clock.calendar.closes)
        # Closing at 24:00 is said as the last minute of that day, not midnight of the next.
        up = _next_working_day(clock, day, inside) + min(clock.calendar.closes, _LAST_MINUTE)
    else:  # date
        up = _naive(clock, floor).normalize() + _LAST_MINUTE
    out = _localize(clock, up)
    return out.where(out >= floor, floor)


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
    """
    target, lower, upper = (pd.DatetimeIndex(v) for v in (target, lower, upper))
    if len(target) == 0:
        return target
    latest = _localize(clock, _last_business_moment(clock, _naive(clock, target)))
    latest = latest.where(latest <= target, target)
    local = _naive(clock, latest)
    opens = local.normalize() + clock.calendar.opens
    hour = local.floor("h")
    hour = hour.where(hour >= opens, opens)
    candidates = [
        _localize(clock, hour),
        latest.ceil("min"),
        _localize(clock, _first_business_moment(clock, _naive(clock, lower.ceil("min")))),
    ]
    out = lower.ceil("min")
    chosen = np.zeros(len(target), dtype=bool)
    for candidate in candidates:
        fits = ~chosen & np.asarray((candidate >= lower) & (candidate < upper))
        out = out.where(~fits, candidate)
        chosen |= fits
    return out


def in_business_hours(clock: Clock, instants: pd.DatetimeIndex) -> np.ndarray:
    """Whether each instant is on a working day between opening and closing time (inclusive;
    a 24:00 closing time is the next midnight)."""
    local = _naive(clock, pd.DatetimeIndex(instants))
    day = local.normalize()
    yesterday = day - pd.Timedelta(days=1)
    inside = (
        clock.is_working_day(day)
        & (local >= day + clock.calendar.opens)
        & (local <= day + clock.calendar.closes)
    )
    at_midnight_close = clock.is_working_day(yesterday) & (
        local == yesterday + clock.calendar.closes
    )
    return np.asarray(inside | at_midnight_close)


# -- local wall times ----------------------------------------------------------------------


def _naive(clock: Clock, instants: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Local wall times in the spec's zone, without a zone (for calendar arithmetic)."""
    return clock.local(instants).tz_localize(None)


def _localize(clock: Clock, naive: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Local wall times back to UTC instants: a time in a DST gap moves forward, a repeated
    one takes its first occurrence (as :class:`eta.calendar.Clock` reads naive times)."""
    first = np.ones(len(naive), dtype=bool)
    local = pd.DatetimeIndex(naive).tz_localize(
        clock.timezone, ambiguous=first, nonexistent="shift_forward"
    )
    return local.tz_convert("UTC")


def _next_working_day(
    clock: Clock, day: pd.DatetimeIndex, keep: np.ndarray | None = None
) -> pd.DatetimeIndex:
    """``day`` itself where ``keep`` (default: where it is a working day), else the first
    working day after it."""
    keep = clock.is_working_day(day) if keep is None else keep
    return _walk_to_working_day(clock, day, ~np.asarray(keep, dtype=bool), step=1)


def _previous_working_day(clock: Clock, day: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The last working day strictly before each ``day``."""
    return _walk_to_working_day(clock, day, np.ones(len(day), dtype=bool), step=-1)


def _walk_to_working_day(
    clock: Clock, day: pd.DatetimeIndex, move: np.ndarray, step: int
) -> pd.DatetimeIndex:
    out = day.to_numpy().copy()
    todo = move & np.asarray(day.notna())
    for k in range(1, _MAX_DAYS_OFF + 1):
        if not todo.any():
            return pd.DatetimeIndex(out)
        rows = np.flatnonzero(todo)
        candidate = day[rows] + pd.Timedelta(days=k * step)
        found = clock.is_working_day(candidate)
        out[rows[found]] = candidate[found].to_numpy()
        todo[rows[found]] = False
    raise ValueError("no working day within a year; check the calendar")


def _last_business_moment(clock: Clock, local: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The latest local time at or before ``local`` that is inside business hours."""
    day = local.normalize()
    opens, closes = day + clock.calendar.opens, day + clock.calendar.closes
    working = clock.is_working_day(day)
    inside = working & (local >= opens) & (local <= closes)
    after_close = working & (local > closes)
    earlier = _previous_working_day(clock, day) + clock.calendar.closes
    out = local.where(inside, closes.where(after_close, earlier))
    return out


def _first_business_moment(clock: Clock, local: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The earliest local time at or after ``local`` that is inside business hours."""
    day = local.normalize()
    opens, closes = day + clock.calendar.opens, day + clock.calendar.closes
    working = clock.is_working_day(day)
    inside = working & (local >= opens) & (local <= closes)
    before_open = working & (local < opens)
    later = _next_working_day(clock, day + pd.Timedelta(days=1)) + clock.calendar.opens
    return local.where(inside, opens.where(before_open, later))
