"""Which models are served and how they are replaced: reload, refusal, registry and its cache."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import service.store
from eta.model import EtaModel
from service.engine import Engine, Options
from service.schemas import QuoteRequest
from service.sources import DirectorySource, RegistrySource, SourceError
from service.store import ModelRefused, ModelStore, golden_check


def versions(client: TestClient, headers: dict) -> dict[str, str]:
    body = client.get("/v1/models", headers=headers["quote"]).json()
    return {m["name"]: m["version"] for m in body["models"]}


def retrained(model_dir: Path, tickets_model: EtaModel) -> None:
    """A new version of the tickets model: same model, different online state."""
    model = EtaModel.load(model_dir / "tickets")
    model.online_.offset["likely|*"] = 0.05
    model.save(model_dir / "tickets")


def test_models_describe_themselves(client: TestClient, headers: dict) -> None:
    body = client.get("/v1/models/deliveries", headers=headers["quote"]).json()
    assert body["kind"] == "delivery" and body["timezone"] == "Europe/Berlin"
    assert body["training_window"][0] < body["training_window"][1] and body["rows"] > 0
    features = {f["name"]: f for f in body["features"]}
    assert "express" in features["service"]["values"] and features["weight_kg"]["kind"] == "numeric"
    assert client.get("/v1/models/pizza", headers=headers["quote"]).status_code == 404


def test_reload_swaps_only_what_changed(
    model_copy: Path, make_app: Callable, headers: dict, tickets_model: EtaModel
) -> None:
    with TestClient(make_app(model_copy)) as client:
        before = versions(client, headers)
        unchanged = client.post("/v1/admin/reload", headers=headers["admin"]).json()
        assert {m["outcome"] for m in unchanged["models"]} == {"unchanged"}
        retrained(model_copy, tickets_model)
        result = client.post("/v1/admin/reload", headers=headers["admin"]).json()
        outcomes = {m["name"]: m["outcome"] for m in result["models"]}
        assert outcomes == {"tickets": "loaded", "deliveries": "unchanged"}
        after = versions(client, headers)
        assert after["tickets"] != before["tickets"] and after["deliveries"] == before["deliveries"]
        quote = client.post("/v1/quotes", json={"model": "tickets"}, headers=headers["quote"])
        assert quote.json()["model_version"] == after["tickets"]


def test_two_directories_with_one_name_serve_the_first_and_say_so(
    model_copy: Path, make_app: Callable, headers: dict, tickets_model: EtaModel
) -> None:
    shutil.copytree(model_copy / "tickets", model_copy / "tickets_b")
    retrained(model_copy, tickets_model)  # the two now differ, under one name
    with TestClient(make_app(model_copy)) as client:
        served = versions(client, headers)["tickets"]
        for _ in range(2):  # the same choice every time, not one then the other
            result = client.post("/v1/admin/reload", headers=headers["admin"]).json()
            refused = [m for m in result["models"] if m["outcome"] == "refused"]
            assert [m["name"] for m in refused] == [str(model_copy / "tickets_b")]
            assert "rename one spec" in refused[0]["reason"]
            assert versions(client, headers)["tickets"] == served


def test_a_model_whose_directory_is_gone_stops_being_served_and_says_so(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    with TestClient(make_app(model_copy)) as client:
        before = versions(client, headers)
        shutil.rmtree(model_copy / "deliveries")
        result = client.post("/v1/admin/reload", headers=headers["admin"]).json()
        outcomes = {m["name"]: (m["outcome"], m["version"]) for m in result["models"]}
        assert outcomes == {
            "tickets": ("unchanged", before["tickets"]),
            "deliveries": ("removed", before["deliveries"]),
        }
        assert versions(client, headers) == {"tickets": before["tickets"]}
        quote = client.post("/v1/quotes", json={"model": "deliveries"}, headers=headers["quote"])
        assert quote.status_code == 422 and "serving: tickets" in quote.json()["detail"]


def test_a_source_that_cannot_be_listed_keeps_its_models_serving(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    with TestClient(make_app(model_copy)) as client:
        before = versions(client, headers)
        shutil.rmtree(model_copy)  # unmounted, say: nothing says the models were retired
        response = client.post("/v1/admin/reload", headers=headers["admin"])
        assert response.status_code == 409
        assert {m["outcome"] for m in response.json()["models"]} == {"refused"}
        assert versions(client, headers) == before


def _truncate(path: Path) -> None:
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])


def _edit_state(directory: Path, **changes: object) -> None:
    state = json.loads((directory / "model.json").read_text())
    (directory / "model.json").write_text(json.dumps(state | changes))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "lightgbm_q90.txt").write_text("tree\nnot a model\n"),
        # Cut off mid-tree, as an interrupted copy leaves it: LightGBM aborts the process that
        # parses this (native terminate), so only the throwaway vetting process may parse it.
        lambda d: _truncate(d / "lightgbm_q90.txt"),
        lambda d: (d / "model.json").write_text("{"),
        lambda d: _edit_state(d, typical_spread=80.0),
        lambda d: (d / "recent_events.parquet").unlink(),
    ],
    ids=["garbage-booster", "booster-cut-mid-tree", "broken-json", "absurd-spread", "missing-file"],
)
def test_a_broken_model_is_refused_and_the_old_one_keeps_serving(
    model_copy: Path, make_app: Callable, headers: dict, damage: Callable[[Path], None]
) -> None:
    with TestClient(make_app(model_copy)) as client:
        before = versions(client, headers)
        damage(model_copy / "tickets")
        response = client.post("/v1/admin/reload", headers=headers["admin"])
        assert response.status_code == 409
        problem = response.json()
        assert problem["type"] == "about:blank" and "tickets" in problem["detail"]
        refused = {m["name"]: m for m in problem["models"] if m["outcome"] == "refused"}
        assert set(refused) == {"tickets"} and refused["tickets"]["reason"]
        assert refused["tickets"]["reason"].count("ModelRefused") <= 1  # named once
        assert versions(client, headers) == before
        quote = client.post("/v1/quotes", json={"model": "tickets"}, headers=headers["quote"])
        assert quote.status_code == 200 and quote.json()["model_version"] == before["tickets"]


def test_a_model_that_crashes_the_loader_does_not_take_a_good_one_down_with_it(
    model_copy: Path, make_app: Callable, headers: dict, tickets_model: EtaModel
) -> None:
    with TestClient(make_app(model_copy)) as client:
        before = versions(client, headers)
        _truncate(model_copy / "deliveries" / "lightgbm_q90.txt")  # aborts the process parsing it
        retrained(model_copy, tickets_model)  # listed after deliveries, vetted in the same run
        problem = client.post("/v1/admin/reload", headers=headers["admin"]).json()
        outcomes = {m["name"]: m["outcome"] for m in problem["models"]}
        assert outcomes == {"deliveries": "refused", "tickets": "loaded"}
        after = versions(client, headers)
        assert after["deliveries"] == before["deliveries"] and after["tickets"] != before["tickets"]


def test_golden_check_refuses_absurd_promises(
    tickets_model: EtaModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden_check(tickets_model)
    broken = EtaModel.load(tickets_model.save(tmp_path / "m"))
    broken.online_.offset["likely|*"] = 5.0  # every time 150x longer: promises years away
    with pytest.raises(ModelRefused, match="out of range"):
        golden_check(broken)
    # Tails too long to place are said 200,000 clock hours out (eta.quote), still refused.
    broken.typical_spread_ = 80.0
    with pytest.raises(ModelRefused, match="out of range"):
        golden_check(broken)

    def fail(*args: object, **kwargs: object) -> None:
        raise OverflowError("cannot place the promise")

    monkeypatch.setattr(service.store, "quote_items", fail)  # a model that cannot be quoted
    with pytest.raises(ModelRefused, match="could not be quoted"):
        golden_check(tickets_model)


def test_golden_check_takes_an_escalated_items_early_follow_up(
    deliveries_model: EtaModel,
) -> None:
    """An item past its promise hears back before its likely time (eta.quote): the check
    refused every deliveries model at most hours of the day for it."""
    days = pd.date_range("2026-12-07", periods=24, freq="h", tz="UTC")
    for now in days:
        golden_check(deliveries_model, now=now)


def test_requests_in_flight_finish_on_the_model_they_started_with(
    model_copy: Path, tmp_path: Path
) -> None:
    store = ModelStore([DirectorySource(model_copy)], tmp_path / "scratch")
    store.reload()
    old = store.get("tickets")
    engine = Engine()

    async def scenario() -> tuple[list, list]:
        await engine.start()
        first = asyncio.ensure_future(
            engine.quote(old, Options(None, None, None), [QuoteRequest(model="tickets")])
        )
        model = EtaModel.load(model_copy / "tickets")
        model.online_.offset["likely|*"] = 0.3
        model.save(model_copy / "tickets")
        await asyncio.to_thread(store.reload)  # swapped while `first` waits in the queue
        second = await engine.quote(
            store.get("tickets"), Options(None, None, None), [QuoteRequest(model="tickets")]
        )
        results = await first, second
        await engine.stop()
        return results

    [before], [after] = asyncio.run(scenario())
    assert before["model_version"] == old.version
    assert after["model_version"] == store.get("tickets").version != old.version


def test_a_directory_without_models_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no model here"):
        DirectorySource(tmp_path).candidates()


def test_registry_alias_is_served_and_cached_for_a_restart_without_registry(
    model_copy: Path, make_app: Callable, headers: dict, tmp_path: Path
) -> None:
    from eta.settings import get_settings
    from eta.tracking import log_run

    tracking = get_settings().tracking_uri  # the test's own throwaway store
    import mlflow

    logged = log_run(
        "t", {}, {"on_time_rate": 0.91}, model_dir=model_copy / "tickets", register_as="tickets"
    )
    mlflow.MlflowClient(tracking).set_registered_model_alias(
        "tickets", "champion", logged["version"]
    )
    state = tmp_path / "service-state"
    with TestClient(
        make_app(
            None, registry=("models:/tickets@champion",), state_dir=state, tracking_uri=tracking
        )
    ) as client:
        info = client.get("/v1/models/tickets", headers=headers["quote"]).json()
        assert info["version"] == logged["version"]
        assert "from the registry" in info["source"]
        assert info["backtest"]["on_time_rate"] == pytest.approx(0.91)

    down = "http://127.0.0.1:9"  # nothing listens there: the registry is down
    with TestClient(
        make_app(None, registry=("models:/tickets@champion",), state_dir=state, tracking_uri=down)
    ) as client:
        info = client.get("/v1/models/tickets", headers=headers["quote"]).json()
        assert info["version"] == logged["version"] and "local cache" in info["source"]
        quote = client.post("/v1/quotes", json={"model": "tickets"}, headers=headers["quote"])
        assert quote.status_code == 200


def test_a_registered_version_whose_files_are_gone_is_named_not_served_empty(
    model_copy: Path, tmp_path: Path
) -> None:
    """The registry answered, the version's files were gone: the service said the registry
    was unavailable."""
    import shutil

    import mlflow

    from eta.settings import get_settings
    from eta.tracking import log_run

    tracking = get_settings().tracking_uri
    logged = log_run("t", {}, {}, model_dir=model_copy / "tickets", register_as="tickets")
    client = mlflow.MlflowClient(tracking)
    client.set_registered_model_alias("tickets", "champion", logged["version"])
    source = client.get_model_version("tickets", logged["version"]).source
    shutil.rmtree(Path(source.removeprefix("file://")))
    with pytest.raises(SourceError) as error:
        RegistrySource("models:/tickets@champion", tmp_path, tracking).candidates()
    said = str(error.value)
    assert said.startswith(f"models:/tickets@champion: version {logged['version']}: its files ")
    assert source in said and "moved or deleted?" in said and "nothing cached" in said
    assert "registry unavailable" not in said
    assert not (tmp_path / "registry" / "tickets" / f"v{logged['version']}").exists()


def test_a_mistyped_store_or_a_missing_alias_is_named_and_nothing_is_made(
    model_copy: Path, tmp_path: Path
) -> None:
    """A mistyped SQLite path made its folders and an empty store (one at the filesystem's
    root), then said "registry unavailable"; so did a reachable registry without the alias."""
    missing = tmp_path / "no" / "such" / "mlflow.db"
    source = RegistrySource("models:/tickets@champion", tmp_path, f"sqlite:///{missing}")
    with pytest.raises(SourceError, match="does not exist") as error:
        source.candidates()
    assert "registry unavailable" not in str(error.value)
    assert not (tmp_path / "no").exists()

    from eta.settings import get_settings
    from eta.tracking import log_run

    log_run("t", {}, {}, model_dir=model_copy / "tickets", register_as="tickets")
    tracking = get_settings().tracking_uri
    with pytest.raises(SourceError, match="the registry has no version of 'tickets' @gold"):
        RegistrySource("models:/tickets@gold", tmp_path, tracking).candidates()


def test_registry_down_and_nothing_cached_is_not_ready(
    make_app: Callable, headers: dict, tmp_path: Path
) -> None:
    source = RegistrySource("models:/tickets@champion", tmp_path, "http://127.0.0.1:9")
    with pytest.raises(SourceError, match="nothing cached"):
        source.candidates()
    app = make_app(None, registry=("models:/tickets@champion",), tracking_uri="http://127.0.0.1:9")
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/quotes", json={"model": "tickets"}, headers=headers["quote"])
        assert response.status_code == 503


def test_the_api_docs_work_without_the_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'src="([^"]+\.js)"', page.text)
    assert scripts and all(s.startswith("/") for s in scripts)  # nothing from a CDN
    for script in scripts:
        assert client.get(script).status_code == 200
