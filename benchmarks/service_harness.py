"""What the service benchmarks share: demo-sized models, a server process, an open-loop client.

* Models: the demo's two synthetic histories (two years, 40,000 rows each by default), trained
  once and kept under ``/tmp/eta-bench/service``.
* Server: ``python -m eta serve`` in a child process, as a user runs it (one uvicorn process,
  uvloop and httptools), with a key made for the run; its stderr goes to a log file.
* Client: an **open-loop** load generator in this process (asyncio + uvloop over raw keep-alive
  HTTP/1.1 connections, no client library in the way). Request ``k`` is due at ``t0 + k / rate``
  whether or not earlier ones were answered, and its latency counts from that due time, so a
  stalled server shows up as latency instead of silently lowering the rate (no coordinated
  omission). The server's own time for each request comes back in its ``Server-Timing`` header
  (from the first byte the app sees to the start of its response).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/eta-bench/service")


def demo_models(work: Path = WORK, rows: int = 40_000) -> Path:
    """Train the demo's two models once (as ``eta demo`` does) and keep their histories."""
    from eta import synthetic
    from eta.data import load_history
    from eta.model import EtaModel

    models = work / f"models-{rows}"
    for name in ("tickets", "deliveries"):
        if (models / name / "model.json").exists():
            continue
        sim = synthetic.by_name(name, n=rows, seed=7, start="2024-01-01", days=730)
        print(f"training {name} on {rows:,} rows (once; cached in {models})", flush=True)
        EtaModel(sim.spec).fit(load_history(sim.history, sim.spec)).save(models / name)
        sim.history.to_parquet(work / f"{name}-{rows}.parquet")
    return models


def request_items(
    name: str, n: int, work: Path = WORK, rows: int = 40_000, seed: int = 0
) -> list[dict]:
    """``n`` realistic quote requests: feature values of the history's rows, started now."""
    from eta.synthetic import load_spec

    spec = load_spec(name)
    history = pd.read_parquet(work / f"{name}-{rows}.parquet")
    sample = history.sample(n, replace=n > len(history), random_state=seed)
    items = []
    for row in sample.to_dict("records"):
        features = {c: row[c] for c in spec.feature_columns}
        features = {k: (v.item() if hasattr(v, "item") else v) for k, v in features.items()}
        items.append({"model": name, "id": str(row[spec.id]), "features": features})
    return items


@dataclass
class Server:
    port: int
    key: str
    process: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:
            return response.read()

    def post(self, path: str, body: object | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method="POST",
            headers={"X-API-Key": self.key, "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(model_dir: Path, port: int = 8790, work: Path = WORK) -> Server:
    from service.security import new_key

    key, entry = new_key("bench", ["quote", "outcomes", "admin"])
    env = os.environ | {
        "ETA_API_KEYS": json.dumps([entry.model_dump(mode="json")]),
        "ETA_STATE_DIR": str(work / "state"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    log = work / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "eta", "serve", "--model-dir", str(model_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        cwd=work,
    )
    server = Server(port, key, process, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if b"ready" in server.get("/readyz"):
                return server
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited; see {log}")
        time.sleep(0.3)
    raise RuntimeError(f"server not ready in 120 s; see {log}")


@dataclass
class Result:
    rate: float
    duration: float
    latency_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    """Connection errors and timeouts (no HTTP status)."""
    error_kinds: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    wall: float = 0.0

    @property
    def failed(self) -> int:
        return self.errors + sum(n for status, n in self.statuses.items() if status != 200)

    def pct(self, values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    def summary(self) -> dict:
        return {
            "target_rate": self.rate,
            "achieved_rate": round(len(self.latency_ms) / self.wall, 1) if self.wall else 0.0,
            "requests": self.sent,
            "failed": self.failed,
            "statuses": self.statuses,
            "errors": self.error_kinds,
            "client_p50_ms": round(self.pct(self.latency_ms, 50), 2),
            "client_p99_ms": round(self.pct(self.latency_ms, 99), 2),
            "client_max_ms": round(max(self.latency_ms, default=float("nan")), 1),
            "server_p50_ms": round(self.pct(self.server_ms, 50), 2),
            "server_p99_ms": round(self.pct(self.server_ms, 99), 2),
            "server_max_ms": round(max(self.server_ms, default=float("nan")), 1),
            "versions_seen": self.versions,
        }


IDLE_LIMIT = 4.0
"""Seconds a client keeps an idle keep-alive connection: below uvicorn's 5 s keep-alive timeout,
as HTTP clients do, so a request is never sent on a connection the server is closing."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.perf_counter()

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body


def http_post(path: str, body: dict, key: str, port: int) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nx-api-key: {key}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode() + payload


async def open_loop(
    server: Server,
    bodies: list[bytes],
    rate: float,
    duration: float,
    *,
    timeout: float = 10.0,
    during: object | None = None,
) -> Result:
    """Send ``rate`` requests per second for ``duration`` seconds, cycling through ``bodies``;
    ``during`` (a coroutine) runs alongside, e.g. model swaps."""
    result = Result(rate, duration)
    idle: list[_Connection] = []
    n = int(rate * duration)
    t0 = time.perf_counter() + 0.05

    async def one(k: int) -> None:
        due = t0 + k / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        result.sent += 1
        try:
            conn = None
            while idle and conn is None:
                conn = idle.pop()
                if time.perf_counter() - conn.idle_since > IDLE_LIMIT:
                    conn.writer.close()
                    conn = None
            if conn is None:
                conn = _Connection(*await asyncio.open_connection("127.0.0.1", server.port))
            status, headers, body = await asyncio.wait_for(
                conn.request(bodies[k % len(bodies)]), timeout
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.errors += 1
            result.error_kinds[type(exc).__name__] = (
                result.error_kinds.get(type(exc).__name__, 0) + 1
            )
            return
        done = time.perf_counter()
        conn.idle_since = done
        idle.append(conn)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == 200:
            result.latency_ms.append((done - due) * 1000)
            timing = headers.get("server-timing", "")
            if "dur=" in timing:
                result.server_ms.append(float(timing.split("dur=")[1]))
            marker = body.find(b'"model_version":"')
            if marker >= 0:
                version = body[marker + 17 : body.index(b'"', marker + 17)].decode()
                result.versions[version] = result.versions.get(version, 0) + 1

    tasks = [asyncio.ensure_future(one(k)) for k in range(n)]
    side = asyncio.ensure_future(during) if during is not None else None
    await asyncio.gather(*tasks)
    result.wall = time.perf_counter() - t0
    if side is not None:
        await side
    for conn in idle:
        conn.writer.close()
    return result


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def use_uvloop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
