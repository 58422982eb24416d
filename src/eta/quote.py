"""Quotes: a promise, a likely time, an earliest time and a follow-up for each item, with the
risks behind them and the words to say it, in the customer's language and time zone.

A quote turns the calibrated finish-time distribution into moments a person can use: the promise
is the ``confidence`` quantile rounded *up* to what a person says (:mod:`eta.rounding`), the
likely time the median, the earliest the ``1 - confidence`` quantile, and the follow-up the moment
to get in touch if the item is not done: near the level halfway (in probability) between likely
and promise, inside business hours, before the promise. Times are measured on the spec's clock
from the item's effective start (after the cut-off, from the next opening). Items already in
progress are quoted from ``T | T > elapsed``, so a re-quote is never in the past and never earlier
than the item's first promise; an item past its promise gets a new one, an apology and
``escalate``.

Risk notes come from :mod:`eta.risks`, their words and the messages from :mod:`eta.messages`.
"""

from __future__ import annotations

import json
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd

from eta import messages, risks
from eta.data import START, parse_timestamps, segment_keys, write_table
from eta.localization import language
from eta.model import EtaModel
from eta.rounding import follow_up, round_promise
from eta.spec import DatasetSpec

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
"""The contract's columns, in order; :data:`DETAIL_COLUMNS` follow them."""
DETAIL_COLUMNS = (
    "agent_summary",
    "follow_up_message",
    "window_start",
    "window_end",
    "risk_notes",
    "escalate",
    "locale",
    "locale_note",
    "text_direction",
    "timezone",
    "segment",
    "likely_hours",
    "promise_hours",
    "elapsed_hours",
)
"""After the contract's columns. ``window_start``/``window_end`` are what the customer is told:
local *dates* (``datetime.date``) when promises are rounded to a date (deliveries), local
instants in the display time zone otherwise (tickets). ``risk_notes`` holds per item a ranked list
of ``{code, severity, customer_text, agent_text}``."""
PROMISED = "promised_at"
"""Optional item column: the promise the item was given earlier (judges whether it is overdue)."""
_INSTANTS = ("likely_at", "promise_at", "earliest_at", "follow_up_at")


def prepare_items(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Canonical item rows for quoting, and a per-row error ('' when the row is fine).

    Quotes keep one row per input row in the same order, so a bad row is answered with its
    error instead of being dropped. Missing feature columns are treated as unknown values.
    Optional columns: ``elapsed`` (clock hours already spent) and ``promised_at`` (the promise
    given earlier), both for re-quotes of items in progress.
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
    if PROMISED in raw.columns:
        items[PROMISED] = parse_timestamps(raw[PROMISED], spec.timezone)
        bad = items[PROMISED].isna() & raw[PROMISED].notna()
        error[bad & (error == "")] = f"column '{PROMISED}': unparseable timestamp"
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
    locale: str | None = None,
    timezone: str | None = None,
    features: pd.DataFrame | None = None,
    offsets: np.ndarray | None = None,
    online: bool = True,
) -> pd.DataFrame:
    """Quote canonical items (see :func:`prepare_items`); one row out per row in, same order.

    Parameters
    ----------
    confidence : promise level (default: the spec's).
    now : when the quote is given. Items that started earlier are in progress for the clock
        time since their effective start; an ``elapsed`` column (clock hours) does the same per
        item. Default: each item is quoted as it starts.
    locale : the customer's language ('en', 'bs', 'ru', 'fa', with or without a territory);
        None is English, an unknown one English with a ``locale_note``.
    timezone : IANA zone in which times are said (default: the spec's). The calendar stays the
        spec's: the team works its own hours wherever the customer is.
    features : precomputed model features (backtests pass those known at each start).
    offsets : online calibration's corrections per item (replay passes those it had at each
        start); ``online=False`` quotes without any.

    Returns
    -------
    pd.DataFrame
        :data:`QUOTE_COLUMNS` then :data:`DETAIL_COLUMNS`; instants in UTC.
    """
    spec = model.spec
    confidence = spec.confidence if confidence is None else confidence
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0.5 and 1 (got {confidence})")
    speech = language(locale)
    zone = _display_zone(timezone or spec.timezone)
    out = _unanswered(items, confidence, speech.locale, speech.note, speech.direction, zone)
    ok = items[START].notna().to_numpy()
    if not ok.any():
        return out
    clock = model.clock_
    good = items[ok]
    start = pd.DatetimeIndex(good[START])
    begin = clock.effective_start(start)
    elapsed = np.full(len(good), np.nan)
    if "elapsed" in good:
        elapsed = good["elapsed"].to_numpy(float)
    if now is not None:
        since = clock.hours_between(begin, pd.DatetimeIndex([now] * len(good)))
        elapsed = np.where(np.isnan(elapsed) & (since > 0), since, elapsed)
    in_progress = np.nan_to_num(elapsed) > 0

    features = model.features(good) if features is None else features[ok]
    predictive = model.predict(good, features)
    if offsets is not None:
        offsets = np.asarray(offsets, dtype=float)[ok]
    elif online:
        offsets = model.online_.offsets(predictive.segment)
    grid = np.tile([1.0 - confidence, 0.5, (0.5 + confidence) / 2, confidence], (len(good), 1))
    hours = predictive.hours(grid, elapsed, _shift(model, offsets, grid))
    # What a new item would get: its first promise (to judge overdue) and its tail.
    fresh_grid = np.tile([0.5, confidence, 0.97], (len(good), 1))
    fresh = predictive.hours(fresh_grid, None, _shift(model, offsets, fresh_grid))

    exact = [clock.add_hours(begin, hours[:, k]) for k in range(4)]
    earliest_at, likely_at = exact[0].ceil("min"), exact[1].ceil("min")
    promise_at = round_promise(clock, exact[3], spec.promise_rounding)
    reference = _reference(clock, start, begin, elapsed, now)
    lower = likely_at.where(likely_at >= reference.ceil("min"), reference.ceil("min"))
    follow_up_at = follow_up(clock, exact[2], lower, promise_at)

    # The promise the item was given: as the caller says, or the one a new item gets.
    promised_at = round_promise(clock, clock.add_hours(begin, fresh[:, 1]), spec.promise_rounding)
    if PROMISED in good:
        given = pd.DatetimeIndex(good[PROMISED])
        promised_at = given.where(given.notna(), promised_at)
    facts = risks.QuoteFacts(
        good, features, predictive, begin, reference, promise_at, elapsed, promised_at,
        clock.hours_between(begin, promised_at), fresh[:, [0, 2]],
    )  # fmt: skip
    findings = risks.assess(model, facts)
    escalate = np.array([any(f.code == "overdue" for f in notes) for notes in findings])
    words = messages.compose(
        messages.Speaker(speech, spec, zone, reference),
        earliest=earliest_at,
        likely=likely_at,
        promise=promise_at,
        follow_up=follow_up_at,
        in_progress=in_progress,
        elapsed=elapsed,
        escalate=escalate,
        segments=predictive.segment,
        findings=findings,
        confidence=confidence,
    )

    answers = {
        "likely_at": likely_at,
        "promise_at": promise_at,
        "earliest_at": earliest_at,
        "follow_up_at": follow_up_at,
        "risk_codes": [",".join(f.code for f in notes) for notes in findings],
        **words,
        "escalate": escalate,
        "segment": predictive.segment,
        "likely_hours": hours[:, 1],
        "promise_hours": hours[:, 3],
        "elapsed_hours": elapsed,
    }
    by_date = spec.promise_rounding == "date"
    for name, values in (("window_start", earliest_at), ("window_end", promise_at)):
        local = values.tz_convert(zone)
        if by_date:
            answers[name] = list(local.date)
        else:
            out[name] = pd.Series(pd.NaT, index=out.index, dtype=local.dtype)
            answers[name] = local
    for name, values in answers.items():
        out[name] = _place(out[name], ok, values)
    return out


def write_quotes(quotes: pd.DataFrame, path: str | Path) -> None:
    """Write quotes as CSV or Parquet; in CSV, list-valued columns are JSON text."""
    if Path(path).suffix.lower() in {".parquet", ".pq"}:
        write_table(quotes, path)
        return
    flat = quotes.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, list | dict)).any():
            flat[column] = flat[column].map(lambda v: json.dumps(v, ensure_ascii=False))
    write_table(flat, path)


def _unanswered(
    items: pd.DataFrame, confidence: float, locale: str, note: str, direction: str, zone: str
) -> pd.DataFrame:
    """The output frame with every row unanswered (rows with an error stay that way)."""
    index = items.index
    out = pd.DataFrame(index=index)
    out["id"] = items["id"] if "id" in items else pd.Series(range(len(items)), index=index)
    for column in _INSTANTS:
        out[column] = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    out["confidence"] = confidence
    for column in ("risk_codes", "customer_message", "agent_summary", "follow_up_message"):
        out[column] = ""
    out["window_start"] = pd.Series(None, index=index, dtype=object)
    out["window_end"] = pd.Series(None, index=index, dtype=object)
    out["risk_notes"] = pd.Series([[] for _ in range(len(index))], index=index, dtype=object)
    out["escalate"] = False
    out["locale"], out["locale_note"], out["text_direction"] = locale, note, direction
    out["timezone"] = zone
    out["segment"] = pd.Series(None, index=index, dtype=object)
    for column in ("likely_hours", "promise_hours", "elapsed_hours"):
        out[column] = np.nan
    return out


def _display_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Europe/Sarajevo'") from exc
    return name


def _shift(model: EtaModel, offsets: np.ndarray | None, levels: np.ndarray) -> np.ndarray | None:
    return None if offsets is None else model.online_.shift(offsets, levels)


def _reference(clock, start, begin, elapsed, now) -> pd.DatetimeIndex:
    """When each quote is given: ``now``; else when ``elapsed`` hours had passed; else the
    item's start. "Today" and "tomorrow" are said relative to it."""
    if now is not None:
        return pd.DatetimeIndex([pd.Timestamp(now)] * len(start)).tz_convert("UTC")
    measured = clock.add_hours(begin, np.nan_to_num(elapsed))
    return start.where(~(np.nan_to_num(elapsed) > 0), measured)


def _place(column: pd.Series, ok: np.ndarray, values: object) -> pd.Series:
    """``column`` with the quoted rows (positions where ``ok``) set to ``values``, in order.

    Positional, so duplicate index labels in the caller's items are no problem; object columns
    take per-item objects (lists of risk notes, dates) as they are."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        data = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(copy=True)
        data[ok] = pd.DatetimeIndex(values).tz_convert("UTC").tz_localize(None).to_numpy()
        local = pd.DatetimeIndex(data).tz_localize("UTC").tz_convert(column.dtype.tz)
        return pd.Series(local, index=column.index, name=column.name)
    data = column.to_numpy(copy=True)
    if data.dtype == object:
        for position, value in zip(np.flatnonzero(ok), values, strict=True):
            data[position] = value
    else:
        data[ok] = values
    return pd.Series(data, index=column.index, dtype=column.dtype, name=column.name)


__all__ = ["DETAIL_COLUMNS", "QUOTE_COLUMNS", "prepare_items", "quote_items", "write_quotes"]
