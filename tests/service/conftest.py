"""Service fixtures: both demo models trained once, keys for each scope, a running app."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from eta import synthetic
from eta.data import load_history
from eta.model import EtaModel
from eta.settings import Settings
from service.app import create_app
from service.security import new_key

SCOPE_SETS = {
    "quote": ("quote",),
    "outcomes": ("outcomes",),
    "admin": ("admin",),
    "all": ("quote", "outcomes", "admin"),
}


@pytest.fixture(scope="session")
def deliveries_model(deliveries_sim: synthetic.SyntheticHistory) -> EtaModel:
    return EtaModel(deliveries_sim.spec).fit(
        load_history(deliveries_sim.history, deliveries_sim.spec)
    )


@pytest.fixture(scope="session")
def model_root(
    tmp_path_factory: pytest.TempPathFactory, tickets_model: EtaModel, deliveries_model: EtaModel
) -> Path:
    """A folder of model directories, as ``eta demo`` writes them; never modified by tests."""
    root = tmp_path_factory.mktemp("models")
    tickets_model.save(root / "tickets")
    deliveries_model.save(root / "deliveries")
    return root


@pytest.fixture
def model_copy(model_root: Path, tmp_path: Path) -> Path:
    """A private copy of the models that a test may change, corrupt or swap."""
    return Path(shutil.copytree(model_root, tmp_path / "models"))


@pytest.fixture(scope="session")
def keys() -> tuple[dict[str, str], tuple]:
    made = {name: new_key(name, scopes) for name, scopes in SCOPE_SETS.items()}
    return {name: key for name, (key, _) in made.items()}, tuple(e for _, e in made.values())


@pytest.fixture
def make_app(keys: tuple, tmp_path: Path) -> Callable[..., FastAPI]:
    """A new app on ``model_dir`` with the test keys; ``more`` overrides settings."""

    def make(model_dir: Path | None, **more: object) -> FastAPI:
        more.setdefault("state_dir", tmp_path / "state")
        return create_app(Settings(model_dir=model_dir, api_keys=keys[1], **more))

    return make


@pytest.fixture(scope="module")
def client(
    model_root: Path, keys: tuple, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    state = tmp_path_factory.mktemp("state")
    app = create_app(Settings(model_dir=model_root, api_keys=keys[1], state_dir=state))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def headers(keys: tuple) -> dict[str, dict[str, str]]:
    """Request headers per key: headers['quote'] carries a key with only the quote scope."""
    return {name: {"X-API-Key": key} for name, key in keys[0].items()}
