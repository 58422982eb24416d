"""Conformal calibration of finish-time distributions: per segment, censoring-aware, online.

The model gives each item a location ``m`` and a scale ``s`` on the log-hours scale (its median and
the spread up to its P90). Calibration turns those into a full predictive distribution
``T = exp(m + s * Z)`` where ``Z`` follows the weighted empirical distribution of the scores
``(log T_i - m_i) / s_i`` of the most recent finished items, weighted by inverse probability of
censoring so that open items still count. This is a normalised, Mondrian conformal predictive
system: one distribution per segment, falling back to the parent segment when a segment has too
few items. Every quantile comes from the same monotone distribution, so quantiles never cross.

References
----------
Vovk, V., Shen, J., Manokhin, V. & Xie, M. (2017). Nonparametric predictive distributions based
on conformal prediction. *COPA*, PMLR 60.
Boström, H., Johansson, U. & Löfström, T. (2021). Mondrian conformal predictive distributions.
*COPA*, PMLR 152.
Tibshirani, R. J., Barber, R. F., Candès, E. & Ramdas, A. (2019). Conformal prediction under
covariate shift (weighted conformal). *NeurIPS*.
Gibbs, I. & Candès, E. (2021). Adaptive conformal inference under distribution shift. *NeurIPS*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eta.censoring import effective_sample_size

MAX_LEVEL = 0.99
"""Online calibration never asks for more than a P99: beyond it the empirical tail is too thin."""

MIN_SEGMENT_ITEMS = 150.0
"""Effective number of calibration items a segment needs before it gets its own distribution."""


@dataclass(frozen=True)
class ScoreDistribution:
    """Weighted empirical distribution of calibration scores, with conformal's extra test point.

    ``cdf(z) = sum(w_i for z_i <= z) / (sum(w) + 1)``: the unit mass of the item being quoted sits
    at +infinity, which is what makes the promise valid in finite samples (split conformal).
    """

    scores: np.ndarray
    cumulative: np.ndarray
    n_effective: float

    @classmethod
    def fit(cls, scores: np.ndarray, weights: np.ndarray) -> ScoreDistribution:
        keep = weights > 0
        scores, weights = scores[keep], weights[keep]
        order = np.argsort(scores, kind="stable")
        total = weights.sum()
        cumulative = np.cumsum(weights[order]) / (total + total / max(len(weights), 1))
        return cls(scores[order], cumulative, effective_sample_size(weights))

    def cdf(self, z: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.scores, z, side="right") - 1
        return np.where(idx >= 0, self.cumulative[np.clip(idx, 0, None)], 0.0)

    def quantile(self, p: np.ndarray) -> np.ndarray:
        """Smallest score whose cdf reaches ``p`` (the upper step; beyond the data: the largest)."""
        idx = np.searchsorted(self.cumulative, np.asarray(p) - 1e-12, side="left")
        return self.scores[np.clip(idx, 0, len(self.scores) - 1)]

    def to_dict(self) -> dict:
        return {
            "scores": self.scores.tolist(),
            "cumulative": self.cumulative.tolist(),
            "n_effective": self.n_effective,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> ScoreDistribution:
        return cls(np.asarray(raw["scores"]), np.asarray(raw["cumulative"]), raw["n_effective"])


@dataclass
class MondrianCalibration:
    """Score distributions per segment, at every depth of the segment hierarchy.

    ``keys[d]`` is each item's segment key at depth ``d`` (depth 0 is everyone); an item uses the
    deepest segment that has at least :data:`MIN_SEGMENT_ITEMS` effective calibration items.
    """

    by_key: dict[str, ScoreDistribution] = field(default_factory=dict)
    min_items: float = MIN_SEGMENT_ITEMS

    @classmethod
    def fit(
        cls,
        scores: np.ndarray,
        weights: np.ndarray,
        keys: list[np.ndarray],
        min_items: float = MIN_SEGMENT_ITEMS,
    ) -> MondrianCalibration:
        by_key: dict[str, ScoreDistribution] = {}
        for depth, level in enumerate(keys):
            for key in np.unique(level):
                rows = level == key
                dist = ScoreDistribution.fit(scores[rows], weights[rows])
                if depth == 0 or dist.n_effective >= min_items:
                    by_key[_tag(depth, key)] = dist
        return cls(by_key, min_items)

    def segment_of(self, keys: list[np.ndarray]) -> np.ndarray:
        """The calibration segment each item uses (deepest one with enough history)."""
        chosen = np.full(len(keys[0]), _tag(0, "all"), dtype=object)
        for depth, level in enumerate(keys):
            tags = np.array([_tag(depth, k) for k in level], dtype=object)
            known = np.fromiter((t in self.by_key for t in tags), bool, len(tags))
            chosen[known] = tags[known]
        return chosen

    def distributions(self, segments: np.ndarray) -> dict[str, np.ndarray]:
        """Row indices per calibration segment, for vectorised work segment by segment."""
        out: dict[str, np.ndarray] = {}
        for tag in np.unique(segments):
            out[tag] = np.flatnonzero(segments == tag)
        return out

    def to_dict(self) -> dict:
        return {
            "min_items": self.min_items,
            "by_key": {k: v.to_dict() for k, v in self.by_key.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict) -> MondrianCalibration:
        by_key = {k: ScoreDistribution.from_dict(v) for k, v in raw["by_key"].items()}
        return cls(by_key, raw["min_items"])


def _tag(depth: int, key: str) -> str:
    return f"{depth}:{key}"


def segment_label(tag: str) -> str:
    """'2:high / billing' -> 'high / billing' (what people call the segment)."""
    return tag.split(":", 1)[1]


@dataclass
class OnlineCalibration:
    """Adaptive conformal inference: nudge each segment's quantile level by how promises fared.

    After every known outcome ``level += step * (missed - (1 - confidence))``: a broken promise
    raises that segment's level, a kept one lowers it a little, so the long-run share of kept
    promises tracks the target even when the world drifts (Gibbs & Candès, 2021). A miss is known
    as soon as the promise passes; a hit only once the item finishes.
    """

    confidence: float = 0.9
    step: float = 0.01
    shift: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, list[int]] = field(default_factory=dict)
    """Per segment: [promises kept, promises judged]; the live on-time rate."""

    def level(self, segments: np.ndarray, confidence: float | np.ndarray) -> np.ndarray:
        """Quantile level to use for a promise at ``confidence`` in each segment."""
        shift = np.array([self.shift.get(s, 0.0) for s in segments], dtype=float)
        # The shift was learned at the default confidence; scale it to the tail actually asked for.
        scale = (1.0 - np.asarray(confidence, dtype=float)) / (1.0 - self.confidence)
        return np.clip(np.asarray(confidence) + shift * scale, 0.5, MAX_LEVEL)

    def update(self, segment: str, missed: bool) -> None:
        err = float(missed) - (1.0 - self.confidence)
        lo, hi = 0.5 - self.confidence, MAX_LEVEL - self.confidence
        self.shift[segment] = float(np.clip(self.shift.get(segment, 0.0) + self.step * err, lo, hi))
        kept, judged = self.outcomes.get(segment, [0, 0])
        self.outcomes[segment] = [kept + (not missed), judged + 1]

    def on_time_rate(self) -> dict[str, float]:
        return {s: k / n for s, (k, n) in self.outcomes.items() if n}

    def to_dict(self) -> dict:
        return {
            "confidence": self.confidence,
            "step": self.step,
            "shift": self.shift,
            "outcomes": self.outcomes,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> OnlineCalibration:
        return cls(**raw)
