"""Shared fixtures: small seeded synthetic histories and models trained on them, built once."""

from __future__ import annotations

import pandas as pd
import pytest

from eta import synthetic
from eta.data import History, load_history
from eta.model import EtaModel


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test logs to its own throwaway MLflow store, never the developer's."""
    from eta.settings import get_settings

    store = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    monkeypatch.setenv("ETA_TRACKING_URI", f"sqlite:///{store}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tickets_sim() -> synthetic.SyntheticHistory:
    return synthetic.tickets(8_000, seed=11)


@pytest.fixture(scope="session")
def tickets_history(tickets_sim: synthetic.SyntheticHistory) -> History:
    return load_history(tickets_sim.history, tickets_sim.spec)


@pytest.fixture(scope="session")
def tickets_model(tickets_history: History) -> EtaModel:
    return EtaModel(tickets_history.spec).fit(tickets_history)


@pytest.fixture(scope="session")
def deliveries_sim() -> synthetic.SyntheticHistory:
    return synthetic.deliveries(8_000, seed=12)


@pytest.fixture(scope="session")
def deliveries_model(deliveries_sim: synthetic.SyntheticHistory) -> EtaModel:
    return EtaModel(deliveries_sim.spec).fit(
        load_history(deliveries_sim.history, deliveries_sim.spec)
    )


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")
