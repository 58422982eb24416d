"""Load on the quote service over loopback: single quotes at a fixed rate, the highest sustained
rate, and model swaps and a corrupt model under load. Prints a markdown report.

Targets (service issue): 200 single quotes/s for 60 s with 0 errors and a server p99 under 15 ms;
the highest sustained rate with p99 under 50 ms; 10 hot swaps under that load with 0 failed
requests; a corrupt model file refused, the old model serving, 0 failed requests.

Method (details in :mod:`benchmarks.service_harness`): the server runs as ``eta serve`` in a
child process on the demo's two models (two years, 40,000 rows each); this process is an
open-loop client whose latencies count from each request's due time. Requests are single
delivery quotes (the checkout use) with the features of history rows, ``started_at`` now.
"Server" latency is the app's own time per request (``Server-Timing``); "client" latency adds
queueing in the socket and the client. A rate is *sustained* when every request succeeds, the
achieved rate is within 2% of the target and the client p99 is under 50 ms.

Usage::

    python benchmarks/service_load.py                 # everything (~6 minutes)
    python benchmarks/service_load.py --only steady --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.service_harness import (  # noqa: E402
    WORK,
    Server,
    demo_models,
    http_post,
    load_average,
    open_loop,
    request_items,
    start_server,
    use_uvloop,
)

SWAP_MODEL = "deliveries"


def steady(server: Server, bodies: list[bytes], rate: float, duration: float) -> dict:
    before = load_average()
    result = asyncio.run(open_loop(server, bodies, rate, duration))
    return {
        "phase": f"steady {rate:g}/s for {duration:g} s",
        "load_before": before,
        "load_after": load_average(),
        **result.summary(),
    }


def highest_rate(
    server: Server, bodies: list[bytes], rates: list[float], duration: float
) -> list[dict]:
    rows = []
    for rate in rates:
        result = asyncio.run(open_loop(server, bodies, rate, duration))
        summary = result.summary()
        summary["sustained"] = (
            summary["failed"] == 0
            and summary["achieved_rate"] >= 0.98 * rate
            and summary["client_p99_ms"] < 50
        )
        summary["load_after"] = load_average()
        rows.append(summary)
        print(json.dumps(summary), flush=True)
        if not summary["sustained"]:
            break
    return rows


def prepare_versions(served: Path, work: Path) -> tuple[Path, Path]:
    """Two versions of the swapped model: as trained, and with other online corrections."""
    from eta.model import EtaModel

    a, b = work / "swap-a", work / "swap-b"
    for path in (a, b):
        shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(served / SWAP_MODEL, a)
    model = EtaModel.load(a)
    model.online_.offset["likely|*"] = model.online_.offset.get("likely|*", 0.0) + 0.05
    model.save(b)
    return a, b


def install(version: Path, served: Path) -> None:
    """Copy a version's files over the served directory, each file replaced atomically."""
    for path in version.iterdir():
        scratch = served / (path.name + ".incoming")
        shutil.copyfile(path, scratch)
        scratch.replace(served / path.name)


async def swapping(
    server: Server,
    served: Path,
    versions: tuple[Path, Path],
    swaps: int,
    duration: float,
    log: list,
) -> None:
    loop = asyncio.get_running_loop()
    for k in range(swaps):
        await asyncio.sleep(duration / (swaps + 1))
        await loop.run_in_executor(None, install, versions[(k + 1) % 2], served)
        began = time.perf_counter()
        status, body = await loop.run_in_executor(None, server.post, "/v1/admin/reload")
        outcome = {m["name"]: m["outcome"] for m in body.get("models", [])}
        log.append(
            {
                "swap": k + 1,
                "status": status,
                "outcome": outcome.get(SWAP_MODEL),
                "seconds": round(time.perf_counter() - began, 2),
            }
        )


async def corrupting(server: Server, served: Path, duration: float, log: list) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(duration / 3)
    booster = served / "lightgbm_q90.txt"
    good = booster.read_bytes()
    booster.write_bytes(good[: len(good) // 2])  # truncated mid-tree, as a crashed copy leaves it
    status, body = await loop.run_in_executor(None, server.post, "/v1/admin/reload")
    refused = [m for m in body.get("models", []) if m["outcome"] == "refused"]
    log.append({"status": status, "refused": refused})
    await asyncio.sleep(duration / 3)
    booster.write_bytes(good)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--step-duration", type=float, default=20.0)
    parser.add_argument("--rates", default="25,50,75,100,150,200,300,400,600,800,1000")
    parser.add_argument("--swaps", type=int, default=10)
    parser.add_argument("--only", choices=["steady", "max", "swap", "corrupt"])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--work", type=Path, default=WORK, help="models, logs and results")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    use_uvloop()

    work = args.work
    models = demo_models(work, rows=args.rows)
    served = work / "served"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(models, served)
    versions = prepare_versions(served, work)
    items = request_items("deliveries", 2000, work, rows=args.rows)
    server = start_server(served, args.port, work)
    report: dict = {"load_at_start": load_average()}
    try:
        bodies = [http_post("/v1/quotes", item, server.key, server.port) for item in items]
        asyncio.run(open_loop(server, bodies, 50, 3))  # warm up
        if args.only in (None, "steady"):
            report["steady"] = steady(server, bodies, args.rate, args.duration)
            print(json.dumps(report["steady"]), flush=True)
        if args.only in (None, "max"):
            rates = [float(r) for r in args.rates.split(",")]
            report["max"] = highest_rate(server, bodies, rates, args.step_duration)
        if args.only in (None, "swap"):
            log: list = []
            duration = max(args.duration, 3.0 * args.swaps)
            result = asyncio.run(
                open_loop(
                    server,
                    bodies,
                    args.rate,
                    duration,
                    during=swapping(
                        server, served / SWAP_MODEL, versions, args.swaps, duration, log
                    ),
                )
            )
            report["swap"] = {"swaps": log, "load_after": load_average(), **result.summary()}
            print(json.dumps(report["swap"]), flush=True)
        if args.only in (None, "corrupt"):
            log = []
            result = asyncio.run(
                open_loop(
                    server,
                    bodies,
                    args.rate,
                    30,
                    during=corrupting(server, served / SWAP_MODEL, 30, log),
                )
            )
            report["corrupt"] = {"reload": log, "load_after": load_average(), **result.summary()}
            print(json.dumps(report["corrupt"]), flush=True)
    finally:
        server.stop()
    out = work / "service_load.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"\nfull results: {out}")


if __name__ == "__main__":
    main()
