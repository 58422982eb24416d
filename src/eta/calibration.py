"""Conformal calibration of finish-time distributions: per segment, censoring-aware.

The model gives each item a location ``m`` and a scale ``s`` on the log-hours scale (its median and
the spread up to its P90). Calibration turns those into a full predictive distribution
``T = exp(m + s * Z)`` where ``Z`` follows the weighted empirical distribution of the scores
``(log T_i - m_i) / s_i`` of the most recent finished items, weighted by inverse probability of
censoring so that open items still count. This is a normalised, Mondrian conformal predictive
system: one distribution per segment, falling back to the parent segment when a segment has too
few items. Every quantile comes from the same monotone distribution, so quantiles never cross.
What comes after training is elsewhere: corrections learnt online from outcomes
(:mod:`eta.online`), and levels for items already under way (:mod:`eta.inflight`).

References
----------
Vovk, V., Shen, J., Manokhin, V. & Xie, M. (2017). Nonparametric predictive distributions based
on conformal prediction. *COPA*, PMLR 60.
Boström, H., Johansson, U. & Löfström, T. (2021). Mondrian conformal predictive distributions.
*COPA*, PMLR 152.
Tibshirani, R. J., Barber, R. F., Candès, E. & Ramdas, A. (2019). Conformal prediction under
covariate shift (weighted conformal). *NeurIPS*.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

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
    shift: float = 0.0
    stretch: float = 1.0
    """A borrowed shape's scores are its parent's times ``stretch`` plus ``shift``
    (:meth:`moved`): saved instead of the shape again."""

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

    def moved(
        self, scores: np.ndarray, weights: np.ndarray, tag: str, stretch: float = 1.0
    ) -> ScoreDistribution:
        """This distribution's shape, moved to the median of a thin segment's own ``scores``
        and widened about it by ``stretch`` (see :func:`relative_width`).

        A segment with too few items for a 90th percentile of its own still has enough for a
        median, and its median is what a model that could not tell it apart gets most wrong: a
        queue three times slower than the rest, 40 items in the history, was quoted as an
        average item and kept 51% of its promises. Its median shift is estimated like any
        other score (censoring-weighted, with conformal's extra point) and shrunk towards none
        by ``n / (n + MIN_SHIFTED_ITEMS)``, so a handful of items moves little (measured on a
        generated history: the 40-item queue kept 60% static, 79% in replay, instead of 51% and
        77%; its shape, wider than its parent's, was still not its own: ``stretch`` widens
        it). The distribution holds
        the effective size of the items behind the median and says whose shape it borrows
        (``tag``, this distribution's): it is still thin history."""
        own = ScoreDistribution.fit(scores, weights, self.tail_rate)
        n = own.n_effective
        middle = float(self.quantile(np.array([0.5]))[0])
        shift = (float(own.quantile(np.array([0.5]))[0]) - middle) * n / (n + MIN_SHIFTED_ITEMS)
        # Each score z goes to middle + shift + stretch * (z - middle).
        return self._moved_by(middle * (1.0 - stretch) + shift, n, tag, stretch)

    def _moved_by(
        self, shift: float, n_effective: float, tag: str, stretch: float = 1.0
    ) -> ScoreDistribution:
        return replace(
            self,
            scores=self.scores * stretch + shift,
            n_effective=n_effective,
            tail_start=self.tail_start * stretch + shift,
            tail_rate=self.tail_rate / stretch,
            borrowed_from=tag,
            shift=shift,
            stretch=stretch,
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


MAX_STRETCH = 3.0
"""Most a thin segment's borrowed shape is widened (:func:`relative_width`)."""


def relative_width(own: Scores, parents_width: float) -> float:
    """How much wider a thin segment's scores spread from P50 to P90 than its parent's
    (``parents_width``, :func:`width`), both measured alike: on items before the calibration
    period, each scored by trees grown without it
    (:meth:`eta.model.EtaModel._thin_segments_before`). The ratio is shrunk towards 1 by
    ``n / (n + MIN_SEGMENT_ITEMS)`` in the log, ``n`` the effective number of those earlier
    items of the segment (a width needs more items than a median does), and kept between 1 and
    :data:`MAX_STRETCH`: narrowing is not measured, and a narrower promise is the riskier way
    to be wrong.

    Why: a thin segment borrows its parent's shape, measured on the latest items and so holding
    the drift that the latest months bring, and the quantile models give a kind of item that is
    both rare and wide too narrow a spread. Recall repairs, 3% of a workshop's and twice as
    wide as the rest, were promised well short of their true P90, and so was a kind of claim
    twice as wide, its latest items still open (``benchmarks/THIN_SEGMENTS.md``). Its own
    earlier scores alone, narrower than the latest for every segment in a drifting history,
    promised a ticket queue 30% short: hence the ratio, not the earlier shape itself."""
    mine = width(own)
    if not (np.isfinite(mine) and np.isfinite(parents_width) and parents_width > 1e-6):
        return 1.0
    n = effective_sample_size(own.weights)
    ratio = max(mine / parents_width, 1.0) ** (n / (n + MIN_SEGMENT_ITEMS))
    return float(min(ratio, MAX_STRETCH))


def width(scores: Scores) -> float:
    """The distance from P50 to P90 of finished items' ``scores`` (NaN with fewer than
    :data:`MIN_SHIFTED_ITEMS` effective items), counting each row for the items it stands for
    (:attr:`Scores.represents`). Normalised by its own weights: the other segments' open items
    are not drawn, so a thin segment's and its parent's widths are read alike only so."""
    if effective_sample_size(scores.weights) < MIN_SHIFTED_ITEMS:
        return math.nan
    represents = np.ones(len(scores.scores)) if scores.represents is None else scores.represents
    order = np.argsort(scores.scores, kind="stable")
    counted = (scores.weights * represents)[order]
    cumulative = np.cumsum(counted) / counted.sum()
    at = np.searchsorted(cumulative, [0.5, 0.9])
    if at[-1] >= len(order):
        return math.nan
    p50, p90 = scores.scores[order][at]
    return float(p90 - p50)


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
    represents: np.ndarray | None = None
    """How many of the history's items each row stands for, where rows were drawn at different
    rates (``None``: each only itself)."""

    def of(self, rows: np.ndarray) -> Scores:
        represents = None if self.represents is None else self.represents[rows]
        keys = [k[rows] for k in self.keys]
        return Scores(self.scores[rows], self.weights[rows], keys, represents)

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
    at least :data:`MIN_SHIFTED_ITEMS` for its parent's distribution moved to its own median
    (and widened as its earlier items say).
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
        """``older``: scores of items before the calibration period, for thin segments only
        (see :meth:`ScoreDistribution.moved`): a segment with a few items a month has a few
        dozen in a year, enough for a median though not for a 90th percentile, and beside its
        parent's earlier items, for how much wider it is (:func:`relative_width`)."""
        by_key: dict[str, ScoreDistribution] = {}
        enough = own_segments(weights, keys, min_items)
        earlier = _by_key(older)
        widths: dict[str, float] = {}  # the parents' earlier widths, each measured once
        for depth, level in enumerate(keys):
            for key in np.unique(level):
                rows = level == key
                parent, parent_tag, parent_depth = None, "", 0
                for above in range(depth):  # the deepest ancestor with a distribution of its own
                    tag = _tag(above, keys[above][rows][0])
                    if tag in by_key and by_key[tag].borrowed_from is None:
                        parent, parent_tag, parent_depth = by_key[tag], tag, above
                if parent is None or key in enough[depth]:
                    prior = MODEL_TAIL_RATE if parent is None else parent.tail_rate
                    by_key[_tag(depth, key)] = ScoreDistribution.fit(
                        scores[rows], weights[rows], prior
                    )
                    continue
                # Thin: the parent's shape at its own median, if it has enough items for one,
                # as wide as its earlier items say.
                own, stretch = Scores(scores[rows], weights[rows]), 1.0
                if older is not None:
                    mine = earlier(depth, key)
                    own = own.plus(mine)
                    if parent_tag not in widths:
                        parents = earlier(parent_depth, parent_tag.partition(":")[2])
                        widths[parent_tag] = width(parents)
                    stretch = relative_width(mine, widths[parent_tag])
                if effective_sample_size(own.weights) >= MIN_SHIFTED_ITEMS:
                    by_key[_tag(depth, key)] = parent.moved(
                        own.scores, own.weights, parent_tag, stretch
                    )
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
        """A thin segment's borrowed shape is saved as its parent's tag, shift and stretch: a
        tester's 400 sellers, 360 of them thin, made a 63 MB model file of copies (4.4 MB
        now)."""
        by_key = {}
        for key, dist in self.by_key.items():
            parent = (
                None
                if dist.borrowed_from is None
                else self.by_key.get(_parent(key, dist.borrowed_from))
            )
            # Compact only where it reads back exactly: a model saved before the shift was
            # kept loads its borrowed shapes as copies with no shift.
            moved = None if parent is None else parent.scores * dist.stretch + dist.shift
            if moved is None or not np.array_equal(moved, dist.scores):
                by_key[key] = dist.to_dict()
            else:
                # A widened shape's shift is not a distance moved: under its own name, so that
                # an engine from before widening refuses it instead of misreading it.
                moves = (
                    {"shift": dist.shift}
                    if dist.stretch == 1.0
                    else {"offset": dist.shift, "stretch": dist.stretch}
                )
                by_key[key] = {
                    "borrowed_from": dist.borrowed_from,
                    **moves,
                    "n_effective": dist.n_effective,
                }
        return {"min_items": self.min_items, "by_key": by_key}

    @classmethod
    def from_dict(cls, raw: dict) -> MondrianCalibration:
        by_key = {
            k: ScoreDistribution.from_dict(v) for k, v in raw["by_key"].items() if "scores" in v
        }
        for key, moved in raw["by_key"].items():
            if "scores" not in moved:
                parent = by_key[_parent(key, moved["borrowed_from"])]
                by_key[key] = parent._moved_by(
                    moved["shift"] if "shift" in moved else moved["offset"],
                    moved["n_effective"],
                    moved["borrowed_from"],
                    moved.get("stretch", 1.0),
                )
        return cls(by_key, raw["min_items"])


def _by_key(older: Scores | None) -> Callable[[int, str], Scores]:
    """``older``'s rows of one segment (a depth and a key), grouped once: a history of 400
    sellers, 360 of them thin, would otherwise scan every earlier row for each."""
    groups: dict[int, dict[str, np.ndarray]] = {}

    def rows_of(depth: int, key: str) -> Scores:
        assert older is not None
        if depth not in groups:
            names, which = np.unique(older.keys[depth], return_inverse=True)
            order = np.argsort(which, kind="stable")
            bounds = np.searchsorted(which[order], np.arange(len(names) + 1))
            groups[depth] = {
                str(name): order[bounds[k] : bounds[k + 1]] for k, name in enumerate(names)
            }
        return older.of(groups[depth].get(key, np.array([], dtype=np.int64)))

    return rows_of


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


def tag_depth(tag: str) -> int:
    """The depth of a calibration tag ('ahead|2:P3 / Access' -> 2)."""
    return int(str(tag).removeprefix(AHEAD).partition(":")[0])


def _parent(key: str, borrowed_from: str) -> str:
    """The key of the distribution whose shape ``key``'s borrows: an ahead twin borrows from
    its parent's ahead twin (their tags say the parent without the prefix)."""
    return (AHEAD if key.startswith(AHEAD) else "") + borrowed_from
