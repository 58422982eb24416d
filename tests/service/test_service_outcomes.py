"""Outcomes reported back: judged when due, idempotent on the id, feeding the live on-time rate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient


def ticket(i: int, *, days_ago: float, took_hours: float | None) -> dict:
    started = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days_ago)
    finished = None if took_hours is None else started + pd.Timedelta(hours=took_hours)
    return {
        "model": "tickets",
        "id": f"T{i}",
        "features": {"priority": "normal", "category": "billing", "channel": "email"},
        "started_at": started.isoformat(),
        "finished_at": None if finished is None else finished.isoformat(),
    }


def a_day_later(item: dict) -> dict:
    """``item`` with its finish a day later: a correction."""
    later = pd.Timestamp(item["finished_at"]) + pd.Timedelta(days=1)
    return {**item, "finished_at": later.isoformat()}


def report(client: TestClient, headers: dict, item: dict, **more: object) -> dict:
    """Report one item's outcome; the response's body."""
    body = {"items": [item], **more}
    response = client.post("/v1/outcomes", json=body, headers=headers["outcomes"])
    assert response.status_code == 200, response.text
    return response.json()


def test_outcomes_feed_the_live_on_time_rate_and_are_idempotent(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    quick = [ticket(i, days_ago=40, took_hours=1) for i in range(30)]
    stuck = [ticket(100 + i, days_ago=40, took_hours=None) for i in range(10)]
    with TestClient(make_app(model_copy)) as client:
        response = client.post(
            "/v1/outcomes", json={"items": quick + stuck}, headers=headers["outcomes"]
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["duplicates"], body["failed"]) == (40, 0, 0)
        assert body["judged"] == 80  # likely time and promise of every item have passed
        rate = body["on_time_rate"]["tickets"]["*"]
        assert rate == 30 / 40  # the stuck ones broke their promises

        again = client.post(
            "/v1/outcomes", json={"items": quick + stuck}, headers=headers["outcomes"]
        ).json()
        assert (again["accepted"], again["duplicates"], again["judged"]) == (0, 40, 0)
        assert again["on_time_rate"]["tickets"]["*"] == rate

        info = client.get("/v1/models/tickets", headers=headers["quote"]).json()
        assert info["live"]["*"] == {"on_time_rate": rate, "judged": 40}
        metrics = client.get("/metrics").text
        assert 'eta_on_time_rate{model="tickets",segment="*"} 0.75' in metrics
        assert 'eta_judged_outcomes{model="tickets",segment="*"} 40.0' in metrics  # on how many


def test_outcomes_move_the_promises(model_copy: Path, make_app: Callable, headers: dict) -> None:
    item = {"model": "tickets", "features": {"priority": "normal", "category": "billing"}}
    with TestClient(make_app(model_copy)) as client:  # a new ticket, started now
        before = client.post("/v1/quotes", json=item, headers=headers["quote"]).json()
        late = [ticket(i, days_ago=60, took_hours=None) for i in range(200)]
        client.post("/v1/outcomes", json={"items": late}, headers=headers["outcomes"])
        after = client.post("/v1/quotes", json=item, headers=headers["quote"]).json()
    assert after["promise_hours"] > before["promise_hours"]  # broken promises pad the next ones


def test_bad_outcomes_are_refused_one_by_one(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    future = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2)).isoformat()
    items = [
        ticket(1, days_ago=3, took_hours=2),
        {**ticket(2, days_ago=3, took_hours=2), "finished_at": future},
        {**ticket(3, days_ago=3, took_hours=2), "model": "pizza"},
        {**ticket(4, days_ago=3, took_hours=2), "features": {"queue_open": "many"}},
        {**ticket(5, days_ago=3, took_hours=None), "started_at": future},
    ]
    with TestClient(make_app(model_copy)) as client:
        body = client.post(
            "/v1/outcomes", json={"items": items}, headers=headers["outcomes"]
        ).json()
        assert body["accepted"] == 1 and body["failed"] == 4
        fields = {e["index"]: e["errors"][0]["field"] for e in body["errors"]}
        assert fields == {
            1: "items[1].finished_at",
            2: "items[2].model",
            3: "items[3].features.queue_open",
            4: "items[4].started_at",
        }
        # An item the schema refuses (no id, an unreadable time) is refused alone too: a feed
        # lost a thousand good outcomes to one typo when the report was validated as a whole.
        good = ticket(8, days_ago=1, took_hours=1)
        no_id = {k: v for k, v in ticket(9, days_ago=1, took_hours=1).items() if k != "id"}
        typo = {**ticket(10, days_ago=1, took_hours=1), "started_at": "2026-13-45T10:00"}
        body = client.post(
            "/v1/outcomes", json={"items": [no_id, good, typo]}, headers=headers["outcomes"]
        ).json()
        assert (body["accepted"], body["failed"]) == (1, 2)
        fields = {e["index"]: [f["field"] for f in e["errors"]] for e in body["errors"]}
        assert fields == {0: ["items[0].id"], 2: ["items[2].started_at"]}
        for when in ("yesterday", "2099-01-01T00:00:00Z"):  # the whole report's own field
            envelope = {"items": [good], "observed_at": when}
            problem = client.post("/v1/outcomes", json=envelope, headers=headers["outcomes"])
            assert problem.json()["status"] == 422, when
            assert problem.json()["errors"][0]["field"] == "observed_at"
        assert (
            client.post("/v1/outcomes", json={"items": items}, headers=headers["quote"]).status_code
            == 403
        )


def test_a_time_without_offset_is_the_models_local_time_and_a_start_decades_ago_a_typo(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    local = pd.Timestamp.now(tz="Europe/Sarajevo") - pd.Timedelta(minutes=10)  # the model's zone
    observed = local.tz_localize(None).isoformat()  # an hour "in the future" if read as UTC
    items = [
        ticket(1, days_ago=3, took_hours=None),
        {**ticket(2, days_ago=3, took_hours=None), "started_at": "2001-12-01T09:00:00+00:00"},
    ]
    with TestClient(make_app(model_copy)) as client:
        body = client.post(
            "/v1/outcomes",
            json={"items": items, "observed_at": observed},
            headers=headers["outcomes"],
        ).json()
    assert body["accepted"] == 1 and body["failed"] == 1, body
    [error] = body["errors"]
    assert error["index"] == 1 and error["errors"][0]["field"] == "items[1].started_at"
    assert "100,000 hours before now" in error["errors"][0]["message"]
    ahead = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=2)).isoformat()
    with TestClient(make_app(model_copy)) as client:
        body = client.post(
            "/v1/outcomes",
            json={"items": items[:1], "observed_at": ahead},
            headers=headers["outcomes"],
        ).json()
    assert body["status"] == 422 and body["errors"] == [
        {"field": "observed_at", "message": "is in the future"}
    ]  # the request's field, said once, not items[0].observed_at


def test_a_restarted_service_remembers_what_outcomes_taught_it(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    judged = [ticket(i, days_ago=40, took_hours=1) for i in range(30)]
    judged += [ticket(100 + i, days_ago=40, took_hours=None) for i in range(10)]
    pending = [ticket(200 + i, days_ago=0.01, took_hours=None) for i in range(5)]
    # Looked at once: a report without its time is looked at when it arrives, and open items
    # looked at again later (inside the tickets' business hours) are news, not duplicates.
    looked = pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=1)
    report = {"items": judged + pending, "observed_at": looked.isoformat()}

    def online_state(app) -> dict:
        return app.state.service.store.get("tickets").model.online_.to_dict()

    first = make_app(model_copy)
    with TestClient(first) as client:
        assert client.post("/v1/outcomes", json=report, headers=headers["outcomes"]).json()[
            "accepted"
        ] == len(judged + pending)
        learned = online_state(first)
    restarted = make_app(model_copy)
    with TestClient(restarted) as client:
        info = client.get("/v1/models/tickets", headers=headers["quote"]).json()
        assert info["live"]["*"] == {"on_time_rate": 0.75, "judged": 40}
        assert online_state(restarted) == learned
        again = client.post("/v1/outcomes", json=report, headers=headers["outcomes"]).json()
        assert (again["accepted"], again["duplicates"]) == (0, len(judged + pending))
        assert restarted.state.service.store.get("tickets").feed.pending == len(pending)


def test_an_unreadable_outcome_state_is_set_aside_and_the_model_serves_afresh(
    model_copy: Path, make_app: Callable, headers: dict, tmp_path: Path, caplog
) -> None:
    state = tmp_path / "state" / "outcomes" / "tickets.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"fingerprint": "half a file', encoding="utf-8")
    with TestClient(make_app(model_copy)) as client:
        assert client.get("/readyz").status_code == 200
        info = client.get("/v1/models/tickets", headers=headers["quote"]).json()
        assert info["live"] == {}
    assert "outcome state not restored" in caplog.text
    kept = list(state.parent.glob("tickets.unreadable-*"))
    assert [p.read_text(encoding="utf-8") for p in kept] == ['{"fingerprint": "half a file']


def test_an_outcome_state_pointing_nowhere_is_set_aside_too(
    model_copy: Path, make_app: Callable, headers: dict, tmp_path: Path
) -> None:
    report = {"items": [ticket(1, days_ago=40, took_hours=None)]}
    with TestClient(make_app(model_copy)) as client:
        client.post("/v1/outcomes", json=report, headers=headers["outcomes"])
    state = tmp_path / "state" / "outcomes" / "tickets.json"
    saved = json.loads(state.read_text(encoding="utf-8"))
    saved["feed"]["items"] = [["T-nowhere", 999]]  # a tracked item that is not there
    state.write_text(json.dumps(saved), encoding="utf-8")
    with TestClient(make_app(model_copy)) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/models/tickets", headers=headers["quote"]).json()["live"] == {}
    assert list(state.parent.glob("tickets.unreadable-*"))


def test_true_for_a_number_in_an_outcome_is_refused_by_name(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    features = {"priority": "normal", "queue_open": True}
    items = [{**ticket(1, days_ago=3, took_hours=2), "features": features}]
    with TestClient(make_app(model_copy)) as client:
        body = client.post(
            "/v1/outcomes", json={"items": items}, headers=headers["outcomes"]
        ).json()
    assert (body["accepted"], body["failed"]) == (0, 1)
    assert body["errors"][0]["errors"][0]["field"] == "items[0].features.queue_open"


def test_a_corrected_finish_is_refused_naming_the_field_and_the_finish_reported(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    first = ticket(1, days_ago=3, took_hours=2)
    corrected = a_day_later(first)
    with TestClient(make_app(model_copy)) as client:

        def send(item: dict) -> dict:
            return report(client, headers, item)

        assert send(first)["accepted"] == 1
        body = send(corrected)  # it used to read 'duplicates 1' and drop the correction
        assert (body["accepted"], body["duplicates"], body["failed"]) == (0, 0, 1)
        [error] = body["errors"][0]["errors"]
        said = pd.Timestamp(first["finished_at"]).tz_convert("UTC")
        assert error["field"] == "items[0].finished_at"
        assert f"already reported as finished at {said:%Y-%m-%dT%H:%M:%SZ}" in error["message"]
        again = send(first)
        assert (again["accepted"], again["duplicates"], again["failed"]) == (0, 1, 0)


def test_a_finish_reported_to_the_version_before_a_swap_still_stands(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    """The version swapped in took another finish for an id the one before had judged."""
    from eta.model import EtaModel

    first = ticket(1, days_ago=3, took_hours=2)
    corrected = a_day_later(first)

    def send(client: TestClient, item: dict) -> dict:
        return report(client, headers, item)

    still = ticket(2, days_ago=3, took_hours=None)
    looked = pd.Timestamp(still["started_at"]) + pd.Timedelta(days=2)
    early = {**still, "finished_at": (looked - pd.Timedelta(days=1)).isoformat()}
    with TestClient(make_app(model_copy)) as client:
        assert send(client, first)["accepted"] == 1
        seen = {"items": [still], "observed_at": looked.isoformat()}
        assert (
            client.post("/v1/outcomes", json=seen, headers=headers["outcomes"]).json()["accepted"]
            == 1
        )
        model = EtaModel.load(model_copy / "tickets")  # a new version of the same model
        model.online_.offset["likely|*"] = 0.05
        model.save(model_copy / "tickets")
        reloaded = client.post("/v1/admin/reload", headers=headers["admin"]).json()
        assert {m["name"]: m["outcome"] for m in reloaded["models"]}["tickets"] == "loaded"
        assert send(client, corrected)["failed"] == 1
        assert send(client, early)["failed"] == 1  # finished before it was seen open
        assert send(client, first)["accepted"] == 1  # judged afresh, by the new version
    with TestClient(make_app(model_copy)) as client:  # and so after a restart
        assert send(client, corrected)["failed"] == 1


def test_a_report_contradicting_an_earlier_one_is_refused_naming_its_field(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    """Each used to be counted as a duplicate: a finish before the item was last seen open
    (once its judgements were done), another start, other features."""
    first = ticket(1, days_ago=30, took_hours=None)
    seen = pd.Timestamp(first["started_at"]) + pd.Timedelta(days=20)  # past every checkpoint
    earlier = {**first, "finished_at": (seen - pd.Timedelta(days=5)).isoformat()}
    second = ticket(2, days_ago=3, took_hours=2)
    moved = {**second, "started_at": first["started_at"]}
    relabelled = {**second, "features": {"priority": "low"}}
    with TestClient(make_app(model_copy)) as client:

        def send(item: dict, **more: object) -> list[dict]:
            body = report(client, headers, item, **more)
            return [e for row in body["errors"] for e in row["errors"]]

        assert send(first, observed_at=seen.isoformat()) == []
        [error] = send(earlier)
        assert error["field"] == "items[0].finished_at"
        assert error["message"].startswith(f"the item was reported still open at {seen:%Y-%m-%d}")
        assert send(second) == []
        [error] = send(moved)
        assert (
            error["field"] == "items[0].started_at"
            and "first reported as started" in error["message"]
        )
        [error] = send(relabelled)
        assert error["field"] == "items[0].features"
        assert error["message"].startswith("the features differ from the item's first report")
        shouted = {**second, "features": {k: v.upper() for k, v in second["features"].items()}}
        assert send(shouted) == []  # the same values, as the model reads them


def test_a_naive_finish_in_the_repeated_autumn_hour_is_read_as_its_second_occurrence(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    """Opened 02:30 summer time and solved 02:15 winter time (45 minutes), as files are read;
    the service refused it as a finish before its start."""
    item = {
        "model": "tickets",
        "id": "autumn",
        "features": {"priority": "normal", "category": "billing", "channel": "email"},
        "started_at": "2026-10-25T02:30:00",
        "finished_at": "2026-10-25T02:15:00",
    }
    with TestClient(make_app(model_copy)) as client:
        body = client.post("/v1/outcomes", json={"items": [item]}, headers=headers["outcomes"])
    assert (body.json()["accepted"], body.json()["failed"]) == (1, 0), body.text


def test_a_finish_reported_as_a_date_is_the_end_of_that_date(
    model_copy: Path, make_app: Callable, headers: dict
) -> None:
    """As in a history: read as its midnight, a parcel delivered on Monday was reported done by
    Sunday's end, and its promise judged a day early."""
    item = ticket(1, days_ago=40, took_hours=1)
    day = (pd.Timestamp(item["started_at"]) + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    with TestClient(make_app(model_copy)) as client:
        first = report(client, headers, {**item, "finished_at": day})
        assert (first["accepted"], first["failed"]) == (1, 0), first
        # The same finish said to the minute, in the model's own zone: nothing new.
        again = report(client, headers, {**item, "finished_at": f"{day}T23:59:00"})
        assert (again["duplicates"], again["failed"]) == (1, 0), again
