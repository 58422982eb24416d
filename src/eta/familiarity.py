"""Wider promises for items with a category value history rarely saw.

The trees place an item by its values, and a value seen a few dozen times is placed from a
few dozen items, or not at all: LightGBM bins a column's rarest values together and splits
only where each side holds ``min_data_per_group`` rows. Such items' medians are right on
average but wrong item by item, some too early, some too late, and since on-time rate is
concave near the promise, promises calibrated over all items broke more often for them: on a
tester's helpdesk of 60 categories quoted statically for six months, items whose category
had fewer than 30 training items kept 76.9% of 65 promises, those of 30 to 100 items 88.1%,
the rest 88.5%.

So each item has a familiarity: the number of training items with its least-seen value. In
bands of familiarity (:data:`BANDS`), the spread of an item's distribution is widened by the
factor that makes the band's calibration scores reach the promise level where the most
familiar band's do (a Mondrian split on familiarity, as in Vovk et al. 2005, ch. 4, but by a
factor rather than a distribution of its own, which a band of a few dozen items could not
give). The calibration that follows sees the widened spreads, so the promise level stays
conformally calibrated over all items, now spread more fairly over them.

Reference: Vovk, V., Gammerman, A. & Shafer, G. (2005). *Algorithmic Learning in a Random
World*, Springer (Mondrian conformal prediction).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from eta.censoring import effective_sample_size

BANDS = (30, 100, 300)
"""Bounds of the familiarity bands, in training items of an item's least-seen value: fewer
than 30, 30 to 99, 100 to 299, and 300 or more."""
MIN_BAND_ITEMS = 10.0
"""Effective calibration items a band needs for a factor of its own; a thinner one takes the
factor of the band more familiar than it."""
PRIOR_ITEMS = 50.0
"""A band's own factor counts against this many items' worth of the next more familiar band's:
with 50 effective items it goes halfway to its own."""


@dataclass(frozen=True)
class Familiarity:
    """Training items per value code and column, and the spread factor per band. The last
    code, a value never seen, counts as every training item: the trees learn what an unknown
    value says from training copies with a value blanked (:data:`eta.model.BLANKED_SHARE`),
    which is no rare value's plight (widened as one, a flight to an airport never seen kept
    91.4% of its promises where the same flights with every value known kept 84.9%)."""

    counts: Mapping[str, np.ndarray]
    widening: np.ndarray

    @classmethod
    def fit(
        cls,
        training_codes: Mapping[str, np.ndarray],
        n_codes: Mapping[str, int],
        codes: Mapping[str, np.ndarray],
        scores: np.ndarray,
        weights: np.ndarray,
        level: float,
    ) -> Familiarity:
        """Counts from the trees' ``training_codes`` per column (``n_codes`` codes each); factors
        from calibration items' ``codes``, ``scores`` and censoring ``weights`` at the promise
        ``level``. A band never narrows below the one more familiar than it."""
        counts = {c: np.bincount(training_codes[c], minlength=n_codes[c]) for c in n_codes}
        for column, count in counts.items():
            count[-1] = len(training_codes[column])
        unwidened = cls(counts, np.ones(len(BANDS) + 1))
        band = unwidened.band(codes)
        widening = np.ones(len(BANDS) + 1)
        reference = None
        for b in range(len(BANDS), -1, -1):  # the most familiar first
            rows = band == b
            n = effective_sample_size(weights[rows]) if rows.any() else 0.0
            more_familiar = widening[b + 1] if b < len(BANDS) else 1.0
            widening[b] = more_familiar
            if n < MIN_BAND_ITEMS:
                continue
            reached = _weighted_quantile(scores[rows], weights[rows], level)
            if reference is None:
                reference = reached
                continue
            if reference <= 0:
                continue
            own = reached / reference
            toward = n / (n + PRIOR_ITEMS) * (own - more_familiar)
            widening[b] = more_familiar + max(toward, 0.0)
        return cls(counts, widening)

    def least_seen(self, codes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Training items of each item's least-seen value (``codes`` per column)."""
        seen = [
            count[np.clip(np.asarray(codes[column]).astype(np.int64), 0, len(count) - 1)]
            for column, count in self.counts.items()
        ]
        return np.minimum.reduce(seen)

    def band(self, codes: Mapping[str, np.ndarray]) -> np.ndarray:
        """Each item's familiarity band: 0 the least familiar."""
        return np.searchsorted(np.asarray(BANDS), self.least_seen(codes), side="right")

    def factor(self, codes: Mapping[str, np.ndarray]) -> np.ndarray:
        """How much wider each item's spread is for its familiarity."""
        return self.widening[self.band(codes)]

    def to_dict(self) -> dict:
        return {
            "counts": {c: count.tolist() for c, count in self.counts.items()},
            "widening": self.widening.tolist(),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> Familiarity:
        counts = {c: np.asarray(count, dtype=np.int64) for c, count in raw["counts"].items()}
        return cls(counts, np.asarray(raw["widening"], dtype=float))


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, level: float) -> float:
    """The ``level`` quantile of ``values`` under censoring ``weights`` (0 for open items,
    whose finish the weights of finished ones stand for)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, level * cumulative[-1])])
