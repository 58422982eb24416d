"""Calibration for items already under way: how much longer, given the time they have taken.

An item open for a while is not a random draw of its kind: it is more often a stuck, escalated
or lost one. :class:`InFlightCalibration` recalibrates the level asked of ``T | T > e`` on the
calibration items that were themselves still open at that age, censoring-aware;
:class:`InFlightBySpread` keeps one such table per third of the items' spreads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eta.calibration import thinned

AGES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
"""Ages at which in-flight quotes are recalibrated, as levels of the item's own distribution."""
MAX_LEVEL = 0.999
"""The highest conditional level an in-flight quote asks for, where history runs out."""
MIN_IN_FLIGHT_ITEMS = 50
"""Finished items older than an age before that age gets its own table."""


@dataclass(frozen=True)
class InFlightCalibration:
    """Recalibrated levels for items already in progress: ``T | T > e`` as history says it is.

    ``F^-1(F(e) + p (1 - F(e)))`` is right only if the predictive distribution ``F`` is right in
    its tail for *this* item, and items that are already late are not a random draw: they are
    more often the stuck, escalated, lost ones. So the level is recalibrated on the calibration
    items themselves, the way split conformal calibrates fresh quotes: for an age ``a`` (a level
    of each item's own distribution), take the items that were still open at that age and the
    conditional levels ``v = (F(T) - a) / (1 - a)`` at which they finished; the level to ask for
    is the ``p``-quantile of those ``v``.

    Many of the items that old are still open at the export, so the distribution of ``v`` is the
    Kaplan–Meier estimate over the items open at ``a``: an item still open counts as surviving up
    to the level it has reached, and its mass moves to the items that finished later (Efron's
    redistribution to the right), instead of all of it being put above every finish, which
    over-padded re-quotes (on one year of tickets, re-quotes at 100% of the first promise were
    kept 92.5%; 88.9% with this estimate, and a quarter shorter). The risk sets count the item
    being quoted too (+1), as split conformal does, and whatever mass is left beyond the last
    finish stays above it, so promises still err long where history runs out. Between the ages
    of :data:`AGES` the level is interpolated (age 0 asks for ``p`` itself). Beyond the last age
    the last table is conditioned on the item's age too: its Kaplan–Meier distribution of
    ``T | T > a`` gives ``T | T > e`` for any older ``e``, down to ``p`` itself where the item
    has outlived every finish in the table. Reusing the last table's level as it was assumed
    every older item as far from its finish as one of that age, which the tail of a lost
    parcel, delayed for a while and then found, is not: one-year deliveries' re-quotes at four
    times the first promise were kept 97.1% with 632 h still to go, conditioned 95.3% with 560 h
    (measured before the tail rate counted open items' time, which lengthened every re-quote).

    The calibration period's oldest items are mostly still open at the export (a parcel lost in
    the latest month has not been found yet), so it may have too few finishes for the oldest
    ages' tables. There, the items from before it join (``older`` in :meth:`fit`): they have
    been watched long enough to show where the stuck ones end. Their levels are in-sample (the
    trees grew on them), which matters little here: how long a stuck item takes past a level
    the model calls late is what no feature told the trees. On one-year deliveries, whose
    calibration periods have no table at 0.98, re-quotes at twice the first promise were kept
    95.4% with 624 h still to go, and now 92.5% with 557 h (four times: 96.5% with 651 h, now
    97.6% with 638 h, 170 items); one-year tickets at twice 91.8% (409 h), now 89.4% (373 h),
    four times 93.6% (596 h), now 90.2% (549 h). Histories of two years have all their tables.

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *JASA* 53(282). Efron, B. (1967). The two sample problem with censored data. *Proc. 5th
    Berkeley Symposium* 4. Candès, E., Lei, L. & Ren, Z. (2023). Conformalized survival
    analysis. *JRSS B* 85(1).
    """

    ages: np.ndarray
    values: list[np.ndarray]
    cumulative: list[np.ndarray]

    @classmethod
    def fit(
        cls,
        levels: np.ndarray,
        finished: np.ndarray,
        older: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> InFlightCalibration:
        """``levels``: each calibration item's ``F(T)`` under its own calibrated distribution,
        for an open item the level it has reached so far; ``finished``: whether it finished.

        Only ages that at least :data:`MIN_IN_FLIGHT_ITEMS` finished items outlived get a
        table; older items use the oldest table there is (or none: ``T | T > e`` as is).
        ``older``, the levels and finishes of the items from before the calibration period,
        joins the calibration items at the ages where they alone have too few finishes: the
        items that old in the calibration period are mostly still open at the export, and
        their tables, ending where the calibration period's follow-up ends, spread the rest
        of the distribution evenly up to the level 1, far out in time.
        """
        own = np.asarray(levels, float), np.asarray(finished, bool)
        both = own
        if older is not None:
            both = np.r_[older[0], own[0]], np.r_[np.asarray(older[1], bool), own[1]]
        ages, values, cumulative = [], [], []
        for age in AGES:
            levels, finished = own if _outlived(*own, age) >= MIN_IN_FLIGHT_ITEMS else both
            if _outlived(levels, finished, age) < MIN_IN_FLIGHT_ITEMS:
                break
            above = levels > age
            v, done, survival = _still_running((levels[above] - age) / (1.0 - age), finished[above])
            ages.append(age)
            steps = thinned(v[done], 1.0 - survival[done])
            values.append(steps[0])
            cumulative.append(steps[1])
        return cls(np.asarray(ages), values, cumulative)

    def level(self, p: np.ndarray, age: np.ndarray) -> np.ndarray:
        """The conditional level to ask for, per item (rows) and requested level (columns).

        Never below ``(p - a) / (1 - a)``, the level at which the conditional quantile is the
        fresh one: ``P(T <= q | T > e) <= P(T <= q)``, so no promise that holds at ``p`` for an
        item in progress comes before the promise a new item gets (the table, an estimate, can
        dip below it by noise at young ages).
        """
        p, age = np.asarray(p, dtype=float), np.broadcast_to(np.asarray(age, float), np.shape(p))
        if not len(self.ages):
            return p
        fresh = (p - age) / np.maximum(1.0 - age, 1e-12)
        grid = np.r_[0.0, self.ages]
        table = np.stack([p, *(self._quantile(k, p) for k in range(len(self.ages)))])
        k = np.clip(np.searchsorted(grid, age, side="right") - 1, 0, len(grid) - 2)
        lo = np.take_along_axis(table, k[None], 0)[0]
        hi = np.take_along_axis(table, k[None] + 1, 0)[0]
        t = np.clip((age - grid[k]) / (grid[k + 1] - grid[k]), 0.0, 1.0)
        asked = lo + t * (hi - lo)
        older = age > self.ages[-1]
        if older.any():  # most quotes are of new items: no table look-ups for them
            asked = np.where(
                older, self._older_than_oldest(p, np.maximum(age, self.ages[-1])), asked
            )
        return np.maximum(asked, fresh)

    def _older_than_oldest(self, p: np.ndarray, age: np.ndarray) -> np.ndarray:
        """The level to ask for at an ``age`` past the last table's: ``T | T > e`` from that
        table's distribution of ``T | T > a``, as a level of the item's own ``T | T > e``.

        The table's distribution is read as a polygon through its finishes (and evenly up to 1
        beyond the last, as :meth:`_quantile` does), so that an age among its last few finishes
        still gets distinct levels for distinct ``p``."""
        oldest = self.ages[-1]
        values = np.r_[0.0, self.values[-1], 1.0]
        cumulative = np.r_[0.0, self.cumulative[-1], 1.0]
        reached = np.interp((age - oldest) / (1.0 - oldest), values, cumulative)
        v = np.interp(reached + p * (1.0 - reached), cumulative, values)
        asked = (oldest + v * (1.0 - oldest) - age) / np.maximum(1.0 - age, 1e-12)
        # Past the table's last finish, its mass is spread evenly up to 1: that is ``p`` itself,
        # said exactly (``1 - age`` loses every digit for an item far beyond anything seen).
        outlived = age >= oldest + self.values[-1][-1] * (1.0 - oldest)
        return np.where(outlived, p, np.clip(asked, 0.0, MAX_LEVEL))

    def _quantile(self, k: int, p: np.ndarray) -> np.ndarray:
        """Weighted quantile of the conditional levels. Mass beyond the last one seen (what
        censoring hid, and the item being quoted) is spread evenly up to 1, so distinct levels
        stay distinct (a likely time never collapses onto the promise)."""
        values, cumulative = self.values[k], self.cumulative[k]
        idx = np.searchsorted(cumulative, p - 1e-12, side="left")
        seen = values[np.minimum(idx, len(values) - 1)]
        last_v, last_c = values[-1], cumulative[-1]
        beyond = last_v + (p - last_c) / max(1.0 - last_c, 1e-12) * (1.0 - last_v)
        return np.minimum(np.where(idx < len(values), seen, beyond), MAX_LEVEL)

    def to_dict(self) -> dict:
        return {
            "ages": self.ages.tolist(),
            "values": [v.tolist() for v in self.values],
            "cumulative": [c.tolist() for c in self.cumulative],
        }

    @classmethod
    def from_dict(cls, raw: dict) -> InFlightCalibration:
        return cls(
            np.asarray(raw["ages"]),
            [np.asarray(v) for v in raw["values"]],
            [np.asarray(c) for c in raw["cumulative"]],
        )


SPREAD_BANDS = 3
"""In-flight levels are recalibrated per third of the items' spreads (:class:`InFlightBySpread`)."""


@dataclass(frozen=True)
class InFlightBySpread:
    """:class:`InFlightCalibration` per band of the items' spread, the model's own word for how
    uncertain an item is (a Mondrian split by difficulty). Past its oldest table a band's item
    is conditioned on that table (:meth:`InFlightCalibration.level`); only a band with no table
    at all takes all items' tables. Switching to all items' tables past the band's oldest made
    levels jump: a tester's theft claim, in a band of claims that finish soon once late, asked
    for 0.74 at 850 business hours and, in all claims' table, 0.95 at 900; its remaining
    promise went from 1,197 h to 3,828 h, and 73 of 1,712 consecutive re-quotes of open claims
    came out earlier than the one before.

    Items that are late are not late the same way everywhere. Where the model already spreads
    an item wide (a queue where a fifth of the tickets get stuck), being past its usual time
    is expected and the rest comes soon; where it spreads it narrow, an item that late is one
    of the rare stuck ones, far from done. One table for all asks for a level in between: too
    long for the first, too short for the second. In a simulated history of 40 queues, each
    with its own share of stuck tickets (0-25%; ``benchmarks/stuck_queues.py``), re-quotes at
    their first promise were kept 84.7-96.4% in the queues grouped by that share, in fives
    (91.5% overall, 206 h still to go); per third of the spread, 85.7-93.9% (90.2%, 173 h).
    On one year of synthetic tickets the same re-quotes were 7% shorter and at twice the first
    promise a fifth shorter (169 -> 156 h and 373 -> 300 h still to go, kept 90.2% -> 89.1%
    and 89.4% -> 89.4%).

    References
    ----------
    Vovk, V., Gammerman, A. & Shafer, G. (2005). *Algorithmic Learning in a Random World*,
    ch. 4 (Mondrian conformal predictors). Boström, H. & Johansson, U. (2020). Mondrian
    conformal regressors. *Proc. COPA*, PMLR 128.
    """

    edges: np.ndarray
    """Log spreads between the bands."""
    bands: list[InFlightCalibration]
    whole: InFlightCalibration

    @classmethod
    def fit(
        cls,
        levels: np.ndarray,
        finished: np.ndarray,
        spread: np.ndarray,
        older: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> InFlightBySpread:
        """As :meth:`InFlightCalibration.fit`, with each item's ``spread`` (and, in ``older``,
        the earlier items' levels, finishes and spreads)."""
        levels, finished = np.asarray(levels, float), np.asarray(finished, bool)
        logs = np.log(np.asarray(spread, float))
        edges = np.quantile(logs, np.linspace(0.0, 1.0, SPREAD_BANDS + 1)[1:-1])
        band = np.searchsorted(edges, logs)
        if older is not None:
            older_band = np.searchsorted(edges, np.log(np.asarray(older[2], float)))
        bands = []
        for k in range(SPREAD_BANDS):
            mine = band == k
            earlier = None
            if older is not None:
                theirs = older_band == k
                earlier = (np.asarray(older[0])[theirs], np.asarray(older[1], bool)[theirs])
            bands.append(InFlightCalibration.fit(levels[mine], finished[mine], earlier))
        whole = InFlightCalibration.fit(levels, finished, None if older is None else older[:2])
        return cls(edges, bands, whole)

    @property
    def complete(self) -> bool:
        """Whether every band, and all items together, have a table at every age."""
        return all(len(t.ages) == len(AGES) for t in (*self.bands, self.whole))

    def level(self, p: np.ndarray, age: np.ndarray, spread: np.ndarray) -> np.ndarray:
        """:meth:`InFlightCalibration.level` from each item's band (rows; ``spread`` per item),
        or from all items' tables where its band has none."""
        p = np.asarray(p, dtype=float)
        age = np.broadcast_to(np.asarray(age, dtype=float), p.shape)
        asked = p.copy()  # a new item (age 0) asks for ``p`` itself: most quotes, no look-ups
        started = np.flatnonzero(age[:, 0] > 0) if p.size else np.array([], dtype=np.int64)
        if not len(started):
            return asked
        if not len(self.edges):
            asked[started] = self.whole.level(p[started], age[started])
            return asked
        spread = np.asarray(spread, float).reshape(-1)[started]
        band = np.searchsorted(self.edges, np.log(spread))
        for k, table in enumerate(self.bands):
            rows = started[band == k]
            if len(rows):
                use = table if len(table.ages) else self.whole
                asked[rows] = use.level(p[rows], age[rows])
        return asked

    def to_dict(self) -> dict:
        return {
            "edges": self.edges.tolist(),
            "bands": [t.to_dict() for t in self.bands],
            "whole": self.whole.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> InFlightBySpread:
        """Models saved before the bands hold one set of tables: all items'."""
        if "whole" not in raw:
            return cls(np.array([]), [], InFlightCalibration.from_dict(raw))
        return cls(
            np.asarray(raw["edges"]),
            [InFlightCalibration.from_dict(t) for t in raw["bands"]],
            InFlightCalibration.from_dict(raw["whole"]),
        )


def _still_running(
    beyond: np.ndarray, finished: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier of how far past an age history's items went (``beyond``; ``finished``, or
    followed that far and still open): the times in order, whether each finished, and the
    share still running after each. A finish comes before a censoring at a tie, and every risk
    set counts the item being quoted too, as split conformal counts the test point."""
    order = np.lexsort((~finished, beyond))
    beyond, finished = beyond[order], finished[order]
    at_risk = len(beyond) - np.arange(len(beyond)) + 1.0
    return beyond, finished, np.cumprod(np.where(finished, 1.0 - 1.0 / at_risk, 1.0))


def _outlived(levels: np.ndarray, finished: np.ndarray, age: float) -> int:
    """How many items finished at a level past ``age``."""
    return int(np.count_nonzero((levels > age) & finished))


FAR_TAIL_AGES = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
"""Ages, in fresh promises, at which :class:`FarTail` reads history's remaining times."""
MIN_FAR_TAIL_FINISHES = 30
"""Finishes beyond an age before :class:`FarTail` speaks for it."""
FAR_TAIL_BEYOND = 3.0
"""Finishes expected beyond the level's quantile before :class:`FarTail` reads it (120 at
97.5%): with fewer, the quantile is history's longest item or two."""


@dataclass(frozen=True)
class FarTail:
    """How many fresh promises more an item under way may take, at most, by its age in fresh
    promises: a Kaplan–Meier quantile of the remaining time of history's items that reached
    that age, pooled over segments (in fresh promises, items of every size compare).

    Beyond the in-flight tables the exponential tail sets re-quotes, and it scales with the
    time already spent (memoryless in log time): right for heavy tails, far too long for
    delays that end (a lost parcel found after 3-12 times its usual time kept 99.5% of its
    re-quotes at four times its first promise). A fixed cap of ten fresh promises cut the
    heavy tails short instead (66% kept at eight times). Here history says which it is: where
    the items that reached an age finished within ``remaining`` more fresh promises at the
    level asked, a promise goes no further; where more than that share of them were still
    running at the longest follow-up (not ``reached``), the tail is heavier than history can
    show, and a promise may go as far as history followed them, and never less far than the
    fixed cap. Ages with too few finishes keep the fixed cap, and so do ages whose quantile
    would be history's longest item or two (:data:`FAR_TAIL_BEYOND`): a field-service
    company's 57 jobs finished past their promise, one of them an inspection promised 5 hours
    that took 240, read as a tail 43 promises long, and a parts job 45 working days in was
    promised six years out (now, at ten fresh promises, 16 months).
    """

    ages: np.ndarray
    remaining: np.ndarray
    """At each age, the quantile of the time still taken; where not ``reached``, the longest
    time history followed its items beyond that age."""
    reached: np.ndarray

    @classmethod
    def fit(cls, age: np.ndarray, finished: np.ndarray, level: float) -> FarTail:
        """``age``: each history item's clock hours to its finish (or last look) in its own
        fresh promises; ``finished``: whether it finished."""
        age, finished = np.asarray(age, float), np.asarray(finished, bool)
        ages, remaining, reached = [], [], []
        for r in FAR_TAIL_AGES:
            above = age > r
            finishes = finished[above].sum()
            if finishes < MIN_FAR_TAIL_FINISHES:
                break
            u, _, survival = _still_running(age[above] - r, finished[above])
            at_level = np.flatnonzero(survival <= 1.0 - level)
            # Heavier than history can show: at the longest follow-up, well over the level's
            # share still running (twice: just over it is the quoted item of every risk set
            # keeping the last finish from reaching it, not a heavy tail).
            heavy = not len(at_level) and survival[-1] > 2.0 * (1.0 - level)
            if not heavy and finishes < FAR_TAIL_BEYOND / (1.0 - level):
                break  # the quantile would be history's longest item or two
            ages.append(r)
            reached.append(not heavy)
            remaining.append(u[at_level[0]] if len(at_level) else u[-1])
        return cls(np.asarray(ages, float), np.asarray(remaining, float), np.asarray(reached, bool))

    def cap(self, age: np.ndarray, default: float) -> np.ndarray:
        """Fresh promises more at most, per item: ``default`` younger than the first age read
        and older than the last (nothing in history speaks for an item that old: twenty years
        open is not promised forty more); interpolated between ages."""
        age = np.asarray(age, float)
        out = np.full(age.shape, default)
        if not len(self.ages):
            return out
        k = np.clip(np.searchsorted(self.ages, age, side="right") - 1, 0, len(self.ages) - 1)
        nxt = np.minimum(k + 1, len(self.ages) - 1)
        reach = np.where(self.reached, self.remaining, np.maximum(self.remaining, default))
        span = np.where(nxt > k, self.ages[nxt] - self.ages[k], 1.0)
        t = np.clip((age - self.ages[k]) / span, 0.0, 1.0)
        learnt = (age >= self.ages[0]) & (age <= self.ages[-1])
        return np.where(learnt, reach[k] + t * (reach[nxt] - reach[k]), out)

    def to_dict(self) -> dict:
        return {
            "ages": self.ages.tolist(),
            "remaining": self.remaining.tolist(),
            "reached": self.reached.tolist(),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> FarTail:
        return cls(
            np.asarray(raw["ages"], float),
            np.asarray(raw["remaining"], float),
            np.asarray(raw["reached"], bool),
        )
