"""What a batch of 1,000 costs through the service against quoting the same items in process,
with the bare LightGBM prediction beside it; and where one item's time goes. Prints markdown.

Target (service issue): a batch of 1,000 items costs at most 2x the in-process time of quoting
the same 1,000 items.

* in process: :func:`eta.quote.prepare_items` + :func:`eta.quote.quote_items` on the same rows
  the service builds from the request (the service's own frame-building included), median of 7;
* bare LightGBM: both boosters' ``predict`` on the already computed, encoded features;
* service: ``POST /v1/quotes/batch`` with the 1,000 items over loopback to ``eta serve``
  (JSON both ways, validation, auth, engine, response), median of 7 sequential calls, client
  wall time and the server's own time (``Server-Timing``);
* one item through the service's engine path, timed alternately with the promise model's bare
  ``predict`` (median of 300 each): their ratio compares runs on a machine whose speed varies.

Usage::

    python benchmarks/service_batch.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.service_harness import (  # noqa: E402
    WORK,
    demo_models,
    load_average,
    request_items,
    start_server,
)

REPEATS = 7


def median_seconds(fn, repeats: int = REPEATS) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def interleaved_ms(fn, reference, repeats: int = 300) -> tuple[float, float]:
    """Median ms of ``fn`` and of ``reference``, timed alternately so both see the same machine."""
    for _ in range(20):  # warm
        fn(), reference()
    mine, theirs = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        mine.append(time.perf_counter() - began)
        began = time.perf_counter()
        reference()
        theirs.append(time.perf_counter() - began)
    return statistics.median(mine) * 1000, statistics.median(theirs) * 1000


def raw_items(spec, items: list[dict], now: pd.Timestamp) -> pd.DataFrame:
    """The request items as the raw rows a caller in process would pass to ``prepare_items``."""
    raw = pd.DataFrame({c: [i["features"].get(c) for i in items] for c in spec.feature_columns})
    raw[spec.start] = now.isoformat()
    return raw


def alternating_ratios(model, server, items: list[dict], rounds: int = 5) -> list[float]:
    """Server time over in-process time for the same items, in alternating rounds (3 calls
    each): measured minutes apart, the two compared the machine with itself at another speed
    (1.28x and 2.22x in two runs an hour apart)."""
    from eta.quote import prepare_items, quote_items

    now = pd.Timestamp.now(tz="UTC")
    raw = raw_items(model.spec, items, now)
    ratios = []
    for _ in range(rounds):
        inside = median_seconds(
            lambda: quote_items(model, prepare_items(raw, model.spec)[0], now=now), repeats=3
        )
        ratios.append(through_service(server, items, repeats=3)["server_ms"] / (inside * 1000))
    return ratios


def in_process(model, items: list[dict]) -> dict:
    from eta.quote import prepare_items, quote_items
    from service.engine import Options, quote
    from service.schemas import QuoteRequest
    from service.store import Deployment

    spec = model.spec
    now = pd.Timestamp.now(tz="UTC")
    raw = raw_items(spec, items, now)
    prepared, _ = prepare_items(raw, spec)
    features = model.features(prepared)
    x = model._encode(features)
    requests = [QuoteRequest.model_validate(i) for i in items]
    deployment = Deployment("deliveries", "bench", "bench", "", model, {})

    def engine() -> None:
        p, _ = prepare_items(raw, spec)
        quote_items(model, p, now=now)

    def service_path() -> None:
        quote(deployment, Options(None, None, None), requests, now)

    ratio = {}
    if len(items) == 1:  # the machine's speed varies: a ratio compares runs, milliseconds do not
        path_ms, bare_ms = interleaved_ms(service_path, lambda: model.boosters_[0.9].predict(x))
        ratio = {"service_engine_path_vs_bare": path_ms / bare_ms, "bare_predict_ms": bare_ms}
    return {
        **ratio,
        "engine_ms": median_seconds(engine) * 1000,
        "service_engine_path_ms": median_seconds(service_path) * 1000,
        "prepare_items_ms": median_seconds(lambda: prepare_items(raw, spec)) * 1000,
        "features_ms": median_seconds(lambda: model.features(prepared)) * 1000,
        "encode_ms": median_seconds(lambda: model._encode(features)) * 1000,
        "lightgbm_ms": median_seconds(lambda: [b.predict(x) for b in model.boosters_.values()])
        * 1000,
        "predict_ms": median_seconds(lambda: model.predict(prepared)) * 1000,
    }


def through_service(server, items: list[dict], repeats: int = REPEATS) -> dict:
    body = json.dumps({"items": items}).encode()
    client, server_side = [], []
    for k in range(repeats + 1):
        request = urllib.request.Request(
            server.base + "/v1/quotes/batch",
            data=body,
            method="POST",
            headers={"X-API-Key": server.key, "content-type": "application/json"},
        )
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
            timing = response.headers["server-timing"]
        took = time.perf_counter() - began
        assert answer["quoted"] == len(items), answer["items"][:2]
        if k:  # the first call warms up
            client.append(took * 1000)
            server_side.append(float(timing.split("dur=")[1]))
    return {
        "client_ms": statistics.median(client),
        "server_ms": statistics.median(server_side),
        "request_kb": len(body) / 1024,
        "response_kb": len(json.dumps(answer)) / 1024,
    }


def main() -> None:
    from eta.model import EtaModel

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=WORK, help="models and logs")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    models = demo_models(args.work)
    model = EtaModel.load(models / "deliveries")
    report = {"load_before": load_average()}
    for n in (1000, 1):
        items = request_items("deliveries", n, args.work)
        report[f"in_process_{n}"] = in_process(model, items)
    server = start_server(models, args.port, args.work)
    try:
        for n in (1000, 1):
            items = request_items("deliveries", n, args.work)
            report[f"service_{n}"] = through_service(server, items)
        items = request_items("deliveries", 1000, args.work)
        report["batch_ratios"] = alternating_ratios(model, server, items)
    finally:
        server.stop()
    report["load_after"] = load_average()
    print(json.dumps(report, indent=1))

    a, s = report["in_process_1000"], report["service_1000"]
    print(f"\nbatch of 1,000 (load {report['load_before']} -> {report['load_after']}):")
    print("| path | median ms | x in-process |\n| --- | --- | --- |")
    for label, ms in (
        ("bare LightGBM predict, both boosters", a["lightgbm_ms"]),
        ("in process: prepare_items + quote_items", a["engine_ms"]),
        (
            "in process: the service's engine path (frame + quote + JSON-ready)",
            a["service_engine_path_ms"],
        ),
        ("service, server time (Server-Timing)", s["server_ms"]),
        ("service, client wall time over loopback", s["client_ms"]),
    ):
        print(f"| {label} | {ms:.1f} | {ms / a['engine_ms']:.2f} |")
    one, one_s = report["in_process_1"], report["service_1"]
    ratios = sorted(report["batch_ratios"])
    print(
        f"\nbatch of 1,000, server time / in process, {len(ratios)} alternating rounds: "
        f"**{statistics.median(ratios):.2f}x** ({ratios[0]:.2f}-{ratios[-1]:.2f}x)"
    )
    print("\none item:")
    print("| stage | median ms |\n| --- | --- |")
    for label, key in (
        ("prepare_items", "prepare_items_ms"),
        ("features (calendar + recent history)", "features_ms"),
        ("encode categories", "encode_ms"),
        ("LightGBM predict, both boosters", "lightgbm_ms"),
        ("model.predict (features + encode + LightGBM + segments)", "predict_ms"),
        ("prepare_items + quote_items", "engine_ms"),
        ("the service's engine path", "service_engine_path_ms"),
    ):
        print(f"| {label} | {one[key]:.2f} |")
    print(f"| service, server time | {one_s['server_ms']:.2f} |")
    print(f"| service, client wall time | {one_s['client_ms']:.2f} |")
    print(
        f"\nthe service's engine path, one item: {one['service_engine_path_vs_bare']:.1f}x a bare "
        f"LightGBM predict of the promise model through pandas ({one['bare_predict_ms']:.2f} ms), "
        "timed alternately: the figure to compare between runs on a machine whose speed varies"
    )


if __name__ == "__main__":
    main()
