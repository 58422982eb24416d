"""One-off episodes (a strike) are left out of calibration once they have ended."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import eta.episodes
from eta.cli import app
from eta.data import load_history
from eta.model import EtaModel
from eta.synthetic import deliveries

TZ = "Europe/Berlin"
STRIKE = (pd.Timestamp("2025-09-08", tz=TZ), pd.Timestamp("2025-09-18", tz=TZ))
AS_OF = pd.Timestamp("2025-10-13", tz=TZ)


@pytest.fixture(scope="module")
def strike_exports():
    """A year of parcels as generated and with a ten-day strike holding every parcel under way,
    both exported four weeks after the strike ended (it is then inside the calibration period)."""
    sim = deliveries(10_000, seed=21)
    spec, truth = sim.spec, sim.truth
    start, true_end = truth[spec.start], truth["true_end"]
    held = (start < STRIKE[1]) & (true_end > STRIKE[0])
    begun = start.where(start > STRIKE[0], STRIKE[0])
    struck = true_end.where(~held, true_end + (STRIKE[1] - begun))
    exports = {}
    for name, ends in (("calm", true_end), ("strike", struck)):
        export = sim.history.assign(**{spec.end: ends.where(ends <= AS_OF)})
        exports[name] = export[export[spec.start] < AS_OF].reset_index(drop=True)
    return spec, exports


@pytest.fixture(scope="module")
def strike_histories(strike_exports):
    spec, exports = strike_exports
    return spec, {name: load_history(export, spec, as_of=AS_OF) for name, export in exports.items()}


def _promises(model: EtaModel, history) -> np.ndarray:
    """90% promises of the last weeks' parcels, had they started a week after the as-of time."""
    items = history.frame.tail(400).assign(start=AS_OF + pd.Timedelta(days=7))
    return model.quantiles(items, [0.9], online=False)[:, 0]


def test_an_ended_strike_is_left_out_and_promises_come_back_to_size(
    strike_histories, monkeypatch
) -> None:
    spec, histories = strike_histories
    calm = EtaModel(spec).fit(histories["calm"])
    struck = EtaModel(spec).fit(histories["strike"])
    assert pd.Timestamp(struck.info_["calibration_from"]) < STRIKE[0]  # it is in calibration
    assert calm.info_["episodes_left_out"] == []
    (episode,) = struck.info_["episodes_left_out"]
    first, last = pd.Timestamp(episode["first"]), pd.Timestamp(episode["last"])
    assert first < STRIKE[1] and last > STRIKE[0] - pd.Timedelta(days=7)
    assert last < STRIKE[1] + pd.Timedelta(days=7)
    assert episode["slowdown"] >= eta.episodes.SLOWDOWN
    ratio = np.exp(
        np.mean(np.log(_promises(struck, histories["strike"]) / _promises(calm, histories["calm"])))
    )
    assert 0.9 < ratio < 1.1
    # Without leaving it out, the strike's weeks pad every later promise.
    monkeypatch.setattr(eta.episodes, "SLOWDOWN", np.inf)
    padded = EtaModel(spec).fit(histories["strike"])
    assert padded.info_["episodes_left_out"] == []
    ratio = np.exp(
        np.mean(np.log(_promises(padded, histories["strike"]) / _promises(calm, histories["calm"])))
    )
    assert ratio > 1.3


def test_the_usual_histories_have_no_episodes(tickets_model, deliveries_model) -> None:
    assert tickets_model.info_["episodes_left_out"] == []
    assert deliveries_model.info_["episodes_left_out"] == []


def test_training_and_backtests_tell_the_data_team_what_was_left_out(
    strike_exports, tmp_path
) -> None:
    spec, exports = strike_exports
    exports["strike"].to_parquet(tmp_path / "history.parquet")
    (tmp_path / "spec.yaml").write_text(spec.to_yaml())
    args = ["train", "--spec", tmp_path / "spec.yaml", "--data", tmp_path / "history.parquet",
            "--out", tmp_path / "model", "--as-of", AS_OF.isoformat()]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "check the data: items that started from 2025-09-" in said
    assert "as long as usual again (a strike? an outage?): calibration leaves out" in said
    # A backtest trained on the same history says it too (here: static, on the last two days).
    args = ["backtest", "--spec", tmp_path / "spec.yaml", "--data", tmp_path / "history.parquet",
            "--test-start", (AS_OF - pd.Timedelta(days=2)).isoformat()]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "check the data: items that started from 2025-09-" in " ".join(result.output.split())
