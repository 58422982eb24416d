"""What looks wrong with a history that loaded, though no single row is to blame.

Loading rejects bad rows (:mod:`eta.data`); an export can still be wrong as a whole: a finish in
the wrong year that makes every open item old, cancelled items left open, a column the export
lost, open items filtered out. :func:`doubts` says so in words for ``eta train`` and
``eta backtest`` to print; nothing is dropped or repaired here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eta.calendar import Clock, utc_nanoseconds, wall_nanoseconds
from eta.censoring import censoring_survival
from eta.data import (
    AFTER_TODAY,
    END,
    FINISHED,
    HOURS,
    MISSING,
    REOPENED,
    SEEN,
    START,
    History,
)
from eta.tables import row_places, some_of

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

OUTSIDE_HOURS_FINISHES = 0.5
"""A group of a history's items (a value of a segment column, or all of them) with at least this
share of its finishes while the calendar is closed is worked outside its hours: a business clock
does not count that work, and a wall-clock history is not worked only in its hours."""

FEW_HOURS_OF_THE_WEEK = 0.5
"""Items whose finishes (:data:`WORKING_HOURS_FINISHES` of them) fall in at most this share of
the week's 168 hours are worked in hours of their own (see :func:`_hours_of_their_own`)."""

ONE_TIME_OF_DAY = 0.95
"""Share of finishes at one local time of day that says they were written as dates alone."""
ROUNDING_HOURS = {"date": 24.0, "day": 24.0, "hour": 1.0}
"""About how much a promise can be pushed later by each ``rounding`` of the spec."""
COARSE_ROUNDING = 4.0
"""Promises rounded to a unit this many times longer than half the items take are doubted."""

MIN_ROWS_TO_DOUBT = 100
"""A feature column is doubted for being empty or constant only in a history this long: in a
handful of rows one value everywhere can be true."""


LATEST_SHARE = 0.1
"""The latest items, as a share of the history's rows, in which a column is watched for having
been emptied (see :func:`doubts`)."""
EMPTIED_SHARE = 0.9
"""A column missing in this share of the latest items, and in at most half of the others,
looks emptied by the export."""

SKEW_FINISHES = 200
"""Finishes in each of summer and winter time before :func:`_summer_skew` compares them."""
SKEW_FACTOR = 3.0
"""...and how many times more often one season's fall while the calendar is closed."""
RENAMED_FROM_VALUES = 50
"""A category column with more values than this (sellers, stores) sees values come and go as
a business does, and is not doubted for a renamed one."""
RENAMED_ITEMS = 20
"""A value is missed once this many of its items would have started since its last one (and a
new value has had this many): fewer could be chance."""


def doubts(history: History, *, as_of_given: bool) -> list[str]:
    """What looks wrong with a history that loaded, in words: things no single row is to blame
    for, which would still make every promise wrong, or that loading repaired.

    * A spec without a timezone: UTC's, which an outside harness's Warsaw pallets were read
      in without a word (their promises' days and hours a UTC calendar's).
    * A default as-of time (the latest timestamp) long after the latest start: one finish
      typed in the wrong year makes every open item that much older.
    * Open items older than anything that finished: cancelled or abandoned items an export
      left open (3% of an e-commerce history's orders) sit in every backlog since their start
      and, censored, say that some items take longer than anything seen.
    * A feature column empty or the same in every row: an export that lost it (all 'n/a', all
      0) trains a model that quietly ignores it, and the owner of the export should know.
    * Category values that differ only in case ('High', 'high', 'HIGH'): loading took them as
      one (:func:`~eta.data.one_spelling`); the owner of the export should know, and may fix
      the source.
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
    * The clock against when items finish: a wall clock's calendar that nearly every finish
      falls inside (:func:`_finishes_in_working_hours`), and items, a segment's value or all,
      that mostly finish while the calendar is closed (:func:`_worked_outside_hours`).
    """
    frame = history.frame
    said = []
    if "timezone" not in history.spec.model_fields_set:
        said.append(
            "the spec names no timezone, so its calendar's days, hours and holidays are UTC's, "
            "and so is every timestamp written without an offset; name the business's zone "
            "('timezone: Europe/Warsaw') unless UTC is meant"
        )
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
            elif (emptied := _emptied_lately(values, frame[START])) is not None:
                since, latest, before = emptied
                said.append(
                    f"{column}: missing in {latest:.0%} of the items that started since "
                    f"{since:%Y-%m-%d}, against {before:.0%} before; did the export stop "
                    "filling it? The model learnt from it, and items quoted without it are "
                    "promised from their other columns alone"
                )
    for column in history.spec.features.categorical:
        if len(frame) >= MIN_ROWS_TO_DOUBT and (renamed := _renamed(frame[column], frame[START])):
            gone, since, came = renamed
            said.append(
                f"{column}: {gone!r} stopped at {since:%Y-%m-%d} and {came!r} began then; renamed? "
                f"The model learns {came!r} from its few items since and quotes {gone!r} from "
                "the items before: write one name for both in the export, or retrain later"
            )
    for column, merged in history.respelled.items():
        shown = "; ".join(f"{k!r} for {' / '.join(map(repr, v))}" for k, v in [*merged.items()][:3])
        said.append(
            f"{column}: values that differ only in case are taken as one, written as most rows "
            f"write them ({shown}{'; ...' if len(merged) > 3 else ''})"
        )
    said.extend(_read_as_open(history))
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
    said.extend(_clock_doubts(history))
    if (coarse := _coarse_rounding(history)) is not None:
        said.append(coarse)
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


def _coarse_rounding(history: History) -> str | None:
    """Promises rounded to a unit far longer than the items take: a grocery's 30-minute
    orders, a delivery history whose default rounding is the date, were each promised "by the
    end of today" (99.4% kept, the mean promise eight hours)."""
    spec, frame = history.spec, history.frame
    unit = ROUNDING_HOURS.get(spec.promise_rounding)
    finished = frame[FINISHED].to_numpy(bool)
    if unit is None or not finished.any():
        return None
    half = float(np.median((frame[END] - frame[START])[finished] / pd.Timedelta(hours=1)))
    if half * COARSE_ROUNDING >= unit:
        return None
    took = f"{half * 60:,.0f} minutes" if half < 1 else f"{half:,.1f} hours"
    default = "" if spec.rounding else f", the default for kind: {spec.kind}"
    finer = "minute" if half < 1 else "hour"
    span = "hour" if unit <= 1 else "day"
    return (
        f"half the finished items took {took} or less, but promises are rounded to the "
        f"{spec.promise_rounding} (rounding: {spec.promise_rounding}{default}), so an item "
        f"that takes {took} is promised up to a whole {span} later; set 'rounding: {finer}' "
        "in the spec"
    )


def _renamed(values: pd.Series, starts: pd.Series) -> tuple[str, pd.Timestamp, str] | None:
    """A value that stopped though :data:`RENAMED_ITEMS` of its items would have started since,
    at its share of the items before, and one that began within a day of its last item (before
    or after), has
    had as many and takes about the same share (half to twice): a tester's export renamed
    'Billing' (a quarter of its tickets) to 'billing & payments', which a retrain took as a new
    queue, without a word, and it refused a better model. The first such pair, by the stopped
    value's size."""
    order = np.argsort(starts.to_numpy(), kind="stable")
    codes, uniques = pd.factorize(values.iloc[order], use_na_sentinel=True)
    names = np.asarray(uniques, dtype=object)
    if len(names) > RENAMED_FROM_VALUES:
        return None
    ns = starts.iloc[order].to_numpy("datetime64[ns]").astype(np.int64)
    known = (codes >= 0) & ~np.isin(codes, np.flatnonzero(names == MISSING))
    if not known.any():
        return None
    n, day = len(codes), 86_400 * 10**9
    code, at = codes[known], np.flatnonzero(known)
    count = np.bincount(code, minlength=len(names))
    first = np.full(len(names), n)
    np.minimum.at(first, code, at)
    last = np.zeros(len(names), dtype=np.int64)
    np.maximum.at(last, code, at)
    up_to = last + 1
    share = count / up_to
    began_at = ns[np.minimum(first, n - 1)]
    later_share = count / np.maximum(n - first, 1)
    for gone in np.argsort(-count, kind="stable"):
        if share[gone] * (n - up_to[gone]) < RENAMED_ITEMS:
            continue
        stopped = ns[last[gone]]
        began = (
            (count >= RENAMED_ITEMS)
            & (np.abs(began_at - stopped) <= day)
            & (later_share >= 0.5 * share[gone])
            & (later_share <= 2.0 * share[gone])
        )
        began[gone] = False
        if began.any():
            came = np.flatnonzero(began)[np.argmax(count[began])]
            return str(names[gone]), pd.Timestamp(stopped, tz="UTC"), str(names[came])
    return None


def _emptied_lately(
    values: pd.Series, starts: pd.Series
) -> tuple[pd.Timestamp, float, float] | None:
    """When a column is missing in nearly all of the latest items (:data:`LATEST_SHARE` of the
    rows, by start) and was mostly filled before: the first of those starts, and the shares
    missing in them and before. A tester's export lost its SLA tier for the last 90 days: every
    tier was promised alike, gold at 1.9 times its true P90, bronze kept 81%, and nothing
    said why."""
    latest = max(int(len(values) * LATEST_SHARE), 1)
    missing = values.isna().to_numpy(bool)
    now, before = missing[-latest:].mean(), missing[:-latest].mean()
    if now < EMPTIED_SHARE or before > 0.5:
        return None
    return starts.iloc[-latest], float(now), float(before)


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


def _clock_doubts(history: History) -> list[str]:
    """The clock against when items finish (see :func:`doubts`); nothing when the finishes
    carry no time of day (:func:`_dates_alone`)."""
    said: list[str] = []
    if (alone := _dates_alone(history)) is not None:
        return [alone]
    closed = _closed_finishes(history)
    if (skew := _summer_skew(history, closed)) is not None:
        said.append(skew)
    outside, apart = _worked_outside_hours(history, closed)
    worked = _finishes_in_working_hours(history, closed, apart)
    if worked is not None:
        inside, open_share = worked
        said.append(
            f"{inside:.0%} of {'the other ' if outside else ''}finished items finished while the "
            f"calendar is open, which it is "
            f"{open_share:.0%} of the time; if the work is done only then, 'clock: business' "
            "in the spec counts the hours it is done in. 'clock: wall' counts every night and "
            "weekend an item waits into its duration, and its promises hold less well for items "
            "started shortly before the calendar opens"
            + (f"; but {outside} finish while it is closed: {_OWN_SPEC}" if outside else "")
        )
    elif outside and history.spec.clock == "business":
        said.append(
            f"{outside} finish while the calendar is closed; 'clock: business' counts only its "
            f"hours, so their work outside them counts as none and their promises run to its "
            f"opening: {_OWN_SPEC} (or 'clock: wall')"
        )
    if (own := _hours_of_their_own(history)) is not None:
        said.append(own)
    return said


def _dates_alone(history: History) -> str | None:
    """Said when the finishes were written as dates alone: :data:`ONE_TIME_OF_DAY` of them or
    more at one local time of day (each date's end, :func:`eta.timestamps.parse_finishes`).
    When in the day items finish is then unknown: read as known, an outside harness's order
    desk was told that 100% of its finishes fell while its calendar was closed, and to use a
    wall clock."""
    frame = history.frame
    ends = frame.loc[frame[FINISHED].to_numpy(bool), END].dt.tz_convert(history.spec.timezone)
    if ends.empty:
        return None
    share = (ends.dt.strftime("%H:%M").value_counts(normalize=True)).head(1)
    if share.iloc[0] < ONE_TIME_OF_DAY or share.index[0] != "23:59":
        return None
    return (
        f"{share.iloc[0]:.0%} of the finishes are dates without a time of day, each read as "
        "the end of its date: durations run to the end of the day an item finished, and the "
        "hours items finish in are unknown (export the finishes with their time if you have it)"
    )


def _summer_skew(history: History, closed: np.ndarray) -> str | None:
    """When finishes fall while the calendar is closed far more often in summer time than in
    winter time (or the other way round): a column written in UTC, or in another zone, while
    the spec reads it as local is an hour off in one season only. A tester's export wrote its
    finishes in UTC: 12% of London's summer finishes fell before the desk opened, 1% of its
    winter ones, and training said nothing."""
    frame = history.frame
    finished = frame[FINISHED].to_numpy(bool)
    if finished.sum() < 2 * SKEW_FINISHES:
        return None
    ends = utc_nanoseconds(frame.loc[finished, END])
    offset = wall_nanoseconds(ends, history.spec.timezone) - ends
    summer = offset > offset.min()
    shut = closed[finished]
    if min(summer.sum(), (~summer).sum()) < SKEW_FINISHES:
        return None
    rates = shut[summer].mean(), shut[~summer].mean()
    high, low = max(rates), min(rates)
    pooled = shut.mean()
    error = np.sqrt(pooled * (1 - pooled) * (1 / summer.sum() + 1 / (~summer).sum()))
    if high < SKEW_FACTOR * low + 0.02 or high - low < 4.0 * max(error, 1e-12):
        return None
    season = ("summer", "winter") if rates[0] > rates[1] else ("winter", "summer")
    return (
        f"{history.spec.end}: {high:.0%} of the finishes in {season[0]} time fall while the "
        f"calendar is closed, against {low:.0%} in {season[1]} time; is the column written in "
        f"UTC or another zone, while the spec reads it in {history.spec.timezone}? An hour "
        "off in one season makes those items an hour longer or shorter"
    )


def _closed_finishes(history: History) -> np.ndarray:
    """Per row, whether the item finished while the calendar was closed (no business time in
    the minute before its finish); False for an open item."""
    spec, frame = history.spec, history.frame
    finished = frame[FINISHED].to_numpy(bool)
    closed = np.zeros(len(frame), dtype=bool)
    if finished.any():
        business = Clock(spec.calendar, spec.timezone, "business")
        ends = frame.loc[finished, END]
        closed[finished] = business.hours_between(ends - pd.Timedelta(minutes=1), ends) == 0
    return closed


def _finishes_in_working_hours(
    history: History, closed: np.ndarray, apart: np.ndarray | None = None
) -> tuple[float, float] | None:
    """On a wall clock whose calendar is closed most of the time: the share of finishes inside
    its working hours and the share of the time it is open, if the first is
    :data:`WORKING_HOURS_FINISHES` or more; else ``None``.

    A team working Monday to Friday, 09:00-17:00, exported with ``clock: wall``: a ticket opened
    at 08:30 has its night early in the work, one opened at 16:30 late, and a promise shaped on
    both at once held 86-89% of the first kind's (on simulated such tickets, three seeds).
    A calendar open half the time or more is not doubted: finishes inside a round-the-clock
    calendar (flights', closed on holidays only) say nothing about when work is done. Items
    ``apart`` (worked outside the hours, :func:`_worked_outside_hours`) are left out;
    ``closed``: :func:`_closed_finishes`."""
    spec, frame = history.spec, history.frame
    if spec.clock != "wall":
        return None
    rows = frame[FINISHED].to_numpy(bool)
    if apart is not None:
        rows = rows & ~apart
    if rows.sum() < MIN_ROWS_TO_DOUBT:
        return None
    open_share = _open_share(history, frame.loc[rows, END].max())
    if open_share > 0.5:
        return None
    inside = 1.0 - float(closed[rows].mean())
    return (inside, open_share) if inside >= WORKING_HOURS_FINISHES else None


def _open_share(history: History, last: pd.Timestamp) -> float:
    """The share of the time from the history's first start to ``last`` that its calendar is
    open."""
    spec, first = history.spec, history.frame[START].min()
    business = Clock(spec.calendar, spec.timezone, "business")
    wall_hours = (last - first) / pd.Timedelta(hours=1)
    return float(business.hours_between([first], [last])[0]) / max(wall_hours, 1e-9)


_OWN_SPEC = (
    "if they are worked round the clock, train them with a spec of their own that says their hours"
)


def _worked_outside_hours(
    history: History, closed: np.ndarray
) -> tuple[str | None, np.ndarray | None]:
    """Which items finish mostly while the calendar is closed (at least
    :data:`OUTSIDE_HOURS_FINISHES` of their finishes), in words ("items of priority=P1 (71% of
    their finishes)"): all items, or else each value of a segment column with
    :data:`MIN_ROWS_TO_DOUBT` finishes or more; and which rows they are. ``None`` when there are
    none, or the calendar never closes. ``closed``: :func:`_closed_finishes`.

    An IT desk whose P1 incidents are worked round the clock and the rest Monday to Friday,
    08:00-18:00, under ``clock: business``: 70% of the P1 finishes fell while closed and 59%
    took no business hours; its P1 promises were 1.4 times the true P90 ("by 9:00 AM" the next
    working day) and still kept 85%, and nothing was said. Under ``clock: wall``, the advice
    to count business hours took in the P1 incidents with the rest."""
    spec, frame = history.spec, history.frame
    finished = frame[FINISHED].to_numpy(bool)
    if finished.sum() < MIN_ROWS_TO_DOUBT:
        return None, None
    closed = closed[finished]
    if not closed.any():
        return None, None
    if closed.mean() >= OUTSIDE_HOURS_FINISHES:
        return f"most items ({closed.mean():.0%} of the finishes)", finished
    said, apart = [], np.zeros(len(frame), bool)
    for column in spec.segments:
        values = frame[column].to_numpy()
        shares = pd.Series(closed).groupby(values[finished]).agg(["mean", "size"])
        worked = shares[
            (shares["size"] >= MIN_ROWS_TO_DOUBT) & (shares["mean"] >= OUTSIDE_HOURS_FINISHES)
        ]
        for value, share in worked["mean"].items():
            said.append(f"{column}={value} ({share:.0%} of their finishes)")
        apart |= np.isin(values, worked.index.to_numpy())
    return (f"items of {', '.join(said)}", apart) if said else (None, None)


def _hours_of_their_own(history: History) -> str | None:
    """Items that finish only in a few hours of the week (:data:`WORKING_HOURS_FINISHES` of
    their finishes in at most :data:`FEW_HOURS_OF_THE_WEEK` of its hours), on a calendar open
    most of the time: all of them, or each value of a segment column with
    :data:`MIN_ROWS_TO_DOUBT` finishes or more. ``None`` when there are none.

    A city's service requests under one round-the-clock spec: the police's finished at any
    hour, the housing and building departments' only on weekdays, 09:00-17:00. Their promises
    fell outside those hours three times in four ("by Sunday at 4:00 AM") and were 2.8-3.5 times
    their true P90 for building inspections; a spec of their own with their office hours and
    ``clock: business`` made those 2.0 times, and nothing had said so."""
    spec, frame = history.spec, history.frame
    finished = frame[FINISHED].to_numpy(bool)
    if finished.sum() < MIN_ROWS_TO_DOUBT:
        return None
    if _open_share(history, frame.loc[finished, END].max()) <= 0.5:
        return None  # a calendar closed most of the time: _finishes_in_working_hours
    local = frame.loc[finished, END].dt.tz_convert(spec.timezone)
    hour = (local.dt.day_of_week * 24 + local.dt.hour).to_numpy()

    def hours_needed(rows: np.ndarray) -> int:
        """The fewest hours of the week that hold the share of these finishes."""
        counts = np.sort(np.bincount(hour[rows], minlength=168))[::-1]
        return int(np.searchsorted(np.cumsum(counts), WORKING_HOURS_FINISHES * rows.sum()) + 1)

    few = FEW_HOURS_OF_THE_WEEK * 168
    every = np.ones(len(hour), bool)
    groups = [("finished items", every)] if hours_needed(every) <= few else []
    for column in spec.segments if not groups else ():
        values = frame.loc[finished, column].to_numpy()
        for value in pd.unique(values):
            rows = values == value
            if rows.sum() >= MIN_ROWS_TO_DOUBT and (needed := hours_needed(rows)) <= few:
                groups.append((f"{column}={value} ({needed} hours)", rows))
    if not groups:
        return None
    if groups[0][1] is every:
        needed = hours_needed(every)
        return (
            f"{WORKING_HOURS_FINISHES:.0%} of finished items finished in {needed} of the week's "
            "168 hours, though the calendar is open most of the time; if the work is done only "
            "then, give the calendar those hours and say 'clock: business' in the spec"
        )
    named = ", ".join(name for name, _ in groups)
    return (
        f"items of {named} finish in few hours of the week ({WORKING_HOURS_FINISHES:.0%} of "
        "their finishes in the hours given, of its 168), though the calendar is open most of the "
        "time; if they are worked only then, train them with a spec of their own that says "
        "their hours and 'clock: business'"
    )


def _expected_open(durations: pd.Series, ages: pd.Series) -> float:
    """How many items would be open at the export time, from finished items only: an item
    that finished at age ``a`` stands for ``1 / F(a)`` items started then, ``S(a) / F(a)`` of
    them still running (inverse probability weighting, with ``F`` the durations' distribution)."""
    taken = np.sort(durations.to_numpy("timedelta64[ns]").astype(np.int64))
    done = np.searchsorted(taken, ages.to_numpy("timedelta64[ns]").astype(np.int64), "right")
    share = done[done > 0] / len(taken)
    return float(((1 - share) / share).sum())


def _read_as_open(history: History) -> list[str]:
    """Finishes and last looks that were not believed (:attr:`History.read_as_open`), per
    column and why, with the values written and where the first one is."""
    said = []
    grouped = history.read_as_open.groupby(["column", "why"], sort=False)
    for (column, why), rows in grouped:
        first = rows.iloc[0]
        place = row_places(history.source, [first["row"]])[first["row"]]
        if why == REOPENED:
            values = sorted(rows["written"].str.strip().unique())
            said.append(
                f"{len(rows):,} item(s) have a finish but a status that is not done "
                f"({some_of([repr(v) for v in values])}; "
                f"e.g. {place}), so they count as still open (reopened?)"
            )
            continue
        if why == AFTER_TODAY:
            days = rows["at"].dt.tz_convert(history.spec.timezone).dt.strftime("%Y-%m-%d")
            where = "after the export time and after today"
        else:
            days = rows["written"].str.strip()
            where = "at a date systems write for no date"
        shown = sorted(days.unique())
        finish = column == history.spec.end
        counted = "still open" if finish else "seen at the export time"
        asked = "typos or placeholders?" if why == AFTER_TODAY else "placeholders?"
        said.append(
            f"{len(rows):,} {'item(s) finish' if finish else 'open item(s) were last seen'} "
            f"{where} ({some_of(shown)}; e.g. "
            f"{place}, "
            f"{column} {first['written']!r}), so they count as {counted}; {asked}"
            + (" Leave the cell empty for an item still open" if finish else "")
        )
    return said
