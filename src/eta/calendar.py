"""The clock of a history: how long something took, and when a duration will have passed.

Why this module exists
----------------------
Every part of the engine that measures a duration (training targets, censoring, drift checks,
the promise shown to a customer) must agree on *which* clock it is measured on. A support ticket
opened on Friday at 16:00 and closed on Monday at 10:00 took 66 wall hours but only 2 business
hours; mixing the two silently ruins a model. So there is exactly one place that knows the clock:
:class:`Clock`, built from a :class:`~eta.spec.DatasetSpec` with :meth:`Clock.from_spec`.

Design
------
* **DST-safe.** Opening and closing times are local wall times in the spec's time zone. Each local
  day's opening and closing instant is localized separately (a nonexistent local time is shifted
  forward to the end of the gap, an ambiguous one takes its earlier occurrence), so a 00:00-24:00
  calendar has 23 business hours on the spring-forward day and 25 on the fall-back day.
* **Vectorized.** For the range of local days covering the data, a table holds each day's opening
  and closing instant (UTC, int64 nanoseconds) and the cumulative business time at each day's
  start. The clock position of an instant ``t`` on local day ``d`` is then
  ``B(t) = cum[d] + clip(t - open[d], 0, close[d] - open[d])`` (summed over the day's spans):
  one ``np.searchsorted`` per million rows. :meth:`Clock.add_hours` inverts ``B`` with another
  ``np.searchsorted``. The table grows lazily (whole calendar years at a time) when inputs fall
  outside it.
* **Spans of hours, per weekday.** A day's hours may be several spans with breaks between them
  (``['09:00', '12:00', '13:00', '17:00']``); a day listed in ``calendar.hours_by_day`` (a short
  Saturday) has its own. The table then holds each day's spans, the shorter days' padded with
  empty ones, and a position inside a day sums the spans up to it.
* **Holidays** come from the ``holidays`` package: every code in ``calendar.holidays`` (``'BA'``,
  ``'US-CA'``, ...) contributes its days of ``calendar.holiday_categories`` (public holidays by
  default) but those in ``calendar.holidays_worked``, and a holiday is a non-working day; so is
  each of the business's own ``calendar.days_off``.
* **Night shifts.** Hours that close before they open (``'22:00'`` to ``'06:00'``) run past
  midnight and belong to the day they open on: its working-day status and holidays decide whether
  the shift runs, and the table's days begin at the closing time instead of midnight, so each day
  still holds its own hours. A cut-off is read in that working day: '04:00' is late in the
  shift that opened at 22:00 the evening before.

Conventions
-----------
* Instants may be given as a ``pd.Series``, ``pd.DatetimeIndex``, numpy array or list. Time-zone
  aware values may be in any zone. **Naive values are read as local wall times in the spec's time
  zone** (nonexistent times shift forward, ambiguous ones take the earlier occurrence).
* Returned instants are a UTC ``pd.DatetimeIndex`` with nanosecond resolution; ``NaT`` in gives
  ``NaT`` out and ``NaN`` hours give ``NaT``.
* Durations given to :meth:`Clock.add_hours` are rounded to the microsecond, so that
  ``add_hours(s, hours_between(s, e)) == e`` holds exactly despite float hours.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from calendar import isleap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from eta.spec import WEEKDAYS, CalendarSpec, DatasetSpec

__all__ = [
    "MAX_HOURS",
    "NAT",
    "NS_PER_DAY",
    "NS_PER_HOUR",
    "NS_PER_MINUTE",
    "NS_PER_SECOND",
    "Clock",
    "Instants",
    "utc_instants",
    "utc_nanoseconds",
    "wall_nanoseconds",
]

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
NS_PER_HOUR = 60 * NS_PER_MINUTE
NS_PER_DAY = 24 * NS_PER_HOUR
NAT = np.iinfo(np.int64).min
"""Units of the int64 nanosecond instants the clocks compute with, and their missing value."""
MAX_HOURS = 500_000
"""The most clock hours :meth:`Clock.add_hours` adds (57 years of wall time): far beyond any
promise worth saying, and within the int64 nanoseconds of the instants."""

Instants: TypeAlias = "pd.Series | pd.DatetimeIndex | np.ndarray | Sequence[Any]"
"""What :class:`pandas.DatetimeIndex` accepts: a Series, index, array or list of instants."""

# Years whose local days stay inside the nanosecond range of pandas (1677-09-21 .. 2262-04-11).
_MIN_YEAR, _MAX_YEAR = 1678, 2261
_EPOCH_DAY = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class _DayTable:
    """Per local day: UTC instants (int64 ns) of midnight, opening, closing; cumulative clock time.

    Days are numbered ``0 .. n-1`` from ``first_day`` (days since 1970-01-01 in local dates).
    ``day_start`` has ``n + 1`` entries (the last is the start of the day after the last day; a day
    starts at midnight, or when a night shift that opened the day before closes); ``cum`` has
    ``n + 1`` entries: business nanoseconds before each day's start, ``cum[0] == 0``.
    """

    first_year: int
    last_year: int
    first_day: int
    day_start: np.ndarray
    opens: np.ndarray
    """When each day first opens (UTC ns)."""
    span_opens: np.ndarray
    span_length: np.ndarray
    """Per day and span of working hours (``(n, spans)``, the last spans of a day with fewer
    repeating its close with no length): when it opens, and how long it runs (0 on a day off)."""
    cum: np.ndarray
    working: np.ndarray
    next_working: np.ndarray
    """Index of the first working day strictly after each day; -1 if none inside the table."""

    @property
    def n_days(self) -> int:
        return len(self.opens)

    def within_day(self, day: np.ndarray, utc_ns: np.ndarray) -> np.ndarray:
        """Working time (ns) on each ``day`` up to each instant."""
        opens, length = self.span_opens[day], self.span_length[day]
        return np.clip(utc_ns[:, None] - opens, 0, length).sum(axis=1)

    def instant_into_day(self, day: np.ndarray, worked: np.ndarray) -> np.ndarray:
        """The earliest instant by which ``worked`` ns of working time have passed on each
        ``day`` (0 < worked <= the day's working time): inside a span, or at its close."""
        length = self.span_length[day]
        before = np.cumsum(length, axis=1) - length
        span = np.maximum((before < worked[:, None]).sum(axis=1) - 1, 0)  # the last one begun
        rows = np.arange(len(day))
        return self.span_opens[day][rows, span] + (worked - before[rows, span])


class Clock:
    """Measures durations on a spec's clock (business or wall) and adds them back to instants.

    Parameters
    ----------
    calendar
        Working days, opening hours, holiday codes and order cut-off.
    timezone
        IANA time zone in which the calendar's days and hours are meant (``'Europe/Sarajevo'``).
    kind
        ``'business'``: only time inside opening hours on working, non-holiday days counts.
        ``'wall'``: plain elapsed time. The calendar still defines working days and the cut-off
        (:meth:`effective_start`, :meth:`is_working_day`) for a wall clock.

    Examples
    --------
    >>> from eta.spec import CalendarSpec
    >>> clock = Clock(CalendarSpec(hours=("09:00", "17:00")), "Europe/Sarajevo", "business")
    >>> friday = pd.DatetimeIndex(["2025-03-07 16:00"]).tz_localize("Europe/Sarajevo")
    >>> clock.add_hours(friday, 8).tz_convert("Europe/Sarajevo")[0]
    Timestamp('2025-03-10 16:00:00+0100', tz='Europe/Sarajevo')
    """

    def __init__(
        self, calendar: CalendarSpec, timezone: str, kind: Literal["business", "wall"]
    ) -> None:
        if kind not in ("business", "wall"):
            raise ValueError(f"clock kind must be 'business' or 'wall', not {kind!r}")
        self.calendar = calendar
        self.timezone = timezone
        self.kind: Literal["business", "wall"] = kind
        self._tz = zoneinfo.ZoneInfo(timezone)
        week = calendar.week
        most = max(len(spans) for spans in week)
        padded = [[*spans, *[(spans[-1][1],) * 2] * (most - len(spans))] for spans in week]
        self.span_opens, self.span_closes = (
            np.array([[_timedelta_ns(span[i]) for span in spans] for spans in padded])
            for i in (0, 1)
        )
        """Opening and closing time (ns after the midnight) of each span of working hours of
        each weekday, Monday first: ``(7, spans)``; a weekday with fewer spans than another
        repeats its close with no length."""
        # A night shift (22:00-06:00) belongs to the day it opens on: days then begin when the
        # shift closes, so that each day holds its own hours.
        self._day_begins_ns = _timedelta_ns(calendar.day_begins)
        cutoff = calendar.cutoff_time
        # The cut-off as time into the working day: a night shift's '04:00' is late in the day
        # that began at 06:00 the morning before.
        self._cutoff_ns = (
            None if cutoff is None else (_timedelta_ns(cutoff) - self._day_begins_ns) % NS_PER_DAY
        )
        # Monday = 0, as in datetime.weekday().
        self._weekday_mask = np.array([day in calendar.days for day in WEEKDAYS], dtype=bool)
        self._holiday_names: dict[int, dict[dt.date, str]] = {}
        self._table: _DayTable | None = None
        self._inner_days = (0, 0)

    @classmethod
    def from_spec(cls, spec: DatasetSpec) -> Clock:
        """The clock a dataset spec describes (its calendar, time zone and clock kind)."""
        return cls(spec.calendar, spec.timezone, spec.clock)

    def __repr__(self) -> str:
        return f"Clock(kind={self.kind!r}, timezone={self.timezone!r}, calendar={self.calendar!r})"

    # ------------------------------------------------------------------ durations

    def hours_between(self, start: Instants, end: Instants) -> np.ndarray:
        """Clock hours from ``start`` to ``end``, element-wise.

        Parameters
        ----------
        start, end
            Instants of equal length (tz-aware in any zone; naive = local in the spec's zone).

        Returns
        -------
        np.ndarray
            float64 hours. Business clock: only time inside opening hours on working, non-holiday
            local days counts. Wall clock: elapsed hours. ``NaN`` where either side is ``NaT``;
            negative where ``end`` is before ``start``.
        """
        s = self._utc_ns(start)
        e = self._utc_ns(end)
        if s.shape != e.shape:
            raise ValueError(f"start and end differ in length ({len(s)} vs {len(e)})")
        missing = (s == NAT) | (e == NAT)
        if self.kind == "wall":
            diff = np.where(missing, 0, e - s)
        else:
            self._cover_instants(s, e)
            diff = np.where(missing, 0, self._position(e) - self._position(s))
        hours = diff.astype(np.float64) / NS_PER_HOUR
        hours[missing] = np.nan
        return hours

    def add_hours(
        self, start: Instants, hours: float | Sequence[float] | np.ndarray
    ) -> pd.DatetimeIndex:
        """The instant at which ``hours`` clock hours have passed since ``start``.

        Parameters
        ----------
        start
            Instants (tz-aware in any zone; naive = local in the spec's zone).
        hours
            Clock hours, one per start or a scalar for all. Rounded to the microsecond.

        Returns
        -------
        pd.DatetimeIndex
            UTC instants. ``NaT`` where ``start`` is ``NaT`` or ``hours`` is not finite.

        Notes
        -----
        On the business clock the result is the *earliest* instant at which the clock has
        advanced by ``hours``: for ``hours > 0`` it lies inside opening hours (``open < t <=
        close``), so an hour that ends exactly at closing time gives the closing time, not the
        next opening. ``hours == 0`` returns ``start`` itself, even outside opening hours
        (nothing has elapsed yet). The result is monotone non-decreasing in ``hours`` and
        ``add_hours(s, hours_between(s, e)) == e`` whenever ``open < e <= close`` on a working day
        and the clock advanced between ``s`` and ``e``.
        """
        s = self._utc_ns(start)
        h = np.asarray(hours, dtype=np.float64)
        if h.ndim == 0:
            h = np.full(s.shape, float(h))
        if h.shape != s.shape:
            raise ValueError(f"start and hours differ in length ({len(s)} vs {len(h)})")
        missing = (s == NAT) | ~np.isfinite(h)
        if h.size and np.abs(np.where(missing, 0.0, h)).max() > MAX_HOURS:
            raise ValueError(f"hours are too large to add to an instant (more than {MAX_HOURS:,})")
        micros = np.rint(np.where(missing, 0.0, h) * 3.6e9)
        step = micros.astype(np.int64) * 1000
        out = s + step if self.kind == "wall" else self._add_business(s, step, missing)
        out[missing] = NAT
        return _utc_index(out)

    def _add_business(self, s: np.ndarray, step: np.ndarray, missing: np.ndarray) -> np.ndarray:
        self._cover_instants(s)
        valid = ~missing
        for _ in range(1000):
            table = self._require_table()
            pos = self._position(np.where(valid, s, table.day_start[0]))
            target = pos + step
            if not valid.any():
                break
            lo, hi = target[valid].min(), target[valid].max()
            # Strictly after cum[0]: the earliest instant of clock position cum[0] may lie before.
            if lo <= table.cum[0]:
                self._extend(years_before=_years_needed(table, table.cum[0] - lo), years_after=0)
            elif hi > table.cum[-1]:
                self._extend(years_before=0, years_after=_years_needed(table, hi - table.cum[-1]))
            else:
                break
        else:  # pragma: no cover - _extend raises before this can happen
            raise RuntimeError("could not cover the requested clock range")
        table = self._require_table()
        safe_target = np.where(valid, target, table.cum[-1])
        # Earliest instant of a clock position: the first day whose end position reaches it.
        day = np.searchsorted(table.cum[1:], safe_target, side="left")
        day = np.minimum(day, table.n_days - 1)
        out = table.instant_into_day(day, safe_target - table.cum[day])
        # Nothing elapsed (hours == 0, or rounded to 0): the start itself, not the last close.
        return np.where(target == pos, s, out)

    def effective_start(self, start: Instants) -> pd.DatetimeIndex:
        """Start instants after the calendar's cut-off rule.

        An item started later than ``calendar.cutoff`` (local time) on a working day, or at any
        time on a non-working day, counts from the next working day's opening. Items started on a
        working day at or before the cut-off are unchanged. Without a cut-off nothing changes.
        The rule applies to both clock kinds.

        Returns
        -------
        pd.DatetimeIndex
            UTC instants; ``NaT`` stays ``NaT``.
        """
        s = self._utc_ns(start)
        if self._cutoff_ns is None:
            return _utc_index(s)
        valid = s != NAT
        self._cover_instants(s)
        local_day, time_of_day = self._into_working_day(self._local_wall_ns(s))
        for _ in range(20):
            table = self._require_table()
            idx = np.where(valid, local_day - table.first_day, 0)
            move = valid & (~table.working[idx] | (time_of_day > self._cutoff_ns))
            nxt = table.next_working[idx]
            if not (move & (nxt < 0)).any():
                break
            self._extend(years_before=0, years_after=1)
        else:
            raise ValueError("no working day within 20 years after the start; check the calendar")
        out = np.where(move, table.opens[np.maximum(nxt, 0)], s)
        out[~valid] = NAT
        return _utc_index(out)

    def after_cutoff(self, start: Instants) -> np.ndarray:
        """Whether each start's local time of day is later than the cut-off (all False without one).

        ``NaT`` gives False.
        """
        s = self._utc_ns(start)
        if self._cutoff_ns is None:
            return np.zeros(s.shape, dtype=bool)
        _, time_of_day = self._into_working_day(self._local_wall_ns(s))
        return (s != NAT) & (time_of_day > self._cutoff_ns)

    def hours_until_open(self, start: Instants) -> np.ndarray:
        """Clock hours from each start, after the cut-off rule, until the calendar next opens.

        What a duration holds besides the work: on a wall clock, the evening, weekend or holiday
        an item waits through before anyone can work on it (a Saturday ticket of a
        Monday-to-Friday team waits until Monday morning, a Sunday one a day less). The weekday
        alone leaves the trees to learn that wait from the few items that start on each closed
        day. 0 on a business clock, which does not run while closed, and for starts inside
        opening hours; ``NaN`` for ``NaT``.
        """
        if self.kind == "business":
            return np.where(self._utc_ns(start) == NAT, np.nan, 0.0)
        begin = self._utc_ns(self.effective_start(start))
        return np.where(begin == NAT, np.nan, (self._opening(begin) - begin) / NS_PER_HOUR)

    def next_open(self, start: Instants) -> pd.DatetimeIndex:
        """The first instant at or after each start, after the cut-off rule, at which the
        calendar is open: the start itself inside opening hours. ``NaT`` stays ``NaT``."""
        return _utc_index(self._opening(self._utc_ns(self.effective_start(start))))

    def _opening(self, begin: np.ndarray) -> np.ndarray:
        """:meth:`next_open` of UTC nanoseconds already past the cut-off rule."""
        missing = begin == NAT
        # The earliest instant at which one nanosecond of working time has passed, less that
        # nanosecond: the next opening, or the start itself inside opening hours.
        opening = self._add_business(begin, np.ones_like(begin), missing) - 1
        opening[missing] = NAT
        return opening

    def cutoffs(self, start: Instants) -> np.ndarray:
        """The cut-off instant (UTC nanoseconds) of each start's working day: said in the
        customer's zone beside the start, as the start is ('2:27 AM, after the 4:30 PM
        cut-off' in Tehran, not Berlin's '2:00 PM' beside Tehran's 2:27 AM)."""
        s = self._utc_ns(start)
        if self._cutoff_ns is None:
            return np.full(s.shape, NAT, dtype=np.int64)
        day, _ = self._into_working_day(self._local_wall_ns(s))
        local = day * NS_PER_DAY + self._day_begins_ns + self._cutoff_ns
        return np.where(s != NAT, self._localize(local.astype("datetime64[ns]")), NAT)

    def _into_working_day(self, local_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each local wall time's working day (local date, in days since 1970-01-01) and how far
        into that day it is: from midnight, or for a night shift from when the shift that
        opened the evening before closed (:attr:`eta.spec.CalendarSpec.day_begins`)."""
        since = local_ns - self._day_begins_ns
        day = np.floor_divide(since, NS_PER_DAY)
        return day, since - day * NS_PER_DAY

    # ------------------------------------------------------------------ days

    def is_working_day(self, dates: Instants) -> np.ndarray:
        """Whether each local date is a working day (a calendar day and not a public holiday).

        Parameters
        ----------
        dates
            Dates (``datetime.date``, ``datetime64[D]``, naive timestamps: read as local dates) or
            tz-aware instants (converted to the spec's zone first). ``NaT`` gives False.
        """
        days = self._local_days(dates)
        valid = days != NAT
        if not valid.any():
            return np.zeros(days.shape, dtype=bool)
        self._cover_days(int(days[valid].min()), int(days[valid].max()))
        table = self._require_table()
        return valid & table.working[np.where(valid, days - table.first_day, 0)]

    def holidays_between(
        self, start: pd.Timestamp | dt.date | str, end: pd.Timestamp | dt.date | str
    ) -> list[tuple[dt.date, str]]:
        """Holidays ``(date, name)`` on local dates from ``start`` to ``end``, inclusive: the
        codes' days of the spec's categories, but those it works (``holidays_worked``).

        Holidays from several codes on the same date are joined with ``'; '``. Holidays falling
        on a day that is not a working day anyway are listed too.
        """
        first, last = self._local_date(start), self._local_date(end)
        out: list[tuple[dt.date, str]] = []
        for year in range(max(first.year, _MIN_YEAR), min(last.year, _MAX_YEAR) + 1):
            out.extend((d, n) for d, n in self._holidays_of(year).items() if first <= d <= last)
        return sorted(out)

    def non_working_days_between(
        self, start: pd.Timestamp | dt.date | str, end: pd.Timestamp | dt.date | str
    ) -> list[dt.date]:
        """Local dates from ``start`` to ``end`` (inclusive) that are not working days."""
        first, last = self._local_date(start), self._local_date(end)
        if last < first:
            return []
        dates = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
        working = self.is_working_day(dates)
        return [d.item() for d in dates[~working]]

    def hours_per_day(self) -> float:
        """Clock hours in a working day with the usual hours (its spans, breaks left out; 24
        for a wall clock)."""
        if self.kind == "wall":
            return 24.0
        return sum((c - o for o, c in self.calendar.spans), dt.timedelta()) / dt.timedelta(hours=1)

    def local(self, instants: Instants) -> pd.DatetimeIndex:
        """The instants in the spec's time zone (naive inputs are taken to be local already)."""
        return _utc_index(self._utc_ns(instants)).tz_convert(self._tz)

    def working_days(self, instants: Instants) -> np.ndarray:
        """Each instant's working day (``datetime64[D]``): its local date, or on a night shift
        the date of the evening its shift opened, up to its close (02:00 or 06:00 on a holiday
        is the day before's shift, which the holiday does not close). ``NaT`` stays ``NaT``."""
        local = self._local_wall_ns(self._utc_ns(instants))
        # A night shift's closing instant (06:00, where promises fall) is its last, not the
        # first of the next working day.
        day, _ = self._into_working_day(local - (self._day_begins_ns > 0))
        return np.where(local == NAT, NAT, day).astype("datetime64[D]")

    def wall_clock(self, instants: Instants) -> np.ndarray:
        """The instants' local wall-clock time in the spec's time zone, as naive int64
        nanoseconds since the epoch (NaT: int64 min): :meth:`local` without the index."""
        return self._local_wall_ns(self._utc_ns(instants))

    # ------------------------------------------------------------------ internals: inputs

    def _to_index(self, values: Instants) -> pd.DatetimeIndex:
        if isinstance(values, str | dt.date | np.datetime64 | pd.Timestamp):
            values = [values]
        try:
            index = pd.DatetimeIndex(values)
        except (TypeError, ValueError):  # e.g. datetimes with mixed UTC offsets
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
        if index.tz is None:
            index = index.tz_localize(
                self._tz, ambiguous=np.ones(len(index), dtype=bool), nonexistent="shift_forward"
            )
        return index

    def _utc_ns(self, values: Instants) -> np.ndarray:
        """UTC int64 nanoseconds (``NAT`` for missing); a fresh, writable array."""
        if _is_aware(values):
            return utc_nanoseconds(values)
        index = self._to_index(values).tz_convert("UTC").as_unit("ns")
        return np.array(index.asi8, dtype=np.int64, copy=True)

    def _local_wall_ns(self, utc_ns: np.ndarray) -> np.ndarray:
        """Local wall-clock time as naive nanoseconds since the epoch (``NAT`` stays)."""
        return wall_nanoseconds(utc_ns, self._tz)

    def _local_days(self, values: Instants) -> np.ndarray:
        """Local dates as days since 1970-01-01 (``NAT`` for missing)."""
        if isinstance(values, np.ndarray) and values.dtype == "datetime64[D]":
            return values.view(np.int64).copy()  # NaT is int64 min in every unit
        if _is_aware(values):
            ns = self._local_wall_ns(utc_nanoseconds(values))
        else:
            if isinstance(values, str | dt.date | np.datetime64 | pd.Timestamp):
                values = [values]
            index = pd.DatetimeIndex(values)
            if index.tz is not None:
                index = index.tz_convert(self._tz).tz_localize(None)
            ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
        return np.where(ns == NAT, NAT, np.floor_divide(ns, NS_PER_DAY))

    def _local_date(self, value: pd.Timestamp | dt.date | str) -> dt.date:
        if type(value) is dt.date:  # a date is its own local date (a datetime is not)
            return value
        day = self._local_days([value])[0]
        if day == NAT:
            raise ValueError(f"{value!r} is not a date")
        return (_EPOCH_DAY + int(day)).item()

    # ------------------------------------------------------------------ internals: day table

    def _position(self, utc_ns: np.ndarray) -> np.ndarray:
        """Clock position ``B(t)`` in ns; inputs must be inside the table (no NaT)."""
        table = self._require_table()
        day = np.searchsorted(table.day_start, utc_ns, side="right") - 1
        day = np.clip(day, 0, table.n_days - 1)
        return table.cum[day] + table.within_day(day, utc_ns)

    def _require_table(self) -> _DayTable:
        if self._table is None:  # pragma: no cover - callers cover a range first
            raise RuntimeError("day table not built")
        return self._table

    def _cover_instants(self, *arrays: np.ndarray) -> None:
        lo, hi = None, None
        for values in arrays:
            finite = values[values != NAT]
            if finite.size:
                a, b = int(finite.min()), int(finite.max())
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
        if lo is None or hi is None:
            if self._table is None:
                self._cover_days(0, 0)
            return
        # A UTC offset is less than a day, so +/- 1 day covers every local date.
        self._cover_days(lo // NS_PER_DAY - 1, hi // NS_PER_DAY + 1)

    def _cover_days(self, lo_day: int, hi_day: int) -> None:
        inner = self._inner_days
        if inner[0] <= lo_day and hi_day < inner[1]:  # the usual case, without date arithmetic
            return
        first = _year_of(lo_day) - 1
        last = _year_of(hi_day) + 1
        table = self._table
        if table is not None and table.first_year <= first and last <= table.last_year:
            return
        if table is not None:
            first, last = min(first, table.first_year), max(last, table.last_year)
        self._build(first, last)

    def _extend(self, *, years_before: int, years_after: int) -> None:
        table = self._require_table()
        self._build(table.first_year - years_before, table.last_year + years_after)

    def _build(self, first_year: int, last_year: int) -> None:
        if first_year < _MIN_YEAR or last_year > _MAX_YEAR:
            raise ValueError(
                f"instants must fall between {_MIN_YEAR + 1} and {_MAX_YEAR - 1} "
                f"(the clock was asked to cover {first_year}..{last_year})"
            )
        dates = np.arange(
            np.datetime64(f"{first_year}-01-01", "D"), np.datetime64(f"{last_year + 1}-01-01", "D")
        )
        n = len(dates)
        midnights = dates.astype("datetime64[ns]")
        day_start = self._localize(
            np.append(midnights, midnights[-1] + np.timedelta64(1, "D"))
            + np.timedelta64(self._day_begins_ns, "ns")
        )
        day_numbers = (dates - _EPOCH_DAY).astype(np.int64)
        weekday = (day_numbers + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        spans = self.span_opens.shape[1]
        at = np.repeat(midnights, spans).reshape(n, spans)
        opens = self._localize((at + self.span_opens[weekday]).ravel()).reshape(n, spans)
        closes = self._localize((at + self.span_closes[weekday]).ravel()).reshape(n, spans)
        holiday_days = [
            (np.datetime64(d, "D") - _EPOCH_DAY).astype(np.int64)
            for year in range(first_year, last_year + 1)
            for d in [*self._holidays_of(year), *self._days_off_of(year)]
        ]
        working = self._weekday_mask[weekday] & ~np.isin(day_numbers, holiday_days)
        span_length = np.where(working[:, None], np.maximum(closes - opens, 0), 0)
        cum = np.concatenate([[0], np.cumsum(span_length.sum(axis=1))]).astype(np.int64)

        # next_working[i]: first working index > i, found by a reversed running minimum.
        candidates = np.where(working, np.arange(n), n)
        following = np.minimum.accumulate(candidates[::-1])[::-1]
        next_working = np.append(following[1:], n)
        next_working = np.where(next_working >= n, -1, next_working).astype(np.int64)

        # Days whose year and its neighbours are inside the table: covering them changes nothing.
        self._inner_days = (_first_day_of(first_year + 1), _first_day_of(last_year))
        self._table = _DayTable(
            first_year=first_year,
            last_year=last_year,
            first_day=int(day_numbers[0]),
            day_start=day_start,
            opens=opens[:, 0],
            span_opens=opens,
            span_length=span_length.astype(np.int64),
            cum=cum,
            working=working,
            next_working=next_working,
        )

    def _localize(self, naive: np.ndarray) -> np.ndarray:
        """Local wall times (naive datetime64[ns]) to UTC ns; DST gaps shift forward."""
        return utc_from_wall(naive.view(np.int64), self._tz)

    def _holidays_of(self, year: int) -> dict[dt.date, str]:
        cached = self._holiday_names.get(year)
        if cached is not None:
            return cached
        dates, yearly, worked = self.calendar.worked_rules()
        names: dict[dt.date, list[str]] = {}
        for code in self.calendar.holidays:
            found = holiday_table(code, self.calendar.holiday_categories, year)
            for day, name in found.items():
                if day.year != year or day in dates or (day.month, day.day) in yearly:
                    continue
                for part in str(name).split("; "):
                    if holiday_key(part) not in worked and part not in names.setdefault(day, []):
                        names[day].append(part)
        result = {day: "; ".join(parts) for day, parts in sorted(names.items()) if parts}
        self._holiday_names[year] = result
        return result

    def _days_off_of(self, year: int) -> list[dt.date]:
        """The spec's own days off in ``year`` (``calendar.days_off``)."""
        dates, yearly = self.calendar.day_off_rules()
        every_year = {  # 02-29 only in the years that have it
            dt.date(year, month, day)
            for month, day in yearly
            if (month, day) != (2, 29) or isleap(year)
        }
        return sorted({d for d in dates if d.year == year} | every_year)

    def days_off_between(
        self, start: pd.Timestamp | dt.date | str, end: pd.Timestamp | dt.date | str
    ) -> list[dt.date]:
        """The spec's own days off (``calendar.days_off``) on local dates from ``start`` to
        ``end``, inclusive: closed like holidays, but not public holidays to say so of (one
        that is a holiday anyway is the holiday, said once)."""
        first, last = self._local_date(start), self._local_date(end)
        return [
            d
            for year in range(max(first.year, _MIN_YEAR), min(last.year, _MAX_YEAR) + 1)
            for d in self._days_off_of(year)
            if first <= d <= last and d not in self._holidays_of(year)
        ]


def holiday_table(
    code: str, categories: Sequence[str], years: int | Iterable[int], language: str | None = None
) -> Mapping[dt.date, str]:
    """The `holidays` package's days off for ``code`` ('DE-BY') in ``years``, of those of
    ``categories`` it has (none: an empty table), named in ``language`` (default: its own)."""
    import holidays

    country, _, subdiv = code.partition("-")
    kept = tuple(c for c in categories if c in holiday_categories(code))
    if not kept:
        return {}
    return holidays.country_holidays(
        country, subdiv=subdiv or None, years=years, categories=kept, language=language
    )


_NAMED_YEARS = range(2000, 2041)
"""Years whose holidays a spec's ``holidays_worked`` is checked against."""


@functools.cache
def holiday_names_of(codes: tuple[str, ...], categories: tuple[str, ...]) -> dict[str, str]:
    """Every holiday name ``codes`` have from 2000 to 2040, in every language the `holidays`
    package names them in, by :func:`holiday_key`, to its name in the package's own language
    (a spec's ``holidays_worked`` may say 'Pfingstmontag' for 'Pentecost Monday')."""
    out: dict[str, str] = {}
    for code in codes:
        own = holiday_table(code, categories, _NAMED_YEARS)
        for language in (None, *holiday_languages(code)):
            table = (
                own if language is None else holiday_table(code, categories, _NAMED_YEARS, language)
            )
            for day, name in table.items():
                parts, owns = str(name).split("; "), str(own.get(day, "")).split("; ")
                if len(parts) == len(owns):
                    for part, said in zip(parts, owns, strict=True):
                        out.setdefault(holiday_key(part), _ANNOTATION.sub("", said))
    return out


@functools.cache
def holiday_dates_of(codes: tuple[str, ...], categories: tuple[str, ...]) -> frozenset[dt.date]:
    """Every holiday date ``codes`` have from 2000 to 2040."""
    return frozenset(d for code in codes for d in holiday_table(code, categories, _NAMED_YEARS))


_ANNOTATION = re.compile(r"\s*\((?:observed|estimated)\)$", re.IGNORECASE)
"""What the `holidays` package adds to a name some years: 'Christmas Day (observed)' on the
Friday before a Saturday Christmas, 'Eid al-Fitr (estimated)' where the date is reckoned."""


def holiday_key(name: str) -> str:
    """A holiday's name as ``holidays_worked`` matches it: without the package's '(observed)'
    or '(estimated)', in any case (a US business working Christmas works its observed day)."""
    return _ANNOTATION.sub("", name).casefold()


@functools.cache
def holiday_categories(code: str) -> tuple[str, ...]:
    """The categories of days ``code`` has in the `holidays` package ('public', 'catholic', ...)."""
    import holidays

    country, _, subdiv = code.partition("-")
    return tuple(holidays.country_holidays(country, subdiv=subdiv or None).supported_categories)


@functools.cache
def holiday_languages(code: str) -> tuple[str, ...]:
    """The languages the `holidays` package names ``code``'s days in."""
    import holidays

    country, _, subdiv = code.partition("-")
    found = holidays.country_holidays(country, subdiv=subdiv or None)
    return tuple(getattr(found, "supported_languages", ()) or ())


def _timedelta_ns(value: dt.timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1000


def _first_day_of(year: int) -> int:
    """January 1 of ``year`` as days since 1970-01-01."""
    return int((np.datetime64(f"{year:04d}-01-01", "D") - _EPOCH_DAY).astype(np.int64))


def _year_of(day: int) -> int:
    year = int(str(_EPOCH_DAY + np.timedelta64(int(day), "D"))[:4]) if -(10**6) < day < 10**6 else 0
    return max(min(year, _MAX_YEAR + 1), _MIN_YEAR - 1)


def _years_needed(table: _DayTable, missing_ns: int) -> int:
    """Whole years to add so that ``missing_ns`` more clock time fits (with room to spare)."""
    years = table.last_year - table.first_year + 1
    per_year = max(int(table.cum[-1]) // years, NS_PER_HOUR)
    return int(missing_ns // per_year) + 1


def _utc_index(utc_ns: np.ndarray) -> pd.DatetimeIndex:
    return utc_instants(utc_ns)


# Instants as UTC int64 nanoseconds: the engine's arithmetic on times (clock positions,
# rounding, local days) is integer arithmetic on these; pandas wraps them only at the edges,
# because each pandas operation on a few instants costs more than the arithmetic itself.


def utc_nanoseconds(instants: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Time-zone aware instants as UTC int64 nanoseconds (NaT: int64 min), a fresh array."""
    if _is_aware(instants):
        values = instants.array if isinstance(instants, pd.Series | pd.Index) else instants
        if values.unit != "ns":  # converting checks even when there is nothing to convert
            values = values.as_unit("ns")
        return np.array(values.asi8, dtype=np.int64, copy=True)
    index = pd.DatetimeIndex(instants)
    if index.tz is None:
        raise ValueError("instants must be time-zone aware")
    return np.array(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64, copy=True)


def utc_instants(utc_ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC int64 nanoseconds (int64 min: NaT) as a UTC :class:`pandas.DatetimeIndex`."""
    values = np.array(utc_ns, dtype=np.int64).view("datetime64[ns]")  # a copy: never shared
    if _WRAP_UTC is not None:
        return _WRAP_UTC(values)
    return pd.DatetimeIndex(values, tz="UTC")


def _wrapper() -> Callable[[np.ndarray], pd.DatetimeIndex] | None:
    """Wrap nanoseconds without re-validating them: pandas' public constructor checks and
    converts every input (~10 us), and a quote wraps instants a few dozen times. The
    constructors used are private but have been stable since pandas 1.x; if they change, the
    check here fails and the public constructor is used."""
    dtype = pd.DatetimeTZDtype("ns", "UTC")

    def wrap(values: np.ndarray) -> pd.DatetimeIndex:
        return pd.DatetimeIndex._simple_new(
            pd.arrays.DatetimeArray._simple_new(values, dtype=dtype)
        )

    probe = np.array([0, NAT, 1_700_000_000_123_456_789]).view("datetime64[ns]")
    try:
        wrapped = wrap(probe)
        expected = pd.DatetimeIndex(probe, tz="UTC")
        if wrapped.equals(expected) and wrapped.dtype == expected.dtype:
            return wrap
    except (AttributeError, TypeError, ValueError):
        pass
    return None


_WRAP_UTC = _wrapper()


def wall_nanoseconds(utc_ns: np.ndarray, zone: str | dt.tzinfo) -> np.ndarray:
    """Local wall-clock time in ``zone`` as naive nanoseconds since the epoch (NaT stays).

    The offset comes from the zone's table of offset changes (:func:`_offset_changes`, as
    pandas converts), one binary search per instant; instants outside the table go through
    pandas itself."""
    utc = np.asarray(utc_ns, dtype=np.int64)
    changes, offsets = _offset_changes(zone)
    missing = utc == NAT
    known = np.where(missing, _OFFSETS_FROM, utc)
    if known.size and (known.min() < _OFFSETS_FROM or known.max() >= _OFFSETS_UNTIL):
        return _pandas_wall(utc, zone)
    wall = known + offsets[np.searchsorted(changes, known, side="right") - 1]
    wall[missing] = NAT
    return wall


def utc_from_wall(wall_ns: np.ndarray, zone: str | dt.tzinfo) -> np.ndarray:
    """Local wall-clock nanoseconds in ``zone`` back to UTC nanoseconds (NaT stays), as pandas'
    ``tz_localize(ambiguous=True, nonexistent="shift_forward")`` reads them: a repeated time
    takes its first occurrence, a time in a DST gap moves forward. From the table of
    :func:`wall_nanoseconds`; a call with a time in a gap goes through pandas."""
    wall = np.asarray(wall_ns, dtype=np.int64)
    offsets = _offset_changes(zone)[1]
    missing = wall == NAT
    known = np.where(missing, _OFFSETS_FROM + NS_PER_DAY, wall)
    if known.size and (
        known.min() < _OFFSETS_FROM + NS_PER_DAY or known.max() >= _OFFSETS_UNTIL - NS_PER_DAY
    ):
        return _pandas_utc(wall, zone)
    starts, ends = _wall_spans(zone)
    last = np.searchsorted(starts, known, side="right") - 1  # the last span begun by then
    before = np.maximum(last - 1, 0)
    repeated = (last > 0) & (known < ends[before])  # also inside the span before: take it
    if (~repeated & (known >= ends[last])).any():
        # In a gap (spring forward): pandas moves such times its own way (by whole hours from
        # the gap's start, whatever the gap), which this table would have to imitate.
        return _pandas_utc(wall, zone)
    utc = known - offsets[np.where(repeated, before, last)]
    utc[missing] = NAT
    return utc


@functools.lru_cache(maxsize=64)
def _wall_spans(zone: str | dt.tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """The wall-clock span [start, end) each of the zone's offsets covers."""
    changes, offsets = _offset_changes(zone)
    starts = np.concatenate([[np.iinfo(np.int64).min], changes[1:] + offsets[1:]])
    ends = np.concatenate([changes[1:] + offsets[:-1], [np.iinfo(np.int64).max]])
    return starts, ends


def _pandas_utc(wall_ns: np.ndarray, zone: str | dt.tzinfo) -> np.ndarray:
    naive = pd.DatetimeIndex(np.asarray(wall_ns, dtype=np.int64).view("datetime64[ns]"))
    first = np.ones(len(naive), dtype=bool)
    aware = naive.tz_localize(zone, ambiguous=first, nonexistent="shift_forward")
    return np.asarray(aware.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def _pandas_wall(utc_ns: np.ndarray, zone: str | dt.tzinfo) -> np.ndarray:
    local = utc_instants(utc_ns).tz_convert(zone).tz_localize(None)
    return np.asarray(local.asi8, dtype=np.int64)


_OFFSETS_FROM = pd.Timestamp("1950-01-01", tz="UTC").value
_OFFSETS_UNTIL = pd.Timestamp("2100-01-01", tz="UTC").value


@functools.lru_cache(maxsize=64)
def _offset_changes(zone: str | dt.tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """The UTC instants (ns) from which ``zone``'s UTC offset changes, from 1950 to 2100, and
    the offset (ns) from each on; the first applies from the start of the table.

    pandas converts a few instants in ~10 us, and a quote converts a dozen times; this table is
    built once per zone (~20 ms) from pandas' own conversions: the offset of every hour, then
    each change bisected to the second (offsets change at whole seconds; two changes within
    one hour would be missed, and none exist in the tz database)."""
    grid = np.arange(_OFFSETS_FROM, _OFFSETS_UNTIL + NS_PER_HOUR, NS_PER_HOUR)
    offset = _pandas_wall(grid, zone) - grid
    change = np.flatnonzero(np.diff(offset)) + 1
    before, after = grid[change - 1], grid[change]  # each change lies in (before, after]
    while len(change) and (after - before > NS_PER_SECOND).any():
        middle = before + (after - before) // (2 * NS_PER_SECOND) * NS_PER_SECOND
        changed = _pandas_wall(middle, zone) - middle == offset[change]
        after, before = np.where(changed, middle, after), np.where(changed, before, middle)
    changes = np.concatenate([[np.iinfo(np.int64).min], after])
    return changes, np.concatenate([offset[:1], offset[change]])


def _is_aware(values: object) -> bool:
    return isinstance(values, pd.Series | pd.DatetimeIndex | pd.arrays.DatetimeArray) and (
        isinstance(values.dtype, pd.DatetimeTZDtype)
    )
