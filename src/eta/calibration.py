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

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from eta.censoring import effective_sample_size
from eta.data import look_up

MIN_SEGMENT_ITEMS = 150.0
"""Effective number of calibration items a segment needs before it gets its own distribution."""
MIN_SHIFTED_ITEMS = 8.0
"""Effective number of calibration items a thinner segment needs for its own median: it then
uses its parent's distribution moved to that median (:meth:`ScoreDistribution.moved`)."""
TAIL_LEVEL = 0.95
"""Above this level scores follow the fitted exponential tail instead of the raw sample."""
TAIL_PRIOR_ITEMS = 10.0
"""How many exceedances the prior on a tail's rate is worth: a segment's own tail takes over
from its parent's as it has more than this many items above its threshold."""
MODEL_TAIL_RATE = math.log(5.0)
"""The tail rate the quantile models imply: scores are log hours less the median over the
P90's distance from it, so 50% lie above 0 and 10% above 1, ``exp(-rate)`` apart."""
MAX_POINTS = 2_000
"""Most steps a fitted distribution keeps (:func:`thinned`): a level error of at most 1/2,000,
always towards the later promise."""


def thinned(
    values: np.ndarray, cumulative: np.ndarray, keep: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A step distribution (sorted ``values``, their ``cumulative`` probability) at most
    :data:`MAX_POINTS` steps long, with the step at value ``keep`` kept exactly.

    Tied values become one step, at the tie's last cumulative probability: that changes no
    quantile or cdf. Past that, the steps kept are the first to reach each level ``j / MAX_POINTS``:
    a quantile then comes out no earlier than before and at most one grid level later, a cdf
    no higher and at most one grid level and one item's weight lower. A million-row model kept
    every calibration item twice (its score and its cumulative probability, as JSON text) and
    every in-flight table's finishes: 71 MB, most of it these steps, for quantiles that no
    promise reads finer than this.
    """
    if not len(values):
        return values, cumulative
    last_of_tie = np.r_[values[1:] != values[:-1], True]
    values, cumulative = values[last_of_tie], cumulative[last_of_tie]
    if len(values) <= MAX_POINTS:
        return values, cumulative
    grid = np.arange(1, MAX_POINTS + 1) / MAX_POINTS
    steps = [np.searchsorted(cumulative, grid - 1e-12, side="left"), [len(values) - 1]]
    if keep is not None:
        steps.append([np.searchsorted(values, keep, side="right") - 1])
    rows = np.unique(np.clip(np.concatenate(steps), 0, len(values) - 1))
    return values[rows], cumulative[rows]


@dataclass(frozen=True)
class ScoreDistribution:
    """Weighted empirical distribution of calibration scores, with conformal's extra test point
    and an exponential tail.

    Below ``tail_start`` (the score at level :data:`TAIL_LEVEL`),
    ``cdf(z) = sum(w_i for z_i <= z) / (n + 1)`` with inverse-probability-of-censoring weights
    ``w`` (zero for open items, which still count in ``n``): the unit mass of the item being
    quoted sits at +infinity, which makes promises valid in finite samples (split conformal),
    and mass that censoring hid stays above the largest score instead of being spread below it.
    Above it the scores are modelled as exponential (peaks over threshold, generalised Pareto
    with shape 0), so quantiles beyond the largest score seen stay finite and an overdue item
    still gets a sensible conditional promise: ``z | z > z_e = z_e + Exp(rate)``.

    The tail's rate is the posterior mean, from the finishes above the threshold and the time
    every item, open ones too, spent above it (:func:`_tail_rate`), under a conjugate gamma
    prior worth :data:`TAIL_PRIOR_ITEMS` exceedances at ``prior_rate``: the parent segment's
    rate, or at the root the model's own (:data:`MODEL_TAIL_RATE`). A segment with a few items
    above its threshold otherwise got whatever their excesses said: a rate of 15-20 (a tail a
    tenth as long as its parent's) from one or no exceedance; and a model trained on three
    weeks, whose recent items were mostly still open, kept 51% of its 90% promises.

    References
    ----------
    Davison, A. C. & Smith, R. L. (1990). Models for exceedances over high thresholds. *JRSS B*.
    """

    scores: np.ndarray
    cumulative: np.ndarray
    n_effective: float
    tail_start: float
    tail_rate: float
    borrowed_from: str | None = None
    """The tag of the segment whose shape a thin segment's distribution borrows (see
    :meth:`moved`); ``None`` for a distribution of the segment's own scores."""

    @classmethod
    def fit(
        cls, scores: np.ndarray, weights: np.ndarray, prior_rate: float = MODEL_TAIL_RATE
    ) -> ScoreDistribution:
        """``weights``: one per item, zero for open ones (:func:`eta.censoring.ipcw_weights`);
        ``prior_rate``: the tail rate to expect before seeing these scores."""
        n = len(weights)
        finished = weights > 0
        reached = scores  # an open item's score so far
        scores, weights = scores[finished], weights[finished]
        order = np.argsort(scores, kind="stable")
        scores, weights = scores[order], weights[order]
        cumulative = np.minimum(np.cumsum(weights) / (n + 1), 1.0 - 1.0 / (n + 1))
        level = min(TAIL_LEVEL, cumulative[-1] - 0.02)
        start_idx = min(np.searchsorted(cumulative, level), len(scores) - 1)
        tail_start = float(scores[start_idx])
        tail_rate = _tail_rate(reached - tail_start, finished, prior_rate)
        n_effective = effective_sample_size(weights)
        scores, cumulative = thinned(scores, cumulative, keep=tail_start)
        return cls(scores, cumulative, n_effective, tail_start, tail_rate)

    @property
    def tail_mass(self) -> float:
        """Probability above ``tail_start``."""
        idx = np.searchsorted(self.scores, self.tail_start, side="right") - 1
        return float(1.0 - self.cumulative[idx])

    def cdf(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        idx = np.searchsorted(self.scores, z, side="right") - 1
        body = np.where(idx >= 0, self.cumulative[np.clip(idx, 0, None)], 0.0)
        excess = np.maximum(z - self.tail_start, 0.0)
        tail = 1.0 - self.tail_mass * np.exp(-self.tail_rate * excess)
        return np.where(z > self.tail_start, tail, body)

    def quantile(self, p: np.ndarray) -> np.ndarray:
        """Smallest score whose cdf reaches ``p`` (the upper step), exponential in the tail."""
        p = np.asarray(p, dtype=float)
        idx = np.searchsorted(self.cumulative, p - 1e-12, side="left")
        body = self.scores[np.clip(idx, 0, len(self.scores) - 1)]
        mass = self.tail_mass
        in_tail = p > 1.0 - mass
        remaining = np.clip((1.0 - p) / max(mass, 1e-12), 1e-12, 1.0)
        tail = self.tail_start - np.log(remaining) / self.tail_rate
        return np.where(in_tail, np.maximum(tail, body * 0 + self.tail_start), body)

    def conditional_quantile(self, p: np.ndarray, given_above: np.ndarray) -> np.ndarray:
        """Quantile ``p`` of ``z`` given ``z > given_above``: ``F^-1(F(a) + p (1 - F(a)))``.

        In the exponential tail this is ``a - log(1 - p) / rate`` (memoryless), computed directly
        because ``1 - F(a)`` underflows for items far beyond anything seen.
        """
        p, above = np.asarray(p, dtype=float), np.asarray(given_above, dtype=float)
        floor = self.cdf(above)
        body = self.quantile(floor + p * (1.0 - floor))
        tail = above - np.log1p(-np.minimum(p, 1.0 - 1e-12)) / self.tail_rate
        return np.where(above > self.tail_start, tail, body)

    def moved(self, scores: np.ndarray, weights: np.ndarray, tag: str) -> ScoreDistribution:
        """This distribution's shape, moved to the median of a thin segment's own ``scores``.

        A segment with too few items for a 90th percentile of its own still has enough for a
        median, and its median is what a model that could not tell it apart gets most wrong: a
        queue three times slower than the rest, 40 items in the history, was quoted as an
        average item and kept 51% of its promises. Its median shift is estimated like any
        other score (censoring-weighted, with conformal's extra point) and shrunk towards none
        by ``n / (n + MIN_SHIFTED_ITEMS)``, so a handful of items moves little (measured on a
        generated history: the 40-item queue kept 60% static, 79% in replay, instead of 51% and
        77%; its shape, wider than its parent's, is still not its own). The distribution holds
        the effective size of the items behind the median and says whose shape it borrows
        (``tag``, this distribution's): it is still thin history."""
        own = ScoreDistribution.fit(scores, weights, self.tail_rate)
        n = own.n_effective
        shift = float(own.quantile(np.array([0.5]))[0] - self.quantile(np.array([0.5]))[0])
        shift *= n / (n + MIN_SHIFTED_ITEMS)
        return replace(
            self,
            scores=self.scores + shift,
            n_effective=n,
            tail_start=self.tail_start + shift,
            borrowed_from=tag,
        )

    def to_dict(self) -> dict:
        return {
            "scores": self.scores.tolist(),
            "cumulative": self.cumulative.tolist(),
            "n_effective": self.n_effective,
            "tail_start": self.tail_start,
            "tail_rate": self.tail_rate,
            **({"borrowed_from": self.borrowed_from} if self.borrowed_from else {}),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> ScoreDistribution:
        return cls(
            np.asarray(raw["scores"]),
            np.asarray(raw["cumulative"]),
            raw["n_effective"],
            raw["tail_start"],
            raw["tail_rate"],
            raw.get("borrowed_from"),
        )


def _tail_rate(excess: np.ndarray, finished: np.ndarray, prior_rate: float) -> float:
    """Posterior mean rate of the exponential tail from the excesses over its threshold: the
    finishes above it over the time all items spent above it, open ones up to now (the
    censored-data likelihood). Counting finished items only, a calibration window shorter than
    the slow items' durations saw only the excesses that ended soon: on a history of tickets
    taking weeks, 39% of the last month open, the tails were three times too thin and
    re-quotes at their first promise were kept 77%."""
    above = excess > 0
    finishes = float(np.count_nonzero(above & finished))
    exposure = float(excess[above].sum())
    return (TAIL_PRIOR_ITEMS + finishes) / (TAIL_PRIOR_ITEMS / prior_rate + exposure)


@dataclass(frozen=True)
class Scores:
    """Calibration scores with their censoring weights and segment keys at every depth."""

    scores: np.ndarray
    weights: np.ndarray
    keys: list[np.ndarray] = field(default_factory=list)

    def of(self, rows: np.ndarray) -> Scores:
        return Scores(self.scores[rows], self.weights[rows], [k[rows] for k in self.keys])

    def plus(self, other: Scores) -> Scores:
        return Scores(
            np.concatenate([self.scores, other.scores]),
            np.concatenate([self.weights, other.weights]),
        )


AHEAD = "ahead|"
"""Tag prefix of the calibration segments for quotes made ahead (see
:meth:`MondrianCalibration.with_ahead`); the rest of the tag is its live twin's."""


@dataclass
class MondrianCalibration:
    """Score distributions per segment, at every depth of the segment hierarchy.

    ``keys[d]`` is each item's segment key at depth ``d`` (depth 0 is everyone); an item uses the
    deepest segment that has at least :data:`MIN_SEGMENT_ITEMS` effective calibration items, or
    at least :data:`MIN_SHIFTED_ITEMS` for its parent's distribution moved to its own median.
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
        older: Scores | None = None,
    ) -> MondrianCalibration:
        """``older``: scores of items before the calibration period, for the medians of thin
        segments only (see :meth:`ScoreDistribution.moved`): a segment with a few items a month
        has a few dozen in a year, enough for a median though not for a 90th percentile."""
        by_key: dict[str, ScoreDistribution] = {}
        enough = own_segments(weights, keys, min_items)
        for depth, level in enumerate(keys):
            for key in np.unique(level):
                rows = level == key
                parent, parent_tag = None, ""
                for above in range(depth):  # the deepest ancestor with a distribution of its own
                    tag = _tag(above, keys[above][rows][0])
                    if tag in by_key and by_key[tag].borrowed_from is None:
                        parent, parent_tag = by_key[tag], tag
                if parent is None or key in enough[depth]:
                    prior = MODEL_TAIL_RATE if parent is None else parent.tail_rate
                    by_key[_tag(depth, key)] = ScoreDistribution.fit(
                        scores[rows], weights[rows], prior
                    )
                    continue
                # Thin: the parent's shape at its own median, if it has enough items for one.
                own = Scores(scores[rows], weights[rows])
                if older is not None:
                    own = own.plus(older.of(older.keys[depth] == key))
                if effective_sample_size(own.weights) >= MIN_SHIFTED_ITEMS:
                    by_key[_tag(depth, key)] = parent.moved(own.scores, own.weights, parent_tag)
                # Thinner still (possibly none of its items finished yet): the parent's.
        return cls(by_key, min_items)

    def with_ahead(
        self,
        scores: np.ndarray,
        weights: np.ndarray,
        keys: list[np.ndarray],
        older: Scores | None = None,
    ) -> MondrianCalibration:
        """These distributions plus a second set, under tags starting with :data:`AHEAD`, for
        items quoted *ahead*: after the record of recent history ended, so that their recent
        features are a forecast (:func:`eta.features.recent_history`). ``scores`` are the
        calibration items' scores as a model trained when the calibration period began would
        have quoted them, the record ending there. Quoted with the scores of live features
        instead, promises made a month ahead from a fast-changing record (flights, where recent
        delays say much of the next hours) kept 79% instead of 90%."""
        ahead = MondrianCalibration.fit(scores, weights, keys, self.min_items, older)
        by_key = {**self.by_key, **{AHEAD + tag: d for tag, d in ahead.by_key.items()}}
        return MondrianCalibration(by_key, self.min_items)

    @property
    def segments(self) -> list[str]:
        """The calibration segments' tags (each may also have an :data:`AHEAD` twin)."""
        return sorted(tag for tag in self.by_key if not tag.startswith(AHEAD))

    def segment_of(self, keys: list[np.ndarray], ahead: np.ndarray | None = None) -> np.ndarray:
        """The calibration segment each item uses (deepest one with enough history); items
        quoted ``ahead`` use the ahead distributions where the model has them."""
        chosen = self._deepest(keys, "")
        if ahead is not None and ahead.any() and AHEAD + _tag(0, "all") in self.by_key:
            chosen[ahead] = self._deepest([level[ahead] for level in keys], AHEAD)
        return chosen

    def _deepest(self, keys: list[np.ndarray], prefix: str) -> np.ndarray:
        chosen = np.full(len(keys[0]), prefix + _tag(0, "all"), dtype=object)
        for depth, level in enumerate(keys):
            known, position = self._tags_at(prefix + _tag(depth, ""))
            at = look_up(level, position)
            hit = ~np.isnan(at)
            chosen[hit] = known[at[hit].astype(np.int64)]
        return chosen

    def _tags_at(self, head: str) -> tuple[np.ndarray, dict[str, int]]:
        """The tags under ``head`` (one depth, ahead or not), and each one's position by key."""
        if head not in self._tags:
            known = [tag for tag in self.by_key if tag.startswith(head)]
            position = {tag.removeprefix(head): k for k, tag in enumerate(known)}
            self._tags[head] = np.array(known, dtype=object), position
        return self._tags[head]

    @functools.cached_property
    def _tags(self) -> dict[str, tuple[np.ndarray, dict[str, int]]]:
        """:meth:`_tags_at` by head, filled as asked: a quote would otherwise scan every tag
        at every depth."""
        return {}

    def levels(self, scores: np.ndarray, segments: np.ndarray) -> np.ndarray:
        """Each item's level ``F(score)`` under its calibration segment's distribution: where
        a finish falls in the item's own distribution (for an open item, where it has got to)."""
        levels = np.empty(len(scores))
        for tag, rows in self.distributions(segments).items():
            levels[rows] = self.by_key[tag].cdf(scores[rows])
        return levels

    def distributions(self, segments: np.ndarray) -> dict[str, np.ndarray]:
        """Row indices per calibration segment, for vectorised work segment by segment."""
        rows: dict[str, list[int]] = {}
        for row, tag in enumerate(np.asarray(segments).tolist()):
            rows.setdefault(str(tag), []).append(row)
        return {tag: np.array(rows[tag], dtype=np.int64) for tag in sorted(rows)}

    def to_dict(self) -> dict:
        return {
            "min_items": self.min_items,
            "by_key": {k: v.to_dict() for k, v in self.by_key.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict) -> MondrianCalibration:
        by_key = {k: ScoreDistribution.from_dict(v) for k, v in raw["by_key"].items()}
        return cls(by_key, raw["min_items"])


def own_segments(
    weights: np.ndarray, keys: list[np.ndarray], min_items: float = MIN_SEGMENT_ITEMS
) -> list[set[str]]:
    """Per depth of ``keys``, the segments with enough effective calibration items for a
    distribution of their own; the others are *thin* and lean on their parent's
    (:meth:`MondrianCalibration.fit`). Everyone (depth 0) always has one."""
    return [
        {
            key
            for key in np.unique(level).tolist()
            if depth == 0 or effective_sample_size(weights[level == key]) >= min_items
        }
        for depth, level in enumerate(keys)
    ]


def _tag(depth: int, key: str) -> str:
    return f"{depth}:{key}"


@dataclass
class OnlineCalibration:
    """Online recalibration from outcomes: per-segment corrections that keep promises honest.

    Two corrections on the log-time scale, each for the whole model plus the item's segment: a
    *location* shift, judged when each quote's likely time passes (was the item done?), and a
    *tail* shift on top of it for the promise, judged when the promise passes (was it kept?).
    Each judgement moves its correction by ``step * (late - (1 - level))`` (level 0.5 at the
    likely time, the confidence at the promise), so the median tracks the world's speed quickly
    (half of all items inform it, and it is judged early) and the promise tracks the target
    on-time rate; two corrections because one cannot satisfy both targets when the shape of the
    distribution is off. This is adaptive conformal inference run on log time ("quantile
    tracking"): drift is mostly multiplicative (peak season makes everything 25% slower), and
    moving the quantile *level* instead would jump to unstable extreme quantiles.

    Judgements happen when their time passes, even for items that finished earlier: feeding
    back kept promises as soon as items finish would tell the controller mostly good news at any
    moment (the broken promises of the same days are still pending) and bias promises low.

    Those judgements ask whether *today's* promise would have been kept (a quantile tracker
    judged by old corrections winds up: outcomes arrive a promise late). That is the right
    question in a steady world but not quite the one customers ask: when delays come in bursts
    (a storm, an incident), corrections rise during the burst, so its broken promises are judged
    by raised corrections and partly missed, and the on-time rate of promises *as quoted* ends
    up below target. A second, slow loop closes that gap (cascade control): each promise is
    also judged *as it was quoted*, and that on-time rate moves the level the tail correction
    aims at (``target_shift``), the way adaptive conformal inference moves its level. It is
    slow (a third of the gain), so the delay that makes fast as-quoted loops wind up does not
    (measured: judging the fast loop as quoted overshoots, e.g. pinball 0.14 -> 0.39 on flights).
    It moves once per block of judgements (:data:`SLOW_BLOCK`), counting a block's share of
    broken promises at most four times the target's (:data:`SLOW_BLOCK_CAP`): a strike that
    breaks every promise under way is a burst that says little about next month, and an
    integrator that took it at full weight kept promises padding for months after it, draining
    at a ninth of the rate it filled.

    The location also follows an *estimate* of how much slower recent items run than the model
    says (:func:`recent_speed`, taken by :meth:`observe_speed`), from all they show so far, open
    items included: a checkpoint is judged only once its time has passed, but items still open past
    the age by which most of their kind are done show a slowdown days earlier. The likely-time
    correction then only tracks what the estimate leaves over.

    A judgement may be an estimate: for an item last seen open before its checkpoint, ``late``
    is the probability that it missed it (see :class:`eta.feedback.OutcomeFeed`); when the
    outcome is known later the estimate is revised (``instead_of``), and because every update
    is linear in ``late`` the corrections end up where the known outcome alone would have put
    them.

    References
    ----------
    Gibbs, I. & Candès, E. (2021). Adaptive conformal inference under distribution shift. *NeurIPS*.
    Angelopoulos, A., Candès, E. & Tibshirani, R. (2023). Conformal PID control for time series
    prediction. *NeurIPS*.
    """

    confidence: float = 0.9
    gain: float = 0.3
    """How far one promise horizon's worth of judgements moves an offset:
    ``step = gain / pace``, with ``pace`` the number of items a key sees during one typical
    promise. The controller then reacts at the same speed whether a segment sees ten items a day
    or ten thousand, and whether promises are hours or weeks long; the gain must stay well below
    1 because judgements arrive a whole promise late (a delayed integral controller overshoots
    when its gain times the delay is large)."""
    pace: dict[str, float] = field(default_factory=dict)
    offset: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, list[int]] = field(default_factory=dict)
    """Per segment: [promises kept, promises judged] for promises as quoted whose outcome is
    known; the live on-time rate."""
    horizon: dict[str, float] = field(default_factory=dict)
    """Each checkpoint's typical wait as a share of the promise's (default 1). Judgements of the
    likely time arrive sooner than those of the promise, so its correction can move faster for
    the same stability: its pace counts the items seen during its own, shorter wait."""
    target_shift: float = 0.0
    """How much lower than ``1 - confidence`` the tail correction aims its share of late
    promises, learned from promises as quoted (the slow loop)."""
    quoted_block: list[float] = field(default_factory=lambda: [0.0, 0.0])
    """Judgements as quoted since the slow loop last moved: [sum of late - target, count]."""

    def offsets(self, segments: np.ndarray, groups: Sequence[np.ndarray] = ()) -> np.ndarray:
        """Per item ``[location shift, tail shift]`` in log hours (whole model + its segment).

        The location shift is the estimated speed of recent items (:meth:`observe_speed`) plus
        the correction tracked at the likely time. ``groups`` (per item, keys such as
        'channel=chat', see :func:`recent_speed`) add their own speed estimates to it."""
        # Python strings: a fixed-width array of tags is as wide as the longest category value.
        inverse, values = pd.factorize(np.asarray(segments, dtype=object), sort=True)
        table = np.empty((len(values), len(CHECKPOINTS)))
        for j, checkpoint in enumerate(CHECKPOINTS):
            names = (checkpoint, SPEED) if j == 0 else (checkpoint,)
            for k, key in enumerate((ALL, *values)):
                total = sum(self.offset.get(f"{name}|{key}", 0.0) for name in names)
                if k == 0:
                    table[:, j] = total
                else:
                    table[k - 1, j] += total
        if not len(values):
            return np.empty((0, len(CHECKPOINTS)))
        out = table[inverse]
        for keys in groups:
            out[:, 0] += self.group_speed(keys)
        return out

    def group_speed(self, keys: np.ndarray) -> np.ndarray:
        """The speed estimates of ``keys`` (0 for '' and for a key without one)."""
        inverse, values = pd.factorize(np.asarray(keys, dtype=object), sort=True)
        speeds = [self.offset.get(f"{SPEED}|{key}", 0.0) if key else 0.0 for key in values]
        return np.asarray(speeds, dtype=float)[inverse]

    def observe_speed(
        self,
        calibration: MondrianCalibration,
        segments: np.ndarray,
        location: np.ndarray,
        spread: np.ndarray,
        hours: np.ndarray,
        finished: np.ndarray,
        groups: Sequence[np.ndarray] = (),
        heard: float | None = None,
    ) -> None:
        """Take the speed of recent items (:func:`recent_speed`) as the location's estimate,
        in full once the feed has ``heard`` the outcomes of :data:`MIN_PACE` items (or of a
        promise horizon's worth, if fewer; default: those of ``finished``), in proportion
        before: a service's feed starts empty, its first outcomes are the quickest items, and
        one parcel delivered in an hour cut every promise by 28%. A replay's warm-up, or a feed
        in service for a while, has heard far more."""
        speeds = recent_speed(
            calibration, segments, location, spread, hours, finished, self.pace, groups
        )
        heard = float(np.sum(finished)) if heard is None else heard
        enough = max(min(self.pace.get(ALL, MIN_PACE), MIN_PACE), 1.0)
        trust = min(heard / enough, 1.0)
        for key, value in speeds.items():
            self.offset[f"{SPEED}|{key}"] = trust * value

    def shift(self, offsets: np.ndarray, checkpoint: str) -> np.ndarray:
        """Log-hours shift of a checkpoint's time per item: the location shift, plus the tail
        shift at the promise. (:meth:`eta.model.Predictive.hours` moves whole distributions:
        shifted by the first, stretched above the median by the second.)"""
        tail = 0.0 if self.level(checkpoint) <= 0.5 else 1.0
        return offsets[:, 0] + tail * offsets[:, 1]

    def level(self, checkpoint: str) -> float:
        """The quantile level a checkpoint sits at."""
        return CHECKPOINT_LEVELS.get(checkpoint, self.confidence)

    def checkpoints(self) -> dict[str, float]:
        return {c: self.level(c) for c in CHECKPOINTS}

    def update(
        self,
        segment: str,
        checkpoint: str,
        late: float,
        *,
        estimated: bool = False,
        instead_of: float | None = None,
    ) -> None:
        """Judge one quote at ``checkpoint``: was the item still open?

        ``checkpoint`` is 'likely' or 'promise' (by today's corrections) or :data:`QUOTED` (the
        promise as it was quoted). ``late`` is 1 (missed) or 0 (kept), or with ``estimated`` the
        probability that it was missed. ``instead_of`` revises an earlier estimate of the same
        judgement: the corrections move by the difference only.
        """
        late = float(late)
        if checkpoint == QUOTED:
            self._judge_as_quoted(segment, late, estimated, instead_of)
            return
        if instead_of is None:
            target = 1.0 - self.level(checkpoint)
            if checkpoint == "promise":
                target -= self.target_shift
            err = late - target
        else:
            err = late - float(instead_of)
        for key in (ALL, segment):
            pace = self.pace.get(key, MIN_PACE) * self.horizon.get(checkpoint, 1.0)
            name = f"{checkpoint}|{key}"
            step = self.gain / max(pace, MIN_PACE)
            self.offset[name] = float(np.clip(self.offset.get(name, 0.0) + step * err, -2.0, 2.0))

    def _judge_as_quoted(
        self, segment: str, late: float, estimated: bool, instead_of: float | None
    ) -> None:
        alpha = 1.0 - self.confidence
        block = self.quoted_block
        block[0] += late - (alpha if instead_of is None else float(instead_of))
        block[1] += instead_of is None
        pace = max(self.pace.get(ALL, MIN_PACE), MIN_PACE)
        if block[1] >= max(SLOW_BLOCK * pace, 9.0 * self.confidence / alpha):
            step = TARGET_GAIN_SHARE * self.gain / pace
            err = block[1] * min(block[0] / block[1], (SLOW_BLOCK_CAP - 1.0) * alpha)
            self.target_shift = float(
                np.clip(self.target_shift + step * err, -alpha, MAX_TARGET_SHIFT * alpha)
            )
            self.quoted_block = [0.0, 0.0]
        if not estimated:
            for key in (ALL, segment):
                kept, judged = self.outcomes.get(key, [0, 0])
                self.outcomes[key] = [kept + (late < 0.5), judged + 1]

    def on_time_rate(self) -> dict[str, float]:
        return {s: k / n for s, (k, n) in self.outcomes.items() if n}

    def to_dict(self) -> dict:
        return {
            "confidence": self.confidence,
            "gain": self.gain,
            "pace": self.pace,
            "offset": self.offset,
            "outcomes": self.outcomes,
            "horizon": self.horizon,
            "target_shift": self.target_shift,
            "quoted_block": self.quoted_block,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> OnlineCalibration:
        return cls(**raw)


CHECKPOINTS = ("likely", "promise")
SPEED = "speed"
"""Offsets of the estimated speed of recent items (see :func:`recent_speed`)."""
SPEED_EVIDENCE = 1.0
"""The speed estimate wants one promise horizon's worth of finishes (a key's pace) as evidence;
:func:`speed_shift` uses less when the world has just changed."""
SPEED_PRIOR = 5.0
"""The whole model's speed estimate counts fully once it rests on more than a few finishes: a
feed that has just started should not move every promise on the strength of one item."""
QUOTED = "quoted"
"""The promise judged as it was quoted (the slow loop's judgement; see OnlineCalibration)."""
JUDGEMENTS = (*CHECKPOINTS, QUOTED)
MIN_PACE = 50.0
"""A small segment's corrections move at most ``gain / 50`` per judgement: fast enough to follow
a real shift, slow enough that a few unlucky items do not set its promises jittering (jitter
around the right value costs on-time rate, because the on-time rate is concave there)."""
TARGET_GAIN_SHARE = 0.33
"""The slow loop's gain as a share of the fast one's."""
SLOW_BLOCK = 0.25
"""The slow loop moves once per quarter promise horizon's worth of judgements as quoted (and at
least ``9 (1 - alpha) / alpha`` of them), by their mean (see :class:`OnlineCalibration`)."""
SLOW_BLOCK_CAP = 4.0
"""A block's share of broken promises counts at most this many times the target's. Twice cost
flights, where a stormy day breaks a third of a block's promises every few weeks, 1.3 pt of
on-time rate in replay (August 2013: 89.1% -> 87.7%); four times, 0.2 pt."""
MAX_TARGET_SHIFT = 0.75
"""The tail correction aims at no fewer than a quarter of ``1 - confidence`` late promises."""
CHECKPOINT_LEVELS = {"likely": 0.5}
ALL = "*"
"""Key of the model-wide online offset."""


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
            v = (levels[above] - age) / (1.0 - age)
            done = finished[above]
            order = np.lexsort((~done, v))  # at a tie, a finish comes before a censoring
            v, done = v[order], done[order]
            at_risk = len(v) - np.arange(len(v)) + 1.0  # +1: the item being quoted
            survival = np.cumprod(np.where(done, 1.0 - 1.0 / at_risk, 1.0))
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
    uncertain an item is, each band falling back to the tables of all items at the ages it has
    too few finishes for (a Mondrian split by difficulty).

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
        or from all items' tables where the item is older than its band's oldest table."""
        p = np.asarray(p, dtype=float)
        age = np.broadcast_to(np.asarray(age, dtype=float), p.shape)
        asked = p.copy()  # a new item (age 0) asks for ``p`` itself: most quotes, no look-ups
        started = np.flatnonzero(age[:, 0] > 0) if p.size else np.array([], dtype=np.int64)
        if not len(started):
            return asked
        asked[started] = self.whole.level(p[started], age[started])
        if not len(self.edges):
            return asked
        spread = np.asarray(spread, float).reshape(-1)[started]
        band = np.searchsorted(self.edges, np.log(spread))
        for k, table in enumerate(self.bands):
            oldest = table.ages[-1] if len(table.ages) else -1.0
            rows = started[(band == k) & (age[started, 0] <= oldest)]
            if len(rows):
                asked[rows] = table.level(p[rows], age[rows])
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


def _outlived(levels: np.ndarray, finished: np.ndarray, age: float) -> int:
    """How many items finished at a level past ``age``."""
    return int(np.count_nonzero((levels > age) & finished))


SPEED_GRID = np.linspace(-2.0, 2.0, 81)
"""Candidate location shifts (log hours) for :func:`speed_shift`."""


def recent_speed(
    calibration: MondrianCalibration,
    segments: np.ndarray,
    location: np.ndarray,
    spread: np.ndarray,
    hours: np.ndarray,
    finished: np.ndarray,
    pace: dict[str, float],
    groups: Sequence[np.ndarray] = (),
) -> dict[str, float]:
    """How much slower (log hours) recent items run than the model says: for the whole model
    (key :data:`ALL`) and, on top of it, for each calibration segment and for each value of
    ``groups`` (per item, a key such as 'channel=chat', or '' for none; see
    :meth:`OnlineCalibration.offsets`).

    Items come oldest first, each watched for ``hours`` clock hours (until it finished, or until
    last seen open). Each key's estimate (:func:`speed_shift`, wanting one promise horizon's
    worth of finishes, ``pace``) counts in proportion ``finishes / (finishes + prior)``: a
    segment's own is shrunk towards the whole model's (prior :data:`MIN_PACE` finishes), the whole
    model's towards no shift (prior :data:`SPEED_PRIOR` finishes), so that a handful of items
    cannot move promises far.

    A group's is its shift less the whole model's *over the whole model's window* (no window of
    its own): with windows picked apart, a group whose window still held the calm before a rush
    read as faster than the rush the whole model saw, and cancelled part of it (one-year
    deliveries' Black Friday November kept 83.8% instead of 84.6%).
    """
    hazard = cumulative_hazard(calibration, segments, location, spread, hours)
    finished = np.asarray(finished, dtype=bool)
    windows = {ALL: np.arange(len(hours)), **calibration.distributions(np.asarray(segments))}
    out: dict[str, float] = {}
    since, whole = 0, 0.0
    for key, rows in windows.items():  # the whole model first
        rows = np.sort(rows)
        evidence = SPEED_EVIDENCE * max(pace.get(key, MIN_PACE), MIN_PACE)
        shift, finishes, first = _lepski(hazard[rows], finished[rows], evidence)
        if key == ALL:
            since, whole = first, shift
        prior = SPEED_PRIOR if key == ALL else MIN_PACE
        shared = out.get(ALL, 0.0)
        out[str(key)] = float(np.clip(finishes / (finishes + prior) * (shift - shared), -2.0, 2.0))
    return out | _group_shifts(calibration, hazard[since:], finished[since:], groups, since, whole)


def group_levels(
    calibration: MondrianCalibration,
    segments: np.ndarray,
    location: np.ndarray,
    spread: np.ndarray,
    hours: np.ndarray,
    finished: np.ndarray,
    groups: Sequence[np.ndarray],
) -> dict[str, float]:
    """How much slower (log hours) each value of ``groups`` ran than the whole model says over
    all of ``hours`` (the calibration period), not just lately: the level that a value's
    recent speed (:func:`recent_speed`) fades back to for items quoted later, where before it
    faded to none. Segments need no such level, their calibration is their own; a value that
    is not a segment (chat tickets 1.4x slower since April) had its slowness, learnt by the
    trees only from the months before, forgotten a few promise horizons after training and
    kept 84.5% of its promises, quoted statically."""
    hazard = cumulative_hazard(calibration, segments, location, spread, hours)
    finished = np.asarray(finished, dtype=bool)
    whole, _ = _root(hazard.sum(axis=0), float(finished.sum()))
    return _group_shifts(calibration, hazard, finished, groups, 0, whole)


def _group_shifts(
    calibration: MondrianCalibration,
    hazard: np.ndarray,
    finished: np.ndarray,
    groups: Sequence[np.ndarray],
    since: int,
    whole: float,
) -> dict[str, float]:
    """Each group value's shift over the items from ``since`` on (``hazard`` and ``finished``
    begin there), less the whole model's (``whole``), shrunk towards none by its finishes."""
    out = {}
    for keys in groups:
        for key, rows in calibration.distributions(keys[since:]).items():
            if not key:
                continue
            finishes = float(finished[rows].sum())
            shift, _ = _root(hazard[rows].sum(axis=0), finishes)
            own = finishes / (finishes + MIN_PACE) * (shift - whole)
            out[str(key)] = float(np.clip(own, -2.0, 2.0))
    return out


def cumulative_hazard(
    calibration: MondrianCalibration,
    segments: np.ndarray,
    location: np.ndarray,
    spread: np.ndarray,
    hours: np.ndarray,
) -> np.ndarray:
    """``H_i(d) = -log S_i(hours_i; d)`` for each item (rows) and each shift ``d`` of
    :data:`SPEED_GRID` (columns): the finishes item ``i`` was expected to show while it was
    watched for ``hours_i`` clock hours, were it ``d`` slower in log time than its distribution
    says. Input for :func:`speed_shift`."""
    hours = np.maximum(np.asarray(hours, dtype=float), 0.0)
    hazard = np.zeros((len(hours), len(SPEED_GRID)))
    watched = np.flatnonzero(hours > 0)
    for tag, rows in calibration.distributions(np.asarray(segments)[watched]).items():
        idx = watched[rows]
        z = (np.log(hours[idx]) - location[idx])[:, None] - SPEED_GRID[None, :]
        survival = 1.0 - calibration.by_key[tag].cdf(z / spread[idx, None])
        hazard[idx] = -np.log(np.maximum(survival, 1e-300))
    return hazard


def speed_shift(
    hazard: np.ndarray, finished: np.ndarray, evidence: float = np.inf
) -> tuple[float, float]:
    """How much slower (log hours) recent items run than their distributions say, from survival.

    ``hazard`` holds each item's cumulative hazard over the time it was watched, under shifts
    of log time (:func:`cumulative_hazard`), so ``sum H_i(d)`` finishes were to be expected;
    the estimate is the shift at which expected and observed finishes agree: the one-sample
    log-rank statistic, inverted for a shift of log time as in rank-based
    accelerated-failure-time estimation. It uses *all* the evidence, open items included: items
    still open past the age by which most of their kind are done show a slowdown long before
    their promises are due, and items finishing early show a speed-up.

    Items come oldest first, and the estimate uses the most recent of them: windows that carry
    1/16, 1/8, ... of ``evidence`` expected finishes (``sum H_i(0)``), the longest one whose
    estimate agrees with every shorter window's within :data:`LEPSKI` standard errors (Lepski's
    method). In a steady world that is the longest, most precise window; just after a change
    (a rush, a carrier's bad week) the short windows disagree with the long ones and the
    estimate follows the short, current one. Windows are sized by evidence, not by count or
    time: items that have only just started carry almost none, so a rush of new items does not
    push out the older ones that show how the rush is going.

    Returns the shift (clipped to -2..2) and the number of finishes it rests on.

    References
    ----------
    Breslow, N. (1975). Analysis of survival data under the proportional hazards model.
    *International Statistical Review* 43(1) (the one-sample log-rank test).
    Tsiatis, A. A. (1990). Estimating regression parameters using linear rank tests for
    censored data. *Annals of Statistics* 18(1).
    Lepski, O. V. (1991). Asymptotically minimax adaptive estimation I. *Theory of Probability
    and its Applications* 36(4).
    """
    estimate, finishes, _ = _lepski(hazard, finished, evidence)
    return estimate, finishes


def _lepski(
    hazard: np.ndarray, finished: np.ndarray, evidence: float = np.inf
) -> tuple[float, float, int]:
    """:func:`speed_shift`, and the first item of the window it chose."""
    finished = np.asarray(finished, dtype=bool)
    if not len(finished):
        return 0.0, 0.0, 0
    # Evidence carried by each item and all later ones, and the estimate from each such window.
    carried = np.cumsum(hazard[::-1, len(SPEED_GRID) // 2])[::-1]
    expected = np.cumsum(hazard[::-1], axis=0)[::-1]
    observed = np.cumsum(finished[::-1])[::-1].astype(float)
    chosen = (0.0, 0.0, len(finished))
    shorter: list[tuple[float, float]] = []  # (estimate, standard error) of shorter windows
    for share in SPEED_WINDOWS:
        first = max(int(np.searchsorted(-carried, -share * evidence, side="right")) - 1, 0)
        estimate, slope = _root(expected[first], observed[first])
        error = np.sqrt(max(observed[first], 1.0)) / max(slope, 1e-9)
        if any(abs(estimate - e) > LEPSKI * s for e, s in shorter):
            break  # the world changed within this window: keep the last consistent one
        chosen = (estimate, float(observed[first]), first)
        shorter.append((estimate, error))
        if first == 0:
            break
    return chosen


SPEED_WINDOWS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
"""Windows tried, as shares of the evidence wanted, shortest first (Lepski's method)."""
LEPSKI = 2.0
"""A longer window is used only while its estimate stays within this many standard errors of
every shorter window's."""


def _root(expected: np.ndarray, observed: float) -> tuple[float, float]:
    """The shift where expected finishes (falling along the grid) meet the observed ones, and
    how fast expected finishes fall there (per unit of shift)."""
    k = int(np.searchsorted(-expected, -observed, side="left"))  # first with expected <= observed
    step = float(SPEED_GRID[1] - SPEED_GRID[0])
    if k == len(expected):  # slower than the grid reaches (or nothing finished yet)
        return float(SPEED_GRID[-1]), float(expected[-2] - expected[-1]) / step
    if k == 0:  # faster than the grid reaches
        return float(SPEED_GRID[0]), float(expected[0] - expected[1]) / step
    e0, e1 = float(expected[k - 1]), float(expected[k])
    fraction = min(max((e0 - observed) / (e0 - e1), 0.0), 1.0) if e0 > e1 else 0.0
    return float(SPEED_GRID[k - 1]) + fraction * step, (e0 - e1) / step
