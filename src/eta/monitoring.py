"""Monitoring: did the promises we made hold? Quotes given, joined with what happened since.

A promise can only be judged once it has come due: before that, an item still open might yet make
it. So the report looks at every quote whose ``promise_at`` lies before ``as_of`` and counts it
kept when the item finished by then, broken when it finished later or is still open. Counting
early finishes before their promise has come due would flatter the on-time rate, because the
broken promises of the same days are not known yet.

A segment is the item's, as the users' data names it and ``eta backtest`` tables it: the
values of the spec's segment columns in the outcomes export ('normal / security',
:func:`eta.data.segment_values`). The quote's ``segment`` column says only which calibration was
used, and for a segment the model had too little history of (a category new since training)
that is a parent's ('ahead|1:normal'): grouped by it, a new category's late tickets were alerted
as 'normal', 'high' and 'low' and the category itself was never named. So a segment is reported
with the calibration it fell back to ('calibrated as normal'). Outcomes without the spec's
segment columns (``id`` and ``finished_at`` alone) leave only the calibration to go by, said in
the spec's words ('P3 / Access', 'all items'; quotes made ahead of the record and live ones
together). Weeks are the weeks (Monday to Sunday, UTC) in which promises came due. With two
segment columns or more, each column's values are judged on their own too ('product=copilot',
beside 'pro / copilot'), in the same family of tests: a value late in every segment it is in,
each too small to be named, is named by itself.

A segment is flagged when it kept too few promises to be bad luck *among all the tests of the
run*: each one's chance of keeping as few if it were on target (an exact binomial test),
adjusted by Holm's step-down procedure so that a run on a model that is on target everywhere
raises any alert at all in at most :data:`FALSE_ALARM` of runs. Tested each at 95% on its own,
24 calibrated segments raised an alert in 61% of runs, and the nightly job failed most nights.
Holm controls that family-wise rate, not the false discovery rate (Benjamini-Hochberg): an alert
exits 1 and gets a person to look at the segment it names, so what has to be rare is any false
alert in a run, whichever segments are truly late; Holm needs no assumption about how segments
depend on one another and is never less powerful than Bonferroni. It costs little where it
matters: a segment keeping 80% of 300 promises has a chance of 2e-7, far under the 0.1% that 24
segments, judged both ways, leave the worst of them. The test is exact, not the Wilson score
test's normal approximation, because at a 90% target with 6 to 40 items that approximation
understates the chance of a bad month: with Holm on top of it, 24 calibrated segments still
alerted in 17% of runs (exact, judged one way: about 2%). The tables keep the 95% Wilson
interval to say how well each rate is known.

A segment that kept too *many* is over-padded: its promises are later than they need be, and on
a checkout page a later date loses the sale. Its chance of keeping as many if it were on target
is the other tail of the same binomial, and both tails of every segment are one family for Holm:
a false finding of over-padding is a false alarm like any other, and with both directions
counted a model on target everywhere still raises either in at most :data:`FALSE_ALARM` of runs.
Only one tail of a segment can be small, so this is nearly a two-sided test per segment.

Counting both tails would weigh each late segment against twice as many tests, but most of the
added ones can never be found: the tests are discrete, and keeping all of 40 promises at a 90%
target has a chance of 0.9**40 = 1.5%, far above the 0.1% (5% / 48) the worst test must reach.
So the family is Tarone's (1990): for the smallest k such that at most k tests can reach a
chance of 5% / k at all (a late test by keeping none, ``(1 - target)**n``, an over-padded one by
keeping all, ``target**n``), those tests. Holm runs over them alone, and a test left out is never
a finding (its adjusted chance is 1). The chance of any false finding stays at most
:data:`FALSE_ALARM` because which tests count is decided from the number of promises each
segment had judged, before any is seen kept or broken: Holm over a family fixed in advance
controls it, and a test left out finds nothing. On the 24 segments of a month of replayed ticket
quotes (6 to 159 promises) 29 tests count: the 24 late ones and the over-padded ones of the 5
segments of 65 promises or more. Simulated (20,000 runs each), a model on target everywhere
raises a finding in 2.6% of runs (1.9% an alert, 0.6% over-padding; all 48 tests counted, 1.3%);
a segment keeping 75% of 40 promises, the only late one, is named in 41% of months, as when only
late tests were counted, where with all 48 it was in 28%; one keeping 98% of 400 is found
over-padded every time, as before. The gain comes in whole promises: that segment of 40 is now
found keeping 29 of them, where it had to keep 28 or fewer (30 is found by neither). Where
segments are larger, more over-padded tests can be found and count: with 6 to 1,000 promises,
38 of 48, and the segment of 40 stays at 28%. A step-down that works out the family again after
each finding (Hommel & Krummenauer 1998) could go a little further; this one does not.

Over-padding is reported, not alerted (the monitor's exit status stays as it is): the promises
hold, and it can wait for the next retrain. It says how much tighter the promises could have
been as the data say it: the most hours by which every promise of the segment judged could have
come earlier and still have kept the target share of them. The hours are the spec's clock's: on
a business clock, working hours, because that is what a support lead can take off a promise (a
ticket closed Friday afternoon and promised for Monday morning had three working hours to spare,
not 67 clock hours: the weekend's hours are nobody's to give back). That describes these
promises, not the next ones: moved by exactly as much, they would keep the target only on
average.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
*JASA* 22(158).

Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian Journal
of Statistics* 6(2), 65-70.

Tarone, R. E. (1990). A modified Bonferroni method for discrete data. *Biometrics* 46(2),
515-522.

Hommel, G., & Krummenauer, F. (1998). Improvements and modifications of Tarone's multiple test
procedure for discrete data. *Biometrics* 54(2), 673-681.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.data import category_texts, one_spelling, read_instants, segment_values
from eta.messages import segment_words
from eta.spec import CalendarSpec, DatasetSpec
from eta.tables import DataError, read_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Z95 = 1.959964
FALSE_ALARM = 0.05
"""The chance that a run whose every segment keeps its target alerts anyway (family-wise)."""


@dataclass(frozen=True)
class PromiseReport:
    """On-time rates of promises that have come due, overall, per segment and per week."""

    as_of: pd.Timestamp
    confidence: float
    overall: dict
    segments: pd.DataFrame
    weeks: pd.DataFrame
    clock: Literal["business", "wall"] = "wall"
    """The clock ``earlier_by_hours`` is measured on, so its words say which hours they are."""

    @property
    def alerts(self) -> list[str]:
        """Segments keeping fewer promises than the target beyond sampling noise, the noise of
        every segment judged in the run, both ways, counted in (see the module's docstring)."""
        low = self.segments[self.segments["p_value"] <= FALSE_ALARM]
        return [
            f"{_named(name, row.calibrated_as)}: {row.on_time_rate:.1%} of {int(row.judged):,} "
            f"promises kept, target {self.confidence:.0%} (chance of as few if on target, over "
            f"the {len(self.segments)} segments judged both ways: {row.p_value:.1g})"
            for name, row in low.iterrows()
        ]

    @property
    def over_padded(self) -> list[str]:
        """Segments keeping more promises than the target beyond sampling noise, judged in the
        same family of tests as :attr:`alerts`: their promises are later than they need be
        (customers at checkout see a later date than the target calls for). A lesser finding
        than a broken promise, and not an alert."""
        high = self.segments[self.segments["p_value_over_padded"] <= FALSE_ALARM]
        return [
            f"{_named(name, row.calibrated_as)}: {row.on_time_rate:.1%} of "
            f"{int(row.judged):,} promises kept, target {self.confidence:.0%} (chance of as "
            f"many if on target, over the {len(self.segments)} segments judged both ways: "
            f"{row.p_value_over_padded:.1g}); each of these promises "
            f"{_hours(row.earlier_by_hours, self.clock)} earlier would still have kept "
            f"{self.confidence:.0%} of them"
            for name, row in high.iterrows()
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
    promise (it used to be counted as one, still open). An export that has the spec's segment
    columns gives each item its ``segment``, as :func:`eta.data.load_history` spells it."""
    given, happened = read_table(quotes), read_table(outcomes)
    for frame, path in ((given, quotes), (happened, outcomes)):
        if not len(frame):
            raise DataError(f"{path}: no rows (a header only?): nothing to judge")
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
    finished, unread_finish = read_instants(
        happened, end, str(outcomes), zone, written, finishes=True
    )
    unread_finish = _impossible_outcomes(
        happened, finished, unread_finish, id_column, spec, str(outcomes)
    )
    looked, unread_look = _last_looks(happened, spec, str(outcomes))
    if len(unread_look):
        # An open item last seen at a time that cannot be read is not judged either: it may
        # have been cancelled long before its promise (it used to be judged as still open).
        open_rows = finished.isna().to_numpy()[unread_look["row"] - 1]
        unread_look = unread_look[open_rows & ~unread_look["row"].isin(unread_finish["row"])]
        unread_finish = pd.concat([unread_finish, unread_look], ignore_index=True)
        unread_finish = unread_finish.sort_values("row", ignore_index=True)
    promised, unread_promise = read_instants(given, "promise_at", str(quotes), "UTC")
    # A quote whose outcome cannot be read or believed is not judged; a repeated id's is, by
    # its first row.
    doubted = unread_finish[unread_finish["reason"] != DUPLICATE_OUTCOME]
    unreadable = happened[id_column].iloc[doubted["row"] - 1].astype(str)
    skipped = given["id"].astype(str).isin(unreadable).to_numpy(copy=True)
    skipped[unread_promise["row"] - 1] = True
    given = given.assign(promise_at=promised)[~skipped]
    spelled = _segment_columns(happened, spec)
    values = {}  # with two segment columns or more, each is judged on its own too
    if spelled is not None and len(spelled) > 1:
        values = {VALUE + c: v.to_numpy() for c, v in spelled.items()}
    happened = pd.DataFrame({"id": happened[id_column], "finished_at": finished, **values})
    if spelled is not None:
        happened["segment"] = segment_values(spelled, spec)
    if looked is not None:
        happened["observed_at"] = looked
    happened = happened.drop(happened.index[unread_finish["row"] - 1])
    rejected = {quotes: unread_promise, outcomes: unread_finish}
    unread_promise.attrs["of"], unread_finish.attrs["of"] = len(promised), len(finished)
    return given, happened, {path: rows for path, rows in rejected.items() if len(rows)}


VALUE = "value:"
"""Outcome columns ``value:<column>``: each item's value of a segment column, judged on its
own as well as in its segment (see :func:`promise_report`)."""
DUPLICATE_OUTCOME = "duplicate id (kept: its first row)"


def _last_looks(
    export: pd.DataFrame, spec: DatasetSpec | None, source: str
) -> tuple[pd.Series | None, pd.DataFrame]:
    """When each open item was last seen, from the spec's ``observed_until`` column (none
    without one): an order cancelled ten minutes in, last seen then, is not a broken promise.
    And the rows whose time there cannot be read, as rejected rows."""
    if spec is None or spec.observed_until is None or spec.observed_until not in export:
        return None, pd.DataFrame(columns=["row"])
    return read_instants(export, spec.observed_until, source, spec.timezone,
                         spec.timestamp_format)  # fmt: skip


def _impossible_outcomes(
    export: pd.DataFrame,
    finished: pd.Series,
    rejected: pd.DataFrame,
    id_column: str,
    spec: DatasetSpec | None,
    source: str,
) -> pd.DataFrame:
    """``rejected`` and the outcomes that cannot be right, as a history's quarantine says
    them: a repeated id (its first row is kept; a later one that finished a month later
    decided silently) and, in an export with the spec's start column, a finish before the
    start (every late item's finish set before its start read as 98.9% kept, not 90.2%)."""
    why = pd.Series("", index=export.index, dtype=object)
    column = pd.Series(id_column, index=export.index, dtype=object)
    why[export[id_column].astype(str).duplicated()] = DUPLICATE_OUTCOME
    if spec is not None and spec.start in export:
        start, _ = read_instants(export, spec.start, "", spec.timezone, spec.timestamp_format)
        before = (finished < start).fillna(False).to_numpy(bool) & (why == "").to_numpy()
        why[before], column[before] = "finishes before it starts", spec.end
    why[rejected["row"] - 1] = ""  # said already, as unreadable
    bad = np.flatnonzero(why != "")
    if not len(bad):
        return rejected
    more = export.iloc[bad].copy()
    more.insert(0, "reason", why.iloc[bad].to_numpy())
    more.insert(0, "column", column.iloc[bad].to_numpy())
    more.insert(0, "row", bad + 1)
    more.insert(0, "file", source)
    return pd.concat([rejected, more], ignore_index=True).sort_values("row", ignore_index=True)


def _segment_columns(export: pd.DataFrame, spec: DatasetSpec | None) -> dict | None:
    """The spec's segment columns as ``eta backtest`` spells them (each row's segment is
    :func:`eta.data.segment_values` of them), or None when the export lacks them (or the spec
    has none: every item is then 'all items', as its tag says)."""
    if spec is None or not spec.segments or any(c not in export for c in spec.segments):
        return None
    return {c: pd.Series(one_spelling(category_texts(export[c]))[0]) for c in spec.segments}


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
    clock: Clock | None = None,
) -> PromiseReport:
    """Judge the ``quotes`` (columns of ``eta quote``: ``id``, ``promise_at``, ``segment``,
    ``confidence``) against ``outcomes`` (``id``, ``finished_at``; empty while open; and the
    item's ``segment`` when known, see :func:`read_promises`).

    ``clock`` is the spec's (:meth:`eta.calendar.Clock.from_spec`): how much earlier an
    over-padded segment's promises could have been is said in its hours, working hours on a
    business clock. Without one, clock hours (wall time)."""
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
    items = outcomes.assign(id=outcomes["id"].astype(str)).drop_duplicates("id", keep="last")
    items = items.set_index("id")
    finished = items["finished_at"]
    frame = pd.DataFrame(
        {
            "id": quotes["id"].astype(str),
            "promise_at": pd.to_datetime(quotes["promise_at"], utc=True, format="ISO8601"),
            "calibrated_as": (
                quotes["segment"].astype(str).map(segment_words)
                if "segment" in quotes
                else segment_words("0:all")
            ),
        }
    )
    written = frame["id"].map(items["segment"]) if "segment" in items else None
    frame["segment"] = (
        frame["calibrated_as"] if written is None else written.fillna(frame["calibrated_as"])
    )
    frame["finished_at"] = pd.to_datetime(
        frame["id"].map(finished), utc=True, format="ISO8601"
    ).where(lambda t: t <= as_of)
    due = frame[frame["promise_at"] <= as_of].copy()
    # An item last seen before its promise, and never seen finishing, has no outcome to judge
    # (a grocery's cancelled orders, last seen minutes in, read as 258 broken promises).
    if "observed_at" in items:
        looked = pd.to_datetime(due["id"].map(items["observed_at"]), utc=True, format="ISO8601")
        unseen = due["finished_at"].isna() & (looked < due["promise_at"]).fillna(False)
        due = due[~unseen.to_numpy(bool)]
    else:
        unseen = pd.Series(False, index=due.index)
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
    # Each value of a segment column on its own too ('product=copilot'): a new product split
    # over three plans, 11 to 19 promises each, kept 28 of 41 (z = 4), and no segment of it was
    # large enough to be alerted on.
    # A value in one segment only, or in every item judged, adds nothing to them.
    groups = [due]
    for column in [c for c in items.columns if c.startswith(VALUE)]:
        value = due["id"].map(items[column])
        known = value.notna().to_numpy()
        if value[known].nunique() < 2:
            continue
        spans = due[known].groupby(value[known].to_numpy())["segment"].nunique()
        apart = known & value.isin(spans.index[spans > 1]).to_numpy()
        named = column.removeprefix(VALUE) + "=" + value[apart].astype(str)
        groups.append(due[apart].assign(segment=named.to_numpy()))
    rates = pd.concat([_rates(group, "segment") for group in groups])
    segments = _flagged(rates.sort_values("on_time_rate"), confidence)
    clock = Clock(CalendarSpec(), "UTC", "wall") if clock is None else clock
    spare = pd.concat([_earlier_by(group, confidence, clock) for group in groups])
    spare = spare.reindex(segments.index)
    segments["earlier_by_hours"] = spare.where(segments["on_time_rate"] > confidence)
    # 'Billing' in the export is the model's 'billing' (it reads values in the case it learnt)
    own = due["calibrated_as"].str.casefold() == due["segment"].str.casefold()
    fell_back = due[~own].groupby("segment")["calibrated_as"]
    fell_back = fell_back.agg(lambda tags: ", ".join(sorted(set(tags))))
    segments["calibrated_as"] = fell_back.reindex(segments.index).fillna("")
    week = due["promise_at"].dt.tz_localize(None).dt.to_period("W").dt.start_time
    weeks = _rates(due.assign(week=week), "week")
    n = len(due)
    kept = int(due["kept"].sum())
    lower, upper = wilson_interval(np.array([kept]), np.array([n]))
    overall = {
        "quotes": len(frame),
        "judged": n,
        "not_due_yet": int(frame["promise_at"].notna().sum()) - n - int(unseen.sum()),
        "not_quoted": int(frame["promise_at"].isna().sum()),  # the quote's row had an error
        "not_in_outcomes": int(unlisted.sum()),
        "last_seen_before_promise": int(unseen.sum()),
        "on_time_rate": kept / n if n else float("nan"),
        "lower_95": float(lower[0]) if n else float("nan"),
        "upper_95": float(upper[0]) if n else float("nan"),
        "still_open_past_promise": int((due["finished_at"].isna()).sum()),
        "mean_lateness_hours": float(due["late_hours"].mean()) if (~due["kept"]).any() else 0.0,
    }
    return PromiseReport(as_of, confidence, overall, segments, weeks, clock.kind)


def _rates(due: pd.DataFrame, by: str) -> pd.DataFrame:
    grouped = due.groupby(by)["kept"].agg(["sum", "size"])
    lower, upper = wilson_interval(grouped["sum"].to_numpy(), grouped["size"].to_numpy())
    return pd.DataFrame(
        {
            "judged": grouped["size"],
            "kept": grouped["sum"],
            "on_time_rate": grouped["sum"] / grouped["size"],
            "lower_95": lower,
            "upper_95": upper,
        }
    ).sort_values("on_time_rate")


def _flagged(rates: pd.DataFrame, target: float) -> pd.DataFrame:
    """``rates`` with each segment's ``p_value``, the chance of keeping as few promises if it
    kept the ``target``, and ``p_value_over_padded``, the chance of keeping as many: both
    directions of every segment Holm-adjusted together, one family of tests less those too
    small ever to be found (Tarone's, see :func:`tarone_holm_adjusted`; a finding at or below
    :data:`FALSE_ALARM`, and 1 for a test left out)."""
    kept, judged = rates["kept"].to_numpy(), rates["judged"].to_numpy()
    chances = np.r_[
        kept_this_few_chance(kept, judged, target), kept_this_many_chance(kept, judged, target)
    ]
    adjusted = tarone_holm_adjusted(chances, smallest_chances(judged, target))
    return rates.assign(p_value=adjusted[: len(rates)], p_value_over_padded=adjusted[len(rates) :])


def _earlier_by(due: pd.DataFrame, target: float, clock: Clock) -> pd.Series:
    """Per segment, the most ``clock`` hours by which every promise judged could have been
    earlier and still kept the ``target`` share of them, as they finished: how much tighter they
    could have been (negative, or -inf, where the segment kept fewer than the target). A promise
    moved ``s`` hours earlier on the clock still holds while ``s`` is at most the clock's hours
    from its finish to it, so those hours are each promise's spare."""
    spare = pd.Series(clock.hours_between(due["finished_at"], due["promise_at"]), due.index)
    spare = spare.fillna(-np.inf)  # still open past its promise: broken however it moves

    def at_target(hours: pd.Series) -> float:
        needed = max(1, math.ceil(target * len(hours) - 1e-9))
        return float(np.sort(hours.to_numpy())[::-1][needed - 1])

    return spare.groupby(due["segment"]).agg(at_target)


def kept_this_few_chance(kept: np.ndarray, n: np.ndarray, rate: float) -> np.ndarray:
    """P(X <= kept) for X ~ Binomial(n, rate), element-wise: the exact one-sided p-value of
    keeping no more than ``kept`` of ``n`` promises at an on-time ``rate``. Summed in logs from
    the binomial terms, as SciPy is no dependency (a million items take a tenth of a second)."""
    chances = np.ones(len(kept))
    for k, (x, m) in enumerate(zip(np.asarray(kept, int), np.asarray(n, int), strict=True)):
        if x >= m or rate <= 0:
            continue
        if rate >= 1:
            chances[k] = 0.0
            continue
        i = np.arange(x + 1)
        log_choose = np.r_[0.0, np.cumsum(np.log(m - i[:-1]) - np.log(i[:-1] + 1))]
        terms = log_choose + i * math.log(rate) + (m - i) * math.log1p(-rate)
        chances[k] = min(1.0, math.exp(np.logaddexp.reduce(terms)))
    return chances


def kept_this_many_chance(kept: np.ndarray, n: np.ndarray, rate: float) -> np.ndarray:
    """P(X >= kept) for X ~ Binomial(n, rate), element-wise: the exact one-sided p-value of
    keeping at least ``kept`` of ``n`` promises at an on-time ``rate`` (as few broken as
    ``n - kept`` at a broken rate of ``1 - rate``)."""
    n = np.asarray(n, int)
    return kept_this_few_chance(n - np.asarray(kept, int), n, 1.0 - rate)


def holm_adjusted(p_values: np.ndarray) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values: rejecting those at or below a level controls
    the chance of any false rejection among them all at that level."""
    p = np.asarray(p_values, float)
    order = np.argsort(p, kind="stable")
    steps = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    return adjusted


def smallest_chances(n: np.ndarray, target: float) -> np.ndarray:
    """The smallest p-value each test of :func:`_flagged` can reach, from the ``n`` promises
    judged per segment alone, in its order: the late tests' (keeping none: ``(1 - target)**n``)
    then the over-padded tests' (keeping all: ``target**n``)."""
    n = np.asarray(n, int)
    return np.r_[
        kept_this_few_chance(np.zeros_like(n), n, target), kept_this_many_chance(n, n, target)
    ]


def tarone_family(smallest: np.ndarray, level: float = FALSE_ALARM) -> np.ndarray:
    """Which tests count, by Tarone's (1990) fixed point: for the smallest ``k`` such that at
    most ``k`` tests can reach a p-value of ``level / k`` (their ``smallest`` attainable one),
    those tests. The others could not be found even by Bonferroni over the ``k``.

    A test that can reach ``level / k`` exactly counts, whatever floating point says: one
    promise at 95% has a smallest p-value of ``1 - 0.95``, a hair above 0.05 as a float."""
    smallest = np.asarray(smallest, float)
    for k in range(1, len(smallest) + 1):
        counted = smallest <= level / k * (1.0 + 1e-9)
        if counted.sum() <= k:
            return counted
    return np.zeros(len(smallest), bool)


def tarone_holm_adjusted(
    p_values: np.ndarray, smallest: np.ndarray, level: float = FALSE_ALARM
) -> np.ndarray:
    """Holm-adjusted p-values over :func:`tarone_family` alone, 1 for the tests left out of it
    (never found). To be compared with ``level`` only: the family depends on it. The family
    comes from the ``smallest`` attainable p-values, which the sizes alone fix, not from the
    outcomes, so Holm over it controls the chance of any false finding among all the tests."""
    p = np.asarray(p_values, float)
    family = tarone_family(smallest, level)
    adjusted = np.ones_like(p)
    adjusted[family] = holm_adjusted(p[family])
    return adjusted


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
    named = [_named(name, fell) for name, fell in report.segments["calibrated_as"].items()]
    segments = report.segments.set_axis(named)
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
        + (f" Rows not quoted (an error): {o['not_quoted']:,}." if o.get("not_quoted") else "")
        + (
            f" Not judged, last seen open before their promise (cancelled, or no longer "
            f"tracked): {o['last_seen_before_promise']:,}."
            if o.get("last_seen_before_promise")
            else ""
        ),
        "",
        "## Alerts",
        "",
        *(
            [f"- {a}" for a in report.alerts]
            or ["- none: no segment keeps too few promises beyond noise"]
        ),
        "",
        "## Over-padded (promises later than they need be; not an alert)",
        "",
        *(
            [f"- {a}" for a in report.over_padded]
            or ["- none: no segment keeps more promises than its target beyond noise"]
        ),
        "",
        "## By segment (worst first)",
        "",
        _table(segments, "segment"),
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
        json.dumps(
            {"overall": o, "alerts": report.alerts, "over_padded": report.over_padded}, indent=2
        ),
        encoding="utf-8",
    )
    return path


REPORT_FILES = ("report.md", "monitoring.json", "on_time_by_week.png")
"""What :func:`write_report` writes: the report, its numbers, and the plot the report shows."""


def report_files(directory: Path) -> list[Path]:
    """The files :func:`write_report` wrote in ``directory`` (the plot only when there were
    weeks to draw), to be kept together: a report without the plot it embeds is broken."""
    return [directory / name for name in REPORT_FILES if (directory / name).exists()]


def _hours(value: float, clock: Literal["business", "wall"] = "wall") -> str:
    """Hours as a person reads them: working hours stay hours, as the product says them ('9.1
    h (business hours)'), since a day of them is no 24 (nor always 8); clock hours past two
    days in days, and under an hour in minutes ('0.1 h' was said of a grocery's 6 minutes)."""
    if value < 1:
        minutes = f"{value * 60:,.0f} min"
        return minutes + (" (business time)" if clock == "business" else "")
    if clock == "business":
        return f"{value:,.1f} h (business hours)"
    return f"{value:,.1f} h" if value < 48 else f"{value / 24:,.1f} days"


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1%}"


def week_axis(ax: Axes) -> None:
    """Dates on a plot's x axis as few as fit, without overlapping ('Nov 29' over 'Dec 1'):
    matplotlib's automatic locator with its concise labels (the year and month said once)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _named(segment: str, calibrated_as: str) -> str:
    """A segment, and the calibration its quotes fell back to, if any."""
    return f"{segment} (calibrated as {calibrated_as})" if calibrated_as else str(segment)


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
    "FALSE_ALARM",
    "REPORT_FILES",
    "PromiseReport",
    "holm_adjusted",
    "kept_this_few_chance",
    "kept_this_many_chance",
    "promise_report",
    "report_files",
    "smallest_chances",
    "tarone_family",
    "tarone_holm_adjusted",
    "week_axis",
    "wilson_interval",
    "write_report",
]
