"""Benchmarks of the ETA engine against peers on shared, time-ordered folds (see run.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def engine_fingerprint() -> str:
    """Short content hash of the engine's source (src/eta/*.py): which engine was measured."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "eta").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def run_context(script: str, argv: list[str] | None, began: float) -> dict[str, str]:
    """What a report's header says about its run: the command, when, which engine, how long
    (``began``: :func:`time.perf_counter` at the start)."""
    args = sys.argv[1:] if argv is None else argv
    return {
        "command": "python " + shlex.join([f"benchmarks/{script}", *args]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "engine": engine_fingerprint(),
        "wall": f"{(time.perf_counter() - began) / 60:.1f} min",
    }


def publish(text: str, out: Path) -> None:
    """Write a report and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
