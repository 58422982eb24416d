"""Reading timestamps as exports write them: ISO-8601 or the spec's format, naive or not.

Every instant comes out as UTC nanoseconds in a time-zone aware column; a naive time is local to
the spec's zone, across DST (a time in the spring gap moves forward, one in the autumn's repeated
hour is its first occurrence, or its second when the first would end an item before it began).
What cannot be read becomes NaT, and the helpers here say why in words a quarantine file shows:
the year it says, the format that would read it, a placeholder date systems write for "none".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from eta.calendar import NAT, NS_PER_DAY, utc_instants, utc_nanoseconds, wall_nanoseconds
from eta.rounding import date_ends

_HAS_OFFSET = re.compile(
    r"[T\s]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)
"""An offset after a time of day: a date alone ('2025-03-09') is naive, its '-09' is the day."""
_ZEROS = r"[\W_]*0[0\W_]*"
"""A timestamp of zeros and separators alone ('00.00.0000', '00/00/0000 00:00')."""
_TIME_DIRECTIVE = re.compile(r"%[-#]?[HIMSpXTRcfz]")
"""A strftime directive of a time of day: a format with one reads times ('%Y%m%d%H%M' has no
colon), so its cells are not dates alone."""


def parse_finishes(
    values: pd.Series,
    start: pd.Series,
    timezone: str,
    timestamp_format: str | None = None,
    *,
    now: pd.Timestamp | None = None,
) -> pd.Series:
    """:func:`parse_timestamps` for finishes: a naive time in the hour autumn repeats is its
    second occurrence when the first would put it before its ``start`` (opened at 01:30 summer
    time, solved at 01:20 winter time: 50 minutes, not a finish before its start).

    A finish written as a date alone ('2025-12-08': delivered that day) is the end of that
    date (:func:`eta.rounding.date_ends`), as a promise to a date is, or ``now`` (default: the
    present) if that is sooner: an export holds what finished by then. Read as its midnight,
    an order delivered on a Monday had finished by Friday's close on a business clock, and an
    outside harness's date-only order desk was promised a working day early throughout (81.4%
    kept against its truth, while its own backtest, judging by midnight too, counted 85.6%).
    A date before its start stays midnight: '1900-01-01' is a date written for none
    (:func:`no_dates`). ``start`` may be NaT where it is not known (outcomes a monitor reads)."""
    end = parse_timestamps(values, timezone, timestamp_format)
    ns = end.to_numpy("datetime64[ns]").astype(np.int64)
    begun = start.to_numpy("datetime64[ns]").astype(np.int64)
    dated = _dates_alone(values, timestamp_format) & (ns != NAT)
    if dated.any():
        wall = wall_nanoseconds(ns[dated], timezone)
        midnight = wall % NS_PER_DAY == 0
        rows = np.flatnonzero(dated)[midnight]
        ends = date_ends(wall[midnight], timezone)
        limit = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        ends = np.minimum(ends, utc_nanoseconds(pd.DatetimeIndex([limit]))[0])
        later = (ends >= begun[rows]) | (begun[rows] == NAT)
        ns[rows[later]] = ends[later]
        end = pd.Series(pd.to_datetime(ns, utc=True), index=end.index).dt.as_unit(end.dt.unit)
    before = end < start
    if before.any():
        again = parse_timestamps(values[before], timezone, timestamp_format, first_fold=False)
        later = again[again >= start[before]]
        end[later.index] = later
    return end


def _dates_alone(values: pd.Series, timestamp_format: str | None) -> np.ndarray:
    """Which cells are written as a date without a time of day: text without one (a column
    of instants, as Parquet holds, has its times), read by no format that reads times."""
    if not _text_dtype(values) or (timestamp_format and _TIME_DIRECTIVE.search(timestamp_format)):
        return np.zeros(len(values), dtype=bool)
    return written_as_date(values).to_numpy(bool)


def _text_dtype(values: pd.Series) -> bool:
    return not (
        pd.api.types.is_datetime64_any_dtype(values.dtype)
        or pd.api.types.is_numeric_dtype(values.dtype)
    )


def written_as_date(cells: pd.Series) -> pd.Series:
    """Whether each cell is written without a time of day ('2025-01-06'): read as its
    midnight, which is rarely what a finish or a promise written that way means."""
    return ~cells.astype("string").str.contains(":", regex=False).fillna(True).astype(bool)


def parse_timestamps(
    values: pd.Series,
    timezone: str,
    timestamp_format: str | None = None,
    *,
    first_fold: bool = True,
) -> pd.Series:
    """Parse ISO-8601 timestamps to UTC; naive ones are local time in ``timezone``.

    ``timestamp_format`` (the spec's, a strftime format) is tried first: exports such as NYC
    Open Data write '01/15/2024 10:30:00 PM', and which of day and month comes first only the
    export's owner knows. What it does not read is still read as ISO-8601, so one file may mix
    them and ``--as-of`` stays ISO-8601.

    Blank text is missing (NaT), as an empty CSV cell is, and so are the words exports write for
    nothing (:data:`NOTHING`: 'NULL', 'None', 'NaT', ...): an open item's empty finish, written
    by a database or pandas. Unparseable values become NaT too (the caller reports them).
    Nonexistent local times (the DST gap) move forward; ambiguous ones (the repeated hour) take
    the first occurrence, or the second without ``first_fold``.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _nanoseconds(values)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _nanoseconds(
            values.dt.as_unit("us")  # a local time within an hour of 1677 has no UTC in ns
            .dt.tz_localize(timezone, ambiguous=first_fold, nonexistent="shift_forward")
            .dt.tz_convert("UTC")
        )
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype("string")
    # Plain Python per value: pandas' string methods cost ~0.2 ms per call, more than a quote.
    text = [_time_text(v) for v in values.to_numpy(object, na_value=None)]
    out = np.full(len(text), NAT, dtype=np.int64)
    strings = np.array(text, dtype=object)
    present = np.array([v is not None for v in text], dtype=bool)
    if timestamp_format is not None and present.any():
        read = _formatted(strings[present], timestamp_format, timezone, first_fold)
        out[present] = _within_years(read)
        present &= out == NAT
        text = [v if p else None for v, p in zip(text, present, strict=True)]
    aware = np.array([v is not None and _HAS_OFFSET.search(v) is not None for v in text], bool)
    naive = ~aware & present
    if aware.any():
        parsed = pd.to_datetime(strings[aware], format="ISO8601", utc=True, errors="coerce")
        out[aware] = _within_years(parsed)
    if naive.any():
        # In microseconds: a local time within an hour of 1677 has no UTC in nanoseconds, and
        # one such cell ("1677-09-21T00:12:44") refused a whole file in pandas' words.
        local = pd.to_datetime(strings[naive], format="ISO8601", errors="coerce").as_unit("us")
        utc = local.tz_localize(timezone, ambiguous=first_fold, nonexistent="shift_forward")
        out[naive] = _within_years(utc)
    return pd.Series(utc_instants(out), index=values.index)


def _formatted(
    strings: np.ndarray, timestamp_format: str, timezone: str, first_fold: bool = True
) -> pd.DatetimeIndex:
    """Texts read by a strftime format (NaT where it does not fit), as instants: with ``%z``
    each carries its offset, without it they are local times in ``timezone``.

    pandas reads such a format at ~5 us a value (ISO-8601 at ~0.5 us): a million rows' starts
    and finishes take 10 s more. Arrow's ``strptime`` is 30x faster but reads '02/30/2024' as
    March 1 and '200703 3034618' as a time, where pandas refuses them and the row is
    quarantined with its value."""
    if "%z" in timestamp_format:
        return pd.to_datetime(strings, format=timestamp_format, utc=True, errors="coerce")
    local = pd.to_datetime(strings, format=timestamp_format, errors="coerce").as_unit("us")
    if says_utc(timestamp_format):
        timezone = "UTC"
    return local.tz_localize(timezone, ambiguous=first_fold, nonexistent="shift_forward")


def says_utc(timestamp_format: str) -> bool:
    """Whether a strftime format's own text says its times are UTC: 'UTC' or 'GMT' written in
    it, or a 'Z' after the time ('%Y-%m-%dT%H:%M:%SZ'). BigQuery's '2025-01-01 07:18:21 UTC'
    was read as New York time, the spec's zone, and every start moved 4-5 hours."""
    literal = re.sub(r"%.", " ", timestamp_format)
    return re.search(r"\b(?:UTC|GMT)\b|Z\s*$", literal) is not None


NOTHING = frozenset({"null", "none", "nan", "nat", "na", "n/a", "#n/a", "nil"})
"""Words that databases, spreadsheets and pandas write for a missing timestamp or number. Not
for a category, where 'NA' may be Namibia and 'None' a priority."""


def _time_text(value: str | None) -> str | None:
    """A timestamp cell's text without surrounding spaces; None when it says nothing."""
    if value is None:
        return None
    text = value.strip()
    return None if not text or text.casefold() in NOTHING else text


def parse_timestamp(value: str | pd.Timestamp, timezone: str) -> pd.Timestamp:
    """One instant, read as :func:`parse_timestamps` reads a column (NaT if unreadable)."""
    if isinstance(value, pd.Timestamp) and value.tzinfo is not None:
        return value.tz_convert("UTC")
    return parse_timestamps(pd.Series([str(value)], dtype="string"), timezone).iloc[0]


def _nanoseconds(instants: pd.Series) -> pd.Series:
    """Time-zone aware instants in UTC nanoseconds, as parsed text is: Parquet from Spark or
    BigQuery holds microseconds, which code reading int64 instants took for nanoseconds (dates
    in 1970). Their int64 counts from the UTC epoch in any zone: no conversion to UTC first."""
    return pd.Series(utc_instants(_within_years(instants.array)), index=instants.index)


FIRST_YEAR, END_YEAR = 1700, 2250
"""Instants are read from 1700 up to (not including) 2250, years the clock's calendars cover:
outside them a timestamp is a placeholder ('9999-12-31' for "still open") or a typo, and gets
the row an error, as unparseable text does, instead of stopping the whole file."""
_FIRST_US, _END_US = (
    np.datetime64(f"{year}-01-01", "us").astype(np.int64) for year in (FIRST_YEAR, END_YEAR)
)


NO_DATE = tuple(
    pd.Timestamp(day)
    for day in ("1753-01-01", "1899-12-30", "1899-12-31", "1900-01-01", "1970-01-01")
)
"""Midnights that systems write for "no date": SQL Server's earliest datetime, Excel's and OLE
Automation's day 0 (and Excel's 1900-01-00, shown as the day before), SQL Server's and Excel's
day 1, the Unix epoch. Inside the years a clock reads, so they parse; before the start they
are still read as placeholders (:func:`no_dates`), not as items that finished before they
began."""


def no_dates(
    written: pd.Series,
    instants: pd.Series,
    start: pd.Series,
    timezone: str,
    timestamp_format: str | None = None,
) -> pd.Series:
    """Which cells of a finish or last-look column hold a date systems write for "none": a
    :data:`NO_DATE` midnight (in local time or in UTC, an epoch 0 written with 'Z') before the
    item's ``start``, or a year outside those a clock reads ('9999-12-31', '0000-00-00').

    Such a cell is an empty one written another way: the item is still open (or was never
    looked at). Rejected as errors, a tester's export lost 53 of its 112 open items, the
    slowest, and its promises with them. Only rows read before their start or not read at all
    are looked at, so clean loads pay nothing."""
    before = (instants < start).fillna(False).astype(bool)
    asked = instants[before]
    local = asked.dt.tz_convert(timezone).dt.tz_localize(None)
    found = (local.isin(NO_DATE) | asked.dt.tz_localize(None).isin(NO_DATE)).reindex(
        instants.index, fill_value=False
    )
    unread = instants.isna() & written.notna()
    if unread.any():
        text = written[unread].astype("string").str.strip()
        year = written_year(text, timestamp_format)
        # Zeros alone ('00.00.0000' under '%d.%m.%Y'): no year a format reads, and no date.
        outside = (year < FIRST_YEAR) | (year >= END_YEAR) | text.str.fullmatch(_ZEROS)
        found |= outside.fillna(False).astype(bool).reindex(instants.index, fill_value=False)
    return found


def read_ends(
    values: pd.Series,
    start: pd.Series,
    timezone: str,
    timestamp_format: str | None = None,
    *,
    now: pd.Timestamp | None = None,
) -> tuple[pd.Series, pd.Series]:
    """A finish or last-look column as instants (:func:`parse_finishes`), a date written for
    "no date" read as an empty cell (:func:`no_dates`); and which cells those were. One reading
    for a history's finishes and last looks and for a quote file's finishes."""
    end = parse_finishes(values, start, timezone, timestamp_format, now=now)
    none = no_dates(values, end, start, timezone, timestamp_format)
    return end.mask(none), none


def _within_years(instants: pd.DatetimeIndex | pd.arrays.DatetimeArray) -> np.ndarray:
    """UTC nanoseconds (int64) of instants, NaT outside :data:`FIRST_YEAR`..:data:`END_YEAR`
    (counted in microseconds, which hold any year, where nanoseconds overflow after 2262)."""
    us = instants.as_unit("us").asi8
    inside = (us >= _FIRST_US) & (us < _END_US)
    return np.where(inside, np.where(inside, us, 0) * 1000, NAT)


ISO_EXAMPLE = "2024-07-01T12:00"


def written_year(text: pd.Series, timestamp_format: str | None) -> pd.Series:
    """The year a timestamp's text says, where it says one: ISO-8601's leading digits, or what
    the spec's format reads (microseconds hold the year 9999 where nanoseconds cannot)."""
    year = pd.to_numeric(text.str.extract(r"^(\d{4,})-", expand=False), errors="coerce")
    if timestamp_format is not None:
        read = pd.to_datetime(
            text.to_numpy(object, na_value=None),
            format=timestamp_format,
            errors="coerce",
            utc="%z" in timestamp_format,
        )
        year = year.fillna(pd.Series(read.year, index=text.index, dtype="Float64"))
    return year


_DATE_LIKE = (
    r"^(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    r"(?:(?P<t>[ T]+)(?P<hour>\d{1,2}):\d{2}(?P<s>:\d{2}(?P<f>[.,]\d+)?)?"
    r"(?P<sp>\s*)(?P<ampm>[AaPp][Mm])?)?$"
)
"""Day and month in either order, a year, and maybe a time of day: what exports write when they
do not write ISO-8601."""


def format_hint(text: pd.Series) -> str:
    """The ``timestamp_format`` that would read a column's unread values, when they look like
    dates. Which of day and month comes first is said only when a value over 12 says it; never
    guessed, since '03/04/2024' reads either way without an error."""
    parts = text.str.extract(_DATE_LIKE)
    parts = parts[parts["a"].notna()]
    if parts.empty:
        return ""
    days_first = (pd.to_numeric(parts["a"]) > 12).any()
    months_first = (pd.to_numeric(parts["b"]) > 12).any()
    if days_first and months_first:
        return "; its dates put the day first in some rows and the month in others"
    # As most of them are written: one stray '03/04/2025' among '04.03.2025 10:15' set the
    # hint's separator (a tester's '%d/%m/%Y' for a file of dots).
    written_as = parts[["sep", "t", "sp"]].fillna("").agg("|".join, axis=1)
    written_as += parts["year"].str.len().astype(str)
    written_as += (
        parts[["hour", "s", "f", "ampm"]].notna().astype(int).astype(str).agg("".join, axis=1)
    )
    shape = parts[written_as == written_as.mode().iloc[0]].iloc[0]

    def written(first: str, second: str) -> str:
        sep = shape["sep"]
        out = f"{first}{sep}{second}{sep}{'%Y' if len(shape['year']) == 4 else '%y'}"
        if pd.notna(shape["hour"]):
            out += shape["t"] + ("%I" if pd.notna(shape["ampm"]) else "%H") + ":%M"
            if pd.notna(shape["s"]):
                out += ":%S" + (f"{shape['f'][0]}%f" if pd.notna(shape["f"]) else "")
            if pd.notna(shape["ampm"]):
                out += f"{shape['sp']}%p"
        return out

    if months_first or days_first:
        order = ("%m", "%d") if months_first else ("%d", "%m")
        said = "month/day/year" if months_first else "day/month/year"
        return f"; it looks like {said}: set timestamp_format: '{written(*order)}' in the spec"
    return (
        "; set timestamp_format in the spec: "
        f"'{written('%m', '%d')}' if the month comes first, '{written('%d', '%m')}' if the day does"
    )
