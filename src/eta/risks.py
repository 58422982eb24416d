"""Risk notes: what could get in the way of a promise, for each quoted item, ranked.

Each finding has a stable ``code``, a ``severity`` and the ``facts`` behind it (dates, counts,
rates); :mod:`eta.messages` turns them into words a customer can hear and an agent can act on.
Detection is vectorised over a batch of items and uses only what was known when the quote is
made: the calendar, the item's features, what was usual in the history the model learned from
(:class:`eta.usual.Usual`), the live on-time rate of online calibration, and LightGBM's
per-prediction contributions to the promise.

Codes, most important first (the order ranks notes of equal severity):

=========================  ========  ==========================================================
``overdue``                high      the item is past the promise it was given
``promise_moved``          medium    a re-quote's promise is later than the one the customer
                                     was told, which has not passed yet
``holiday_in_window``      medium    a public holiday on a working weekday before a promise
                                     at most six weeks away
``after_cutoff``           medium    started after the cut-off: work starts the next working day
``peak_season``            medium    the window meets weeks that were slower or busier in
                                     every earlier year
``busier_than_usual``      medium    the segment's backlog or intake (or the whole queue's
                                     backlog) is above its usual 90th percentile and half again
                                     its median
``recent_promises_missed`` medium    the live on-time rate of its group is 5+ points under
                                     target over at least 30 judged promises
``thin_history``           medium    its calibration fell back to a wider group, a value was
                                     never seen in training (a category, or a number outside
                                     the training range) or not given where history had one,
                                     or its segment's history is short for its durations (the
                                     promise lies beyond every finish seen), or the item has
                                     been open longer than any item took to finish
``weekend_in_window``      low       non-working weekdays before the promise (business clock)
``long_tail``              low       its P97 is 1.5x further beyond its median than usual here
``driver:<feature>``       low       one of the (at most two) features that lengthen this
                                     promise most, by 15% or more
=========================  ========  ==========================================================
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from eta.calendar import NAT, Clock, utc_instants, utc_nanoseconds
from eta.calibration import tag_depth
from eta.data import MISSING, SEGMENT, START, look_up
from eta.model import EtaModel, Features
from eta.online import ALL
from eta.predictive import Predictive
from eta.spec import WEEKDAYS
from eta.usual import LOAD_FEATURES, QUEUE_FEATURE

CODES = (
    "overdue",
    "promise_moved",
    "holiday_in_window",
    "after_cutoff",
    "outside_hours",
    "peak_season",
    "busier_than_usual",
    "recent_promises_missed",
    "thin_history",
    "weekend_in_window",
    "long_tail",
    "driver",
)
"""Stable risk codes, most important first; drivers appear as ``driver:<feature>``."""
SEVERITIES = ("high", "medium", "low")
SEVERITY = {
    "overdue": "high",
    "weekend_in_window": "low",
    "long_tail": "low",
    "driver": "low",
}
"""Severity per code (medium unless listed)."""

_RANK = operator.attrgetter("rank")
_SEVERITY_RANK = {s: k for k, s in enumerate(SEVERITIES)}
_CODE_RANK = {c: k for k, c in enumerate(CODES)}

BUSY_RATIO = 1.5
"""Busier than usual: at least this times the usual (median) level, and above its P90..."""
BUSY_EXCESS = 3.0
"""...and at least this many items more than the usual median: at a quiet hour, 4 open where 2
are usual is no news."""
MIN_JUDGED = 30
"""Promises judged before a live on-time rate is trusted."""
MISSED_BY = 0.05
"""A group misses when its live on-time rate is this far under the target."""
LONG_TAIL = 1.5
"""Long tail: P97/P50 at least this times the model-wide P97/P50 of a typical item."""
DRIVER_EFFECT = float(np.log(1.15))
"""A driver lengthens the raw promise by at least 15%."""
MAX_DRIVERS = 2


class Finding:
    """One risk for one item: its code, severity and the facts behind it."""

    __slots__ = ("code", "facts", "key", "rank", "severity")

    def __init__(self, code: str, severity: str, facts: dict | None = None) -> None:
        self.code, self.severity, self.facts = code, severity, facts or {}
        self.rank = (_SEVERITY_RANK[severity], _CODE_RANK[code.partition(":")[0]])
        # Findings with equal keys read the same: their words are built once per batch.
        # (Facts are scalars and tuples, so the key is hashable as it is.)
        self.key = (code, *self.facts.values())

    def __repr__(self) -> str:
        return f"Finding({self.code!r}, {self.severity!r}, {self.facts!r})"


@dataclass(frozen=True)
class QuoteFacts:
    """What a batch of quotes knows, as risk detection needs it (one entry per item)."""

    items: pd.DataFrame
    features: Features
    predictive: Predictive
    begin: pd.DatetimeIndex
    reference: pd.DatetimeIndex
    """When the quote is given: ``now``, or the item's start for a new item."""
    promise_at: pd.DatetimeIndex
    """The promise before rounding: rounding moves it later, into time that delays nothing, and
    in the customer's time zone (the end of a shopper's day west of the business is already the
    business's next day, whose holiday is after the promise the shopper reads)."""
    elapsed: np.ndarray
    promised_at: pd.DatetimeIndex
    """The promise the item was given, or would have been given when it started."""
    promised_hours: np.ndarray
    fresh: np.ndarray
    """A new item's P50 and P97 in clock hours, columns ``[p50, p97]``."""
    first_day: np.ndarray | None = None
    """Local date (spec's zone, datetime64[D]) the window opens: the reference, or the item's
    start when it is later (an item quoted before it starts)."""
    last_day: np.ndarray | None = None
    """Local date of the promise: the window's last day."""
    promise_hours: np.ndarray | None = None
    """The promise in clock hours from the effective start, before rounding."""
    promise_given: np.ndarray | None = None
    """Whether ``promised_at`` is the promise the customer was told, given by the caller, not
    the one a new item like it gets from this model (None: given, for every item)."""
    moved: np.ndarray | None = None
    """Whether the promise told now is later than the one given, which has not passed yet
    (judged as told, after rounding: :func:`eta.quote._moved_later`); None: none is."""

    @functools.cached_property
    def start(self) -> np.ndarray:
        """Each item's start in UTC nanoseconds, read once for every detector."""
        return utc_nanoseconds(self.items[START])

    @functools.cached_property
    def segment(self) -> np.ndarray:
        """Each item's segment key (``str``, None where missing), read once for every detector."""
        return self.items[SEGMENT].to_numpy(dtype=object, na_value=None)


def assess(model: EtaModel, facts: QuoteFacts) -> list[list[Finding]]:
    """Ranked findings per item (most important first)."""
    found: list[list[Finding]] = [[] for _ in range(len(facts.items))]
    # The window opens when the quote is given, or when the item starts if that is later.
    opens = np.maximum(facts.reference.asi8, facts.start)
    both = _local_days(model.clock_, utc_instants(opens).append(facts.promise_at))
    facts = replace(facts, first_day=both[: len(found)], last_day=both[len(found) :])
    for detect in _DETECTORS:
        for row, finding in detect(model, facts):
            found[row].append(finding)
    for notes in found:
        if len(notes) > 1:
            notes.sort(key=_RANK)
    return found


def _finding(code: str, **facts: object) -> Finding:
    return Finding(code, SEVERITY.get(code.partition(":")[0], "medium"), facts)


class _Findings(dict):
    """One :class:`Finding` per distinct set of facts in a batch: most items of a batch share
    their weekend, busy queue or driver, and each note is then built (and worded) once."""

    def __init__(self, code: str, *names: str) -> None:
        super().__init__()
        self.code, self.names = code, names

    def __missing__(self, values: tuple) -> Finding:
        # A feature as its column is named, less the spaces an export's header may carry
        # ('Category '): a code is read by people and split on commas by programs.
        code = self.code or f"driver:{str(values[0]).strip()}"
        made = self[values] = _finding(code, **dict(zip(self.names, values, strict=True)))
        return made


def _local_days(clock: Clock, instants: pd.DatetimeIndex) -> np.ndarray:
    """The working days the window spans: on a night shift, a promise at 06:00 on a holiday
    falls in the shift that opened the evening before, which the holiday does not close (a
    night line's "by 6:00 AM tomorrow" was told tomorrow's holiday may take the full time)."""
    return clock.working_days(instants)


def _overdue(model: EtaModel, f: QuoteFacts):
    promised = f.promised_at.asi8
    late = (f.reference.asi8 > promised) & (promised != NAT) & (np.nan_to_num(f.elapsed) > 0)
    given = np.ones(len(late), dtype=bool) if f.promise_given is None else f.promise_given
    for row in np.flatnonzero(late):
        yield (
            row,
            _finding(
                "overdue",
                elapsed=f.elapsed[row],
                promised=f.promised_hours[row],
                promise_given=bool(given[row]),
            ),
        )


def _promise_moved(model: EtaModel, f: QuoteFacts):
    """A re-quote promising later than the promise the customer was told, before that one has
    passed: a tester's shopper, promised Wednesday, was told "by Friday" as if nothing had
    changed. Not said when the caller did not give ``promised_at``: nobody knows what was
    told."""
    if f.moved is None:
        return
    for row in np.flatnonzero(f.moved):
        yield row, _finding("promise_moved", promised=int(f.promised_at.asi8[row]))


HOLIDAY_WINDOW_DAYS = np.timedelta64(42, "D")
"""A holiday is a risk to a promise at most six weeks away: one day off in a longer window
changes little, and a re-quote of a ticket open for months, promised in two years, read
"Thursday, December 25 is a public holiday, so it may take the full time"."""


def _holidays(model: EtaModel, f: QuoteFacts):
    clock = model.clock_
    near = f.last_day - f.first_day <= HOLIDAY_WINDOW_DAYS
    if not near.any():  # no calendar years to look up for promises months away
        return
    first, last = f.first_day, f.last_day
    working_weekdays = {WEEKDAYS.index(d) for d in model.spec.calendar.days}
    holidays = [
        (np.datetime64(day, "D"), name)
        for day, name in clock.holidays_between(first[near].min().item(), last[near].max().item())
        if day.weekday() in working_weekdays
    ]
    if not holidays:
        return
    dates = np.array([d for d, _ in holidays])
    lo, hi = np.searchsorted(dates, first, "left"), np.searchsorted(dates, last, "right")
    rows = np.flatnonzero((hi > lo) & near)
    made: dict[tuple[int, int], Finding] = {}
    for row, a, b in zip(rows.tolist(), lo[rows].tolist(), hi[rows].tolist(), strict=True):
        finding = made.get((a, b))
        if finding is None:
            days = tuple(holidays[k][0].item() for k in range(a, b))
            names = tuple(holidays[k][1] for k in range(a, b))
            finding = made[a, b] = _finding("holiday_in_window", days=days, names=names)
        yield row, finding


def _after_cutoff(model: EtaModel, f: QuoteFacts):
    clock = model.clock_
    if clock.calendar.cutoff is None:
        return
    late = f.reference.asi8 < f.begin.asi8  # quoted before its clock starts: the cheap test
    if not late.any():
        return
    start = utc_instants(f.start)
    late[late] = clock.after_cutoff(start[late]) & clock.is_working_day(start[late])
    rows = np.flatnonzero(late)
    started, begin = f.start[rows].tolist(), f.begin.asi8[rows].tolist()
    cutoffs = clock.cutoffs(start[rows]).tolist()
    for row, started_at, begins_at, cutoff_at in zip(
        rows.tolist(), started, begin, cutoffs, strict=True
    ):
        # Instants as UTC nanoseconds: a batch has thousands of these notes.
        facts = {"started": started_at, "begin": begins_at, "cutoff_at": cutoff_at}
        yield row, _finding("after_cutoff", **facts)


def _outside_hours(model: EtaModel, f: QuoteFacts):
    """Quoted before its clock starts because the calendar is closed, on a model that starts
    such items' clocks at the opening (:meth:`eta.model.EtaModel.begins`): the promise is
    later than the history's durations say, and the customer should hear why."""
    late = (f.reference.asi8 < f.begin.asi8) & model.waits_for_opening
    if not late.any():
        return
    late[late] = f.begin.asi8[late] > model.clock_.effective_start(utc_instants(f.start[late])).asi8
    rows = np.flatnonzero(late)
    for row, started_at, begins_at in zip(
        rows.tolist(), f.start[rows].tolist(), f.begin.asi8[rows].tolist(), strict=True
    ):
        yield row, _finding("outside_hours", started=started_at, begin=begins_at)


def _peak_season(model: EtaModel, f: QuoteFacts):
    usual = model.usual_
    hit = usual.in_peak(f.first_day, f.last_day)
    if not hit.any():
        return
    weeks = tuple(sorted(usual.peak_weeks))
    slower = max(v["slower"] for v in usual.peak_weeks.values())
    busier = max(v["busier"] for v in usual.peak_weeks.values())
    finding = _finding("peak_season", weeks=weeks, slower=slower, busier=busier)
    for row in np.flatnonzero(hit).tolist():
        yield row, finding


def _busier(model: EtaModel, f: QuoteFacts):
    """A backlog or intake well above the usual one: said of items that start while the
    model's record of recent history still speaks for the present, up to one fade time after it
    ended (:func:`eta.features.recent_history`). Later, the forecast is the record's last weeks,
    which say where things stood, not how busy it is then: a model trained in December's peak
    told shoppers in June that the carrier had more parcels than usual."""
    usual = model.usual_
    events = model.events_
    recent = (f.start - events.known_until) <= events.fade  # ns; a record without end: inf
    if not recent.any():
        return
    segments = f.segment
    local = model.clock_.local(utc_instants(f.start))
    hours = np.nan_to_num(np.asarray(local.hour, dtype=float)).astype(int)  # usual at its hour
    best_ratio = np.zeros(len(segments))
    best = np.full(len(segments), -1)  # which measure, by position in `measures`
    measures = [(name, segments) for name in LOAD_FEATURES]
    measures.append((QUEUE_FEATURE, np.full(len(segments), ALL)))
    values, medians = [], []
    for name, keys in measures:
        if name not in f.features:
            values.append(None)
            medians.append(None)
            continue
        value = np.asarray(f.features[name], dtype=float)
        median, p90 = usual.level(keys, name, hours)
        ratio = value / np.maximum(median, 1.0)
        busy = recent & (value > p90) & (ratio >= BUSY_RATIO) & (ratio > best_ratio)
        busy &= value - median >= BUSY_EXCESS
        best = np.where(busy, len(values), best)
        best_ratio = np.where(busy, ratio, best_ratio)
        values.append(value)
        medians.append(median)
    made = _Findings("busier_than_usual", "measure", "value", "usual")
    for k, (name, _) in enumerate(measures):
        rows = np.flatnonzero(best == k)
        if not len(rows):
            continue
        # A count; for an item after the record ended, a forecast mean said as one.
        counts = np.round(values[k][rows]).tolist()
        for row, count, median in zip(
            rows.tolist(), counts, medians[k][rows].tolist(), strict=True
        ):
            yield row, made[name, count, median]


def _recent_misses(model: EtaModel, f: QuoteFacts):
    online = model.online_
    target = online.confidence
    missing = {}
    for key, (kept, judged) in online.outcomes.items():
        if judged >= MIN_JUDGED and kept / judged < target - MISSED_BY:
            missing[key] = (kept / judged, judged)
    if not missing:
        return
    for row, segment in enumerate(f.predictive.segment):
        key = segment if segment in missing else ALL if ALL in missing else None
        if key is not None:
            rate, judged = missing[key]
            group = key.partition(":")[2] or key
            yield (
                row,
                _finding(
                    "recent_promises_missed", group=group, rate=rate, judged=judged, target=target
                ),
            )


NOTED_WHEN_GIVEN = 0.95
"""A quote without a value for a declared feature is noted (``thin_history``) when at least
this share of the history's items had one; where the history often lacks it too, it is usual."""


def _thin_history(model: EtaModel, f: QuoteFacts):
    depth = len(model.spec.segments)
    tags = f.predictive.segment.astype(str)
    # A segment thinner than a distribution of its own: calibrated on a wider group's shape.
    by_key = model.calibration_.by_key
    wider = np.array([by_key[t].borrowed_from or t for t in tags], dtype=object)
    fell_back = np.array([tag_depth(t) != depth for t in wider])
    # Only where other segments have their own: a small company whose segments are all too thin
    # heard "we have seen few requests like this one" on every quote, which then meant nothing.
    fell_back &= depth > 0 and any(
        tag_depth(t) == depth and d.borrowed_from is None for t, d in by_key.items()
    )
    unseen = np.zeros(len(tags), dtype=bool)
    values: dict[int, list[str]] = {}
    # A declared feature without a value, where nearly every item of the history had one: it
    # is answered from the rest of what is known (the trees learnt unknown values), which
    # keeps a little fewer promises (README: Values the model never saw).
    given = getattr(model, "info_", {}).get("given_share", {})  # none in hand-built models
    missing: dict[int, list[str]] = {}

    def not_given_in(column: str, absent: np.ndarray) -> None:
        if given.get(column, 0.0) >= NOTED_WHEN_GIVEN:
            for row in np.flatnonzero(absent).tolist():
                missing.setdefault(row, []).append(column)

    for column, known in model._category_codes().items():
        column_values = np.asarray(f.features[column], dtype=object)
        absent = column_values == MISSING
        not_given_in(column, absent)
        new = np.isnan(look_up(column_values, known)) & ~absent
        for row in np.flatnonzero(new):
            values.setdefault(row, []).append(f"{column}={column_values[row]}")
        unseen |= new
    beyond: dict[int, list[tuple[str, float, float, float]]] = {}
    for column, (low, high) in model.ranges_.items():
        column_values = np.asarray(f.features[column], dtype=float)
        not_given_in(column, np.isnan(column_values))
        with np.errstate(invalid="ignore"):
            outside = (column_values < low) | (column_values > high)
        for row in np.flatnonzero(outside).tolist():
            beyond.setdefault(row, []).append((column, float(column_values[row]), low, high))
            unseen[row] = True
    not_given = np.zeros(len(tags), dtype=bool)
    not_given[list(missing)] = True
    # Its own median on the wider group's shape (see ScoreDistribution.moved): a segment with
    # hundreds of items but fewer than a shape's worth in the calibration period.
    own_median = np.array([by_key[t].borrowed_from is not None for t in tags], dtype=bool)
    short = _short_history(model, f.segment)
    # Open longer than any item of the history took: a lost parcel, a forgotten ticket. Its
    # promise is the tail model's alone (a tester's parcel, 507 days in transit where the
    # longest delivery took 21, was told it would most likely arrive on a Monday in January).
    longest = getattr(model, "info_", {}).get("longest_finish_hours")  # none in older models
    outlived = far = np.zeros(len(tags), dtype=bool)
    if longest:
        outlived = np.nan_to_num(np.asarray(f.elapsed, dtype=float)) > longest
        # Promised later than any item of the history took: a tail model's word alone (a
        # city's building inspections, in an 18-month history, were promised for 2034).
        if f.promise_hours is not None:
            far = ~outlived & (np.asarray(f.promise_hours, dtype=float) > longest)
    thin = fell_back | unseen | not_given | ~np.isnan(short) | outlived | far
    for row in np.flatnonzero(thin):
        group = wider[row].partition(":")[2] if fell_back[row] else None
        yield (
            row,
            _finding(
                "thin_history",
                group=group,
                unseen=tuple(values.get(row, ())),
                missing=tuple(missing.get(row, ())),
                beyond=tuple(beyond.get(row, ())),
                own_median=bool(own_median[row]),
                short=None if np.isnan(short[row]) else round(float(short[row]), 2),
                outlived=float(longest) if outlived[row] else None,
                far=float(longest) if far[row] else None,
            ),
        )


def _short_history(model: EtaModel, segments: np.ndarray) -> np.ndarray:
    """Per item, the share of its segment (or of all items) still running at the longest time
    any of them took to finish, where that leaves the promise beyond every finish seen (NaN
    elsewhere): a team whose items take four months, in a history of five, was promised a
    fifth of its true P90 and kept 39% of those promises; the agent should know."""
    info, beyond = getattr(model, "info_", {}), 1.0 - model.online_.confidence  # hand-built
    overall = info.get("still_running_share", 0.0)
    by_segment = info.get("still_running_by_segment", {})
    shares = np.array([by_segment.get(s, overall) for s in segments], dtype=float)
    return np.where(shares > beyond, shares, np.nan)


def _weekend(model: EtaModel, f: QuoteFacts):
    """Days the team is off before the promise: weekdays off, on a business clock, and the
    business's own days off (``calendar.days_off``) in a window of at most six weeks."""
    off = [i for i, day in enumerate(WEEKDAYS) if day not in model.spec.calendar.days]
    if model.spec.clock != "business":
        off = []
    first, last = f.first_day, f.last_day
    span = (last - first).astype(int) + 1
    weekday = (first.astype(int) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    # Which off weekdays a window meets depends only on its first weekday and length (<= 7).
    windows = np.where((span > 0) & bool(off), weekday * 8 + np.minimum(span, 7), -1)
    # The business's own days off in the next six weeks, however far the promise: a closure
    # from December 24 to January 1 was untold to a third of a Munich desk's customers, whose
    # promises were seven weeks away.
    soon = np.minimum(last, first + HOLIDAY_WINDOW_DAYS)
    dates = np.array([], dtype="datetime64[D]")
    if model.spec.calendar.days_off and (span > 0).any():
        listed = model.clock_.days_off_between(
            first[span > 0].min().item(), soon[span > 0].max().item()
        )
        dates = np.array(listed, dtype="datetime64[D]")
    lo, hi = np.searchsorted(dates, first, "left"), np.searchsorted(dates, soon, "right")
    hi = np.where(span > 0, hi, lo)
    told = np.flatnonzero((windows >= 0) | (hi > lo))
    keys = np.column_stack([windows[told], lo[told], hi[told]])
    # One finding per distinct window and run of own days: a batch shares a handful.
    distinct, which = np.unique(keys, axis=0, return_inverse=True)
    for k, (window, a, b) in enumerate(distinct.tolist()):
        first_weekday, length = divmod(max(window, 0), 8)
        weekdays = tuple(d for d in off if window >= 0 and (d - first_weekday) % 7 < length)
        # An own day off on a weekday off anyway is said once, as that weekday.
        own = tuple(d.item() for d in dates[a:b] if d.item().weekday() not in off)
        if not (weekdays or own):
            continue
        # Days the business closes on its own are news to a customer, as a holiday is.
        severity = "medium" if own else "low"
        finding = Finding("weekend_in_window", severity, {"weekdays": weekdays, "dates": own})
        for row in told[np.asarray(which).ravel() == k].tolist():
            yield row, finding


def _long_tail(model: EtaModel, f: QuoteFacts):
    overall = model.calibration_.by_key[next(k for k in model.calibration_.by_key if k[:2] == "0:")]
    z50, z97 = overall.quantile(np.array([0.5, 0.97]))
    typical = float(np.exp(model.typical_spread_ * (z97 - z50)))
    ratio = f.fresh[:, 1] / f.fresh[:, 0]
    for row in np.flatnonzero(ratio >= LONG_TAIL * typical):
        yield row, _finding("long_tail", ratio=ratio[row], p50=f.fresh[row, 0], p97=f.fresh[row, 1])


def _drivers(model: EtaModel, f: QuoteFacts):
    values = model._credits(f.features, 0.9)[:, :-1]  # without the baseline
    names = model.inputs_
    top = np.argsort(-values, axis=1)[:, :MAX_DRIVERS]
    strong = np.take_along_axis(values, top, axis=1) >= DRIVER_EFFECT
    rows, ranks = np.nonzero(strong)
    chosen = top[rows, ranks]
    effects = np.expm1(values[rows, chosen]).tolist()
    made = _Findings("", "feature", "value", "effect")
    columns: dict[int, tuple[list, list]] = {}  # each feature's values, read once
    known = model._category_codes() if len(rows) else {}
    for row, feature, effect in zip(rows.tolist(), chosen.tolist(), effects, strict=True):
        column = columns.get(feature)
        if column is None:
            values = np.asarray(f.features[names[feature]])
            # "No data" is no reason to tell anyone, nor a value training never saw: the
            # trees read it as unknown ('Critical' was said to lengthen a promise by 23%, as
            # much as a blank did), and thin_history says so.
            nodata = pd.isna(values) | (values == MISSING if values.dtype == object else False)
            if names[feature] in known:
                nodata |= np.isnan(look_up(values.astype(object), known[names[feature]]))
            column = columns[feature] = (values.tolist(), nodata.tolist())
        value, nodata = column[0][row], column[1][row]
        if nodata:
            continue
        # Rounded as said (a value to one decimal, an effect in whole percent).
        value = round(value, 1) if isinstance(value, float) else value
        yield row, made[names[feature], value, round(effect, 2)]


_DETECTORS = (
    _overdue,
    _promise_moved,
    _holidays,
    _after_cutoff,
    _outside_hours,
    _peak_season,
    _busier,
    _recent_misses,
    _thin_history,
    _weekend,
    _long_tail,
    _drivers,
)


__all__ = ["CODES", "Finding", "QuoteFacts", "assess"]
