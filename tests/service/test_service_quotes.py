"""Quotes over HTTP: one item, a batch in order with per-item errors, re-quotes in progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from eta import synthetic
from eta.data import load_history
from eta.model import EtaModel
from service.schemas import QuoteBatchResponse, QuoteResponse

PARCEL = {"service": "standard", "carrier": "DHL", "region": "urban", "weight_kg": 2.5}


def quote(client: TestClient, headers: dict, **body: object):
    return client.post("/v1/quotes", json={"model": "deliveries", **body}, headers=headers["quote"])


def test_a_quote_is_an_ordered_promise_with_a_message(client: TestClient, headers: dict) -> None:
    response = quote(client, headers, id="order-1", features=PARCEL)
    assert response.status_code == 200, response.text
    body = QuoteResponse.model_validate(response.json())
    assert body.id == "order-1" and body.model == "deliveries"
    assert body.earliest_at <= body.likely_at <= body.follow_up_at <= body.promise_at
    assert body.promise_at > pd.Timestamp.now(tz="UTC")
    assert body.confidence == 0.9 and body.customer_message
    assert body.request_id == response.headers["x-request-id"]


def test_confidence_moves_the_promise(client: TestClient, headers: dict) -> None:
    start = "2025-06-02T10:00:00+02:00"
    low = quote(client, headers, features=PARCEL, started_at=start, confidence=0.6).json()
    high = quote(client, headers, features=PARCEL, started_at=start, confidence=0.97).json()
    assert low["confidence"] == 0.6 and high["confidence"] == 0.97
    assert high["promise_hours"] > low["promise_hours"]


def test_an_item_in_progress_is_requoted_from_the_time_it_has_taken(
    client: TestClient, headers: dict
) -> None:
    fresh = quote(client, headers, features=PARCEL).json()
    started = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)
    requote = quote(client, headers, features=PARCEL, started_at=started.isoformat()).json()
    assert fresh["elapsed_hours"] is None
    assert requote["elapsed_hours"] > 0
    assert pd.Timestamp(requote["promise_at"]) > pd.Timestamp.now(tz="UTC")
    explicit = quote(client, headers, features=PARCEL, elapsed_hours=5.0).json()
    assert explicit["elapsed_hours"] == 5.0


def test_a_promise_given_is_kept_or_apologised_for(client: TestClient, headers: dict) -> None:
    """A tracking page re-quoting an order passes the promise the customer was shown (the CLI
    read it; the service refused it as an unknown field): a promise still to come stands, one
    that passed gets the broken-promise apology, and a bad one names its field."""
    started = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)).isoformat()
    usual = quote(client, headers, features=PARCEL, started_at=started).json()
    later = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=40)).floor("h")
    kept = quote(client, headers, features=PARCEL, started_at=started, promised_at=str(later))
    assert kept.status_code == 200, kept.text
    assert pd.Timestamp(kept.json()["promise_at"]) == later
    passed = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)).isoformat()
    broken = quote(client, headers, features=PARCEL, started_at=started, promised_at=passed)
    assert broken.json()["risk_codes"][0] == "overdue" and broken.json()["escalate"]
    assert "longer than we promised" in broken.json()["customer_message"]
    assert "promised" not in usual["customer_message"]
    # A date alone holds to its end (a delivery window's window_end): today's is still to come.
    today = pd.Timestamp.now(tz="Europe/Berlin").date().isoformat()
    dated = quote(client, headers, features=PARCEL, started_at=started, promised_at=today)
    assert dated.status_code == 200, dated.text
    assert "longer than we promised" not in dated.json()["customer_message"]
    assert not dated.json()["escalate"]
    # ... where the customer was told it: Honolulu's today, read in Berlin, had often passed.
    honolulu = pd.Timestamp.now(tz="Pacific/Honolulu").date().isoformat()
    there = quote(
        client, headers, features=PARCEL, started_at=started, promised_at=honolulu,
        timezone="Pacific/Honolulu",
    )  # fmt: skip
    assert there.status_code == 200, there.text
    assert not there.json()["escalate"] and "overdue" not in there.json()["risk_codes"]
    before = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=3)).isoformat()
    wrong = quote(client, headers, features=PARCEL, started_at=started, promised_at=before)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "promised_at"


def test_hours_spent_on_an_item_not_started_yet_are_a_problem_naming_the_field(
    client: TestClient, headers: dict
) -> None:
    ahead = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=300)).isoformat()
    response = quote(client, headers, features=PARCEL, started_at=ahead, elapsed_hours=50.0)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "elapsed_hours" and "starts after now" in error["message"]


def test_a_bad_feature_value_is_a_problem_naming_the_field(
    client: TestClient, headers: dict
) -> None:
    response = quote(client, headers, features={**PARCEL, "weight_kg": "heavy"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    [error] = problem["errors"]
    assert error == {"field": "features.weight_kg", "message": "not a number: 'heavy'"}
    assert problem["request_id"] == response.headers["x-request-id"]


def test_unknown_features_and_models_are_refused_by_name(client: TestClient, headers: dict) -> None:
    problem = quote(client, headers, features={"colour": "red"}).json()
    assert problem["status"] == 422 and problem["errors"][0]["field"] == "features.colour"
    problem = client.post("/v1/quotes", json={"model": "pizza"}, headers=headers["quote"]).json()
    assert problem["errors"][0]["field"] == "model" and "deliveries" in problem["detail"]


def test_schema_errors_name_the_field(client: TestClient, headers: dict) -> None:
    problem = quote(client, headers, started_at="last tuesday", confidence=1.5).json()
    fields = {e["field"] for e in problem["errors"]}
    assert problem["status"] == 422 and fields == {"started_at", "confidence"}
    problem = quote(client, headers, timezone="Mars/Olympus").json()
    assert problem["errors"][0]["field"] == "timezone"
    for number in (1700000000, "1700000000"):  # Unix seconds were taken for 2023-11-14
        [error] = quote(client, headers, started_at=number).json()["errors"]
        assert error["field"] == "started_at" and "is a number, not an ISO-8601" in error["message"]
    # A fuzzer's +25:00 got "unexpected extra characters at the end of the input".
    [error] = quote(client, headers, started_at="2026-12-07T10:00:00+25:00").json()["errors"]
    assert error["field"] == "started_at" and "UTC offset +25:00 is not one" in error["message"]
    # A one-in-a-quadrillion promise would be an extrapolation far past any history.
    problem = quote(client, headers, confidence=0.9999999999999998).json()
    assert problem["status"] == 422 and problem["errors"][0]["field"] == "confidence"
    assert quote(client, headers, confidence=0.999).status_code == 200
    response = client.post(
        "/v1/quotes",
        content=b"{not json",
        headers={**headers["quote"], "content-type": "application/json"},
    )
    assert response.status_code == 422 and response.json()["errors"]


def post_raw(client: TestClient, headers: dict, path: str, body: bytes, content_type: str):
    """POST raw bytes to a route with the key its scope needs; returns the problem (a 422)."""
    scope = "outcomes" if "outcomes" in path else "quote"
    response = client.post(
        path, content=body, headers={**headers[scope], "content-type": content_type}
    )
    assert response.status_code == 422, response.text
    return response.json()


ROUTES = ["/v1/quotes", "/v1/quotes/batch", "/v1/outcomes"]


@pytest.mark.parametrize(
    ("path", "body"),
    zip(
        ROUTES,
        [
            b'{"model": "deliveries", "features": {"weight_kg": NaN}}',
            b'{"items": [{"model": "deliveries", "confidence": NaN}]}',
            b'{"items": [{"model": "deliveries", "id": "o-1", '
            b'"started_at": "2025-06-02T10:00:00Z", "features": {"weight_kg": Infinity}}]}',
        ],
        strict=True,
    ),
    ids=["single", "batch", "outcomes"],
)
def test_bare_nan_or_infinity_is_not_json_on_any_route(
    client: TestClient, headers: dict, path: str, body: bytes
) -> None:
    # Python's json module reads them; JSON does not have them, and every route says so alike.
    problem = post_raw(client, headers, path, body, "application/json")
    assert "not valid JSON" in problem["detail"] and problem["errors"][0]["field"] == "(body)"


@pytest.mark.parametrize("path", ROUTES, ids=["single", "batch", "outcomes"])
def test_a_body_not_utf8_cannot_be_read_and_says_which_byte(
    client: TestClient, headers: dict, path: str
) -> None:
    scope = "outcomes" if "outcomes" in path else "quote"
    body = '{"model": "deliveries", "features": {"region": "Zürich"}}'.encode("latin-1")
    response = client.post(
        path, content=body, headers={**headers[scope], "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    where = body.index(b"\xfc")
    assert f"not UTF-8 text (byte 0xfc at offset {where})" in response.json()["detail"]


@pytest.mark.parametrize("path", ROUTES, ids=["single", "batch", "outcomes"])
def test_a_body_sent_as_something_else_than_json_is_refused_alike_on_every_route(
    client: TestClient, headers: dict, path: str
) -> None:
    problem = post_raw(client, headers, path, b'{"items": []}', "text/plain; charset=utf-8")
    assert "Content-Type: application/json" in problem["detail"]
    assert "'text/plain'" in problem["detail"]
    assert problem["errors"][0]["field"] == "(headers).content-type"


@pytest.mark.parametrize("path", ROUTES, ids=["single", "batch", "outcomes"])
def test_a_body_without_content_type_reads_as_json_on_every_route(
    client: TestClient, headers: dict, path: str
) -> None:
    body = {
        "/v1/quotes": {"model": "deliveries", "features": PARCEL},
        "/v1/quotes/batch": {"items": [{"model": "deliveries", "features": PARCEL}]},
        "/v1/outcomes": {
            "items": [
                {
                    "model": "deliveries",
                    "id": "no-header-1",
                    "started_at": "2025-06-02T10:00:00Z",
                    "features": PARCEL,
                }
            ]
        },
    }[path]
    scope = "outcomes" if "outcomes" in path else "quote"
    request = client.build_request("POST", path, content=json.dumps(body), headers=headers[scope])
    request.headers.pop("content-type", None)
    response = client.send(request)
    assert response.status_code == 200, response.text


def test_a_batch_answers_every_item_in_order_and_bad_items_alone(
    client: TestClient, headers: dict
) -> None:
    items = [
        {"model": "deliveries", "id": "a", "features": {**PARCEL, "service": "express"}},
        {"model": "deliveries", "id": "b", "started_at": "not a time"},
        {"model": "deliveries", "id": "c", "features": {**PARCEL, "service": "economy"}},
        {"model": "tickets", "id": "d", "features": {"priority": "high"}},
        {"model": "nope", "id": "e"},
        {"model": "deliveries", "id": "f", "features": {"weight_kg": "x"}},
        {"model": "deliveries", "id": "g", "confidence": 0.95},
        {"model": "deliveries", "id": "h", "started_at": "1700-01-01T00:00:00Z"},
    ]
    response = client.post("/v1/quotes/batch", json={"items": items}, headers=headers["quote"])
    assert response.status_code == 200, response.text
    body = QuoteBatchResponse.model_validate(response.json())
    assert [item.index for item in body.items] == list(range(len(items)))
    assert (body.quoted, body.failed) == (4, 4)
    ok = {i: item.quote for i, item in enumerate(body.items) if item.quote}
    assert [q.id for q in ok.values()] == ["a", "c", "d", "g"]
    assert ok[3].model == "tickets" and ok[6].confidence == 0.95
    errors = {i: item.error.errors[0].field for i, item in enumerate(body.items) if item.error}
    assert errors == {
        1: "items[1].started_at",
        4: "items[4].model",
        5: "items[5].features.weight_kg",
        7: "items[7].started_at",  # in progress for centuries: no promise is honest
    }


def test_batch_quotes_equal_single_quotes(client: TestClient, headers: dict) -> None:
    start = "2025-03-03T09:30:00+01:00"
    items = [
        {"model": "deliveries", "features": {**PARCEL, "service": s}, "started_at": start}
        for s in ("express", "standard", "economy")
    ]
    batch = client.post("/v1/quotes/batch", json={"items": items}, headers=headers["quote"]).json()
    for item, answer in zip(items, batch["items"], strict=True):
        single = client.post("/v1/quotes", json=item, headers=headers["quote"]).json()
        assert answer["quote"]["promise_at"] == single["promise_at"]


def test_batch_size_is_limited_and_structure_checked(client: TestClient, headers: dict) -> None:
    too_many = {"items": [{"model": "deliveries"}] * 1001}
    problem = client.post("/v1/quotes/batch", json=too_many, headers=headers["quote"]).json()
    assert problem["status"] == 422 and problem["errors"][0]["field"] == "items"
    for body in ({}, {"items": "x"}, {"items": []}, {"items": [{"model": "deliveries"}], "x": 1}):
        response = client.post("/v1/quotes/batch", json=body, headers=headers["quote"])
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    # A misspelt list is named as such, not as a missing one.
    misspelt = {"item": [{"model": "deliveries"}]}
    problem = client.post("/v1/quotes/batch", json=misspelt, headers=headers["quote"]).json()
    assert problem["errors"] == [
        {"field": "item", "message": "unknown field; did you mean 'items'?"}
    ]


def test_a_thousand_items_come_back_in_order(client: TestClient, headers: dict) -> None:
    items = [
        {"model": "tickets", "id": str(i), "features": {"queue_open": i % 50}} for i in range(1000)
    ]
    body = client.post("/v1/quotes/batch", json={"items": items}, headers=headers["quote"]).json()
    assert body["quoted"] == 1000
    assert [item["quote"]["id"] for item in body["items"]] == [str(i) for i in range(1000)]


def test_true_or_false_for_a_number_is_a_problem_naming_the_field(
    client: TestClient, headers: dict
) -> None:
    # Pydantic read JSON true as 1: a weight of true was quoted as 1 kg, with a 200.
    problem = quote(client, headers, features={**PARCEL, "weight_kg": True}).json()
    assert problem["status"] == 422
    assert problem["errors"] == [
        {"field": "features.weight_kg", "message": "not a number (true/false is a yes or no)"}
    ]
    problem = quote(client, headers, features=PARCEL, elapsed_hours=True).json()
    assert problem["status"] == 422 and problem["errors"][0]["field"] == "elapsed_hours"
    items = [{"model": "deliveries", "features": {**PARCEL, "weight_kg": False}}]
    body = client.post("/v1/quotes/batch", json={"items": items}, headers=headers["quote"]).json()
    assert body["failed"] == 1
    assert body["items"][0]["error"]["errors"][0]["field"] == "items[0].features.weight_kg"


def test_true_for_a_category_is_the_value_a_yes_no_column_taught(
    make_app: Callable, headers: dict, tmp_path: Path
) -> None:
    # Pydantic read true as 1, a value no model learnt: the item was quoted as unknown.
    sim = synthetic.tickets(3000, seed=11)
    history = sim.history.assign(channel=sim.history["channel"] == "email")  # Parquet's bools
    EtaModel(sim.spec).fit(load_history(history, sim.spec)).save(tmp_path / "m" / "tickets")
    start = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1)).floor("h").isoformat()
    with TestClient(make_app(tmp_path / "m")) as client:
        promises = {
            repr(value): client.post(
                "/v1/quotes",
                json={"model": "tickets", "features": {"channel": value}, "started_at": start},
                headers=headers["quote"],
            ).json()["promise_at"]
            for value in (True, "True", "true", "1", False, "False")
        }
    assert promises["True"] == promises["'True'"] == promises["'true'"] != promises["'1'"]
    assert promises["False"] == promises["'False'"]


def test_a_feature_value_of_no_kind_is_one_problem_naming_the_field(
    client: TestClient, headers: dict
) -> None:
    problem = quote(client, headers, features={**PARCEL, "weight_kg": {"kg": 2}}).json()
    assert problem["errors"] == [
        {"field": "features.weight_kg", "message": "not text, a number, true/false or null"}
    ]


def test_huge_infinite_and_nan_numbers_are_read_as_eta_quote_reads_them(
    client: TestClient, headers: dict
) -> None:
    start = "2025-06-02T10:00:00+02:00"
    huge = quote(client, headers, features={**PARCEL, "weight_kg": 1e308}, started_at=start)
    assert huge.status_code == 200 and "thin_history" in huge.json()["risk_codes"]
    [note] = [n for n in huge.json()["risk_notes"] if n["code"] == "thin_history"]
    assert "weight_kg 1E308 (" in note["agent_text"]  # not 309 digits with separators
    [infinite] = quote(client, headers, features={**PARCEL, "weight_kg": "Infinity"}).json()[
        "errors"
    ]
    assert (
        infinite["field"] == "features.weight_kg" and "not a finite number" in infinite["message"]
    )
    # 'NaN' is a word for nothing, as in a CSV cell: the weight is unknown.
    nan = quote(client, headers, features={**PARCEL, "weight_kg": "NaN"}, started_at=start)
    unknown = quote(client, headers, features={**PARCEL, "weight_kg": None}, started_at=start)
    assert nan.json()["promise_at"] == unknown.json()["promise_at"]


def test_an_order_number_sent_as_a_number_is_its_id(client: TestClient, headers: dict) -> None:
    """A shop sent ``"id": 123`` and was refused: "Input should be a valid string"."""
    response = quote(client, headers, id=123, features=PARCEL)
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == "123"
    for not_an_id in (True, 1.5):
        refused = quote(client, headers, id=not_an_id, features=PARCEL)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "id"
