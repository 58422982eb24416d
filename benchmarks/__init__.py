"""Benchmarks of the ETA engine against peers on shared, time-ordered folds (see run.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def engine_fingerprint() -> str:
    """Short content hash of the engine's source (src/eta/*.py): which engine was measured."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "eta").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]
