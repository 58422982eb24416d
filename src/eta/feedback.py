"""Outcomes coming back: each item judged at its likely time and at its promise, when it is due.

Online calibration (:class:`eta.online.OnlineCalibration`) learns from judgements: was the
item done by its likely time? by its promise? This module decides *when* a judgement can honestly
be made, and makes it, for the replay backtest and for the service alike:

* a **kept** checkpoint is known once the item has finished, but it is counted only once the
  checkpoint's time has passed: counting kept promises as soon as items finish tells the
  controller mostly good news at any moment (the broken promises of the same days are still
  pending) and biases promises low;
* a **missed** checkpoint is known as soon as its time passes with the item still open;
* an item last seen open *before* its checkpoint, with no news since, is judged by estimate when
  the checkpoint passes: the probability ``S(limit) / S(age)`` that an item still open at that
  age misses it, under the item's own calibrated distribution; when its outcome is reported
  later, the estimate is revised. Waiting for news instead would leave out exactly the slow items
  that news is missing for (informative censoring, as in training) and bias promises low.

Checkpoints are judged with the corrections in force when they are made, not those the item was
quoted with: outcomes arrive a promise late, and judging them by old corrections would keep
pushing corrections that have already moved (integral wind-up). The promise is judged once more
as it was quoted, for the on-time rate customers actually saw (a slow loop, see
:class:`eta.online.OnlineCalibration`).

Between judgements, :meth:`OutcomeFeed.refresh_speed` estimates how much slower the recent items
run than the model says from everything known of them, open ones included
(:func:`eta.online.speed_shift`): the early warning that judgements, due only when their
time passes, cannot give. A checkpoint is judged with the speed the world ran at *while the item
was under way* (the mean of the estimates in force then, :class:`CorrectionRecord`), not today's:
the judgements say what the speed estimate leaves over. Judged at today's speed, the parcels
held up by a ten-day strike, judged weeks later when the world ran at its usual speed again,
read as a model too optimistic, and kept promises 30% too long for months after the strike.

All times here are *clock positions*: clock hours (on the spec's clock) since an anchor instant,
so that "has the promise passed?" is one comparison of floats.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import heapq
import itertools
import math
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eta.calendar import Clock, utc_nanoseconds
from eta.calibration import MondrianCalibration
from eta.data import START
from eta.online import ALL, CHECKPOINTS, JUDGEMENTS, QUOTED, SPEED, OnlineCalibration

NEVER = math.inf
SPEED_WINDOW = 3.0
"""Items are kept for the speed estimate until three times their own promise has passed."""


@dataclass
class _Tracked:
    """What is known of one item, in clock positions."""

    segment: str
    location: float
    spread: float
    begin: float
    """Effective start (after the cut-off rule)."""
    finish: float = NEVER
    """When it finished; ``NEVER`` while no finish is known."""
    seen: float = -NEVER
    """Until when it is known to have been open."""
    quoted: np.ndarray | None = None
    """The corrections it was quoted with."""
    unjudged: set[str] = field(default_factory=lambda: set(JUDGEMENTS))
    estimated: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Judgements made by estimate, awaiting the outcome: name -> (limit, probability late)."""
    groups: tuple[str, ...] = ()
    """Its keys of the groups with speed estimates of their own (:meth:`EtaModel._groups`)."""


@dataclass
class CorrectionRecord:
    """The online corrections in force over time, for two questions asked after the fact: how
    fast the world ran while an item was under way (the speed estimates, offsets named
    ``speed|<key>``, averaged over its life), and which corrections an item was quoted with
    when it is first heard of in an outcome report (those in force when it began).

    Each entry holds the instant the corrections took effect, the corrections, and their
    integral over clock time up to that instant; they are constant between entries (and before
    the first, the first's).
    """

    times: list[float] = field(default_factory=list)
    corrections: list[dict[str, float]] = field(default_factory=list)
    areas: list[dict[str, float]] = field(default_factory=list)

    def add(self, now: float, corrections: dict[str, float]) -> None:
        """The corrections in force from ``now`` on."""
        if self.times and now <= self.times[-1]:
            self.corrections[-1] = dict(corrections)
            return
        area: dict[str, float] = {}
        if self.times:
            elapsed, before = now - self.times[-1], self.corrections[-1]
            area = {
                k: self.areas[-1].get(k, 0.0) + before.get(k, 0.0) * elapsed
                for k in self.areas[-1].keys() | before.keys()
            }
        self.times.append(now)
        self.corrections.append(dict(corrections))
        self.areas.append(area)

    def mean(self, names: tuple[str, ...], since: float, until: float) -> float | None:
        """Mean over ``[since, until]`` of the summed estimates ``names``; None before any
        estimate or for an empty interval."""
        if not self.times or until <= since:
            return None
        total = sum(self._area(n, until) - self._area(n, since) for n in names)
        return total / (until - since)

    def at(self, instant: float) -> dict[str, float] | None:
        """The corrections in force at ``instant`` (the first entry's before it); None before
        any entry."""
        if not self.times:
            return None
        return self.corrections[max(bisect.bisect_right(self.times, instant) - 1, 0)]

    def forget_before(self, instant: float) -> None:
        """Drop the entries no interval starting at ``instant`` or later needs."""
        drop = bisect.bisect_right(self.times, instant) - 1
        if drop > 0:
            del self.times[:drop], self.corrections[:drop], self.areas[:drop]

    def _area(self, name: str, t: float) -> float:
        i = max(bisect.bisect_right(self.times, t) - 1, 0)
        rate = self.corrections[i].get(name, 0.0)
        return self.areas[i].get(name, 0.0) + rate * (t - self.times[i])

    def to_dict(self) -> dict:
        # "speeds": the name of feeds saved when only the speeds were recorded, which still load
        return {"times": self.times, "speeds": self.corrections, "areas": self.areas}

    @classmethod
    def from_dict(cls, raw: dict) -> CorrectionRecord:
        return cls(list(raw["times"]), list(raw["speeds"]), list(raw["areas"]))


@dataclass(frozen=True)
class ReportSummary:
    """What one batch of outcome reports did."""

    accepted: int
    """Items whose news was new (first report, or a finish after an open report)."""
    duplicates: int
    """Items reported again with nothing new (reports are idempotent on the item id)."""
    judged: int
    """Checkpoint judgements made while handling the batch."""
    pending: int
    """Items with a checkpoint still to judge after the batch (by outcome or estimate)."""
    errors: list[str] = field(default_factory=list)
    """Per report row: why it was refused ('' when it was taken)."""


class OutcomeFeed:
    """Feeds finished and still-open items into online calibration, each judgement when due.

    Parameters
    ----------
    online : the corrections being learned (updated in place).
    calibration : the model's per-segment score distributions; a checkpoint at level ``p`` lies
        at ``exp(location + shift + spread * z_p)`` clock hours from the item's effective start.
    clock, anchor : the clock and the instant positions are measured from (for :meth:`report`).
    """

    def __init__(
        self,
        online: OnlineCalibration,
        calibration: MondrianCalibration,
        clock: Clock,
        anchor: pd.Timestamp,
    ) -> None:
        self.online = online
        self.clock = clock
        self.anchor = pd.Timestamp(anchor).tz_convert("UTC")
        self._distributions = calibration.by_key
        self._z = {
            (tag, name): float(dist.quantile(np.array([online.level(name)]))[0])
            for tag, dist in calibration.by_key.items()
            for name in JUDGEMENTS
        }
        self._calibration = calibration
        self._items: dict[Hashable, _Tracked] = {}
        self._recent: deque[tuple[float, _Tracked]] = deque()
        """Items for the speed estimate, with the time until which they count."""
        self._due: list[tuple[float, int, Hashable, str]] = []
        self._order = itertools.count()
        self._done: set[Hashable] = set()
        self._finished_at: dict[Hashable, int] = {}
        """The finish each item was first reported with (UTC nanoseconds), by :meth:`report`:
        what tells a repeat (a duplicate) from a correction (refused)."""
        self._open_until: dict[Hashable, int] = {}
        """The latest moment each item was reported still open (UTC nanoseconds): a finish
        before it is refused, also once the item's judgements are done and it is forgotten."""
        self._first_report: dict[Hashable, tuple[int, int]] = {}
        """Each item's start (UTC nanoseconds) and a digest of its features as first reported:
        its judgements were made for them, so a report that changes them is refused."""
        self.corrections = CorrectionRecord()
        self.judgements = 0

    @classmethod
    def for_model(cls, model: object) -> OutcomeFeed:
        """A feed that recalibrates ``model`` (an :class:`eta.model.EtaModel`) in place."""
        return cls(model.online_, model.calibration_, model.clock_, model.as_of_)

    def remember_reports(self, earlier: OutcomeFeed) -> None:
        """Take what was reported to ``earlier`` (another model version's feed) as reported
        here, without its judgements: a finish, an item seen open, an item's start and features
        stand whichever version judges the item (after a swap, the new version took another
        finish for the same id). A repeat of such a report is judged afresh, by this model."""
        for mine, theirs in (
            (self._finished_at, earlier._finished_at),
            (self._open_until, earlier._open_until),
            (self._first_report, earlier._first_report),
        ):
            for key, value in theirs.copy().items():  # copy: one step, from any thread
                mine.setdefault(key, value)

    # -- low level: clock positions ------------------------------------------------------------

    def track(
        self,
        key: Hashable,
        segment: str,
        location: float,
        spread: float,
        begin: float,
        *,
        now: float,
        finish: float = NEVER,
        seen: float = -NEVER,
        quoted_with: np.ndarray | None = None,
        groups: tuple[str, ...] = (),
    ) -> None:
        """Follow an item quoted (or first reported) at ``now``.

        Each checkpoint is first looked at when it falls due under the corrections the item was
        quoted with (``quoted_with``, default: today's). In a replay ``finish`` and ``seen`` may
        lie in the future: they are only used once ``now`` has passed them. ``groups``: the
        item's keys of :attr:`eta.predictive.Predictive.groups`.
        """
        quoted = (
            _offsets(self.online, segment, groups)
            if quoted_with is None
            else np.asarray(quoted_with, float)
        )
        item = _Tracked(segment, location, spread, begin, finish, seen, quoted, groups=groups)
        self._items[key] = item
        promise = self._limit(item, "promise", now, quoted)
        self._recent.append((begin + SPEED_WINDOW * promise, item))
        for name in JUDGEMENTS:
            due = begin + self._limit(item, name, now, quoted)
            if due <= now:
                self._check(key, name, now)
            else:
                heapq.heappush(self._due, (due, next(self._order), key, name))
        self._forget_if_done(key)

    def observe(
        self, key: Hashable, *, now: float, finish: float = NEVER, seen: float = -NEVER
    ) -> bool:
        """News of a tracked item: it finished at ``finish``, or was open at ``seen``.

        Returns whether the news was new. Checkpoints that the news decides are judged now if
        their time has passed, else when it does (:meth:`advance`); judgements made by estimate
        are revised.
        """
        item = self._items.get(key)
        if item is None:
            return False
        new = finish < item.finish or seen > item.seen
        item.finish, item.seen = min(item.finish, finish), max(item.seen, seen)
        if new:
            for name in sorted(item.estimated):
                self._revise(item, name, now)
            for name in sorted(item.unjudged):
                due = item.begin + self._limit(item, name, now)
                if due <= now:
                    self._check(key, name, now)
                else:
                    heapq.heappush(self._due, (due, next(self._order), key, name))
            self._forget_if_done(key)
        return new

    def refresh_speed(self, now: float) -> None:
        """Estimate how much slower recent items run than the model says, for the whole model and
        each segment, from what is known of them at ``now`` (see
        :func:`eta.online.speed_shift`); quotes made after this use the estimate."""
        while self._recent and self._recent[0][0] < now:
            self._recent.popleft()
        items = sorted((item for until, item in self._recent if until >= now), key=_begin)
        if not items:
            return
        # Items still to be judged need the speeds since they began; those judged by estimate,
        # awaiting news that may never come, make do with the oldest kept (bounded state).
        waiting = (i.begin for i in self._items.values() if i.unjudged)
        self.corrections.forget_before(min(waiting, default=now))
        begin = np.fromiter((i.begin for i in items), float, len(items))
        finish = np.fromiter((i.finish for i in items), float, len(items))
        seen = np.fromiter((i.seen for i in items), float, len(items))
        segments = np.array([i.segment for i in items], dtype=object)
        finished = finish <= now
        self.online.observe_speed(
            self._calibration,
            segments,
            np.fromiter((i.location for i in items), float, len(items)),
            np.fromiter((i.spread for i in items), float, len(items)),
            np.where(finished, finish, np.minimum(seen, now)) - begin,
            finished,
            _group_columns(items),
            heard=len(self._done) + float(finished.sum()),  # judged and forgotten, and recent
        )
        self.corrections.add(now, dict(self.online.offset))

    def advance(self, now: float) -> int:
        """Judge every checkpoint that fell due before ``now``; returns how many were judged."""
        before = self.judgements
        while self._due and self._due[0][0] < now:
            _, _, key, name = heapq.heappop(self._due)
            item = self._items.get(key)
            if item is not None and name in item.unjudged:
                self._check(key, name, now)
                self._forget_if_done(key)
        return self.judgements - before

    # -- high level: instants, for the service -------------------------------------------------

    def position(self, instants: Iterable[pd.Timestamp] | pd.Series) -> np.ndarray:
        """Clock positions of instants (clock hours since the anchor)."""
        when = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(instants)), utc=True))
        return self.clock.hours_between(pd.DatetimeIndex([self.anchor] * len(when)), when)

    def report(
        self,
        model: object,
        items: pd.DataFrame,
        finished_at: pd.Series,
        observed_at: pd.Series | pd.Timestamp,
        now: pd.Timestamp,
    ) -> ReportSummary:
        """Handle outcome reports for ``items`` (canonical rows from
        :func:`eta.quote.prepare_items`, with an ``id`` column), all made at ``now``.

        ``finished_at`` is each item's finish (NaT: still open when it was ``observed_at``).
        Reports are idempotent on the id: an item reported again with nothing new changes
        nothing, an open item reported finished later is judged then. A finish differs from the
        one first reported, or an item is reported open after it: that row is refused
        (:meth:`_contradiction`), since its judgements were made and counted by the first.
        """
        judged_before = self.judgements
        ids = items["id"].astype(str).to_numpy()
        finished_at = pd.to_datetime(pd.Series(finished_at).reset_index(drop=True), utc=True)
        if isinstance(observed_at, pd.Timestamp):
            observed_at = pd.Series([observed_at] * len(items))
        observed_at = pd.to_datetime(pd.Series(observed_at).reset_index(drop=True), utc=True)
        errors = _report_errors(items, finished_at, observed_at, now)
        begin = self.position(model.clock_.effective_start(items[START]))
        finish = self.position(finished_at)
        seen = np.where(np.isnan(finish), self.position(observed_at), finish)
        finish = np.where(np.isnan(finish), NEVER, finish)
        at = float(self.position([now])[0])
        finish_ns = utc_nanoseconds(finished_at)  # '2026-12-05T10:00Z' reads as microseconds
        seen_ns = utc_nanoseconds(observed_at)
        reported = finished_at.notna().to_numpy(bool)
        # As the model reads the values: 'HIGH' after 'high' is the same item, not a change.
        learnt = model.spelled_as_learnt(items)
        first = _first_reports(learnt, [c for c in model.spec.feature_columns if c in items])
        for i, key in enumerate(ids):  # against what was reported before, maybe to another version
            if not errors[i]:
                finish_i = int(finish_ns[i]) if reported[i] else None
                errors[i] = self._contradiction(key, finish_i, int(seen_ns[i]), first[i])
        ok = np.array([e == "" for e in errors], dtype=bool)
        fresh = ok & np.array([k not in self._items and k not in self._done for k in ids])
        fresh &= ~pd.Series(np.where(ok, ids, None)).duplicated().to_numpy()  # later rows: news
        predictive = model.predict(learnt[fresh]) if fresh.any() else None
        # Items first heard of now were quoted when they began, with the corrections in force
        # then: not with those that earlier reports, or this one's own news, have moved since
        # (500 broken promises reported at once read as 83% kept, each judged by a promise its
        # predecessors had already stretched).
        if not self.corrections.times:
            self.corrections.add(at, dict(self.online.offset))
        accepted = duplicates = 0
        j = 0
        for i, key in enumerate(ids):
            if not ok[i]:
                continue
            if not fresh[i]:  # an earlier row of this report may have said otherwise
                finish_i = int(finish_ns[i]) if reported[i] else None
                errors[i] = self._contradiction(key, finish_i, int(seen_ns[i]), first[i])
                if errors[i]:
                    continue
            self._first_report.setdefault(key, first[i])
            if reported[i]:
                self._finished_at.setdefault(key, int(finish_ns[i]))
            else:
                self._open_until[key] = max(self._open_until.get(key, 0), int(seen_ns[i]))
            if fresh[i]:
                segment = str(predictive.segment[j])
                groups = tuple(str(keys[j]) for keys in predictive.groups)
                self.track(
                    key,
                    segment,
                    float(predictive.location[j]),
                    float(predictive.spread[j]),
                    float(begin[i]),
                    now=at,
                    finish=float(finish[i]),
                    seen=float(seen[i]),
                    quoted_with=self._quoted_at(segment, groups, float(begin[i])),
                    groups=groups,
                )
                j += 1
                accepted += 1
            elif self.observe(key, now=at, finish=float(finish[i]), seen=float(seen[i])):
                accepted += 1
            else:
                duplicates += 1
        self.advance(at)  # after the news, so that what it decides is judged, not estimated
        self.refresh_speed(at)
        judged = self.judgements - judged_before
        return ReportSummary(accepted, duplicates, judged, self.pending, errors)

    def _contradiction(
        self, key: Hashable, finish: int | None, seen: int, first: tuple[int, int]
    ) -> str:
        """Why a report of an item reported before contradicts it ('' when it does not):
        another finish, open after its finish, finished before it was seen open, or another
        start or other features. A correction is not applied: the item's likely time and
        promise were judged by the first report and counted in the on-time rate and the
        corrections, and undoing a judgement made months of reports ago cannot be done exactly
        (each later correction moved from it); saying so beats ignoring it."""
        said = self._first_report.get(key)
        if said is not None and said[0] != first[0]:
            return (
                f"the item was first reported as started at {_utc(said[0])}: started_at "
                "cannot change once reported; report another item under a new id"
            )
        if said is not None and said[1] != first[1]:
            return (
                "the features differ from the item's first report: they cannot change once "
                "reported (its promise was judged with them); report another item under a new id"
            )
        done = self._finished_at.get(key)
        if done is not None and finish is None and seen > done:
            return (
                f"the outcome was already reported as finished at {_utc(done)}: an item cannot "
                "be reported open after that (finished_at is null); report a reopened item "
                "under a new id"
            )
        if done is not None and finish is not None and finish != done:
            return (
                f"the outcome was already reported as finished at {_utc(done)}: finished_at "
                "cannot be changed once reported (its likely time and promise were judged by it)"
            )
        if finish is not None and finish < self._open_until.get(key, finish):
            return (
                f"the item was reported still open at {_utc(self._open_until[key])}: "
                "finished_at cannot be earlier than an earlier report's observed_at"
            )
        return ""

    @property
    def pending(self) -> int:
        """Items with a checkpoint still to judge (by outcome or estimate)."""
        return sum(bool(item.unjudged) for item in self._items.values())

    # -- persistence -----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Everything the feed knows, as JSON-ready values (item keys must be strings or
        numbers), so that a restarted service judges the promises it already made. The online
        corrections it moves are saved with the model's state, not here."""
        tracked = {id(item): item for item in self._items.values()}
        tracked |= {id(item): item for _, item in self._recent}
        index = {ident: i for i, ident in enumerate(tracked)}
        return {
            "anchor": self.anchor.isoformat(),
            "tracked": [_tracked_to_dict(item) for item in tracked.values()],
            "items": [[key, index[id(item)]] for key, item in self._items.items()],
            "recent": [[until, index[id(item)]] for until, item in self._recent],
            "due": [[due, key, name] for due, _, key, name in sorted(self._due)],
            "done": list(self._done),
            "finished_at": [[key, ns] for key, ns in self._finished_at.items()],
            "open_until": [[key, ns] for key, ns in self._open_until.items()],
            "first_report": [[key, *said] for key, said in self._first_report.items()],
            "judgements": self.judgements,
            "speeds": self.corrections.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: dict, model: object) -> OutcomeFeed:
        """The feed saved by :meth:`to_dict`, recalibrating ``model`` (the same model version it
        was saved with: positions and segments are that model's)."""
        feed = cls(model.online_, model.calibration_, model.clock_, pd.Timestamp(raw["anchor"]))
        tracked = [_tracked_from_dict(item) for item in raw["tracked"]]
        feed._items = {key: tracked[i] for key, i in raw["items"]}
        feed._recent = deque((until, tracked[i]) for until, i in raw["recent"])
        feed._due = [(due, next(feed._order), key, name) for due, key, name in raw["due"]]
        heapq.heapify(feed._due)
        feed._done = set(raw["done"])
        # Feeds saved before finishes were kept have none: the next finish reported is the first.
        feed._finished_at = {key: int(ns) for key, ns in raw.get("finished_at", [])}
        feed._open_until = {key: int(ns) for key, ns in raw.get("open_until", [])}
        feed._first_report = {key: (int(s), int(h)) for key, s, h in raw.get("first_report", [])}
        feed.judgements = int(raw["judgements"])
        if "speeds" in raw:  # feeds saved before judgements used the speed under way have none
            feed.corrections = CorrectionRecord.from_dict(raw["speeds"])
        return feed

    # -- internals ------------------------------------------------------------------------------

    def _quoted_at(self, segment: str, groups: tuple[str, ...], begin: float) -> np.ndarray:
        """The corrections an item of ``segment`` and ``groups`` that began at ``begin`` was
        quoted with."""
        then = self.corrections.at(begin)
        online = self.online if then is None else dataclasses.replace(self.online, offset=then)
        return _offsets(online, segment, groups)

    def _judging(self, item: _Tracked, name: str, now: float) -> np.ndarray:
        """The corrections checkpoint ``name`` is judged by at ``now``: those the item was quoted
        with for :data:`~eta.online.QUOTED`; else today's, with today's speed estimate
        replaced by the mean of those in force while the item was under way."""
        if name == QUOTED:
            return item.quoted
        offsets = _offsets(self.online, item.segment, item.groups)
        keys = (ALL, item.segment, *(group for group in item.groups if group))
        names = tuple(f"{SPEED}|{key}" for key in keys)
        ran = self.corrections.mean(names, item.begin, min(now, item.finish))
        if ran is not None:
            today = sum(self.online.offset.get(n, 0.0) for n in names)
            offsets = offsets + np.array([ran - today, 0.0])
        return offsets

    def _limit(
        self, item: _Tracked, name: str, now: float, offsets: np.ndarray | None = None
    ) -> float:
        """Clock hours from the effective start to checkpoint ``name``, under ``offsets`` or
        the corrections it is judged by at ``now`` (:meth:`_judging`)."""
        if offsets is None:
            offsets = self._judging(item, name, now)
        shift = self.online.shift(offsets[None, :], name)[0]
        return float(np.exp(item.location + shift + item.spread * self._z[item.segment, name]))

    def _check(self, key: Hashable, name: str, now: float) -> None:
        item = self._items[key]
        limit = self._limit(item, name, now)
        if item.begin + limit > now:  # today's corrections moved it later
            heapq.heappush(self._due, (item.begin + limit, next(self._order), key, name))
        elif item.finish <= now:
            self._judge(item, name, late=float(item.finish - item.begin > limit))
        elif min(now, item.seen) - item.begin >= limit:
            self._judge(item, name, late=1.0)
        else:  # last seen open before its checkpoint, no news since
            late = self._late_probability(item, name, limit, now)
            self._judge(item, name, late=late, estimated=True)
            item.estimated[name] = (limit, late)

    def _late_probability(self, item: _Tracked, name: str, limit: float, now: float) -> float:
        """``P(T > limit | T > age)`` for an item last seen open at ``age < limit``: ``S(limit)``
        is one minus the checkpoint's level by construction; ``S(age)`` comes from the item's
        distribution moved by its location correction (the tail correction barely acts there)."""
        age = max(item.seen - item.begin, 1e-9)
        offsets = self._judging(item, name, now)
        z_age = (math.log(age) - item.location - offsets[0]) / item.spread
        alive = 1.0 - float(self._distributions[item.segment].cdf(np.array([z_age]))[0])
        return min((1.0 - self.online.level(name)) / max(alive, 1e-12), 1.0)

    def _revise(self, item: _Tracked, name: str, now: float) -> None:
        """News of an item judged by estimate: judge it by outcome if the news decides it, else
        estimate again from the longer time it is now known to have been open."""
        limit, before = item.estimated[name]
        if item.finish <= now:
            late, estimated = float(item.finish - item.begin > limit), False
        elif min(now, item.seen) - item.begin >= limit:
            late, estimated = 1.0, False
        else:
            late, estimated = self._late_probability(item, name, limit, now), True
        self.online.update(
            item.segment, name, late, groups=item.groups, estimated=estimated, instead_of=before
        )
        if estimated:
            item.estimated[name] = (limit, late)
        else:
            del item.estimated[name]
            self.judgements += name in CHECKPOINTS

    def _judge(self, item: _Tracked, name: str, *, late: float, estimated: bool = False) -> None:
        self.online.update(item.segment, name, late, groups=item.groups, estimated=estimated)
        item.unjudged.discard(name)
        self.judgements += name in CHECKPOINTS and not estimated

    def _forget_if_done(self, key: Hashable) -> None:
        item = self._items[key]
        if not item.unjudged and not item.estimated:
            del self._items[key]
            self._done.add(key)


def _utc(ns: int) -> str:
    return f"{pd.Timestamp(ns, tz='UTC'):%Y-%m-%dT%H:%M:%SZ}"


def _first_reports(items: pd.DataFrame, columns: list[str]) -> list[tuple[int, int]]:
    """Each row's start (UTC nanoseconds) and a digest of its feature values, stable across
    processes (Python's own string hashes are not), for :attr:`OutcomeFeed._first_report`."""
    starts = utc_nanoseconds(items[START])
    values = items[columns].astype("string").fillna("").to_numpy(object)
    digests = [
        int.from_bytes(hashlib.blake2b("\x1f".join(row).encode(), digest_size=7).digest())
        for row in values
    ]
    return list(zip(starts.tolist(), digests, strict=True))


def _begin(item: _Tracked) -> float:
    return item.begin


def _offsets(online: OnlineCalibration, segment: str, groups: tuple[str, ...]) -> np.ndarray:
    """The corrections of ``online`` for one item of ``segment`` and ``groups``."""
    keys = [np.array([key], dtype=object) for key in groups]
    return online.offsets(np.array([segment], dtype=object), keys)[0]


def _group_columns(items: list[_Tracked]) -> list[np.ndarray]:
    """The items' group keys as one array per group ('' where an item has none: one tracked
    before its model had groups)."""
    width = max((len(item.groups) for item in items), default=0)
    return [
        np.array([i.groups[g] if g < len(i.groups) else "" for i in items], dtype=object)
        for g in range(width)
    ]


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def _tracked_to_dict(item: _Tracked) -> dict:
    return {
        "segment": item.segment,
        "location": item.location,
        "spread": item.spread,
        "begin": item.begin,
        "finish": _finite(item.finish),
        "seen": _finite(item.seen),
        "quoted": None if item.quoted is None else item.quoted.tolist(),
        "unjudged": sorted(item.unjudged),
        "estimated": {name: list(value) for name, value in item.estimated.items()},
        "groups": list(item.groups),
    }


def _tracked_from_dict(raw: dict) -> _Tracked:
    return _Tracked(
        raw["segment"],
        raw["location"],
        raw["spread"],
        raw["begin"],
        NEVER if raw["finish"] is None else raw["finish"],
        -NEVER if raw["seen"] is None else raw["seen"],
        None if raw["quoted"] is None else np.asarray(raw["quoted"], float),
        set(raw["unjudged"]),
        {name: (limit, late) for name, (limit, late) in raw["estimated"].items()},
        tuple(raw.get("groups", ())),  # items saved before groups had speeds: none
    )


def _report_errors(
    items: pd.DataFrame, finished_at: pd.Series, observed_at: pd.Series, now: pd.Timestamp
) -> list[str]:
    """Why each report row cannot be taken ('' when it can); a report cannot tell the future."""
    start = pd.to_datetime(items[START].reset_index(drop=True), utc=True)
    problems = (
        (start.isna(), "missing or unparseable start"),
        (finished_at < start, "finished_at is before the start"),
        (finished_at > now, "finished_at is in the future"),
        (finished_at.isna() & observed_at.isna(), "an open item needs observed_at"),
        (finished_at.isna() & (observed_at < start), "observed_at is before the start"),
        (finished_at.isna() & (observed_at > now), "observed_at is in the future"),
    )
    errors = [""] * len(start)
    for mask, reason in problems:
        for i in np.flatnonzero(mask.fillna(False).to_numpy(bool)):
            errors[i] = errors[i] or reason
    return errors


__all__ = ["NEVER", "CorrectionRecord", "OutcomeFeed", "ReportSummary"]
