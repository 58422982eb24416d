"""Loading and validating histories: every bad row reported with where it is, nothing lost.

A history is a CSV or Parquet file (or a DataFrame) described by a :class:`~eta.spec.DatasetSpec`.
Rows that cannot be used go to a quarantine file with their file, row, column and reason; a spec
naming a missing column, or a file where too much was rejected, stops the run with a clear error.
Open items (empty end) are kept: they are right-censored observations, not bad rows.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from eta.calendar import NAT, Clock, utc_instants
from eta.censoring import censoring_survival
from eta.spec import DatasetSpec

START, END, SEEN, HOURS, FINISHED, SEGMENT = (
    "start",
    "end",
    "observed_until",
    "hours",
    "finished",
    "segment",
)
"""Canonical column names of a validated history, whatever the spec calls them."""

MISSING = "(missing)"
"""What a missing categorical value reads as: a value of its own, not an error."""

MIN_HOURS = 1.0 / 60.0
"""Durations are floored at one clock minute so that logs and ratios stay finite."""

_HAS_OFFSET = re.compile(
    r"[T\s]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)
"""An offset after a time of day: a date alone ('2025-03-09') is naive, its '-09' is the day."""


class DataError(ValueError):
    """History that cannot be used at all (missing file or column, too many rejected rows)."""


@dataclass(frozen=True)
class History:
    """A validated history in canonical columns, and the rows that were set aside.

    ``frame`` has ``start``, ``end`` (NaT while open), ``observed_until``, ``finished``, ``hours``
    (clock hours to the finish, or to the last look at an open item), ``segment`` and the spec's
    feature and id columns. ``rejected`` has the original row plus ``file``, ``row``, ``column`` and
    ``reason``. ``respelled`` says, per categorical column, which values were taken as one
    (:func:`one_spelling`): each kept spelling with the others it stands for.
    ``in_future`` has the kept rows whose finish, or an open item's last look, lies after the
    export time and after now (``row`` as in ``rejected``, the ``column``, the ``written`` text
    and the time read, ``at``): no row is to blame, but each such time is a typo or a
    placeholder; the item counts as open, or as last seen at the export time.
    """

    spec: DatasetSpec
    frame: pd.DataFrame
    rejected: pd.DataFrame
    as_of: pd.Timestamp
    source: str = "data"
    respelled: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    in_future: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["row", "column", "written", "at"])
    )

    @property
    def open_share(self) -> float:
        return float(1.0 - self.frame[FINISHED].mean()) if len(self.frame) else 0.0


TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".tab")
"""Delimited text files; the delimiter is read from the header (:func:`csv_delimiter`)."""


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, keeping every value as written (CSV cells stay strings)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = table_path(path).suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return _numbered(pd.read_parquet(path))
        return _read_text(path)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (it holds byte {exc.object[exc.start]:#x}); save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (not even a header row)") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read it as {suffix.lstrip('.')}: {exc}") from None


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its rows numbered from 0 in file order, as rows are reported, and a named
    index (pandas writes a frame's index to Parquet) as columns: a frame filtered before it was
    written kept its row labels, and loading it failed on unaligned masks."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        return frame
    named = any(name is not None for name in frame.index.names)
    return frame.reset_index(drop=not named)


DELIMITER = "delimiter"
"""Where :func:`read_table` leaves a CSV file's delimiter, in the frame's ``attrs``: a decimal
comma is unambiguous only in a file whose cells are not separated by commas."""
DELIMITERS = (",", ";", "\t", "|")
"""Delimiters a CSV header is sniffed for: ',' and, from Excel in locales whose decimal mark
is a comma, ';'; tabs and pipes from database tools."""
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


RAGGED = "ragged"
"""Where :func:`read_table` leaves a CSV file's rows whose number of cells is not the header's,
in the frame's ``attrs``: ``(header width, rows, cells)`` as arrays (attrs are copied with every
column taken, so they stay small). :func:`ragged_rows` says what is wrong with each."""
EXTRA = "(extra cell {})"
"""The column a cell beyond the header's last one is read into: kept for the quarantine file."""


def _read_text(path: Path) -> pd.DataFrame:
    """A delimited text file as strings, one row per record (a blank line is none), and every
    record whose cells do not match the header kept in place and listed under :data:`RAGGED`.
    Read as they are, a short row took blanks for its last cells (its values perhaps one column
    off), and a row with one cell too many refused the whole file, or, when it was the only
    data row, silently became the index."""
    delimiter = csv_delimiter(path)
    width, cells = _cells_per_record(path, delimiter)
    rows = np.flatnonzero(cells != width)
    options = {"dtype": str, "keep_default_na": False, "na_values": [""], "sep": delimiter}
    if not len(rows):
        frame = pd.read_csv(path, **options)
    else:
        frame = pd.read_csv(_evened(path, delimiter, int(cells.max())), **options)
        frame.attrs[RAGGED] = (width, rows, cells[rows])
    frame.attrs[DELIMITER] = delimiter
    return frame


def csv_delimiter(path: str | Path) -> str:
    """The delimiter of a CSV file, from its header line: the one of :data:`DELIMITERS` it holds
    most often outside quotes (',' when none). A semicolon export read as commas was one column
    named 'Number;Opened ;Resolved;...' and refused with every spec column missing."""
    path = Path(path)
    try:
        with _text(path, errors="replace") as file:
            header = file.readline(1 << 16)
    except (OSError, EOFError):
        return ","  # the reader says what is wrong with the file
    outside = _QUOTED.sub("", header)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties go to the earlier, ',' first
    return best if counts[best] else ","


def _records(path: Path, delimiter: str, errors: str = "strict") -> Iterator[list[str]]:
    """The records of a delimited text file as the csv module reads them, header first; blank
    lines hold no record (pandas skips them too)."""
    with _text(path, errors) as file:
        yield from (cells for cells in csv.reader(file, delimiter=delimiter) if cells)


def _text(path: Path, errors: str = "strict") -> TextIO:
    """A delimited text file (gzipped or not) opened for the csv module."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # pandas reads any size
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    return opener(path, "rt", encoding="utf-8-sig", errors=errors, newline="")


def _cells_per_record(path: Path, delimiter: str) -> tuple[int, np.ndarray]:
    """The header's number of cells, and each data record's."""
    records = _records(path, delimiter)
    width = len(next(records, []))
    return width, np.fromiter((len(cells) for cells in records), dtype=np.int64)


def _evened(path: Path, delimiter: str, widest: int) -> io.StringIO:
    """The file with every record padded to ``widest`` cells, the header's extra cells named
    :data:`EXTRA`, for pandas to read (and name duplicate columns) as it reads a clean file."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    records = _records(path, delimiter)
    header = next(records)
    writer.writerow(header + [EXTRA.format(i) for i in range(1, widest - len(header) + 1)])
    writer.writerows(cells + [""] * (widest - len(cells)) for cells in records)
    out.seek(0)
    return out


_NONE_RAGGED = pd.DataFrame({"column": [], "reason": []}, index=pd.Index([], dtype=int))


def ragged_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """The rows of a CSV file (:func:`read_table`) whose cells do not match the header, indexed
    by row, with the ``column`` to blame and the ``reason``: the values of such a row may sit
    under the wrong names, so it is not used."""
    if RAGGED not in raw.attrs:  # a quote's path: no frame to build for a clean file
        return _NONE_RAGGED
    width, rows, cells = raw.attrs[RAGGED]
    names = list(raw.columns)
    delimiter = raw.attrs.get(DELIMITER, ",")
    reasons = [
        f"the row has {n} cells where the header has {width}: "
        + (
            "a cell or a delimiter is missing, so its values may be under the wrong columns"
            if n < width
            else f"a {delimiter!r} inside a value that is not quoted? quote it "
            f'("a{delimiter} b"), or remove the extra cells'
        )
        for n in cells
    ]
    columns = [names[n] if n < width else EXTRA.format(1) for n in cells]
    return pd.DataFrame({"column": columns, "reason": reasons}, index=pd.Index(rows, dtype=int))


def record_lines(path: str | Path, rows: Iterable[int]) -> dict[int, int]:
    """The physical line on which each of a CSV file's records ``rows`` begins (counted from 1
    after the header, as quarantined rows are). A quoted cell may hold line breaks (ServiceNow's
    descriptions do), so 'row + 1' pointed lines above the row. This reads the file record by
    record up to the last row asked for: it is for reporting rejected rows, never a clean load.
    Blank lines hold no record, as pandas reads them."""
    wanted = set(rows)
    if not wanted:
        return {}
    path = Path(path)
    found: dict[int, int] = {}
    with _text(path, errors="replace") as file:
        reader = csv.reader(file, delimiter=csv_delimiter(path))
        record, begins = -1, 1  # the header is record 0
        for cells in reader:
            if cells:
                record += 1
                if record in wanted:
                    found[record] = begins
                    if len(found) == len(wanted):
                        break
            begins = reader.line_num + 1
    return found


def row_places(source: str, rows: Iterable[int]) -> dict[int, str]:
    """How a report names rows of ``source``: 'row 8', and in a CSV file 'row 8 (line 14)', the
    line an editor shows it on."""
    rows = [int(r) for r in rows]
    text = str(source).lower().endswith((*TEXT_SUFFIXES, ".gz"))
    lines = record_lines(source, rows) if text and Path(source).is_file() else {}
    return {r: f"row {r}" + (f" (line {lines[r]})" if r in lines else "") for r in rows}


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write CSV or Parquet by the file's suffix (any other suffix is refused, not guessed:
    CSV text in a file called ``.xlsx`` is a file nobody can open)."""
    path = table_path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in {".parquet", ".pq"}:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix in {".tsv", ".tab"} else ",")


def table_path(path: str | Path) -> Path:
    """``path`` if it names a table this reads and writes (CSV and its kin, Parquet), else a
    :class:`DataError`: for a command to check its output before minutes of work."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".pq", *TEXT_SUFFIXES} and not suffix.endswith(".gz"):
        raise DataError(f"{path}: unknown file type {suffix!r} (use .csv or .parquet)")
    return path


def quarantine_beside(data: str | Path) -> Path:
    """Where a file's rejected rows go by default: beside it, in its own format
    (``history.csv`` -> ``history.rejected.csv``, ``history.parquet`` ->
    ``history.rejected.parquet``), so that two exports of one history never overwrite each
    other's rejected rows."""
    path = Path(data)
    return path.with_suffix(f".rejected{path.suffix}")


def parse_finishes(
    values: pd.Series, start: pd.Series, timezone: str, timestamp_format: str | None = None
) -> pd.Series:
    """:func:`parse_timestamps` for finishes: a naive time in the hour autumn repeats is its
    second occurrence when the first would put it before its ``start`` (opened at 01:30 summer
    time, solved at 01:20 winter time: 50 minutes, not a finish before its start)."""
    end = parse_timestamps(values, timezone, timestamp_format)
    before = end < start
    if before.any():
        again = parse_timestamps(values[before], timezone, timestamp_format, first_fold=False)
        later = again[again >= start[before]]
        end[later.index] = later
    return end


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
            values.dt.tz_localize(
                timezone, ambiguous=first_fold, nonexistent="shift_forward"
            ).dt.tz_convert("UTC")
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
        local = pd.to_datetime(strings[naive], format="ISO8601", errors="coerce")
        utc = local.tz_localize(timezone, ambiguous=first_fold, nonexistent="shift_forward")
        out[naive] = _within_years(utc)
    return pd.Series(utc_instants(out), index=values.index)


def read_instants(
    raw: pd.DataFrame,
    column: str,
    source: str,
    timezone: str,
    timestamp_format: str | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """``raw[column]`` as instants (:func:`parse_timestamps`), and the rows that hold a time
    that cannot be read as rejected rows (``file``, ``row``, ``column``, ``reason``, then the row
    as written): for a file that is not a history but must not lose rows either, e.g. the
    outcomes a monitor judges promises by. An empty cell is no time, not an error."""
    instants = parse_timestamps(raw[column], timezone, timestamp_format)
    problems = _Problems(len(raw))
    problems.ragged(raw)
    problems.unparseable(raw[column], instants, timestamp_format=timestamp_format)
    return instants, problems.frame(raw, source)


def unread_times(
    written: pd.Series, parsed: pd.Series, timestamp_format: str | None = None
) -> pd.Series:
    """Why each time in ``written`` was not read ('' where it was, or is empty), as a history's
    quarantine says it: the value, and the format to set."""
    problems = _Problems(len(written))
    problems.unparseable(written.reset_index(drop=True), parsed.reset_index(drop=True),
                         timestamp_format=timestamp_format)  # fmt: skip
    return pd.Series(problems.reasons(), index=written.index).fillna("")


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
    local = pd.to_datetime(strings, format=timestamp_format, errors="coerce")
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
are still read as placeholders, not as items that finished before they began."""

PLACEHOLDER_FINISH = (
    "finishes before it starts, at a date systems write for no date (a placeholder? leave the "
    "cell empty for an item still open)"
)
PLACEHOLDER_LOOK = (
    "last seen before it starts, at a date systems write for no date (a placeholder? leave the "
    "cell empty for an item not looked at)"
)


def placeholders(instants: pd.Series, among: pd.Series, timezone: str) -> pd.Series:
    """Which of the rows ``among`` (those already wrong: only they are looked at, so clean
    loads pay nothing) hold a :data:`NO_DATE` midnight, in local time or in UTC (an epoch 0
    written with 'Z')."""
    asked = instants[among.fillna(False).astype(bool)]
    local = asked.dt.tz_convert(timezone).dt.tz_localize(None)
    found = local.isin(NO_DATE) | asked.dt.tz_localize(None).isin(NO_DATE)
    return found.reindex(instants.index, fill_value=False)


def _within_years(instants: pd.DatetimeIndex | pd.arrays.DatetimeArray) -> np.ndarray:
    """UTC nanoseconds (int64) of instants, NaT outside :data:`FIRST_YEAR`..:data:`END_YEAR`
    (counted in microseconds, which hold any year, where nanoseconds overflow after 2262)."""
    us = instants.as_unit("us").asi8
    inside = (us >= _FIRST_US) & (us < _END_US)
    return np.where(inside, np.where(inside, us, 0) * 1000, NAT)


def load_history(
    data: str | Path | pd.DataFrame,
    spec: DatasetSpec,
    *,
    as_of: pd.Timestamp | str | None = None,
    quarantine: str | Path | None = None,
    max_rejected: float = 0.05,
) -> History:
    """Load, validate and canonicalise a history.

    Parameters
    ----------
    data : a CSV/Parquet path, or a DataFrame with the spec's columns.
    as_of : the moment the history describes. Rows that start later are left out (they are the
        future, not errors); finishes later than ``as_of`` are hidden, so those rows count as open.
        Default: the latest timestamp in the data.
    quarantine : where rejected rows are written with their reason (CSV or Parquet by suffix).
        Default: :func:`quarantine_beside` the input file; nothing is written when no row was
        rejected.
    max_rejected : refuse the history when a larger share of rows was rejected.
    """
    source = str(data) if not isinstance(data, pd.DataFrame) else "data"
    raw = read_table(data) if not isinstance(data, pd.DataFrame) else data.reset_index(drop=True)
    missing = [c for c in spec.required_columns if c not in raw.columns]
    if missing:
        raise DataError(
            f"{source}: the spec '{spec.name}' names column(s) {missing} that are not in the file"
            f"{near_misses(missing, raw.columns)} (columns present: {list(raw.columns)})"
        )
    refuse_merged_records(raw, spec.required_columns, source)
    problems = _Problems(len(raw))
    problems.ragged(raw)
    tz = spec.timezone
    written = spec.timestamp_format
    start = parse_timestamps(raw[spec.start], tz, written)
    problems.add(~holds_value(raw[spec.start]), spec.start, "missing start timestamp")
    problems.unparseable(raw[spec.start], start, timestamp_format=written)
    end = parse_finishes(raw[spec.end], start, tz, written)
    problems.unparseable(raw[spec.end], end, open_hint=True, timestamp_format=written)
    before = end < start
    problems.add(placeholders(end, before, tz), spec.end, PLACEHOLDER_FINISH)
    if before.any():  # '2025-01-01' for a ticket opened at 02:18 that day
        cells = raw.loc[before.fillna(False).to_numpy(bool), spec.end].astype("string")
        day_only = written_as_date(cells)
        problems.add(
            day_only.reindex(raw.index, fill_value=False),
            spec.end,
            "finishes before it starts: "
            + _shown(cells[day_only])
            + " has no time of day, so it reads as midnight; export the finish with its time",
        )
    problems.add(before, spec.end, "finishes before it starts")
    seen = None
    if spec.observed_until:
        seen = parse_timestamps(raw[spec.observed_until], tz, written)
        problems.unparseable(raw[spec.observed_until], seen, timestamp_format=written)
        before = end.isna() & (seen < start)
        problems.add(placeholders(seen, before, tz), spec.observed_until, PLACEHOLDER_LOOK)
        problems.add(before, spec.observed_until, "last seen before it starts")
    if as_of is None:
        problems.add(
            _started_after_now(start),
            spec.start,
            _shown(raw[spec.start].astype("string")) + FUTURE_START,
        )
    numeric = {}
    for column in spec.features.numeric:
        values, unread = read_numbers(raw[column], raw.attrs.get(DELIMITER))
        problems.add(unread != "", column, unread)
        numeric[column] = values
    if spec.id:
        ids = raw[spec.id].astype("string")
        problems.add(ids.isna(), spec.id, "missing id")
        kept = _kept_per_id(ids, usable=~problems.any(), finished=end.notna().to_numpy())
        problems.add(ids.notna() & ~kept, spec.id, DUPLICATE)

    bad = problems.any()
    rejected = problems.frame(raw, source)
    if quarantine is None and len(rejected) and not isinstance(data, pd.DataFrame):
        quarantine = quarantine_beside(source)
    if quarantine is not None and len(rejected):
        write_table(rejected, quarantine)
    share = bad.mean() if len(raw) else 0.0
    if share > max_rejected:
        where = f"; rejected rows are in {quarantine}" if quarantine else ""
        raise DataError(
            f"{source}: {bad.sum()} of {len(raw)} rows ({share:.1%}) were rejected, more than the "
            f"allowed {max_rejected:.0%}{where}. First problems: "
            + "; ".join(describe_rejected(rejected.head(3), source))
        )
    kept_seen = None if seen is None else seen[~bad]
    as_of = _as_of(as_of, start[~bad], end[~bad], kept_seen, spec, source)

    frame = pd.DataFrame({START: start[~bad], END: end[~bad]})
    frame[SEEN] = seen[~bad] if seen is not None else pd.Series(pd.NaT, dtype=end.dtype)
    respelled = {}
    for column in spec.features.categorical:
        values = raw.loc[~bad, column]
        texts, respelled[column] = one_spelling(category_texts(values))
        frame[column] = pd.Series(texts, index=values.index, dtype="string")
    for column, values in numeric.items():
        frame[column] = values[~bad]
    if spec.id:
        ids = raw.loc[~bad, spec.id]
        # Integer ids stay integers (from Parquet), so that `eta backtest --out` writes them as
        # `eta quote` does; anything else is text, which every id can be written as.
        frame[spec.id] = ids if pd.api.types.is_integer_dtype(ids) else ids.astype("string")
    frame[SEGMENT] = segment_keys(frame, spec)
    respelled = {column: merged for column, merged in respelled.items() if merged}
    later = max(as_of, pd.Timestamp.now(tz="UTC"))
    in_future = [_after(raw, spec.end, end[~bad], later)]
    if seen is not None:
        looked = seen[~bad].where(end[~bad].isna())
        in_future.append(_after(raw, spec.observed_until, looked, later))
    in_future = pd.concat(in_future, ignore_index=True)
    whole = History(spec, frame, rejected, as_of, source, respelled, in_future)
    return seen_at(whole, as_of)


def refuse_merged_records(raw: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    """Refuse a CSV file in which a quote that is never closed ('"billing') merged the records
    after it into one cell: read as it is, a history of 3,000 rows trained on 1,011, the 1,989
    in between one category value, and nothing said so (and ``eta quote`` answered one row for
    two). Only the spec's ``columns`` are looked at (a ticket's description may hold line
    breaks and commas); a value there never does."""
    delimiter = raw.attrs.get(DELIMITER)
    if delimiter is None or not len(raw):
        return
    for column in dict.fromkeys(c for c in columns if c in raw.columns):
        text = raw[column].astype("string")
        merged = text.str.contains("\n", regex=False) & text.str.contains(delimiter, regex=False)
        if merged.fillna(False).any():
            row = int(np.flatnonzero(merged.fillna(False).to_numpy(bool))[0])
            cell = str(text.iloc[row])
            place = row_places(source, [row + 1])[row + 1]
            raise DataError(
                f"{source}, {place}, column '{column}': the cell holds {cell.count(chr(10)) + 1:,} "
                f'lines of the file ({cell[:30]!r}...): a quote character (") that is never '
                "closed merged the records after it into this one; remove or close it"
            )


def near_misses(missing: list[str], present: pd.Index | list[str]) -> str:
    """'; did you mean ...' for columns a header writes another way: with other case or
    spaces around it ('Opened ' for 'opened', which an export's header keeps and the spec must
    then write too: headers are read as written, so that quotes, the service and the quarantine
    all name a column alike), or close in spelling. Empty when nothing is near."""
    headers = [str(c) for c in present]
    folded = {h.strip().casefold(): h for h in headers}
    said = []
    for name in missing:
        near = folded.get(name.strip().casefold())
        if near is None:
            close = difflib.get_close_matches(name, headers, n=1, cutoff=0.8)
            near = close[0] if close else None
        if near is not None:
            said.append(f"{near!r} for {name!r}")
    if not said and len(headers) == 1:
        marks = [d for d in DELIMITERS[1:] if d in headers[0]]
        if marks:
            return f"; the header looks {marks[0]!r}-delimited, but was read as one column"
    return f"; did you mean {', '.join(said)}?" if said else ""


def one_spelling(texts: np.ndarray) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """Category values that differ only in case ('Email', 'email', 'EMAIL') as one value, written
    the way most rows write it (the first in sort order on a tie); and, for each value kept, the
    spellings it replaced.

    Two systems feeding one export, or a renamed option, write one value several ways; learnt as
    different values, each gets a share of the history and its own thin calibration. A value
    whose case carries meaning is rare enough in operational categories to be worth this."""
    counts = pd.Series(texts, dtype=object).value_counts(sort=False)
    if len(counts) < 2:
        return texts, {}
    spellings = pd.DataFrame({"spelling": counts.index, "rows": counts.to_numpy()})
    spellings["key"] = spellings["spelling"].str.casefold()
    spellings = spellings.sort_values(["key", "rows", "spelling"], ascending=[True, False, True])
    kept = spellings.groupby("key", sort=False)["spelling"].transform("first")
    merged = spellings[spellings["spelling"] != kept]
    if merged.empty:
        return texts, {}
    chosen = dict(zip(merged["spelling"], kept[merged.index], strict=True))
    others = {k: tuple(sorted(g)) for k, g in merged.groupby(kept[merged.index])["spelling"]}
    return np.array([chosen.get(t, t) for t in texts], dtype=object), others


DUPLICATE = "duplicate id (kept: its first row without other problems, a finished one if any)"


def _kept_per_id(ids: pd.Series, *, usable: np.ndarray, finished: np.ndarray) -> np.ndarray:
    """Which row each id keeps: a row with no other problem over a rejected one, then a finished
    one over one still open, then the first. A re-export appended to the last one repeats the
    ids of items that were open then and may have finished since: keeping the first row kept
    their stale open state; and a first row rejected for a typo took its good twin with it."""
    rows = pd.DataFrame(
        {"id": ids.to_numpy(), "usable": usable, "finished": finished, "row": np.arange(len(ids))}
    )
    best = rows.sort_values(["usable", "finished", "row"], ascending=[False, False, True])
    kept = np.zeros(len(ids), dtype=bool)
    kept[best.drop_duplicates("id")["row"].to_numpy()] = True
    return kept


QUIET_DAYS = 30
"""A default as-of time this many days after the latest start is suspect (see :func:`doubts`)."""
EARLY_DAYS = 365
"""Items starting this long before the earliest 0.1% of the others are suspect."""
STALE_OPEN_SHARE = 0.005
"""A history with more open items than this share older than every finish is suspect."""

EXPECTED_OPEN = 8
"""A history with no open item where the durations it shows would leave this many of its latest
items running at the export time is suspect (the chance is about that of a Poisson count of 8
coming out 0: 1 in 3,000)."""

LOST_FINISHES_FACTOR = 5.0
"""A history whose later half has this many times more open items than the earlier half's
durations explain (plus :data:`EXPECTED_OPEN`) is suspect. A peak season at the export, or a
slowdown, leaves two to five times more open (2.3x in a year of synthetic tickets exported in
December's peak; 4.8x when items became 2.5 times slower for the last ten weeks); an export
that lost every finish after a date, twelve times more."""

WORKING_HOURS_FINISHES = 0.95
"""A wall-clock history whose calendar is closed most of the week, with at least this share of
its finishes inside the calendar's hours, looks like work done only then (see :func:`doubts`)."""

MIN_ROWS_TO_DOUBT = 100
"""A feature column is doubted for being empty or constant only in a history this long: in a
handful of rows one value everywhere can be true."""


def doubts(history: History, *, as_of_given: bool) -> list[str]:
    """What looks wrong with a history that loaded, in words: things no single row is to blame
    for, which would still make every promise wrong, or that loading repaired.

    * A default as-of time (the latest timestamp) long after the latest start: one finish
      typed in the wrong year makes every open item that much older.
    * Open items older than anything that finished: cancelled or abandoned items an export
      left open (3% of an e-commerce history's orders) sit in every backlog since their start
      and, censored, say that some items take longer than anything seen.
    * A feature column empty or the same in every row: an export that lost it (all 'n/a', all
      0) trains a model that quietly ignores it, and the owner of the export should know.
    * Category values that differ only in case ('High', 'high', 'HIGH'): loading took them as
      one (:func:`one_spelling`); the owner of the export should know, and may fix the source.
    * Starts long before the rest (a ticket "created" in 1900 and solved in 2023): one such
      item is the longest the model knows, and the training window starts with it.
    * Finishes in the future (closed "2099-12-31"): nothing finished after now, so the items
      count as open until the export, as documented; but the owner of the export would not
      know how many rows that happened to, nor that their closed items became open ones.
      An open item last seen after now is seen at the export time, and said likewise.
    * No open item although the latest items are too young to have all finished: an export
      that left out what is still open (``WHERE resolved_at IS NOT NULL``) loses the slowest
      items, and promises come out short. A history whose last start is long before its last
      finish is an archive of what is all past, and not doubted.
    """
    frame = history.frame
    said = []
    if not as_of_given and len(frame):
        latest = frame[START].max()
        quiet = history.as_of - latest
        if quiet > pd.Timedelta(days=QUIET_DAYS):
            said.append(
                f"the history's latest timestamp, {history.as_of:%Y-%m-%d %H:%M} UTC, is "
                f"{quiet.days} days after its latest start ({latest:%Y-%m-%d %H:%M} UTC), and "
                "open items count as running until then; if the export was taken earlier, "
                "pass --as-of"
            )
    if len(frame):
        starts = frame[START]
        usual_first = starts.quantile(0.001)
        early = starts < usual_first - pd.Timedelta(days=EARLY_DAYS)
        if early.any():
            said.append(
                f"{early.sum():,} item(s) start more than {EARLY_DAYS} days before nearly all "
                f"others (the earliest at {starts.min():%Y-%m-%d}, the rest from "
                f"{usual_first:%Y-%m-%d}); a typo in the year? They count as that long"
            )
    if len(frame) >= MIN_ROWS_TO_DOUBT:
        for column in history.spec.feature_columns:
            values = frame[column].replace(MISSING, pd.NA)
            if values.isna().all():
                said.append(f"{column}: every value is missing, so it tells the model nothing")
            elif values.nunique() == 1 and values.notna().all():
                said.append(
                    f"{column}: every row has the same value ({values.iloc[0]}), so it tells "
                    "the model nothing"
                )
    for column, merged in history.respelled.items():
        shown = "; ".join(f"{k!r} for {' / '.join(map(repr, v))}" for k, v in [*merged.items()][:3])
        said.append(
            f"{column}: values that differ only in case are taken as one, written as most rows "
            f"write them ({shown}{'; ...' if len(merged) > 3 else ''})"
        )
    for column, future in history.in_future.groupby("column", sort=False):
        first = future.iloc[0]
        days = future["at"].dt.tz_convert(history.spec.timezone).dt.strftime("%Y-%m-%d")
        shown = sorted(days.unique())
        finish = column == history.spec.end
        said.append(
            f"{len(future):,} {'item(s) finish' if finish else 'open item(s) were last seen'} "
            f"after the export time and after today "
            f"({', '.join(shown[:3])}{', ...' if len(shown) > 3 else ''}; e.g. "
            f"{row_places(history.source, [first['row']])[first['row']]}, "
            f"{column} {first['written']!r}), so they count as "
            + (
                "still open; typos or placeholders? Leave the cell empty for an item still open"
                if finish
                else "seen at the export time; typos or placeholders?"
            )
        )
    finished = frame[FINISHED].to_numpy(bool)
    if len(frame) >= MIN_ROWS_TO_DOUBT and finished.all():
        durations, ages = frame[END] - frame[START], history.as_of - frame[START]
        expected = _expected_open(durations, ages)
        # Starting up to the export (not an archive, whose last finish is long after its last
        # start) and with too many of the latest items finished:
        if ages.min() < durations.median() and expected >= EXPECTED_OPEN:
            said.append(
                f"no item is open at the export time ({history.as_of:%Y-%m-%d %H:%M} UTC), "
                f"though at the durations the history shows about {expected:,.0f} of its latest "
                "items would still be running; if the export left out items still open, add "
                f"them with an empty {history.spec.end}: without them the slowest items are "
                "missing and promises come out short"
            )
    if len(frame) >= MIN_ROWS_TO_DOUBT and finished.any() and not finished.all():
        since, running, expected = _open_since_the_middle(frame, history.as_of)
        if running >= LOST_FINISHES_FACTOR * expected + EXPECTED_OPEN:
            said.append(
                f"{running:,} of the items that started since {since:%Y-%m-%d} are still open, "
                f"though at the durations of the items that started before then about "
                f"{expected:,.0f} would be; did the export lose their finishes (an empty "
                f"{history.spec.end} where the item was done), or have items become much "
                "slower? Open, they make promises far longer"
            )
    worked = _finishes_in_working_hours(history)
    if worked is not None:
        inside, open_share = worked
        said.append(
            f"{inside:.0%} of finished items finished while the calendar is open, which it is "
            f"{open_share:.0%} of the time; if the work is done only then, 'clock: business' "
            "in the spec counts the hours it is done in. 'clock: wall' counts every night and "
            "weekend an item waits into its duration, and its promises hold less well for items "
            "started shortly before the calendar opens"
        )
    if finished.any():
        # The longest of all but the slowest 0.1%: one start typed in 1900 must not hide them.
        longest = np.quantile(frame[HOURS].to_numpy(float)[finished], 0.999)
        stale = ~finished & (frame[HOURS].to_numpy(float) > longest)
        if stale.mean() > STALE_OPEN_SHARE:
            said.append(
                f"{stale.sum():,} open items ({stale.mean():.1%}) have been open longer than "
                f"any item took to finish ({longest:,.0f} clock hours); if they were cancelled "
                "or abandoned, give them an end or leave them out: open, they count in every "
                "backlog since they started and make promises longer"
            )
    return said


def _after(raw: pd.DataFrame, column: str, times: pd.Series, later: pd.Timestamp) -> pd.DataFrame:
    """The rows of ``times`` after ``later``, as :attr:`History.in_future` lists them."""
    rows = times.index[(times > later).to_numpy(bool)]
    written = raw.loc[rows, column].astype(str)
    return pd.DataFrame(
        {"row": rows + 1, "column": column, "written": written, "at": times[rows]}
    ).reset_index(drop=True)


def _open_since_the_middle(
    frame: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[pd.Timestamp, int, float]:
    """The median start, how many items that started since are open, and how many would be at
    the durations of those that started before (Kaplan–Meier on wall time, open items censored
    when last seen): the earlier half has watched its items longer than the later half's ages."""
    starts = frame[START]
    middle = starts.quantile(0.5)
    early = (starts < middle).to_numpy()
    finished = frame[FINISHED].to_numpy(bool)
    hour = pd.Timedelta(hours=1)
    taken = ((frame[SEEN] - starts) / hour).to_numpy(float)
    times, survival = censoring_survival(taken[early], ~finished[early])  # a finish: the event
    ages = ((frame[SEEN].where(~frame[FINISHED], as_of) - starts) / hour).to_numpy(float)[~early]
    at = np.searchsorted(times, ages, side="right") - 1
    running = np.where(at >= 0, survival[np.maximum(at, 0)], 1.0)
    return middle, int((~finished[~early]).sum()), float(running.sum())


def _finishes_in_working_hours(history: History) -> tuple[float, float] | None:
    """On a wall clock whose calendar is closed most of the time: the share of finishes inside
    its working hours and the share of the time it is open, if the first is
    :data:`WORKING_HOURS_FINISHES` or more; else ``None``.

    A team working Monday to Friday, 09:00-17:00, exported with ``clock: wall``: a ticket opened
    at 08:30 has its night early in the work, one opened at 16:30 late, and a promise shaped on
    both at once held 86-89% of the first kind's (on simulated such tickets, three seeds).
    A calendar open half the time or more is not doubted: finishes inside a round-the-clock
    calendar (flights', closed on holidays only) say nothing about when work is done."""
    spec, frame = history.spec, history.frame
    if spec.clock != "wall":
        return None
    ends = frame.loc[frame[FINISHED].to_numpy(bool), END]
    if len(ends) < MIN_ROWS_TO_DOUBT:
        return None
    business = Clock(spec.calendar, spec.timezone, "business")
    first, last = frame[START].min(), ends.max()
    wall_hours = (last - first) / pd.Timedelta(hours=1)
    open_share = float(business.hours_between([first], [last])[0]) / max(wall_hours, 1e-9)
    if open_share > 0.5:
        return None
    minute = pd.Timedelta(minutes=1)
    inside = float(np.mean(business.hours_between(ends - minute, ends) > 0))
    return (inside, open_share) if inside >= WORKING_HOURS_FINISHES else None


def _expected_open(durations: pd.Series, ages: pd.Series) -> float:
    """How many items would be open at the export time, from finished items only: an item
    that finished at age ``a`` stands for ``1 / F(a)`` items started then, ``S(a) / F(a)`` of
    them still running (inverse probability weighting, with ``F`` the durations' distribution)."""
    taken = np.sort(durations.to_numpy("timedelta64[ns]").astype(np.int64))
    done = np.searchsorted(taken, ages.to_numpy("timedelta64[ns]").astype(np.int64), "right")
    share = done[done > 0] / len(taken)
    return float(((1 - share) / share).sum())


def seen_at(history: History, as_of: pd.Timestamp) -> History:
    """The history as it looked at ``as_of``: later starts left out, later finishes hidden.

    This is how a backtest keeps the test period's outcomes out of sight: an item that finished
    after ``as_of`` is open at ``as_of``, censored at that moment (or when it was last seen).
    """
    frame = history.frame
    keep = (frame[START] <= as_of).to_numpy()
    frame = frame[keep].copy()
    last_seen = frame[SEEN].where(frame[SEEN].notna() & frame[END].isna(), as_of)
    frame[END] = frame[END].mask(frame[END] > as_of)
    frame[SEEN] = last_seen.clip(upper=as_of).where(frame[END].isna(), frame[END])
    frame[FINISHED] = frame[END].notna()
    clock = Clock.from_spec(history.spec)
    frame[HOURS] = np.maximum(
        clock.hours_between(clock.effective_start(frame[START]), frame[SEEN]), MIN_HOURS
    )
    frame = frame.sort_values(_time_order(history.spec), kind="stable").reset_index(drop=True)
    return replace(history, frame=frame, as_of=as_of)


def _time_order(spec: DatasetSpec) -> list[str]:
    """The columns a history's rows are sorted by: start, then the id (or, without one, what
    else sets a row apart). Sorted by start alone, rows starting at the same moment kept the
    file's order, and an export without ORDER BY trained a different model each time (two
    rows swapped moved 186 of 200 promises by up to a day)."""
    tied = [spec.id] if spec.id else [END, SEEN, *spec.features.categorical]
    return [START, *tied, *spec.features.numeric]


def segment_keys(frame: pd.DataFrame, spec: DatasetSpec, depth: int | None = None) -> pd.Series:
    """The calibration segment of each row: the spec's segment values joined by ' / '.

    ``depth`` keeps only the first segment columns (the parent segment); depth 0 is 'all'.
    """
    columns = spec.segments[: len(spec.segments) if depth is None else depth]
    name = columns[0] if len(columns) == 1 else None
    keys = segment_values(frame, spec, depth)
    return pd.Series(keys, index=frame.index, dtype="string", name=name)


def segment_values(
    frame: pd.DataFrame | Mapping[str, Any], spec: DatasetSpec, depth: int | None = None
) -> np.ndarray:
    """:func:`segment_keys` as an object array of ``str``: what the engine looks segments up by
    (a pandas string Series costs more to build than a small quote takes). ``frame`` may also
    be a frame's columns by name, before the frame is built."""
    return segment_levels(frame, spec, len(spec.segments) if depth is None else depth)[-1]


def segment_levels(
    frame: pd.DataFrame | Mapping[str, Any], spec: DatasetSpec, depth: int | None = None
) -> list[np.ndarray]:
    """:func:`segment_values` at every depth from 0 ('all') to ``depth`` (default: all of the
    spec's segment columns), each built on the one before."""
    columns = spec.segments[: len(spec.segments) if depth is None else depth]
    rows = len(frame) if isinstance(frame, pd.DataFrame) else len(next(iter(frame.values())))
    levels = [np.full(rows, "all", dtype=object)]
    for column in columns:
        part = category_texts(frame[column])
        levels.append(part if len(levels) == 1 else levels[-1] + " / " + part)
    return levels


def category_texts(values: pd.Series | pd.api.extensions.ExtensionArray) -> np.ndarray:
    """Categorical values as ``str`` in an object array, a missing one as :data:`MISSING`.

    Whole numbers in a float column (integer codes with blanks, as pandas and Parquet keep them)
    read as '7', not '7.0', and so does the text '7.0' (what pandas writes for such a column in
    a CSV): the same value in a CSV cell, a Parquet column or a JSON number must be the same
    category. Spaces around a value are not part of it; a blank value is missing."""
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = np.asarray(values, dtype=float)
        known = numbers[~np.isnan(numbers)]
        if np.array_equal(known, np.round(known)) and (np.abs(known) < 2.0**53).all():
            values = pd.array(values, dtype="Float64").astype("Int64")
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype("string")
    return np.array(
        [_category_text(v) for v in values.to_numpy(dtype=object, na_value=MISSING)], dtype=object
    )


_WHOLE_NUMBER = re.compile(r"^(-?\d+)\.0+$")


def _category_text(value: str) -> str:
    text = value.strip()
    if "." in text and (whole := _WHOLE_NUMBER.match(text)):
        return whole.group(1)
    return text or MISSING


def look_up(values: Any, table: Mapping[Any, float], default: float = np.nan) -> np.ndarray:
    """``table.get(value, default)`` for each value, as floats. A batch looks each distinct
    value up once: 100,000 quotes hold a few dozen categories, and a Python loop over them all
    costs more than the model's prediction."""
    values = np.asarray(values, dtype=object)
    if len(values) < _LOOK_UP_DISTINCT_FROM:  # one quote: hashing costs more than it saves
        return np.array([table.get(v, default) for v in values], dtype=float)
    inverse, distinct = pd.factorize(values, use_na_sentinel=False)
    return np.array([table.get(v, default) for v in distinct], dtype=float)[inverse]


_LOOK_UP_DISTINCT_FROM = 1_000


def holds_value(values: pd.Series) -> pd.Series:
    """Cells that hold a timestamp or number: not missing, not blank, not a word for nothing
    (:data:`NOTHING`)."""
    held = values.notna()
    if numeric_dtype(values) or not held.any():  # no text to read: what a quote's column holds
        return held
    text = values.astype("string").str.strip().str.casefold()
    return held & (text != "") & ~text.isin(NOTHING).fillna(False).astype(bool)


def numeric_dtype(values: pd.Series) -> bool:
    """Whether ``values`` are numbers already (int, unsigned or float), not text to read."""
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "iuf"


def read_numbers(written: pd.Series, delimiter: str | None = None) -> tuple[pd.Series, pd.Series]:
    """``written`` as numbers, and why each value that holds something was not read ('' where
    it was read or is missing), each reason showing the value.

    A decimal comma ('0,5') is read where it cannot be anything else: in a file whose cells are
    separated by ';' (Excel where the decimal mark is a comma), and with tabs or pipes unless
    every such value is shaped like a thousands group ('1,234'). In a ','-separated file, in
    Parquet or in JSON (``delimiter`` None) it is not, and the reason says how to write it."""
    values = pd.to_numeric(written, errors="coerce").astype(float)
    why = pd.Series("", index=written.index, dtype=object)
    unread = values.isna() & holds_value(written)
    if unread.any():  # only bad numbers pay for reading them again
        text = written[unread].astype("string").str.strip()
        commas = text[text.str.fullmatch(r"[+-]?\d*,\d+").fillna(False).astype(bool)]
        thousands = commas.str.fullmatch(r"[+-]?[1-9]\d{0,2},\d{3}").fillna(False).all()
        if delimiter == ";" or (delimiter in DELIMITERS[2:] and not thousands):
            values[commas.index] = pd.to_numeric(commas.str.replace(",", ".", regex=False))
        elif len(commas):
            why[commas.index] = (
                "not a number: "
                + _shown(commas)
                + " looks like a decimal comma; write "
                + commas.str.replace(",", ".", regex=False)
            )
        grouped = text[text.str.fullmatch(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+").fillna(False)]
        if len(grouped) and not (delimiter == ";" or values[grouped.index].notna().all()):
            why[grouped.index] = (  # '1,000': a thousands separator more often than a decimal
                "not a number: "
                + _shown(grouped)
                + " looks like thousands with a separator; write "
                + grouped.str.replace(",", "", regex=False)
                + " (or "
                + grouped.str.replace(",", ".", regex=False)
                + " if the comma is a decimal mark)"
            )
        still = values.isna() & unread & (why == "")
        why[still] = "not a number: " + _shown(text[still[unread]])
    why[np.isinf(values) & (why == "")] = "not a finite number"
    return values, why


FUTURE_START = " is after now: a typo in the year? (an export holds no item that has not begun)"


def _started_after_now(start: pd.Series) -> pd.Series:
    """Starts after now, in a history most of whose items started by now: one mistyped year
    (2052) made the export time 27 years later, every open item that old, and every promise
    twice as long. A history mostly in the future is a simulation's or a schedule's: its
    starts count, as its latest start is its export time (:func:`_as_of`)."""
    after = start > pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)  # a zone mixed up
    return after if after.mean() < 0.5 else pd.Series(False, index=start.index)


def _as_of(
    given: pd.Timestamp | str | None,
    start: pd.Series,
    end: pd.Series,
    seen: pd.Series | None,
    spec: DatasetSpec,
    source: str,
) -> pd.Timestamp:
    """The moment the history describes: ``given`` (naive = the spec's local time), or its
    latest timestamp: the latest start, or finish or look that is not after now.

    Nothing was finished or looked at after now: such a date (2099) is a typo or a placeholder,
    and as the export time it would make every open item decades old (one such delivery did).
    Its row is then open at the export time, as any finish after it is. Starts after now are
    rejected before (:func:`_started_after_now`) unless most of the history is after now."""
    if not start.notna().any():
        raise DataError(f"{source}: no usable timestamps in the history (it has no valid rows)")
    if given is None:
        now = pd.Timestamp.now(tz="UTC")
        past = [s[s <= now] for s in (end, seen) if s is not None]
        return max(s.max() for s in (start, *past) if s.notna().any())
    as_of = parse_timestamp(given, spec.timezone)
    if pd.isna(as_of):
        raise DataError(f"as-of {given!r} is not an ISO-8601 timestamp")
    if start.min() > as_of:
        raise DataError(
            f"{source}: no row starts by the as-of time {as_of}; the first starts at {start.min()}"
        )
    return as_of


ISO_EXAMPLE = "2024-07-01T12:00"


def _shown(text: pd.Series) -> pd.Series:
    """Cell texts as a reason quotes them: in quotes, a long one cut short."""
    cut = text.str.len() > 40
    return "'" + text.where(~cut, text.str.slice(0, 40) + "...") + "'"


def _written_year(text: pd.Series, timestamp_format: str | None) -> pd.Series:
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


def _format_hint(text: pd.Series) -> str:
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
    shape = parts.iloc[0]

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


def describe_rejected(rejected: pd.DataFrame, source: str) -> list[str]:
    """Rejected rows in words, each with its row (and line, in a CSV file), column and reason."""
    places = row_places(source, rejected["row"])
    return [f"{places[r.row]}, column '{r.column}': {r.reason}" for r in rejected.itertuples()]


class _Problems:
    """Collects (row, column, reason) findings; a row's first problem is the one reported."""

    def __init__(self, n: int) -> None:
        self._column = np.full(n, None, dtype=object)
        self._reason = np.full(n, None, dtype=object)

    def add(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        """Mark the rows of ``mask`` not marked yet; ``reason`` is one text for all, or one per
        row (a Series on some of the rows' index: texts that show each row's value)."""
        hit = np.asarray(mask.fillna(False), dtype=bool) & (self._reason == None)  # noqa: E711
        self._column[hit] = column
        if isinstance(reason, pd.Series):
            self._reason[hit] = reason.reindex(mask.index).to_numpy(object)[hit]
        else:
            self._reason[hit] = reason

    def ragged(self, raw: pd.DataFrame) -> None:
        """Mark the rows of a CSV file whose cells do not match its header (:func:`ragged_rows`)."""
        for column, rows in ragged_rows(raw).groupby("column"):
            mask = pd.Series(raw.index.isin(rows.index), index=raw.index)
            self.add(mask, str(column), rows["reason"])

    def unparseable(
        self,
        written: pd.Series,
        parsed: pd.Series,
        *,
        open_hint: bool = False,
        timestamp_format: str | None = None,
    ) -> None:
        """Timestamps written but not read, each reason showing the value and what would be read:
        ISO-8601, or the spec's ``timestamp_format`` when the export writes another (suggested
        from the column's values, day or month first only when a value over 12 says which). A
        bare number (epoch seconds?) says how to fix it, and in the finish column
        (``open_hint``) a placeholder year says how to write "still open"."""
        unread = parsed.isna() & holds_value(written)  # an empty cell ("" in Parquet) is empty
        if not unread.any():
            return
        column = str(written.name)
        text = written[unread].astype("string").str.strip()
        shown = _shown(text)
        number = text.str.fullmatch(r"-?\d+(?:\.\d+)?").fillna(False).astype(bool)
        self.add(
            number.reindex(written.index, fill_value=False),
            column,
            "unparseable timestamp "
            + shown
            + ": a bare number; write ISO-8601 such as 2024-07-01T12:00",
        )
        year = _written_year(text, timestamp_format)
        self.add(
            ((year < FIRST_YEAR) | (year >= END_YEAR)).reindex(written.index, fill_value=False),
            column,
            f"timestamp outside the years {FIRST_YEAR}-{END_YEAR - 1}: "
            + shown
            + (
                " (a placeholder? leave the cell empty for an item still open)"
                if open_hint
                else " (a placeholder such as 0000-00-00 or 9999-12-31?)"
            ),
        )
        if timestamp_format is not None:
            tail = f": neither the spec's timestamp_format {timestamp_format!r} nor ISO-8601"
        elif unread.sum() * 2 < holds_value(written).sum():
            tail = f": not ISO-8601 like the column's other values (such as {ISO_EXAMPLE})"
        else:
            tail = f": not ISO-8601 (such as {ISO_EXAMPLE}){_format_hint(text)}"
        self.add(unread, column, "unparseable timestamp " + shown + tail)

    def reasons(self) -> np.ndarray:
        return self._reason.copy()

    def any(self) -> pd.Series:
        return pd.Series(self._reason != None)  # noqa: E711

    def frame(self, raw: pd.DataFrame, source: str) -> pd.DataFrame:
        bad = np.flatnonzero(self._reason != None)  # noqa: E711
        out = raw.iloc[bad].copy()
        # An export's own 'reason' column (a ticket's close reason) stays, beside ours.
        ours = ("file", "row", "column", "reason")
        out.columns = [f"{c} (data)" if c in ours else c for c in out.columns]
        out.insert(0, "reason", self._reason[bad])
        out.insert(0, "column", self._column[bad])
        out.insert(0, "row", bad + 1)
        out.insert(0, "file", source)
        return out.reset_index(drop=True)
