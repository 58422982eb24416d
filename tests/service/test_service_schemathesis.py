"""The API keeps its own OpenAPI promises: Schemathesis generates requests from the app's schema
and checks every response: no 5xx, no status the schema does not list, bodies and content types
as documented. Half the generated items name a served model, so the engine itself is exercised
with whatever features, start times, elapsed hours and confidence levels the schema allows."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from eta.settings import Settings
from service.app import create_app

CASES_PER_OPERATION = 1000
"""The service issue's bar: at least this many generated cases per operation."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MODELS = ("tickets", "deliveries")

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
calls: Counter[str] = Counter()


def test_every_reference_in_the_api_description_resolves() -> None:
    """The batch body referred to a component never registered: /docs could not show it, and
    Schemathesis generated no valid batch."""
    document = create_app(Settings()).openapi()
    text = json.dumps(document)
    names = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert names and names <= set(document["components"]["schemas"])
    batch = document["paths"]["/v1/quotes/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["properties"]["items"]["maxItems"] == 1000


@pytest.fixture(scope="module")
def api(model_root: Path, keys: tuple, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    settings_ = Settings(
        model_dir=model_root, api_keys=keys[1], state_dir=tmp_path_factory.mktemp("state")
    )
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        yield client
    generated = {operation: n for operation, n in calls.items()}
    print(f"\nschemathesis cases per operation: {generated}")


def _served_models(body: object, rng: random.Random) -> None:
    """Point about half the generated items at a served model."""
    items = body.get("items") if isinstance(body, dict) else None
    for item in [body, *(items if isinstance(items, list) else [])]:
        if isinstance(item, dict) and "model" in item and rng.random() < 0.5:
            item["model"] = rng.choice(MODELS)


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_its_openapi_promises(
    case: schemathesis.Case, api: TestClient, keys: tuple
) -> None:
    _served_models(case.body, random.Random(repr(case.body)))
    calls[f"{case.method} {case.path}"] += 1
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {**(kwargs.pop("headers", None) or {}), "X-API-Key": keys[0]["all"]}
    response = api.request(**kwargs, headers=headers)
    case.validate_response(response, checks=CHECKS)
