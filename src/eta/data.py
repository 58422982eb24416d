"""Loading and validating histories: every bad row reported with where it is, nothing lost.

A history is a CSV or Parquet file (or a DataFrame) described by a :class:`~eta.spec.DatasetSpec`.
Rows that cannot be used go to a quarantine file with their file, row, column and reason; a spec
naming a missing column, or a file where too much was rejected, stops the run with a clear error.
Open items (empty end) are kept: they are right-censored observations, not bad rows.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.spec import DatasetSpec
from eta.tables import (
    DELIMITER,
    DELIMITERS,
    RAGGED,
    DataError,
    quarantine_beside,
    ragged_rows,
    read_table,
    row_places,
    write_table,
)
from eta.timestamps import (
    END_YEAR,
    FIRST_YEAR,
    ISO_EXAMPLE,
    NOTHING,
    format_hint,
    parse_finishes,
    parse_timestamp,
    parse_timestamps,
    read_ends,
    written_year,
)

START, END, SEEN, HOURS, FINISHED, SEGMENT = (
    "start",
    "end",
    "observed_until",
    "hours",
    "finished",
    "segment",
)
"""Canonical column names of a validated history, whatever the spec calls them."""
ROW = "data_row"
"""Where each item of a validated history came from: its row among the data's rows (0 for the
first), by which ``eta backtest --out`` names items when the spec has no id column."""

MISSING = "(missing)"
"""What a missing categorical value reads as: a value of its own, not an error."""

MAX_REJECTED = 0.05
"""A file with a larger share of its rows rejected is refused, not used for what is left."""

MIN_HOURS = 1.0 / 60.0
"""Durations are floored at one clock minute so that logs and ratios stay finite."""


@dataclass(frozen=True)
class History:
    """A validated history in canonical columns, and the rows that were set aside.

    ``frame`` has ``start``, ``end`` (NaT while open), ``observed_until``, ``finished``, ``hours``
    (clock hours to the finish, or to the last look at an open item), ``segment`` and the spec's
    feature and id columns. ``rejected`` has the original row plus ``file``, ``row``, ``column`` and
    ``reason``. ``respelled`` says, per categorical column, which values were taken as one
    (:func:`one_spelling`): each kept spelling with the others it stands for.
    ``read_as_open`` has the kept rows whose finish, or an open item's last look, was not
    believed (``row`` as in ``rejected``, the ``column``, the ``written`` text, the time read,
    ``at``, and ``why``: :data:`PLACEHOLDER`, a date systems write for "none"
    (:func:`~eta.timestamps.no_dates`), or :data:`AFTER_TODAY`, after the export time and after
    now): no row is to blame, but each such time is a
    placeholder or a typo; the item counts as open, or as last seen at the export time.
    """

    spec: DatasetSpec
    frame: pd.DataFrame
    rejected: pd.DataFrame
    as_of: pd.Timestamp
    source: str = "data"
    respelled: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    read_as_open: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["row", "column", "written", "at", "why"])
    )
    doubts: tuple[str, ...] = ()
    """What looks wrong in the export though no row is (:func:`eta.doubts.doubts`), as a
    command that loaded it said on stderr: the retrain keeps them in its report and run."""

    @property
    def open_share(self) -> float:
        return float(1.0 - self.frame[FINISHED].mean()) if len(self.frame) else 0.0


def read_instants(
    raw: pd.DataFrame,
    column: str,
    source: str,
    timezone: str,
    timestamp_format: str | None = None,
    *,
    finishes: bool = False,
) -> tuple[pd.Series, pd.DataFrame]:
    """``raw[column]`` as instants (:func:`~eta.timestamps.parse_timestamps`; with
    ``finishes``, a date alone is its end, as a history's finish is:
    :func:`~eta.timestamps.parse_finishes`), and the rows that hold a time that cannot be read
    as rejected rows (``file``, ``row``, ``column``, ``reason``, then the row as written): for
    a file that is not a history but must not lose rows either, e.g. the outcomes a monitor
    judges promises by. An empty cell is no time, not an error."""
    if finishes:
        unknown = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
        instants = parse_finishes(raw[column], unknown, timezone, timestamp_format)
    else:
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


def load_history(
    data: str | Path | pd.DataFrame,
    spec: DatasetSpec,
    *,
    as_of: pd.Timestamp | str | None = None,
    quarantine: str | Path | None = None,
    max_rejected: float = MAX_REJECTED,
) -> History:
    """Load, validate and canonicalise a history.

    Parameters
    ----------
    data : a CSV/Parquet path, or a DataFrame with the spec's columns.
    as_of : the moment the history describes. Rows that start later are left out (they are the
        future, not errors); finishes later than ``as_of`` are hidden, so those rows count as open.
        Default: the latest timestamp in the data.
    quarantine : where rejected rows are written with their reason (CSV or Parquet by suffix).
        Default: :func:`~eta.tables.quarantine_beside` the input file; nothing is written when no
        row was rejected.
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
    if as_of is None:  # before its finish is compared with it: the start is the typo
        problems.add(
            _started_after_now(start),
            spec.start,
            _shown(raw[spec.start].astype("string")) + FUTURE_START,
        )
    end, no_finish = read_ends(raw[spec.end], start, tz, written)
    problems.unparseable(raw[spec.end].mask(no_finish), end, timestamp_format=written)
    before = end < start
    problems.add(before, spec.end, "finishes before it starts")
    reopened = pd.Series(False, index=raw.index)
    if spec.status:
        done, reopened = _read_status(raw[spec.status.column], spec.status.finished, end)
        problems.add(
            done & end.isna() & ~no_finish,
            spec.status.column,
            f"its status says it finished, but {spec.end!r} is empty: when is unknown",
        )
    finish_written = end
    end = end.mask(reopened)  # solved once, open again: still running
    seen = None
    if spec.observed_until:
        seen, no_look = read_ends(raw[spec.observed_until], start, tz, written)
        problems.unparseable(raw[spec.observed_until].mask(no_look), seen, timestamp_format=written)
        problems.add(end.isna() & (seen < start), spec.observed_until, "last seen before it starts")
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
    # A row that repeats another cell for cell loses nothing when set aside: it is quarantined
    # but not counted against the export (a tester's export written twice was refused whole).
    copies = np.zeros(len(raw), dtype=bool)
    if spec.id and (ids.notna() & ~kept).any():
        copies = raw.duplicated().to_numpy(bool)
    rejected = problems.frame(raw, source)
    if quarantine is None and len(rejected) and not isinstance(data, pd.DataFrame):
        quarantine = quarantine_beside(source)
    if quarantine is not None and len(rejected):
        write_table(rejected, quarantine, like=raw)
    counted = bad & ~copies
    share = counted.mean() if len(raw) else 0.0
    if share > max_rejected:
        where = f"; rejected rows are in {quarantine}" if quarantine else ""
        raise DataError(
            f"{source}: {counted.sum()} of {len(raw)} rows ({share:.1%}) were rejected"
            + (f" (and {copies.sum()} exact copies set aside)" if copies.any() else "")
            + ", more than the "
            f"allowed {max_rejected:.0%}{where} (fix them in the export, or allow more with "
            "--max-rejected). First problems: "
            + "; ".join(describe_rejected(rejected.head(3), source))
        )
    kept_seen = None if seen is None else seen[~bad]
    as_of = _as_of(as_of, start[~bad], end[~bad], kept_seen, spec, source)

    # To the whole second, as most exports write them: an outside harness's same export as
    # Parquet (nanoseconds) and CSV (seconds) trained models whose promises differed by 3% at
    # the median, 95% of them not the same.
    frame = pd.DataFrame({START: start[~bad].dt.floor("s"), END: end[~bad].dt.floor("s")})
    frame[SEEN] = (
        seen[~bad].dt.floor("s") if seen is not None else pd.Series(pd.NaT, dtype=end.dtype)
    )
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
    frame[ROW] = frame.index.to_numpy()  # the data's rows, before any is sorted
    respelled = {column: merged for column, merged in respelled.items() if merged}
    later = max(as_of, pd.Timestamp.now(tz="UTC"))
    listed = [
        _listed(raw, spec.end, no_finish[~bad], end[~bad], PLACEHOLDER),
        _listed(raw, spec.end, end[~bad] > later, end[~bad], AFTER_TODAY),
    ]
    if seen is not None:
        looked = seen[~bad].where(end[~bad].isna())
        unlooked = no_look[~bad] & end[~bad].isna()
        listed.append(_listed(raw, spec.observed_until, unlooked, looked, PLACEHOLDER))
        listed.append(_listed(raw, spec.observed_until, looked > later, looked, AFTER_TODAY))
    if spec.status:
        column = spec.status.column
        listed.append(_listed(raw, column, reopened[~bad], finish_written[~bad], REOPENED))
    read_as_open = pd.concat(listed, ignore_index=True)
    whole = History(spec, frame, rejected, as_of, source, respelled, read_as_open)
    return seen_at(whole, as_of)


def refuse_merged_records(raw: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    """Refuse a CSV file in which a stray quote ('"billing') merged the records after it into
    one cell: read as it is, a history of 3,000 rows trained on 1,011, the 1,989 in between one
    category value, and nothing said so (and ``eta quote`` answered one row for two). A value
    of the spec's ``columns`` never holds a line break and a delimiter; any other column (a
    ticket's description may hold both) is refused when a line of a cell holds a whole
    record's delimiters: a quote closed by another cell's quote 1,389 lines later cost a
    tester 15% of a file, and only two rows were said to be rejected."""
    delimiter = raw.attrs.get(DELIMITER)
    if delimiter is None or not len(raw):
        return
    spec_columns = set(columns)
    width = raw.attrs[RAGGED][0] if RAGGED in raw.attrs else len(raw.columns)  # the header's
    record = re.compile(rf"\n(?:[^\n]*{re.escape(delimiter)}){{{max(width - 1, 1)}}}")
    for column in raw.columns:
        if not (column in spec_columns or pd.api.types.is_string_dtype(raw[column])):
            continue
        text = raw[column].astype("string")
        merged = text.str.contains("\n", regex=False) & text.str.contains(delimiter, regex=False)
        if column not in spec_columns and merged.fillna(False).any():
            merged &= text.str.contains(record)
        if merged.fillna(False).any():
            row = int(np.flatnonzero(merged.fillna(False).to_numpy(bool))[0])
            cell = str(text.iloc[row])
            place = row_places(source, [row + 1])[row + 1]
            raise DataError(
                f"{source}, {place}, column '{column}': the cell holds {cell.count(chr(10)) + 1:,} "
                f'lines of the file ({cell[:30]!r}...): a quote character (") that is not '
                "closed where the value ends merged the records after it into this one; remove "
                "or close it"
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


PLACEHOLDER, AFTER_TODAY, REOPENED = "placeholder", "after today", "reopened"
"""Why :attr:`History.read_as_open` did not believe a time (:data:`REOPENED`: the status
column says the item is not done, though it has a finish)."""


def _read_status(
    status: pd.Series, finished: tuple[str, ...], end: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Rows whose status is one of ``finished`` (any case, trimmed), and rows with a finish
    whose status is another value (reopened). A row without a status is neither."""
    said = status.astype("string").str.strip().str.casefold()
    done = said.isin([value.strip().casefold() for value in finished]).fillna(False)
    reopened = said.notna() & (said != "") & ~done & end.notna()
    return done.astype(bool), reopened.fillna(False).astype(bool)


def _listed(
    raw: pd.DataFrame, column: str, which: pd.Series, times: pd.Series, why: str
) -> pd.DataFrame:
    """The rows ``which`` of ``times``, as :attr:`History.read_as_open` lists them."""
    rows = which.index[which.fillna(False).to_numpy(bool)]
    written = raw.loc[rows, column].astype(str)
    return pd.DataFrame(
        {"row": rows + 1, "column": column, "written": written, "at": times[rows], "why": why}
    ).reset_index(drop=True)


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
    (:data:`~eta.timestamps.NOTHING`)."""
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
    Parquet or in JSON (``delimiter`` None) it is not, and the reason says how to write it.
    A value with both marks, thousands grouped ('1,053.29', '1.234,50'), can be read one way
    only, the last mark the decimal one, and is read so in any file: refused as 'not a number',
    a tester's export lost 3% of its rows to an amount column written that way."""
    values = pd.to_numeric(written, errors="coerce").astype(float)
    why = pd.Series("", index=written.index, dtype=object)
    unread = values.isna() & holds_value(written)
    if unread.any():  # only bad numbers pay for reading them again
        text = written[unread].astype("string").str.strip()
        both = text[text.str.fullmatch(_BOTH_MARKS).fillna(False).astype(bool)]
        if len(both):
            points = both.str.rfind(".") > both.str.rfind(",")  # '1,053.29': a decimal point
            plain = both.str.replace(",", "", regex=False).where(
                points, both.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            )
            values[both.index] = pd.to_numeric(plain)
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


_BOTH_MARKS = r"[+-]?[1-9]\d{0,2}(?:,\d{3})+\.\d+|[+-]?[1-9]\d{0,2}(?:\.\d{3})+,\d+"
"""Thousands grouped by one mark, decimals after the other: '1,053.29', '1.234,50'."""

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


def _no_such_day(text: pd.Series) -> pd.Series:
    """Texts that begin with an ISO date the calendar does not have ('2026-09-31', '2026-13-01'):
    an outside harness's September 31 was said to be "not ISO-8601", which it is."""
    parts = text.str.extract(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])").astype("Float64")
    year, month, day = parts[0], parts[1], parts[2]
    valid = month.between(1, 12) & (day >= 1)
    first = pd.to_datetime(
        {"year": year.where(valid, 2000), "month": month.where(valid, 1), "day": 1},
        errors="coerce",
    )
    days = first.dt.days_in_month
    return (year.notna() & ~(valid & (day <= days))).fillna(False).astype(bool)


def _shown(text: pd.Series) -> pd.Series:
    """Cell texts as a reason quotes them: in quotes, a long one cut short."""
    cut = text.str.len() > 40
    return "'" + text.where(~cut, text.str.slice(0, 40) + "...") + "'"


def describe_rejected(rejected: pd.DataFrame, source: str) -> list[str]:
    """Rejected rows in words, each with its row (and line, in a CSV file), column and reason."""
    places = row_places(source, rejected["row"])
    return [f"{places[r.row]}, column '{r.column}': {r.reason}" for r in rejected.itertuples()]


_QUOTED_VALUE = r"(?<![A-Za-z])'(?!(?:[,;|]|\\t)')[^']*'"
"""A value a rejection's reason quotes, not a delimiter (:data:`~eta.tables.DELIMITERS`), nor
from an apostrophe ("the spec's timestamp_format '%m/%d/%Y'" read "the spec'…'%m/%d/%Y")."""


def rejected_kinds(rejected: pd.DataFrame) -> pd.Series:
    """How many rejected rows each column and reason took, most first, the values each reason
    quotes left out (``queue_open: not a number: '…'``): the kinds of problem, not the rows. A
    delimiter a reason names ("a ';' inside a value") is no value: it stays."""
    kinds = (
        rejected["column"].astype(str)
        + ": "
        + rejected["reason"].astype(str).str.replace(_QUOTED_VALUE, "'…'", regex=True)
    )
    return kinds.value_counts()


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
        """Mark the rows of a CSV file whose cells do not match its header
        (:func:`~eta.tables.ragged_rows`)."""
        for column, rows in ragged_rows(raw).groupby("column"):
            mask = pd.Series(raw.index.isin(rows.index), index=raw.index)
            self.add(mask, str(column), rows["reason"])

    def unparseable(
        self,
        written: pd.Series,
        parsed: pd.Series,
        *,
        timestamp_format: str | None = None,
    ) -> None:
        """Timestamps written but not read, each reason showing the value and what would be read:
        ISO-8601, or the spec's ``timestamp_format`` when the export writes another (suggested
        from the column's values, day or month first only when a value over 12 says which). A
        bare number (epoch seconds?) says how to fix it. (A placeholder year in a finish
        means "still open" and is read so before this: :func:`~eta.timestamps.no_dates`.)"""
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
        year = written_year(text, timestamp_format)
        self.add(
            ((year < FIRST_YEAR) | (year >= END_YEAR)).reindex(written.index, fill_value=False),
            column,
            f"timestamp outside the years {FIRST_YEAR}-{END_YEAR - 1}: "
            + shown
            + " (a placeholder such as 0000-00-00 or 9999-12-31?)",
        )
        self.add(
            _no_such_day(text).reindex(written.index, fill_value=False),
            column,
            "unparseable timestamp " + shown + ": no such day on the calendar",
        )
        if timestamp_format is not None:
            tail = f": neither the spec's timestamp_format {timestamp_format!r} nor ISO-8601"
            # Many unread, and a format that reads them: month first where the spec says day
            # first (a tester's 38% of rows unread, the others read with day and month swapped)
            hint = format_hint(text) if unread.sum() * 10 >= holds_value(written).sum() else ""
            if "it looks like" in hint and repr(timestamp_format) not in hint:
                tail += hint + " (rows it did read may have day and month swapped)"
        elif unread.sum() * 2 < holds_value(written).sum():
            # A format that reads the few is worth saying: ISO-8601 values are still read with
            # it (a tester's export wrote a tenth of its rows as 19.12.2025 14:03).
            tail = (
                f": not ISO-8601 like the column's other values (such as {ISO_EXAMPLE})"
                + format_hint(text).replace("; it looks like", "; these look like", 1)
            )
        else:
            tail = f": not ISO-8601 (such as {ISO_EXAMPLE}){format_hint(text)}"
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
