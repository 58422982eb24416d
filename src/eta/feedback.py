"""Outcomes coming back: each item judged at its likely time and at its promise, when it is due.

Online calibration (:class:`eta.calibration.OnlineCalibration`) learns from judgements: was the
item done by its likely time? by its promise? This module decides *when* a judgement can honestly
be made, and makes it, for the replay backtest and for the service alike:

* a **kept** checkpoint is known once the item has finished, but it is counted only once the
  checkpoint's time has passed: counting kept promises as soon as items finish tells the
  controller mostly good news at any moment (the broken promises of the same days are still
  pending) and biases promises low;
* a **missed** checkpoint is known as soon as its time passes with the item still open;
* an item last seen open *before* its checkpoint cannot be judged until news of it arrives.

Judgements use the corrections in force when they are made, not those the item was quoted with:
outcomes arrive a promise late, and judging them by old corrections would keep pushing
corrections that have already moved (integral wind-up).

All times here are *clock positions*: clock hours (on the spec's clock) since an anchor instant,
so that "has the promise passed?" is one comparison of floats.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eta.calendar import Clock
from eta.calibration import CHECKPOINTS, MondrianCalibration, OnlineCalibration
from eta.data import START

NEVER = math.inf


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
    unjudged: set[str] = field(default_factory=lambda: set(CHECKPOINTS))


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
    """Items with a checkpoint still to judge after the batch."""
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
        self._z = {
            (tag, name): float(dist.quantile(np.array([level]))[0])
            for tag, dist in calibration.by_key.items()
            for name, level in online.checkpoints().items()
        }
        self._items: dict[Hashable, _Tracked] = {}
        self._due: list[tuple[float, int, Hashable, str]] = []
        self._order = itertools.count()
        self._done: set[Hashable] = set()
        self.judgements = 0

    @classmethod
    def for_model(cls, model: object) -> OutcomeFeed:
        """A feed that recalibrates ``model`` (an :class:`eta.model.EtaModel`) in place."""
        return cls(model.online_, model.calibration_, model.clock_, model.as_of_)

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
    ) -> None:
        """Follow an item quoted (or first reported) at ``now``.

        Each checkpoint is first looked at when it falls due under the corrections the item was
        quoted with (``quoted_with``, default: today's). In a replay ``finish`` and ``seen`` may
        lie in the future: they are only used once ``now`` has passed them.
        """
        item = _Tracked(segment, location, spread, begin, finish, seen)
        self._items[key] = item
        offsets = self._offsets(segment) if quoted_with is None else quoted_with
        for name in CHECKPOINTS:
            due = begin + self._limit(item, name, offsets)
            if due <= now:
                self._check(key, name, now)
            elif finish < NEVER or seen > due:  # something will be known when it falls due
                heapq.heappush(self._due, (due, next(self._order), key, name))
        self._forget_if_done(key)

    def observe(
        self, key: Hashable, *, now: float, finish: float = NEVER, seen: float = -NEVER
    ) -> bool:
        """News of a tracked item: it finished at ``finish``, or was open at ``seen``.

        Returns whether the news was new. Checkpoints that the news decides are judged now if
        their time has passed, else when it does (:meth:`advance`).
        """
        item = self._items.get(key)
        if item is None:
            return False
        new = finish < item.finish or seen > item.seen
        item.finish, item.seen = min(item.finish, finish), max(item.seen, seen)
        if new:
            for name in sorted(item.unjudged):
                due = item.begin + self._limit(item, name)
                if due <= now:
                    self._check(key, name, now)
                else:
                    heapq.heappush(self._due, (due, next(self._order), key, name))
            self._forget_if_done(key)
        return new

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
        nothing, an open item reported finished later is judged then.
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
        self.advance(at)
        ok = np.array([e == "" for e in errors], dtype=bool)
        fresh = ok & np.array([k not in self._items and k not in self._done for k in ids])
        predictive = model.predict(items[fresh]) if fresh.any() else None
        accepted = duplicates = 0
        j = 0
        for i, key in enumerate(ids):
            if not ok[i]:
                continue
            if fresh[i]:
                self.track(
                    key,
                    str(predictive.segment[j]),
                    float(predictive.location[j]),
                    float(predictive.spread[j]),
                    float(begin[i]),
                    now=at,
                    finish=float(finish[i]),
                    seen=float(seen[i]),
                )
                j += 1
                fresh[i] = False  # a second row with the same id in this batch is a duplicate
                accepted += 1
            elif self.observe(key, now=at, finish=float(finish[i]), seen=float(seen[i])):
                accepted += 1
            else:
                duplicates += 1
        judged = self.judgements - judged_before
        return ReportSummary(accepted, duplicates, judged, len(self._items), errors)

    # -- internals ------------------------------------------------------------------------------

    def _offsets(self, segment: str) -> np.ndarray:
        return self.online.offsets(np.array([segment], dtype=object))[0]

    def _limit(self, item: _Tracked, name: str, offsets: np.ndarray | None = None) -> float:
        """Clock hours from the effective start to checkpoint ``name`` under given corrections."""
        offsets = self._offsets(item.segment) if offsets is None else offsets
        level = np.array([self.online.level(name)])
        shift = self.online.shift(offsets[None, :], level)[0, 0]
        return float(np.exp(item.location + shift + item.spread * self._z[item.segment, name]))

    def _check(self, key: Hashable, name: str, now: float) -> None:
        item = self._items[key]
        limit = self._limit(item, name)
        if item.finish <= now:
            self._judge(item, name, late=item.finish - item.begin > limit)
        elif min(now, item.seen) - item.begin >= limit:
            self._judge(item, name, late=True)
        elif item.finish < NEVER or item.seen > now:  # more will be known when it falls due
            heapq.heappush(self._due, (item.begin + limit, next(self._order), key, name))
        # else: last seen open before its checkpoint; wait for news (observe)

    def _judge(self, item: _Tracked, name: str, *, late: bool) -> None:
        self.online.update(item.segment, name, late=late)
        item.unjudged.discard(name)
        self.judgements += 1

    def _forget_if_done(self, key: Hashable) -> None:
        if not self._items[key].unjudged:
            del self._items[key]
            self._done.add(key)


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


__all__ = ["NEVER", "OutcomeFeed", "ReportSummary"]
