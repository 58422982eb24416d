"""Reading and writing table files: CSV (and its kin, gzipped or not) and Parquet.

Every value is kept as written (CSV cells stay strings), rows are numbered as reports name them,
and a CSV record whose cells do not match the header is kept in place and listed, not dropped
or shifted: :mod:`eta.data` quarantines it with its reason. What a row is made of is read by
:mod:`eta.data` and :mod:`eta.timestamps`; this module only finds the cells.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TextIO

import numpy as np
import pandas as pd


class DataError(ValueError):
    """A file or history that cannot be used at all: a missing file or column, an unreadable
    file, too many rejected rows."""


TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".tab")
"""Delimited text files; the delimiter is read from the header (:func:`csv_delimiter`)."""


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, keeping every value as written (CSV cells stay strings)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = table_path(path).suffix.lower()
    try:
        _refuse_repeated_columns(path, suffix in {".parquet", ".pq"})
        if suffix in {".parquet", ".pq"}:
            return _numbered(pd.read_parquet(path))
        return _read_text(path)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (it holds byte {exc.object[exc.start]:#x}); save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (not even a header row)") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read it as {suffix.lstrip('.')}: {exc}") from None


def _refuse_repeated_columns(path: Path, parquet: bool) -> None:
    """A header that names a column twice is an error naming it: pandas read the second copy of
    a CSV's 'category' as 'category.1' and used the first without a word, and pyarrow refused
    a Parquet file in a schema dump that never said which name was repeated."""
    if parquet:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    else:
        names = next(_records(path, csv_delimiter(path), "replace"), [])
    seen: dict[str, list[int]] = {}
    for k, name in enumerate(names, start=1):
        seen.setdefault(name.strip(), []).append(k)
    twice = {name: at for name, at in seen.items() if len(at) > 1 and name}
    if twice:
        said = "; ".join(
            f"{name!r} (columns {', '.join(map(str, at))})" for name, at in twice.items()
        )
        raise DataError(f"{path}: the header names a column more than once: {said}; keep one")


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


BOM = "byte order mark"
"""Where :func:`read_table` notes, in the frame's ``attrs``, that a CSV file began with UTF-8's
byte order mark (what Excel writes, and needs to read accents right)."""

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
    with _opener(path)(path, "rb") as raw:
        frame.attrs[BOM] = raw.read(3) == codecs.BOM_UTF8
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
    return _opener(path)(path, "rt", encoding="utf-8-sig", errors=errors, newline="")


def _opener(path: Path) -> Callable[..., IO]:
    """``open``, or ``gzip.open`` for a gzipped file."""
    return gzip.open if path.suffix.lower() == ".gz" else open


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


def some_of(values: Sequence[str], shown: int = 3) -> str:
    """The first ``shown`` of ``values``, with '...' for the rest: 'a, b, c, ...'."""
    return ", ".join(values[:shown]) + (", ..." if len(values) > shown else "")


def row_places(source: str, rows: Iterable[int]) -> dict[int, str]:
    """How a report names rows of ``source``: 'row 8', and in a CSV file 'row 8 (line 14)', the
    line an editor shows it on."""
    rows = [int(r) for r in rows]
    text = str(source).lower().endswith((*TEXT_SUFFIXES, ".gz"))
    lines = record_lines(source, rows) if text and Path(source).is_file() else {}
    return {r: f"row {r}" + (f" (line {lines[r]})" if r in lines else "") for r in rows}


def write_table(frame: pd.DataFrame, path: str | Path, like: pd.DataFrame | None = None) -> None:
    """Write CSV or Parquet by the file's suffix (any other suffix is refused, not guessed:
    CSV text in a file called ``.xlsx`` is a file nobody can open). A CSV file is written with
    the delimiter and byte order mark of the file ``like`` was read from (:func:`read_table`):
    a quarantine of a ';' export from Excel opens in Excel as its export does."""
    path = table_path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in {".parquet", ".pq"}:
        frame.to_parquet(path, index=False)
        return
    read = {} if like is None else like.attrs
    delimiter = "\t" if suffix in {".tsv", ".tab"} else read.get(DELIMITER, ",")
    encoding = "utf-8-sig" if read.get(BOM) else "utf-8"
    frame.to_csv(path, index=False, sep=delimiter, encoding=encoding)


def table_path(path: str | Path) -> Path:
    """``path`` if it names a table this reads and writes (CSV and its kin, Parquet), else a
    :class:`DataError`: for a command to check its output before minutes of work."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".pq", *TEXT_SUFFIXES} and not suffix.endswith(".gz"):
        raise DataError(f"{path}: unknown file type {suffix!r} (use .csv or .parquet)")
    if path.is_dir():  # a tester's 'outdir.csv' folder was found after the whole backtest
        raise DataError(f"{path}: is a folder, not a file")
    return path


def quarantine_beside(data: str | Path) -> Path:
    """Where a file's rejected rows go by default: beside it, in its own format
    (``history.csv`` -> ``history.rejected.csv``, ``history.parquet`` ->
    ``history.rejected.parquet``), so that two exports of one history never overwrite each
    other's rejected rows."""
    path = Path(data)
    return path.with_suffix(f".rejected{path.suffix}")
