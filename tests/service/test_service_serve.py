"""``eta serve`` as an operator runs it: a real process, reloaded by SIGHUP, stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from eta.model import EtaModel

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str, key: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_serve_reloads_on_sighup_and_stops_on_interrupt(
    model_copy: Path, keys: tuple, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "ETA_API_KEYS": json.dumps([k.model_dump(mode="json") for k in keys[1]]),
        "ETA_STATE_DIR": str(tmp_path / "state"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "eta", "serve", "--model-dir", str(model_copy), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base, key = f"http://127.0.0.1:{port}", keys[0]["quote"]
    try:
        _wait(lambda: _get(f"{base}/readyz")["status"] == "ready")
        before = _get(f"{base}/v1/models/tickets", key)["version"]
        model = EtaModel.load(model_copy / "tickets")
        model.online_.offset["likely|*"] = 0.1
        model.save(model_copy / "tickets")
        process.send_signal(signal.SIGHUP)
        _wait(lambda: _get(f"{base}/v1/models/tickets", key)["version"] != before)
        assert _get(f"{base}/readyz")["status"] == "ready"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"http://localhost:{port}/console" in output and "one-time key" not in output
