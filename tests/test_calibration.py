"""Online calibration: the fast corrections, the slow loop on promises as quoted, old state."""

from __future__ import annotations

import numpy as np

from eta.calibration import ALL, QUOTED, OnlineCalibration


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
