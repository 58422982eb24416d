"""Calibration: online corrections, the slow loop on promises as quoted, the speed estimate,
in-flight levels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from eta.calibration import (
    AHEAD,
    MAX_POINTS,
    MondrianCalibration,
    ScoreDistribution,
    Scores,
    thinned,
)
from eta.inflight import FarTail, InFlightBySpread, InFlightCalibration
from eta.online import (
    ALL,
    QUOTED,
    OnlineCalibration,
    cumulative_hazard,
    group_levels,
    recent_speed,
    speed_shift,
)


def _judge(online: OnlineCalibration, checkpoint: str, late_share: float, n: int) -> None:
    rng = np.random.default_rng(0)
    for late in rng.random(n) < late_share:
        online.update("1:x", checkpoint, late)


def test_promises_broken_as_quoted_make_the_tail_correction_aim_higher() -> None:
    online = OnlineCalibration(0.9, 0.3, {ALL: 100.0, "1:x": 100.0})
    _judge(online, QUOTED, 0.2, 2_000)
    assert online.target_shift > 0.05
    assert online.outcomes[ALL][1] == 2_000 and 0.75 < online.on_time_rate()[ALL] < 0.85
    # With the raised aim, a world where today's promises are kept exactly 90% of the time
    # still pushes promises later, until the promises as quoted are kept often enough.
    before = online.offsets(np.array(["1:x"], dtype=object))[0, 1]
    _judge(online, "promise", 0.1, 2_000)
    assert online.offsets(np.array(["1:x"], dtype=object))[0, 1] > before + 0.5


def test_promises_kept_as_quoted_on_target_leave_the_aim_alone() -> None:
    online = OnlineCalibration(0.9, 0.3, {ALL: 1_000.0, "1:x": 1_000.0})
    _judge(online, QUOTED, 0.1, 5_000)
    assert abs(online.target_shift) < 0.01


def test_a_burst_of_broken_promises_moves_the_aim_no_more_than_blocks_at_a_capped_rate() -> None:
    """A strike breaks every promise under way at once, and such a burst must not set promises
    padding for months after it: the slow loop counts a block's share of broken promises at most
    four times the target's. Ordinary blocks around the target still count in full."""
    pace = 1_000.0
    burst = OnlineCalibration(0.9, 0.3, {ALL: pace, "1:x": pace})
    _judge(burst, QUOTED, 1.0, 1_000)
    step = 0.33 * 0.3 / pace
    assert burst.target_shift == pytest.approx(step * 1_000 * 0.3)
    steady = OnlineCalibration(0.9, 0.3, {ALL: pace, "1:x": pace})
    _judge(steady, QUOTED, 0.15, 1_000)
    late = (np.random.default_rng(0).random(1_000) < 0.15).sum()  # the draws _judge made
    assert steady.target_shift == pytest.approx(step * (late - 100))


def test_a_segment_value_calibration_does_not_reach_has_corrections_of_its_own() -> None:
    """A new seller, calibrated with all sellers, had only everyone's corrections: slow and
    spread wide, it kept 65% of its promises. Its promises broken now lengthen its own; a
    feature that is not a segment ('channel=chat') keeps to its speed estimate."""
    online = OnlineCalibration(
        0.9, 0.3, {ALL: 10_000.0, "0:all": 10_000.0}, own_columns=("seller",)
    )
    rng = np.random.default_rng(0)
    for late in rng.random(400) < 0.35:
        online.update("0:all", "promise", late, groups=("seller=S9", "channel=chat"))
    for k in range(2_000):  # one promise in ten broken, as asked
        online.update("0:all", "promise", k % 10 == 0, groups=("seller=S1", "channel=chat"))
    segments = np.array(["0:all"] * 3, dtype=object)
    sellers = np.array(["seller=S9", "seller=S1", ""], dtype=object)
    channels = np.array(["channel=chat"] * 3, dtype=object)
    tail = online.offsets(segments, [sellers, channels])[:, 1]
    assert tail[0] > tail[2] + 0.3  # S9's promises grow
    assert abs(tail[1] - tail[2]) < 0.1  # S1's kept their target: nothing of its own
    assert "promise|channel=chat" not in online.offset
    # Saved and loaded, the corrections stay the seller's.
    again = OnlineCalibration.from_dict(online.to_dict())
    np.testing.assert_allclose(
        again.offsets(segments, [sellers, channels]), online.offsets(segments, [sellers, channels])
    )


def test_the_likely_correction_moves_faster_when_its_wait_is_shorter() -> None:
    slow = OnlineCalibration(0.9, 0.3, {ALL: 1_000.0, "1:x": 1_000.0})
    fast = OnlineCalibration(0.9, 0.3, {ALL: 1_000.0, "1:x": 1_000.0}, horizon={"likely": 0.25})
    for online in (slow, fast):
        online.update("1:x", "likely", True)
    assert fast.offset["likely|*"] == 4 * slow.offset["likely|*"] > 0


def test_state_saved_before_the_slow_loop_existed_still_loads() -> None:
    old = {"confidence": 0.9, "gain": 0.3, "pace": {ALL: 10.0}, "offset": {}, "outcomes": {}}
    online = OnlineCalibration.from_dict(old)
    assert online.target_shift == 0.0 and online.horizon == {}
    assert OnlineCalibration.from_dict(online.to_dict()) == online


def _levels_of(sample: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each finish's level in a reference distribution (what the model believes)."""
    return np.searchsorted(np.sort(reference), sample, side="right") / (len(reference) + 1)


def test_in_flight_levels_are_unchanged_when_the_model_is_right() -> None:
    rng = np.random.default_rng(3)
    believed = rng.lognormal(0, 1, 200_000)
    actual = rng.lognormal(0, 1, 20_000)
    table = InFlightCalibration.fit(_levels_of(actual, believed), np.ones(len(actual), bool))
    p = np.array([[0.5, 0.9]])
    for age in (0.3, 0.5, 0.8):
        np.testing.assert_allclose(table.level(p, np.full(p.shape, age)), p, atol=0.03)


def test_in_flight_levels_rise_when_late_items_are_stuck_ones() -> None:
    rng = np.random.default_rng(4)
    believed = rng.lognormal(0, 1, 200_000)
    # A tenth of the items are stuck: they take 8x longer than the model believes.
    actual = rng.lognormal(0, 1, 20_000) * np.where(rng.random(20_000) < 0.1, 8.0, 1.0)
    levels = _levels_of(actual, believed)
    table = InFlightCalibration.fit(levels, np.ones(len(actual), bool))
    p = np.array([[0.5, 0.9]])
    young, old = table.level(p, np.full(p.shape, 0.3)), table.level(p, np.full(p.shape, 0.8))
    assert np.all(old > p + 0.05) and np.all(old >= young)
    # And the recalibrated level is the one that holds on fresh items of the same world.
    fresh = _levels_of(
        rng.lognormal(0, 1, 50_000) * np.where(rng.random(50_000) < 0.1, 8, 1), believed
    )
    late = fresh[fresh > 0.8]
    asked = table.level(np.array([0.9]), np.array([0.8]))[0]
    assert abs(np.mean(late <= 0.8 + asked * 0.2) - 0.9) < 0.02


def test_in_flight_levels_hold_when_many_old_items_are_still_open() -> None:
    rng = np.random.default_rng(6)
    believed = rng.lognormal(0, 1, 200_000)

    def world(n: int) -> np.ndarray:
        return rng.lognormal(0, 1, n) * np.where(rng.random(n) < 0.1, 8.0, 1.0)

    finish = world(40_000)
    watched = rng.lognormal(1.0, 1.5, len(finish))  # looked at once, independently of the item
    done = finish <= watched
    table = InFlightCalibration.fit(_levels_of(np.minimum(finish, watched), believed), done)
    assert 0.3 < 1 - done.mean() < 0.6  # a heavily censored history
    fresh = _levels_of(world(100_000), believed)
    for age in (0.5, 0.8, 0.9):
        late = fresh[fresh > age]
        asked = table.level(np.array([0.9]), np.array([age]))[0]
        assert abs(np.mean(late <= age + asked * (1 - age)) - 0.9) < 0.02, age


def test_in_flight_levels_hold_for_items_older_than_the_oldest_table() -> None:
    def world(rng: np.random.Generator, n: int) -> np.ndarray:
        """Levels under a believed standard normal of log hours; a tenth of the items are
        stuck 8x longer, so the old ones are mostly stuck ones, nearly all found by now."""
        return norm.cdf(rng.normal(0, 1, n) + np.where(rng.random(n) < 0.1, np.log(8.0), 0.0))

    ages = np.array([0.999, 0.9999])  # 33k and 10k fresh items that old per world
    kept = []
    for seed in range(5):  # the last table's few oldest finishes are noisy: average worlds
        rng = np.random.default_rng(seed)
        table = InFlightCalibration.fit(world(rng, 100_000), np.ones(100_000, bool))
        assert table.ages[-1] < ages[0]
        fresh = world(rng, 2_000_000)
        asked = table.level(np.full(2, 0.9), ages)
        kept.append(
            [np.mean(fresh[fresh > a] <= a + q * (1 - a)) for a, q in zip(ages, asked, strict=True)]
        )
    np.testing.assert_allclose(np.mean(kept, axis=0), 0.9, atol=0.015)


def test_the_oldest_ages_learn_from_earlier_items_where_the_recent_are_still_open() -> None:
    """The calibration period's oldest items are mostly still open at the export: alone, its
    tables end before the stuck items finish, and an item older than their last finish was
    quoted as if it were not a stuck one."""

    def world(rng: np.random.Generator, n: int) -> np.ndarray:
        """Log hours under a believed standard normal; a tenth are stuck 8x longer."""
        return rng.normal(0, 1, n) + np.where(rng.random(n) < 0.1, np.log(8.0), 0.0)

    def seen(log_hours: np.ndarray, watched: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return norm.cdf(np.minimum(log_hours, watched)), log_hours <= watched

    ages, p = np.array([0.98, 0.99, 0.995]), np.full(3, 0.9)
    rng = np.random.default_rng(0)
    recent, earlier = world(rng, 20_000), world(rng, 80_000)
    levels, finished = seen(recent, rng.uniform(0.0, 2.0, recent.size))  # watched briefly
    older = seen(earlier, rng.uniform(0.0, 6.0, earlier.size))  # nearly all finished
    fresh = norm.cdf(world(rng, 2_000_000))

    def kept(table: InFlightCalibration) -> np.ndarray:
        asked = table.level(p, ages)
        return np.array(
            [np.mean(fresh[fresh > a] <= a + q * (1 - a)) for a, q in zip(ages, asked, strict=True)]
        )

    alone = InFlightCalibration.fit(levels, finished)
    joined = InFlightCalibration.fit(levels, finished, older=older)
    assert alone.ages[-1] < ages[0] <= joined.ages[-1]
    assert np.all(kept(alone) < 0.8)
    np.testing.assert_allclose(kept(joined), 0.9, atol=0.015)
    # Where the recent items alone have enough finishes, their tables are kept as they are.
    for k in range(len(alone.ages)):
        np.testing.assert_array_equal(joined.values[k], alone.values[k])


def test_in_flight_levels_hold_for_narrow_and_wide_items_alike() -> None:
    """Narrow items rarely get stuck but then 8x; wide ones often, 2x. Late, a narrow item is
    far from done and a wide one nearly: one table for both broke the first's promises and
    over-padded the second's."""

    def world(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores (log hours over spread, believed location 0) and spreads."""
        wide = rng.random(n) < 0.5
        spread = np.where(wide, rng.uniform(0.9, 1.1, n), rng.uniform(0.25, 0.35, n))
        stuck = rng.random(n) < np.where(wide, 0.2, 0.05)
        log_hours = spread * rng.normal(0, 1, n) + stuck * np.where(wide, np.log(2), np.log(8))
        return log_hours / spread, spread

    rng = np.random.default_rng(0)
    scores, spread = world(rng, 200_000)
    believed = np.sort(scores)  # calibrated over all items together

    def level(z: np.ndarray) -> np.ndarray:
        return np.searchsorted(believed, z, side="right") / (len(believed) + 1)

    finished = np.ones(len(scores), bool)
    one = InFlightCalibration.fit(level(scores), finished)
    banded = InFlightBySpread.fit(level(scores), finished, spread)
    fresh, fresh_spread = world(rng, 400_000)
    fresh = level(fresh)
    band = np.searchsorted(banded.edges, np.log(fresh_spread))
    for age in (0.5, 0.8, 0.9, 0.95):
        for outer in (0, len(banded.bands) - 1):  # all narrow, all wide
            late = (fresh > age) & (band == outer)
            p, a = np.full((late.sum(), 1), 0.9), np.full((late.sum(), 1), age)
            alone = one.level(p, a)[:, 0]
            by_band = banded.level(p, a, fresh_spread[late])[:, 0]
            assert abs(np.mean(fresh[late] <= age + alone * (1 - age)) - 0.9) > 0.03
            assert np.mean(fresh[late] <= age + by_band * (1 - age)) == pytest.approx(
                0.9, abs=0.015
            ), (age, outer)


def test_an_in_flight_level_does_not_jump_past_its_bands_oldest_table() -> None:
    """Past its band's oldest table an item took all items' tables, which a band of stuck
    claims does not resemble: a tester's theft claim asked for a level of 0.74 at 850 business
    hours and 0.95 at 900, and its remaining promise went from 1,197 h to 3,828 h."""
    rng = np.random.default_rng(3)
    n = 3_000  # per band: about 1,000 items, too few finishes for a table at every age
    spread = rng.choice([0.3, 0.6, 1.0], n)
    narrow = spread == 0.3
    levels = np.where(narrow & (rng.random(n) < 0.5), 0.9 + 0.1 * rng.random(n) ** 4, rng.random(n))
    banded = InFlightBySpread.fit(levels, np.ones(n, bool), spread)
    table = banded.bands[0]
    assert len(table.ages) < len(banded.whole.ages)  # the whole has older tables than the band
    oldest = table.ages[-1]
    ages = np.array([[oldest - 1e-6], [oldest + 1e-6]])
    asked = banded.level(np.full((2, 1), 0.9), ages, np.full(2, 0.3))[:, 0]
    assert abs(asked[1] - asked[0]) < 0.01, (oldest, asked)


def test_in_flight_tables_saved_before_the_bands_still_load() -> None:
    levels = np.random.default_rng(1).random(5_000)
    old = InFlightCalibration.fit(levels, np.ones(len(levels), bool))
    loaded = InFlightBySpread.from_dict(old.to_dict())
    p, age = np.array([[0.5, 0.9]]), np.array([[0.7]])
    np.testing.assert_array_equal(loaded.level(p, age, np.array([0.4])), old.level(p, age))
    banded = InFlightBySpread.fit(levels, np.ones(len(levels), bool), np.linspace(0.1, 1, 5_000))
    again = InFlightBySpread.from_dict(banded.to_dict())
    spread = np.array([0.2, 0.5, 0.9])
    p, age = np.tile([0.5, 0.9], (3, 1)), np.full((3, 1), 0.7)
    np.testing.assert_array_equal(again.level(p, age, spread), banded.level(p, age, spread))


def test_an_item_in_progress_never_asks_for_less_than_a_new_item_would_get() -> None:
    rng = np.random.default_rng(7)
    believed = rng.lognormal(0, 1, 200_000)
    # Items finish faster than the model believes: the table alone would ask for lower levels.
    table = InFlightCalibration.fit(_levels_of(rng.lognormal(-0.7, 0.6, 5_000), believed),
                                    np.ones(5_000, bool))  # fmt: skip
    p = np.tile([0.5, 0.9, 0.99], (50, 1))
    age = np.linspace(0.0, 0.99, 50)[:, None] * np.ones_like(p)
    asked = table.level(p, age)
    fresh = (p - age) / (1 - age)
    assert np.all(asked >= fresh - 1e-12)  # the quantile of T | T > e is never before F^-1(p)
    assert np.any(np.isclose(asked, fresh))  # and here the floor is what holds it up


def test_in_flight_levels_keep_their_order_and_distinctness() -> None:
    rng = np.random.default_rng(5)
    levels = rng.random(3_000) ** 0.3  # late-heavy
    table = InFlightCalibration.fit(levels, np.ones(len(levels), bool))
    p = np.linspace(0.05, 0.99, 40)[None, :]
    for age in (0.1, 0.5, 0.9, 0.999):
        asked = table.level(p, np.full(p.shape, age))
        assert np.all(np.diff(asked) > 0) and np.all(asked <= 0.999)


def test_too_few_old_items_leave_levels_as_asked() -> None:
    table = InFlightCalibration.fit(np.linspace(0.01, 0.6, 40), np.ones(40, bool))
    p = np.array([[0.5, 0.9]])
    np.testing.assert_allclose(table.level(p, np.full(p.shape, 0.9)), p)


def _standard_normal_calibration() -> MondrianCalibration:
    scores = np.random.default_rng(1).standard_normal(20_000)
    return MondrianCalibration.fit(scores, np.ones(len(scores)), [np.full(len(scores), "all")])


def _hazard(calibration: MondrianCalibration, location, hours) -> np.ndarray:
    segments = np.full(len(hours), "0:all", dtype=object)
    return cumulative_hazard(calibration, segments, location, np.ones(len(hours)), hours)


def _watched(shift: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items with median 10 h, truly ``shift`` slower in log time, watched for a random time."""
    rng = np.random.default_rng(seed)
    location = np.full(n, np.log(10.0))
    finish = np.exp(location + shift + rng.standard_normal(n))
    watched = rng.uniform(0, 60, n)  # looked at a random age, still open if not done by then
    return location, np.minimum(finish, watched), finish <= watched


@pytest.mark.parametrize("shift", [-0.3, 0.0, 0.4])
def test_the_speed_of_recent_items_is_estimated_from_finished_and_open_ones(shift) -> None:
    calibration = _standard_normal_calibration()
    location, hours, finished = _watched(shift, 4_000, seed=2)
    assert finished.mean() < 0.9  # a good share is still open
    hazard = _hazard(calibration, location, hours)
    estimate, finishes = speed_shift(hazard, finished)
    assert estimate == pytest.approx(shift, abs=0.06)
    assert finishes == finished.sum()


def test_after_a_sudden_slowdown_the_estimate_follows_the_latest_items() -> None:
    calibration = _standard_normal_calibration()
    before = _watched(0.0, 3_000, seed=3)
    after = _watched(0.5, 400, seed=4)
    location, hours, finished = (np.r_[a, b] for a, b in zip(before, after, strict=True))
    hazard = _hazard(calibration, location, hours)
    estimate, _ = speed_shift(hazard, finished, evidence=2_000.0)
    everything, _ = speed_shift(hazard, finished)
    assert everything < 0.15  # all items pooled: the change drowns in the old ones
    assert estimate > 0.3


def test_a_thin_segment_speed_estimate_is_shrunk_towards_the_whole_model() -> None:
    scores = np.random.default_rng(5).standard_normal(20_000)
    half = np.arange(len(scores)) % 2 == 0
    calibration = MondrianCalibration.fit(
        scores, np.ones(len(scores)), [np.full(len(scores), "all"), np.where(half, "x", "y")]
    )
    speeds = {}
    for n_slow in (40, 4_000):
        usual, slow = _watched(0.0, 4_000, seed=6), _watched(0.8, n_slow, seed=7)
        location, hours, finished = (np.r_[a, b] for a, b in zip(usual, slow, strict=True))
        segments = np.r_[np.full(4_000, "1:y"), np.full(n_slow, "1:x")].astype(object)
        pace = {ALL: 1e6, "1:x": 1e6, "1:y": 1e6}  # every item counts as recent
        found = recent_speed(
            calibration, segments, location, np.ones(len(hours)), hours, finished, pace
        )
        speeds[n_slow] = found[ALL] + found["1:x"]
    assert 0.1 < speeds[40] < 0.6  # a few slow items: partly their own, partly everyone's
    assert speeds[4_000] == pytest.approx(0.8, abs=0.08)


def test_quotes_made_ahead_use_their_own_distributions_where_the_model_has_them() -> None:
    rng = np.random.default_rng(0)
    n = 4_000
    keys = [np.full(n, "all", dtype=object), rng.choice(["a", "b"], n).astype(object)]
    live = MondrianCalibration.fit(rng.normal(0.0, 1.0, n), np.ones(n), keys)
    both = live.with_ahead(rng.normal(0.5, 2.0, n), np.ones(n), keys)
    ahead = np.arange(n) % 2 == 0

    tags = both.segment_of(keys, ahead)
    assert (tags[ahead] == AHEAD + live.segment_of(keys)[ahead]).all()
    assert (tags[~ahead] == live.segment_of(keys)[~ahead]).all()
    assert both.segments == live.segments  # one set of segments, each with a twin
    p90 = np.array([0.9])
    assert both.by_key[AHEAD + "1:a"].quantile(p90)[0] > live.by_key["1:a"].quantile(p90)[0] + 1
    saved = MondrianCalibration.from_dict(both.to_dict())
    assert saved.segment_of(keys, ahead).tolist() == tags.tolist()
    # A model saved before quotes made ahead had their own calibration quotes them as before.
    assert live.segment_of(keys, ahead).tolist() == live.segment_of(keys).tolist()


def test_a_segment_tail_leans_on_its_parent_until_it_has_exceedances_of_its_own() -> None:
    rng = np.random.default_rng(5)
    # Everyone: exponential scores of rate 1 above 0. Segment "few": 200 items, none far out.
    # Segment "many": 20,000 items whose tail is twice as steep as everyone's.
    everyone = rng.exponential(1.0, 20_000)
    few = np.linspace(0.0, 0.5, 200)
    many = rng.exponential(0.5, 20_000)
    scores = np.concatenate([everyone, few, many])
    level1 = np.repeat(np.array(["rest", "few", "many"], dtype=object), [20_000, 200, 20_000])
    keys = [np.full(len(scores), "all", dtype=object), level1]
    calibration = MondrianCalibration.fit(scores, np.ones(len(scores)), keys)
    parent = calibration.by_key["0:all"].tail_rate
    assert 1.0 < parent < 1.6  # mostly rate-1 and rate-2 scores beyond the 95th percentile
    few_tail = calibration.by_key["1:few"]
    above = few_tail.scores[few_tail.scores > few_tail.tail_start]
    own_rate = 1.0 / np.mean(above - few_tail.tail_start)
    assert len(above) <= 10 and own_rate > 50  # its ten items above 0.475 reach only 0.5
    assert parent < few_tail.tail_rate < 2.5 * parent  # its ten weighed with the prior's ten
    assert calibration.by_key["1:many"].tail_rate == pytest.approx(2.0, rel=0.1)


def test_a_thin_segment_borrows_its_parents_shape_at_its_own_median() -> None:
    rng = np.random.default_rng(5)
    wide, thin = rng.normal(0.0, 1.0, 5_000), rng.normal(2.0, 1.0, 40)
    scores = np.r_[wide, thin]
    keys = [np.full(len(scores), "all"), np.array(["a"] * len(wide) + ["d"] * len(thin))]
    calibration = MondrianCalibration.fit(scores, np.ones(len(scores)), keys)
    parent, own = calibration.by_key["0:all"], calibration.by_key["1:d"]
    assert own.borrowed_from == "0:all" and calibration.by_key["1:a"].borrowed_from is None
    assert own.n_effective == pytest.approx(40.0)
    moved = own.quantile(np.array([0.5, 0.9])) - parent.quantile(np.array([0.5, 0.9]))
    # The whole shape moves, by the thin median's distance, shrunk by 40 / (40 + 8).
    assert moved[0] == pytest.approx(moved[1])
    assert 0.8 * 2.0 * 40 / 48 < moved[0] < 1.2 * 2.0 * 40 / 48
    saved = MondrianCalibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert _same(saved.by_key["1:d"], own)  # the shape and its shift, exactly
    # Saved as its parent's tag and the shift, not a copy: 360 thin sellers of 400 made a
    # 63 MB model file. An ahead twin borrows from its parent's ahead twin.
    assert "scores" not in calibration.to_dict()["by_key"]["1:d"]
    both = calibration.with_ahead(scores + 0.3, np.ones(len(scores)), keys)
    again = MondrianCalibration.from_dict(json.loads(json.dumps(both.to_dict())))
    assert _same(again.by_key[AHEAD + "1:d"], both.by_key[AHEAD + "1:d"])
    assert not _same(again.by_key[AHEAD + "1:d"], own)
    # A model saved before the shift was kept (copies, no shift) loads, and saves, as it was.
    old = calibration.to_dict()
    old["by_key"]["1:d"] = own.to_dict()
    resaved = MondrianCalibration.from_dict(MondrianCalibration.from_dict(old).to_dict())
    assert resaved.by_key["1:d"].to_dict() == own.to_dict()
    # Items from before the calibration period count for the median; too few, none at all.
    few = MondrianCalibration.fit(scores[:-36], np.ones(len(scores) - 36), [k[:-36] for k in keys])
    assert "1:d" not in few.by_key
    older = Scores(thin[:30], np.ones(30), [np.full(30, "all"), np.full(30, "d")])
    helped = MondrianCalibration.fit(
        scores[:-36], np.ones(len(scores) - 36), [k[:-36] for k in keys], older=older
    )
    assert helped.by_key["1:d"].n_effective == pytest.approx(34.0)


def test_a_thin_segment_is_as_much_wider_than_its_parent_as_its_earlier_items_say() -> None:
    # A slow kind of claim: 60 of its items in the calibration period (most of its latest still
    # open), 1,000 earlier ones, twice as wide as everyone's earlier items. Its parent's shape
    # as it was promised the kind 0.91x its true P90 over six generated histories.
    rng = np.random.default_rng(6)
    wide, thin = rng.normal(0.0, 1.0, 5_000), rng.normal(0.0, 2.0, 60)
    scores = np.r_[wide, thin]
    keys = [np.full(len(scores), "all"), np.array(["a"] * len(wide) + ["d"] * len(thin))]

    def fitted(spread_before: float, own_spread_before: float) -> MondrianCalibration:
        # Earlier items are scored in-sample-free but without the latest months' drift:
        # narrower than the latest for everyone alike, which must not narrow the thin one.
        earlier = np.r_[
            rng.normal(0.0, spread_before, 19_000), rng.normal(0.0, own_spread_before, 1_000)
        ]
        older_keys = [np.full(20_000, "all"), np.array(["a"] * 19_000 + ["d"] * 1_000)]
        older = Scores(earlier, np.ones(20_000), older_keys)
        return MondrianCalibration.fit(scores, np.ones(len(scores)), keys, older=older)

    def width(distribution: ScoreDistribution) -> float:
        return float(np.diff(distribution.quantile(np.array([0.5, 0.9])))[0])

    twice = fitted(0.6, 1.2)
    parent, own = twice.by_key["0:all"], twice.by_key["1:d"]
    assert own.borrowed_from == "0:all"
    # Twice as wide (a little less than its parent, which holds it), shrunk by 1,000 /
    # (1,000 + 150) in the log: about 1.8x.
    assert width(own) / width(parent) == pytest.approx(2.0 ** (1_000 / 1_150), rel=0.1)
    assert own.tail_rate == pytest.approx(parent.tail_rate / own.stretch)
    saved = MondrianCalibration.from_dict(json.loads(json.dumps(twice.to_dict())))
    compact = twice.to_dict()["by_key"]["1:d"]
    # Saved compact, its intercept under a name an engine from before widening refuses.
    assert "scores" not in compact and "shift" not in compact
    assert _same(saved.by_key["1:d"], own)
    alike = fitted(0.6, 0.6).by_key["1:d"]
    assert width(alike) / width(parent) == pytest.approx(1.0, rel=0.1)
    # Never narrowed: that is unmeasured, and the riskier way to be wrong.
    assert fitted(0.6, 0.3).by_key["1:d"].stretch == 1.0


def _same(a: ScoreDistribution, b: ScoreDistribution) -> bool:
    return a.to_dict() == b.to_dict() and a.shift == b.shift


def test_a_group_speed_sees_a_slowdown_that_no_segment_shows_and_not_a_rush_of_all() -> None:
    """Chat tickets 40% slower, spread over every segment: the whole model sees a quarter of
    it, chat's own estimate the rest. A rush that slows everyone alike, which the whole model
    sees from its latest items, leaves every group's own estimate near none."""
    calibration = _standard_normal_calibration()
    pace = {ALL: 4_000.0, "0:all": 4_000.0, "region=a": 2_000.0, "region=b": 2_000.0}
    usual, chat = _watched(0.0, 3_000, seed=8), _watched(np.log(1.4), 1_000, seed=9)
    rng = np.random.default_rng(10)
    order = rng.permutation(4_000)
    location, hours, finished = (np.r_[a, b][order] for a, b in zip(usual, chat, strict=True))
    channel = np.r_[np.full(3_000, "channel=email"), np.full(1_000, "channel=chat")][order]
    segments = np.full(4_000, "0:all", dtype=object)
    args = (calibration, segments, location, np.ones(4_000), hours, finished, pace)
    found = recent_speed(*args, [channel.astype(object)])
    # An item's speed is the sum of its keys': the whole model's, its segment's, its groups'.
    everyone = found[ALL] + found["0:all"]
    assert everyone + found["channel=chat"] == pytest.approx(np.log(1.4), abs=0.08)
    assert everyone + found["channel=email"] == pytest.approx(0.0, abs=0.06)
    calm, rush = _watched(0.0, 3_600, seed=11), _watched(0.5, 400, seed=12)
    location, hours, finished = (np.r_[a, b] for a, b in zip(calm, rush, strict=True))
    region = rng.choice(np.array(["region=a", "region=b"], dtype=object), 4_000)
    found = recent_speed(*args[:2], location, np.ones(4_000), hours, finished, pace, [region])
    assert found[ALL] > 0.3  # the rush, from the latest items
    assert abs(found["region=a"]) < 0.1 and abs(found["region=b"]) < 0.1


def test_a_group_within_one_segment_does_not_count_its_segments_slowdown_twice() -> None:
    """Sellers as speed keys under fulfilment types: type P runs 0.3 slow (sellers S and T), type
    Q on time (seller U alone). Measured against the whole model, S counted P's slowdown twice
    and U read as fast (0.49 and -0.10 in all); against its items' segments, each seller's
    total is its own truth."""
    rng = np.random.default_rng(3)
    scores = rng.standard_normal(20_000)
    keys = [np.full(20_000, "all", dtype=object), rng.choice(np.array(["P", "Q"], object), 20_000)]
    calibration = MondrianCalibration.fit(scores, np.ones(20_000), keys)
    slow, fast = _watched(0.3, 2_000, seed=31), _watched(0.0, 2_000, seed=32)
    order = rng.permutation(4_000)
    location, hours, finished = (np.r_[a, b][order] for a, b in zip(slow, fast, strict=True))
    segments = np.r_[np.full(2_000, "1:P"), np.full(2_000, "1:Q")].astype(object)[order]
    seller = np.r_[rng.choice(["seller=S", "seller=T"], 2_000), np.full(2_000, "seller=U")]
    seller = seller.astype(object)[order]
    pace = {ALL: 4_000.0, "1:P": 2_000.0, "1:Q": 2_000.0}
    found = recent_speed(
        calibration, segments, location, np.ones(4_000), hours, finished, pace, [seller]
    )
    total = {
        k: found[ALL] + found[f"1:{p}"] + found[f"seller={k}"]
        for k, p in zip("STU", "PPQ", strict=True)
    }
    assert total["S"] == pytest.approx(0.3, abs=0.07) and total["T"] == pytest.approx(0.3, abs=0.07)
    assert total["U"] == pytest.approx(0.0, abs=0.05), total


def test_a_group_level_is_its_slowness_over_the_whole_period_not_lately() -> None:
    """Chat 40% slower through the first half of the period and as fast as email since: its
    recent speed sees nothing, its level (what quotes made later fade back to) half of it."""
    calibration = _standard_normal_calibration()
    pace = {ALL: 1_000.0}
    halves = []
    for chat_shift, seed in ((np.log(1.4), 20), (0.0, 22)):
        usual, chat = _watched(0.0, 1_500, seed=seed), _watched(chat_shift, 500, seed=seed + 1)
        order = np.random.default_rng(seed).permutation(2_000)
        columns = [np.r_[a, b][order] for a, b in zip(usual, chat, strict=True)]
        keys = np.r_[np.full(1_500, "channel=email"), np.full(500, "channel=chat")][order]
        halves.append((*columns, keys.astype(object)))
    location, hours, finished, channel = (np.r_[a, b] for a, b in zip(*halves, strict=True))
    args = (calibration, np.full(4_000, "0:all", dtype=object), location, np.ones(4_000))
    levels = group_levels(*args, hours, finished, [channel])
    assert levels["channel=chat"] - levels["channel=email"] == pytest.approx(
        np.log(1.4) / 2, abs=0.08
    )
    assert levels["channel=email"] < 0 < levels["channel=chat"]
    lately = recent_speed(*args, hours, finished, pace, [channel])
    assert abs(lately["0:all"] + lately["channel=chat"]) < 0.08


@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([1, 40, 900, 3 * MAX_POINTS, 6 * MAX_POINTS]),
    distinct=st.sampled_from([3, 300, 1_000_000]),
    open_share=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_fitted_distribution_is_thinned_to_later_quantiles_by_at_most_one_grid_level(
    n, distinct, open_share, seed
) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, distinct, n) / 100.0 - 5.0  # ties, as rounded durations give
    weights = np.where(rng.random(n) < open_share, 0.0, rng.uniform(0.5, 3.0, n))
    if not (weights > 0).any():
        weights[0] = 1.0
    fitted = ScoreDistribution.fit(scores, weights)
    # The same distribution in full: every finished item's step, as fit computes it.
    finished = weights > 0
    order = np.argsort(scores[finished], kind="stable")
    full_scores = scores[finished][order]
    full = np.minimum(np.cumsum(weights[finished][order]) / (n + 1), 1.0 - 1.0 / (n + 1))
    assert len(fitted.scores) <= MAX_POINTS + 2
    assert np.isin(fitted.tail_start, fitted.scores)
    p = np.linspace(0.0, full[-1], 997)
    exact = full_scores[np.searchsorted(full, p - 1e-12, side="left")]
    later = full_scores[
        np.minimum(np.searchsorted(full, p + 1.0 / MAX_POINTS - 1e-12), len(full) - 1)
    ]
    body = p <= 1.0 - fitted.tail_mass
    got = fitted.quantile(p)
    assert (got[body] >= exact[body]).all() and (got[body] <= later[body]).all()
    z = np.linspace(full_scores[0] - 1.0, fitted.tail_start, 991)
    exact_cdf = np.where(
        z >= full_scores[0], full[np.searchsorted(full_scores, z, side="right") - 1], 0.0
    )
    step = weights.max() / (n + 1)
    assert (fitted.cdf(z) <= exact_cdf + 1e-12).all()
    assert (fitted.cdf(z) >= exact_cdf - 1.0 / MAX_POINTS - step - 1e-12).all()


def test_thinning_merges_ties_without_changing_any_quantile() -> None:
    values = np.repeat(np.arange(50.0), 40)  # 2,000 steps over 50 values: under the cap
    cumulative = np.arange(1, len(values) + 1) / (len(values) + 1)
    kept_values, kept_cumulative = thinned(values, cumulative)
    assert len(kept_values) == 50
    p = np.linspace(0.0, cumulative[-1], 1001)
    before = values[np.searchsorted(cumulative, p - 1e-12)]
    after = kept_values[np.searchsorted(kept_cumulative, p - 1e-12)]
    np.testing.assert_array_equal(before, after)


def test_far_tail_does_not_read_a_level_from_history_s_longest_item() -> None:
    """A small company's history: 60 items past their promise, finished within two promises
    more, but one (an inspection promised 5 hours that took 240) 43 promises on. Its 97.5th
    percentile would be that one item, and a parts job past its promise was promised six years
    out; the fixed cap answers instead. With 40 times as many items the level is read."""
    rng = np.random.default_rng(3)
    few = np.r_[1.0 + rng.uniform(0, 2, 59), 44.0]
    assert FarTail.fit(few, np.ones(60, bool), 0.975).cap(np.array([1.2]), 10.0)[0] == 10.0
    many = np.r_[1.0 + rng.uniform(0, 2, 2400), 44.0]
    assert FarTail.fit(many, np.ones(2401, bool), 0.975).cap(np.array([1.2]), 10.0)[0] < 2.5
    # 3,000 still running past 150 finishes is a tail heavier than history shows, whether the
    # one followed longest finished or not: never nearer than the fixed cap (it read 2.2).
    running = np.r_[1.0 + rng.uniform(0, 2, 3_150), 4.0]
    for last in (True, False):
        done = np.r_[np.ones(150, bool), np.zeros(3_000, bool), last]
        assert FarTail.fit(running, done, 0.975).cap(np.array([1.0]), 10.0)[0] == 10.0


def test_far_tail_reads_where_delays_end_and_lifts_the_cap_where_history_cannot_see() -> None:
    """Ages in fresh promises. Delays that end (found 3-6 promises in): at 3 promises, the
    rest is uniform over 3 more, whose 95th percentile is 2.85. A Pareto tail (shape 1.1)
    followed for 20 promises: at 4, its 95th percentile lies 57 promises on, beyond anything
    followed, so it is capped no nearer than the 16 promises more that history followed."""
    rng = np.random.default_rng(0)
    n = 40_000
    delayed = rng.random(n) < 0.1
    ends = FarTail.fit(
        np.where(delayed, rng.uniform(3, 6, n), rng.uniform(0, 1, n)), np.ones(n, bool), 0.95
    )
    young, at_three, older = ends.cap(np.array([0.5, 3.0, 100.0]), 10.0)
    assert (young, older) == (10.0, 10.0)  # nothing read there: the fixed cap
    assert at_three == pytest.approx(2.85, abs=0.1)
    heavy = rng.pareto(1.1, n) + 1.0
    followed = FarTail.fit(np.minimum(heavy, 20.0), heavy <= 20.0, 0.95)
    # Not reached: at least as far as history followed (16 more), never nearer than the cap
    assert followed.cap(np.array([4.0]), 10.0)[0] == pytest.approx(16.0, abs=0.5)
    assert followed.cap(np.array([4.0]), 30.0)[0] == 30.0
    again = FarTail.from_dict(
        json.loads(json.dumps(followed.to_dict(), allow_nan=False))
    )  # JSON: no inf
    assert np.array_equal(again.ages, followed.ages)
    assert np.array_equal(again.remaining, followed.remaining)
    assert np.array_equal(again.reached, followed.reached) and not again.reached[-1]
