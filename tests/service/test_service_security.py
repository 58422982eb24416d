"""Who may do what, how big a request may be, and what an error looks like."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eta.settings import Settings
from service.security import hash_key, new_key

ROUTES = [
    ("post", "/v1/quotes", "quote", {"model": "deliveries"}),
    ("post", "/v1/quotes/batch", "quote", {"items": [{"model": "deliveries"}]}),
    ("post", "/v1/admin/reload", "admin", None),
]


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_no_key_or_an_unknown_key_is_401(
    client: TestClient, method: str, path: str, scope: str, body: object
) -> None:
    for headers in ({}, {"X-API-Key": "eta_not-a-real-key"}):
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert "X-API-Key" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_a_key_without_the_scope_is_403_and_with_it_passes(
    client: TestClient, headers: dict, method: str, path: str, scope: str, body: object
) -> None:
    for holder in ("quote", "outcomes", "admin"):
        response = client.request(method, path, json=body, headers=headers[holder])
        if holder == scope:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 403
            assert f"'{scope}' scope" in response.json()["detail"]


def test_model_info_needs_any_valid_key(client: TestClient, headers: dict) -> None:
    assert client.get("/v1/models").status_code == 401
    for holder in ("quote", "outcomes", "admin"):
        assert client.get("/v1/models/tickets", headers=headers[holder]).status_code == 200


def test_keys_are_configured_as_digests_never_in_the_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    key, entry = new_key("checkout", ["quote"])
    assert entry.sha256 == hash_key(key) and key not in entry.model_dump_json()
    monkeypatch.setenv("ETA_API_KEYS", json.dumps([entry.model_dump(mode="json")]))
    assert Settings().api_keys == (entry,)
    monkeypatch.setenv(
        "ETA_API_KEYS", json.dumps([{"name": "x", "sha256": key, "scopes": ["quote"]}])
    )
    with pytest.raises(ValueError, match="sha256"):
        Settings()


def test_an_oversize_body_is_413_before_it_is_read(
    model_root: Path, make_app: Callable, headers: dict
) -> None:
    app = make_app(model_root, max_body_bytes=2_000)
    big = {"items": [{"model": "deliveries", "id": f"order-{i}"} for i in range(100)]}
    with TestClient(app) as client:
        # Content-Length says it is too big: refused before any byte of the body is read,
        # and before the key is even looked at.
        response = client.post("/v1/quotes/batch", json=big)
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert "2,000 bytes" in response.json()["detail"]
        # No Content-Length (chunked): refused while reading.
        chunks = (json.dumps(big)[i : i + 500].encode() for i in range(0, 6000, 500))
        response = client.post(
            "/v1/quotes/batch",
            content=chunks,
            headers={**headers["quote"], "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["status"] == 413
        small = client.post("/v1/quotes", json={"model": "deliveries"}, headers=headers["quote"])
        assert small.status_code == 200


def test_every_response_has_a_request_id_and_a_sane_one_is_kept(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/v1/models", "/nope", "/console"):
        assert len(client.get(path).headers["x-request-id"]) >= 16
    response = client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert response.headers["x-request-id"] == "trace-42.a"
    response = client.get("/healthz", headers={"X-Request-ID": "bad id\twith <html>"})
    assert response.headers["x-request-id"] != "bad id\twith <html>"


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    for response in (client.get("/v1/nope"), client.get("/v1/quotes")):
        assert response.status_code in (404, 405)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == response.headers["x-request-id"]


def test_a_crash_is_a_500_problem_without_a_stack_trace(
    model_root: Path, make_app: Callable, headers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.engine

    def explode(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("secret internals at /srv/app/engine.py line 12")

    monkeypatch.setattr(service.engine, "quote_columns", explode)
    app = make_app(model_root)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/quotes", json={"model": "deliveries"}, headers=headers["quote"])
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    text = response.text
    assert "Traceback" not in text and "secret" not in text and "ZeroDivision" not in text
    assert response.json()["request_id"] == response.headers["x-request-id"]
