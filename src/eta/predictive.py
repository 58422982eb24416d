"""The finish-time distributions of quoted items: any quantile, for new items and items under way.

:class:`Predictive` is what :meth:`eta.model.EtaModel.predict` answers: each item's location and
spread from the quantile models, its calibration segment's score distribution
(:mod:`eta.calibration`), the in-flight levels (:mod:`eta.inflight`) and, in service or replay,
online calibration's corrections (:mod:`eta.online`). It turns them into clock hours.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from eta.calibration import MondrianCalibration
from eta.inflight import FarTail, InFlightBySpread

FAR_TAIL_QUOTES = 10.0
"""An item in progress is promised at most this many fresh quotes beyond the time it has taken
where history has too few items as old (in fresh promises) to say more (:class:`FarTail`)."""
MIN_SPREAD = 0.05
"""Floor on the log-scale spread between median and P90: no item gets a zero-width distribution."""
MIN_STRETCH = 0.05
"""Online calibration narrows a distribution between its median and promise at most twentyfold
(the promise stays above the median)."""


@dataclass(frozen=True)
class Predictive:
    """Calibrated finish-time distributions of a batch of items.

    Item ``i`` finishes after ``exp(location[i] + spread[i] * Z)`` clock hours, where ``Z``
    follows its calibration segment's score distribution.
    """

    location: np.ndarray
    spread: np.ndarray
    segment: np.ndarray
    calibration: MondrianCalibration
    in_flight: InFlightBySpread | None = None
    groups: tuple[np.ndarray, ...] = ()
    """Per item, its key of each group with a speed estimate of its own
    (:meth:`EtaModel._groups`), for the online corrections."""
    far_tail: FarTail | None = None
    """How far past its age an item under way may be promised (else :data:`FAR_TAIL_QUOTES`
    fresh promises)."""

    def take(self, rows: np.ndarray) -> Predictive:
        """The distributions of some items only."""
        return replace(
            self,
            location=self.location[rows],
            spread=self.spread[rows],
            segment=self.segment[rows],
            groups=tuple(keys[rows] for keys in self.groups),
        )

    def hours(
        self,
        levels: np.ndarray,
        elapsed: np.ndarray | None = None,
        offsets: np.ndarray | None = None,
        confidence: float = 0.9,
    ) -> np.ndarray:
        """Quantiles in clock hours, ``levels`` of shape (n_items, n_levels), never crossing.

        With ``elapsed`` the quantiles are those of ``T | T > elapsed``:
        ``F^-1(F(e) + p' (1 - F(e)))``, where the level ``p'`` is recalibrated on history's items
        that were still open at the same age, among items of a spread like its own
        (:class:`eta.inflight.InFlightBySpread`): items that are already late are more often
        the stuck ones, so ``p' = p`` would break the promises of exactly the customers who call
        back.

        ``offsets`` (per item ``[location shift, tail shift]`` in log hours, see
        :meth:`eta.online.OnlineCalibration.offsets`) is online calibration's answer to
        "everything is 20% slower this week": the location shift moves the whole distribution,
        and the tail shift rescales its scores between the median and the ``confidence`` level
        so that the promise moves by it in full (:class:`_Warp`). Beyond the promise a longer
        tail stretches on, a shorter one does not shrink: the exponential tail is memoryless in
        log time, so a shift alone left an overdue item's remaining time unchanged however long
        promises had been running lately (re-quotes at 100% of the first promise were kept 82.7%
        in December's parcel peak, 87.3% stretched); shrunk by a correction learned from new
        items' promises, overdue flights' re-quotes were kept 80.8% instead of 92.5%.
        """
        levels = np.asarray(levels, dtype=float)
        n = len(self.location)
        done = np.zeros(n) if elapsed is None else np.nan_to_num(np.asarray(elapsed, float))
        offsets = np.zeros((n, 2)) if offsets is None else np.asarray(offsets, dtype=float)
        out = np.empty(levels.shape)
        for tag, rows in self.calibration.distributions(self.segment).items():
            dist = self.calibration.by_key[tag]
            loc = self.location[rows, None] + offsets[rows, :1]
            spread = self.spread[rows, None]
            median, top = dist.quantile(np.array([0.5, confidence]))
            span = np.maximum(spread * (top - median), MIN_SPREAD)
            warp = _Warp(median, top, np.maximum(1.0 + offsets[rows, 1:] / span, MIN_STRETCH))
            started = done[rows, None] > 0
            z_seen = np.where(
                started, (np.log(np.maximum(done[rows, None], 1e-9)) - loc) / spread, -np.inf
            )
            z_done = np.where(started, warp.inverse(z_seen), -np.inf)
            asked = levels[rows]
            if self.in_flight is not None:
                # The item's age in its distribution: a shorter recent tail does not make it
                # older (as above, that evidence is about new items' promises).
                age = dist.cdf(np.minimum(z_done, z_seen))
                asked = self.in_flight.level(asked, age, self.spread[rows])
            z = dist.conditional_quantile(asked, z_done)
            hours = np.exp(loc + spread * warp(z))
            # A safety net for items that have outlived anything history can speak for (the
            # exponential tail scales with the time already spent): at most ten fresh quotes more,
            # of a tail that online calibration may lengthen, never shorten (as above).
            z_fresh = dist.quantile(levels[rows])
            fresh = np.exp(loc + spread * np.maximum(warp(z_fresh), z_fresh))
            limit = FAR_TAIL_QUOTES
            if self.far_tail is not None and started.any():
                promise = np.exp(loc + spread * np.maximum(warp(top), top))
                limit = self.far_tail.cap(done[rows, None] / promise, FAR_TAIL_QUOTES)
            hours = np.minimum(hours, done[rows, None] + limit * fresh)
            # Never a finish time in the past, even where floating point rounds the tail down.
            out[rows] = np.maximum(hours, done[rows, None] + 1.0 / 60.0)
        return np.maximum.accumulate(out, axis=1) if _ascending(levels) else out


@dataclass(frozen=True)
class _Warp:
    """Online calibration's tail correction on the score scale: scores up to the median stay,
    between the median and the promise level (``top``) they scale by ``stretch``, beyond it by
    ``max(stretch, 1)`` (see :meth:`Predictive.hours`). Continuous and increasing, so quantiles
    keep their order and an item's age maps back to a score (:meth:`inverse`)."""

    median: float
    top: float
    stretch: np.ndarray

    def __call__(self, z: np.ndarray) -> np.ndarray:
        m, c, s = self.median, self.top, self.stretch
        return np.where(
            z <= m, z, np.where(z <= c, m + s * (z - m), m + s * (c - m) + self._beyond * (z - c))
        )

    def inverse(self, u: np.ndarray) -> np.ndarray:
        m, c, s = self.median, self.top, self.stretch
        at_top = m + s * (c - m)
        return np.where(
            u <= m, u, np.where(u <= at_top, m + (u - m) / s, c + (u - at_top) / self._beyond)
        )

    @property
    def _beyond(self) -> np.ndarray:
        return np.maximum(self.stretch, 1.0)


def _ascending(levels: np.ndarray) -> bool:
    return bool(np.all(np.diff(levels, axis=1) >= 0))
