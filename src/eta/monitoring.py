"""Monitoring: did the promises we made hold? Quotes given, joined with what happened since.

A promise can only be judged once it has come due: before that, an item still open might yet make
it. So the report looks at every quote whose ``promise_at`` lies before ``as_of`` and counts it
kept when the item finished by then, broken when it finished later or is still open. Counting
early finishes before their promise has come due would flatter the on-time rate, because the
broken promises of the same days are not known yet.

Segments are flagged when their on-time rate is below target beyond doubt: the upper end of a
95% Wilson interval is under the target, so a small segment's bad luck alone raises no alarm.
They are named in the spec's words ('P3 / Access', 'all items'), not by the calibration tags of
the quotes' ``segment`` column: a segment's quotes made ahead of its record ('ahead|2:P3 /
Access') and live ones are one segment to the people reading the report. Weeks are the weeks
(Monday to Sunday, UTC) in which promises came due.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
*JASA* 22(158).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eta.data import DataError, read_instants, read_table
from eta.messages import segment_words
from eta.spec import DatasetSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Z95 = 1.959964


@dataclass(frozen=True)
class PromiseReport:
    """On-time rates of promises that have come due, overall, per segment and per week."""

    as_of: pd.Timestamp
    confidence: float
    overall: dict
    segments: pd.DataFrame
    weeks: pd.DataFrame

    @property
    def alerts(self) -> list[str]:
        """Segments keeping fewer promises than the target beyond sampling noise."""
        low = self.segments[self.segments["upper_95"] < self.confidence]
        return [
            f"{name}: {row.on_time_rate:.1%} of {int(row.judged):,} promises kept "
            f"(at most {row.upper_95:.1%} at 95% confidence; target {self.confidence:.0%})"
            for name, row in low.iterrows()
        ]


def read_promises(
    quotes: Path, outcomes: Path, spec: DatasetSpec | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[Path, pd.DataFrame]]:
    """The quotes given and the outcomes (``id``, ``finished_at``) in ``quotes`` and
    ``outcomes`` files, as :func:`promise_report` judges them, and each file's rows whose time
    cannot be read, as rejected rows for its quarantine file.

    Outcomes are an export of ``spec`` (its id and end columns, its zone and
    ``timestamp_format``) or, without one, ``id`` and ``finished_at`` in ISO-8601. A quote
    whose item's finish cannot be read is not judged: an unreadable finish is not a broken
    promise (it used to be counted as one, still open)."""
    given, happened = read_table(quotes), read_table(outcomes)
    id_column, end, zone, written = "id", "finished_at", "UTC", None
    if spec is not None:
        if spec.id is None:
            raise DataError(f"spec '{spec.name}' has no id column to join quotes and outcomes on")
        id_column, end, zone, written = spec.id, spec.end, spec.timezone, spec.timestamp_format
    for frame, path, needed in (
        (given, quotes, ["id", "promise_at"]),
        (happened, outcomes, [id_column, end]),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            named = " named by the spec" if spec is not None and path == outcomes else ""
            raise DataError(f"{path}: no column(s) {missing}{named} (have {list(frame.columns)})")
    finished, unread_finish = read_instants(happened, end, str(outcomes), zone, written)
    promised, unread_promise = read_instants(given, "promise_at", str(quotes), "UTC")
    unreadable = happened[id_column].iloc[unread_finish["row"] - 1].astype(str)
    skipped = given["id"].astype(str).isin(unreadable).to_numpy(copy=True)
    skipped[unread_promise["row"] - 1] = True
    given = given.assign(promise_at=promised)[~skipped]
    happened = pd.DataFrame({"id": happened[id_column], "finished_at": finished})
    happened = happened.drop(happened.index[unread_finish["row"] - 1])
    rejected = {quotes: unread_promise, outcomes: unread_finish}
    return given, happened, {path: rows for path, rows in rejected.items() if len(rows)}


def wilson_interval(kept: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of a proportion, element-wise."""
    kept, n = np.asarray(kept, float), np.maximum(np.asarray(n, float), 1.0)
    p = kept / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def promise_report(
    quotes: pd.DataFrame,
    outcomes: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    confidence: float | None = None,
) -> PromiseReport:
    """Judge the ``quotes`` (columns of ``eta quote``: ``id``, ``promise_at``, ``segment``,
    ``confidence``) against ``outcomes`` (``id``, ``finished_at``; empty while open)."""
    for frame, name, needed in (
        (quotes, "quotes", ("id", "promise_at")),
        (outcomes, "outcomes", ("id", "finished_at")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(f"{name}: missing column(s) {missing} (have {list(frame.columns)})")
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    if confidence is None:
        confidence = float(quotes["confidence"].iloc[0]) if "confidence" in quotes else 0.9
    finished = outcomes.assign(id=outcomes["id"].astype(str)).drop_duplicates("id", keep="last")
    finished = finished.set_index("id")["finished_at"]
    frame = pd.DataFrame(
        {
            "id": quotes["id"].astype(str),
            "promise_at": pd.to_datetime(quotes["promise_at"], utc=True, format="ISO8601"),
            "segment": (
                quotes["segment"].astype(str).map(segment_words)
                if "segment" in quotes
                else segment_words("0:all")
            ),
        }
    )
    frame["finished_at"] = pd.to_datetime(
        frame["id"].map(finished), utc=True, format="ISO8601"
    ).where(lambda t: t <= as_of)
    due = frame[frame["promise_at"] <= as_of].copy()
    unlisted = ~due["id"].isin(finished.index)  # counted as still open, and said so
    if len(due) and unlisted.all():
        raise DataError(
            f"none of the {len(due):,} quotes that came due has its id in the outcomes (quote "
            f"ids such as {due['id'].head(3).tolist()}, outcome ids such as "
            f"{finished.index[:3].tolist()}): another dataset, or ids written another way? "
            "Judged as they are, every promise would count as broken, its item still open"
        )
    due["kept"] = due["finished_at"].notna() & (due["finished_at"] <= due["promise_at"])
    due["late_hours"] = np.where(
        due["kept"],
        np.nan,
        ((due["finished_at"].fillna(as_of) - due["promise_at"]) / pd.Timedelta(hours=1)),
    )
    segments = _rates(due, "segment")
    week = due["promise_at"].dt.tz_localize(None).dt.to_period("W").dt.start_time
    weeks = _rates(due.assign(week=week), "week")
    n = len(due)
    kept = int(due["kept"].sum())
    lower, upper = wilson_interval(np.array([kept]), np.array([n]))
    overall = {
        "quotes": len(frame),
        "judged": n,
        "not_due_yet": int(frame["promise_at"].notna().sum()) - n,
        "not_quoted": int(frame["promise_at"].isna().sum()),  # the quote's row had an error
        "not_in_outcomes": int(unlisted.sum()),
        "on_time_rate": kept / n if n else float("nan"),
        "lower_95": float(lower[0]) if n else float("nan"),
        "upper_95": float(upper[0]) if n else float("nan"),
        "still_open_past_promise": int((due["finished_at"].isna()).sum()),
        "mean_lateness_hours": float(due["late_hours"].mean()) if (~due["kept"]).any() else 0.0,
    }
    return PromiseReport(as_of, confidence, overall, segments, weeks)


def _rates(due: pd.DataFrame, by: str) -> pd.DataFrame:
    grouped = due.groupby(by)["kept"].agg(["sum", "size"])
    lower, upper = wilson_interval(grouped["sum"].to_numpy(), grouped["size"].to_numpy())
    return pd.DataFrame(
        {
            "judged": grouped["size"],
            "on_time_rate": grouped["sum"] / grouped["size"],
            "lower_95": lower,
            "upper_95": upper,
        }
    ).sort_values("on_time_rate")


def write_report(report: PromiseReport, directory: Path, title: str = "Promises kept") -> Path:
    """Markdown with the overall rate, alerts, per-segment and weekly tables, and a weekly plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    o = report.overall
    if len(report.weeks):
        fig, ax = plt.subplots(figsize=(8, 4))
        weeks = report.weeks.sort_index()
        ax.fill_between(weeks.index, weeks["lower_95"], weeks["upper_95"], alpha=0.3)
        ax.plot(weeks.index, weeks["on_time_rate"], marker="o", label="on-time rate")
        ax.axhline(report.confidence, color="black", linestyle="--", label="target")
        ax.set_ylabel("promises kept (95% interval)")
        ax.set_title("Promises kept, by week the promise came due")
        ax.legend(loc="lower left")
        week_axis(ax)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(directory / "on_time_by_week.png", dpi=110)
        plt.close(fig)
    lines = [
        f"# {title}",
        "",
        f"As of {report.as_of:%Y-%m-%d %H:%M} UTC: {o['judged']:,} promises have come due "
        f"({o['not_due_yet']:,} not yet). Kept: **{_pct(o['on_time_rate'])}** "
        f"(95% interval {_pct(o['lower_95'])}–{_pct(o['upper_95'])}; "
        f"target {report.confidence:.0%}). Still open past their promise: "
        f"{o['still_open_past_promise']:,}; broken promises were late by "
        f"{o['mean_lateness_hours']:.1f} h on average."
        + (
            f" Promises due without a row in the outcomes, counted as still open: "
            f"{o['not_in_outcomes']:,}."
            if o.get("not_in_outcomes")
            else ""
        )
        + (f" Rows not quoted (an error): {o['not_quoted']:,}." if o.get("not_quoted") else ""),
        "",
        "## Alerts",
        "",
        *([f"- {a}" for a in report.alerts] or ["- none: every segment is within noise of target"]),
        "",
        "## By segment (worst first)",
        "",
        _table(report.segments, "segment"),
        "",
        "## By week the promise came due",
        "",
        _table(report.weeks.sort_index(), "week (Monday, UTC) the promise came due"),
        "",
        *(["![Promises kept by week](on_time_by_week.png)", ""] if len(report.weeks) else []),
    ]
    path = directory / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    (directory / "monitoring.json").write_text(
        json.dumps({"overall": o, "alerts": report.alerts}, indent=2), encoding="utf-8"
    )
    return path


REPORT_FILES = ("report.md", "monitoring.json", "on_time_by_week.png")
"""What :func:`write_report` writes: the report, its numbers, and the plot the report shows."""


def report_files(directory: Path) -> list[Path]:
    """The files :func:`write_report` wrote in ``directory`` (the plot only when there were
    weeks to draw), to be kept together: a report without the plot it embeds is broken."""
    return [directory / name for name in REPORT_FILES if (directory / name).exists()]


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1%}"


def week_axis(ax: Axes) -> None:
    """Dates on a plot's x axis as few as fit, without overlapping ('Nov 29' over 'Dec 1'):
    matplotlib's automatic locator with its concise labels (the year and month said once)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _table(frame: pd.DataFrame, first: str) -> str:
    rows = [f"| {first} | judged | on time | 95% interval |", "| --- | ---: | ---: | --- |"]
    for name, row in frame.iterrows():
        label = f"{name:%Y-%m-%d}" if isinstance(name, pd.Timestamp) else str(name)
        rows.append(
            f"| {label} | {int(row.judged):,} | {row.on_time_rate:.1%} | "
            f"{row.lower_95:.1%}–{row.upper_95:.1%} |"
        )
    return "\n".join(rows)


__all__ = [
    "REPORT_FILES",
    "PromiseReport",
    "promise_report",
    "report_files",
    "week_axis",
    "wilson_interval",
    "write_report",
]
