"""Online recalibration: corrections learnt from outcomes as they come back, while quoting.

A model is calibrated once, on its most recent history (:mod:`eta.calibration`); the world then
drifts. :class:`OnlineCalibration` keeps promises honest from what happens next: location and
tail corrections judged when each quote's likely time and promise pass (adaptive conformal
inference on log time), and the speed of recent items estimated from everything known of them,
open ones included (:func:`recent_speed`), the early warning that judgements, due only when
their time passes, cannot give. The replay backtest and the service feed it alike
(:mod:`eta.feedback`).

References
----------
Gibbs, I. & Candès, E. (2021). Adaptive conformal inference under distribution shift. *NeurIPS*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eta.calibration import MondrianCalibration

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
    own_columns: tuple[str, ...] = ()
    """Segment columns whose values calibration may not reach (a thin or new seller, quoted
    with all sellers' distribution): such a value's items, by their group key
    ('seller_id=S398', see ``groups``), also get corrections of the likely time and the promise
    of their own, as a segment does. A new seller that was slow and spread wide had only
    everyone's, and kept 65% of its promises at 0.57 times its true P90."""

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
            # Per key: its speed and likely-time corrections move the location, its promise
            # correction the tail (0 for '' and for a key without them).
            inverse, values = pd.factorize(np.asarray(keys, dtype=object), sort=True)
            names = (SPEED, *CHECKPOINTS)
            found = np.array(
                [
                    [self.offset.get(f"{n}|{key}", 0.0) if key else 0.0 for n in names]
                    for key in values
                ]
            ).reshape(len(values), len(names))[inverse]
            out[:, 0] += found[:, 0] + found[:, 1]
            out[:, 1] += found[:, 2]
        return out

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
        shift at the promise. (:meth:`eta.predictive.Predictive.hours` moves whole distributions:
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
        groups: Sequence[str] = (),
        estimated: bool = False,
        instead_of: float | None = None,
    ) -> None:
        """Judge one quote at ``checkpoint``: was the item still open?

        ``checkpoint`` is 'likely' or 'promise' (by today's corrections) or :data:`QUOTED` (the
        promise as it was quoted). ``late`` is 1 (missed) or 0 (kept), or with ``estimated`` the
        probability that it was missed. ``instead_of`` revises an earlier estimate of the same
        judgement: the corrections move by the difference only. ``groups``: the item's group
        keys, of which those of :attr:`own_columns` are corrected too.
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
        own = [k for k in groups if any(k.startswith(f"{c}=") for c in self.own_columns)]
        for key in (ALL, segment, *own):
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
            "own_columns": list(self.own_columns),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> OnlineCalibration:
        return cls(**{**raw, "own_columns": tuple(raw.get("own_columns", ()))})


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

    A group's is its shift less the whole model's and its items' segments' *over the whole
    model's window* (no window of its own): with windows picked apart, a group whose window
    still held the calm before a rush read as faster than the rush the whole model saw, and
    cancelled part of it (one-year deliveries' Black Friday November kept 83.8% instead of
    84.6%). Less its segments' too, since an item's speed is the sum of its keys': a seller of
    a slow fulfilment type counted that type's slowdown twice, in its segment's estimate and in
    its own, and a seller alone in an on-time type was promised 10% short.
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
    own = pd.Series(np.asarray(segments, dtype=object)[since:]).map(out).fillna(0.0).to_numpy()
    return out | _group_shifts(
        calibration, hazard[since:], finished[since:], groups, since, whole + own
    )


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
    baseline: float | np.ndarray,
) -> dict[str, float]:
    """Each group value's shift over the items from ``since`` on (``hazard`` and ``finished``
    begin there), less ``baseline`` (the whole model's, or per item the whole model's and its
    segment's: the mean over the value's items), shrunk towards none by its finishes."""
    out = {}
    base = np.broadcast_to(np.asarray(baseline, dtype=float), (len(finished),))
    for keys in groups:
        for key, rows in calibration.distributions(keys[since:]).items():
            if not key:
                continue
            finishes = float(finished[rows].sum())
            shift, _ = _root(hazard[rows].sum(axis=0), finishes)
            own = finishes / (finishes + MIN_PACE) * (shift - float(base[rows].mean()))
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
