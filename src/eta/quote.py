"""Quotes: likely time, promise, earliest time and follow-up for each item, as instants.

A quote turns the calibrated finish-time distribution into moments a person can use: the promise is
the ``confidence`` quantile, the likely time the median, the earliest the ``1 - confidence``
quantile, and the follow-up the moment halfway (in probability) between likely and promise, when
the agent should get in touch if the item is not done. Times are measured on the spec's clock from
the item's effective start (after the cut-off, from the next opening) and only ever rounded later.
Items already in progress are quoted from ``T | T > elapsed`` so a re-quote never lies in the past.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.data import START, parse_timestamps, segment_keys
from eta.model import EtaModel
from eta.spec import WEEKDAYS, DatasetSpec

QUOTE_COLUMNS = (
    "id",
    "likely_at",
    "promise_at",
    "earliest_at",
    "follow_up_at",
    "confidence",
    "risk_codes",
    "customer_message",
)
"""The contract's columns, in order; more follow them (segment, hours, error)."""


def prepare_items(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Canonical item rows for quoting, and a per-row error ('' when the row is fine).

    Quotes keep one row per input row in the same order, so a bad row is answered with its
    error instead of being dropped. Missing feature columns are treated as unknown values.
    """
    items = pd.DataFrame(index=raw.index)
    error = pd.Series("", index=raw.index, dtype=object)
    if spec.start not in raw.columns:
        raise KeyError(f"items have no '{spec.start}' column (the spec's start column)")
    items[START] = parse_timestamps(raw[spec.start], spec.timezone)
    error[items[START].isna()] = f"column '{spec.start}': missing or unparseable timestamp"
    for column in spec.features.categorical:
        values = raw[column] if column in raw.columns else pd.Series(pd.NA, index=raw.index)
        items[column] = values.astype("string").fillna("(missing)")
    for column in spec.features.numeric:
        values = raw[column] if column in raw.columns else pd.Series(np.nan, index=raw.index)
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
        bad = numbers.isna() & values.notna() & (values.astype("string").str.strip() != "")
        error[bad & (error == "")] = f"column '{column}': not a number"
        items[column] = numbers
    if "elapsed" in raw.columns:
        items["elapsed"] = pd.to_numeric(raw["elapsed"], errors="coerce")
    if spec.id:
        items["id"] = raw[spec.id] if spec.id in raw.columns else pd.NA
    items["segment"] = segment_keys(items, spec)
    items.loc[error != "", START] = pd.NaT  # a row with an error is answered, not guessed at
    return items, error


def quote_items(
    model: EtaModel,
    items: pd.DataFrame,
    *,
    confidence: float | None = None,
    now: pd.Timestamp | None = None,
    features: pd.DataFrame | None = None,
    offsets: np.ndarray | None = None,
    online: bool = True,
) -> pd.DataFrame:
    """Quote canonical items (see :func:`prepare_items`); one row out per row in, same order.

    ``now`` makes items that started earlier "in progress" for the clock time since their
    effective start; an ``elapsed`` column (clock hours) does the same per item. ``offsets``
    overrides online calibration's corrections per item (replay passes those it had at each
    start); ``online=False`` quotes without any.
    """
    confidence = model.spec.confidence if confidence is None else confidence
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0.5 and 1 (got {confidence})")
    clock = model.clock_
    ok = items[START].notna().to_numpy()
    out = pd.DataFrame(index=items.index)
    out["id"] = items["id"] if "id" in items else pd.Series(range(len(items)), index=items.index)
    for column in ("likely_at", "promise_at", "earliest_at", "follow_up_at"):
        out[column] = pd.Series(pd.NaT, index=items.index, dtype="datetime64[ns, UTC]")
    out["confidence"] = confidence
    out["risk_codes"] = ""
    out["customer_message"] = ""
    if not ok.any():
        return out
    good = items[ok]
    begin = clock.effective_start(good[START])
    elapsed = np.full(len(good), np.nan)
    if "elapsed" in good:
        elapsed = good["elapsed"].to_numpy(float)
    if now is not None:
        since = clock.hours_between(begin, pd.DatetimeIndex([now] * len(good)))
        elapsed = np.where(np.isnan(elapsed) & (since > 0), since, elapsed)
    grid = np.array([[1.0 - confidence, 0.5, (0.5 + confidence) / 2, confidence]] * len(good))
    predictive = model.predict(good, None if features is None else features[ok])
    if offsets is not None:
        offsets = np.asarray(offsets, dtype=float)[ok]
    elif online:
        offsets = model.online_.offsets(predictive.segment)
    shift = None if offsets is None else model.online_.shift(offsets, grid)
    hours = predictive.hours(grid, elapsed, shift)
    fresh = hours[:, -1]  # the promise a new item would get; differs only for items under way
    if np.any(elapsed > 0):
        promise_shift = None if shift is None else shift[:, -1:]
        fresh = predictive.hours(grid[:, -1:], None, promise_shift)[:, 0]
    instants = {
        name: _ceil_minute(clock.add_hours(begin, hours[:, k]))
        for k, name in enumerate(("earliest_at", "likely_at", "follow_up_at", "promise_at"))
    }
    for name, values in instants.items():
        out.loc[ok, name] = values
    out.loc[ok, "segment"] = predictive.segment
    out.loc[ok, "likely_hours"] = hours[:, 1]
    out.loc[ok, "promise_hours"] = hours[:, 3]
    out.loc[ok, "elapsed_hours"] = elapsed
    codes = _risk_codes(
        model, good, predictive.segment, instants["promise_at"], hours, elapsed, fresh
    )
    out.loc[ok, "risk_codes"] = codes
    out.loc[ok, "customer_message"] = _messages(
        instants["likely_at"],
        instants["promise_at"],
        instants["follow_up_at"],
        codes,
        model.spec.timezone,
    )
    return out


def _ceil_minute(values: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Promises are only ever rounded later, never earlier."""
    return pd.DatetimeIndex(values).ceil("min")


def _risk_codes(
    model: EtaModel,
    items: pd.DataFrame,
    segments: np.ndarray,
    promise: pd.DatetimeIndex,
    hours: np.ndarray,
    elapsed: np.ndarray,
    fresh_promise: np.ndarray,
) -> list[str]:
    clock = model.clock_
    first = clock.local(items[START]).normalize().tz_localize(None).to_numpy("datetime64[D]")
    last = clock.local(promise).normalize().tz_localize(None).to_numpy("datetime64[D]")
    span = (last - first).astype(int) + 1
    holiday_dates = [d for d, _ in clock.holidays_between(items[START].min(), promise.max())]
    holidays = np.array(sorted(holiday_dates), dtype="datetime64[D]")
    n_holidays = np.searchsorted(holidays, last, "right") - np.searchsorted(holidays, first, "left")
    weekmask = [d in model.spec.calendar.days for d in WEEKDAYS]
    working = np.busday_count(first, last + 1, weekmask=weekmask)
    weekend = span - working > 0
    codes: list[list[str]] = [[] for _ in range(len(items))]
    flags = {
        "holiday_in_window": n_holidays > 0,
        "weekend_in_window": weekend & (model.spec.clock == "business"),
        "after_cutoff": clock.after_cutoff(items[START]),
        "thin_history": np.array(
            [not s.startswith(f"{len(model.spec.segments)}:") for s in segments]
        )
        & bool(model.spec.segments),
        "long_tail": hours[:, 3] > 3.0 * hours[:, 1],
        "overdue": np.nan_to_num(elapsed) > fresh_promise,
    }
    for code, mask in flags.items():
        for i in np.flatnonzero(mask):
            codes[i].append(code)
    return [",".join(c) for c in codes]


_RISK_SENTENCES = {
    "overdue": "This is taking longer than we promised, and we are sorry; it has been escalated.",
    "holiday_in_window": "There is a public holiday in this period, so it may take the full time.",
    "after_cutoff": "It came in after today's cut-off, so work starts on the next working day.",
    "weekend_in_window": "The weekend falls in this period, so it may take the full time.",
    "long_tail": "Requests like this one sometimes take longer.",
}


_DAYS = np.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])
_MONTHS = np.array(
    [
        "",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
)


def _say(instants: pd.DatetimeIndex, tz: str) -> list[str]:
    """'Tuesday 03 March 14:00' for each instant, built from parts (strftime is 10x slower)."""
    local = instants.tz_convert(tz)
    return [
        f"{d} {day:02d} {m} {h:02d}:{mi:02d}"
        for d, day, m, h, mi in zip(
            _DAYS[local.day_of_week],
            local.day,
            _MONTHS[local.month],
            local.hour,
            local.minute,
            strict=True,
        )
    ]


def _messages(
    likely: pd.DatetimeIndex,
    promise: pd.DatetimeIndex,
    follow: pd.DatetimeIndex,
    codes: list[str],
    tz: str,
) -> list[str]:
    """Plain English sentences; localized, richer wording comes with the quotes issue."""
    text = [_say(likely, tz), _say(promise, tz), _say(follow, tz)]
    # The most important risk is said (the sentences are listed in order of importance).
    risks = [
        next((text + " " for c, text in _RISK_SENTENCES.items() if c in code.split(",")), "")
        for code in codes
    ]
    return [
        f"Most likely by {a}, and at the latest {b}. {r}We'll update you by {c}."
        for a, b, c, r in zip(*text, risks, strict=True)
    ]
