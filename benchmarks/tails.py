"""Re-quotes of items under way on three shapes of tail: stuck, lost and found, and heavy.

Why this exists: a tester sweep (6 December) re-quoted hand-written histories and found the
in-flight promises right on our synthetic tickets and parcels but not on tails shaped otherwise:
tickets stuck for 5-20 times their usual time were over-padded (2-2.5 times the true
conditional P90 from half their first promise on), and heavy-tailed claims were kept 55% of the
time past four times their first promise, where the cap of ten fresh promises binds. This script
simulates the three shapes (seeded, one year each on a round-the-clock wall clock, exported on
1 January 2026), replays October to December as :mod:`benchmarks.requotes` does, and re-quotes
every item truly still open after 50%, 100%, 200%, 400% and 800% of its first promise:

* *stuck*: eight queues, medians of 4 to 40 hours; 2-20% of each queue's items stuck for 5 to
  20 times their usual time (bounded);
* *lost*: parcels of three carriers, 1.5-5% lost and found after 3 to 12 times their usual
  time, or cancelled (finished) at 30 days;
* *heavy*: claims of four teams, medians of 3 to 150 hours; 12% from a Pareto tail of shape
  1.1 (the time still to go grows with the time taken), closed after five years at the latest.

Usage: ``python benchmarks/tails.py [--out benchmarks/TAILS.md]`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import datasets, publish, requotes, run_context  # noqa: E402
from eta import synthetic  # noqa: E402
from eta.data import load_history  # noqa: E402

ITEMS, SEED = 60_000, 7
FRACTIONS = (0.5, 1.0, 2.0, 4.0, 8.0)
EXPORT = pd.Timestamp("2026-01-01", tz="UTC")


def stuck(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Queue per item and hours: a share of each queue's items stuck 5-20x (bounded)."""
    median = np.exp(np.linspace(np.log(4), np.log(40), 8))
    share = np.linspace(0.02, 0.20, 8)
    group = rng.integers(0, 8, n)
    hours = median[group] * rng.lognormal(0, 0.6, n)
    return group, hours * np.where(rng.random(n) < share[group], rng.uniform(5, 20, n), 1.0)


def lost(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Carrier per parcel and hours: 1.5-5% lost, found after 3-12x, or cancelled at 30 days."""
    share = np.array([0.015, 0.03, 0.05])
    group = rng.integers(0, 3, n)
    hours = 30 * rng.lognormal(0, 0.4, n)
    hours *= np.where(rng.random(n) < share[group], rng.uniform(3, 12, n), 1.0)
    return group, np.minimum(hours, 30 * 24.0)


def heavy(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Team per claim and hours: 88% lognormal (sigma 1.3), 12% Pareto of shape 1.1, closed
    at the latest after five years."""
    median = np.array([3.0, 12.0, 48.0, 150.0])
    group = rng.choice(4, n, p=[0.35, 0.3, 0.25, 0.1])
    body = np.exp(1.3 * rng.normal(size=n))
    tail = 3.0 * rng.random(n) ** (-1 / 1.1)
    hours = median[group] * np.where(rng.random(n) < 0.12, tail, body)
    return group, np.minimum(hours, 5 * 365 * 24.0)


WORLDS = {"stuck": stuck, "lost": lost, "heavy": heavy}


def world(name: str) -> datasets.BenchmarkDataset:
    """One tail shape as a benchmark dataset: its export and every item's true finish."""
    rng = np.random.default_rng(SEED)
    base = synthetic.tickets(1_000, seed=1).spec
    features = base.features.model_copy(
        update={"categorical": ["group"], "numeric": [], "phrases": {}}
    )
    calendar = type(base.calendar).model_validate(
        {"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "hours": ["00:00", "24:00"]}
    )
    spec = base.model_copy(
        update={"name": name, "segments": ["group"], "features": features, "clock": "wall",
                "calendar": calendar, "timezone": "UTC"}
    )  # fmt: skip
    group, hours = WORLDS[name](rng, ITEMS)
    start = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 365 * 24, ITEMS)), unit="h"
    )
    end = start + pd.to_timedelta(np.maximum(hours, 0.05), unit="h")
    ids = np.arange(ITEMS).astype(str)
    export = pd.DataFrame(
        {"ticket_id": ids, "created_at": start, "resolved_at": end.where(end <= EXPORT),
         "group": [f"{name}-{g}" for g in group]}
    )  # fmt: skip
    return datasets.BenchmarkDataset(
        name,
        load_history(export, spec, as_of=EXPORT),
        datasets.monthly_folds("UTC", 2025, range(10, 13)),
        pd.Series(end.to_numpy(), index=ids),
        (WORLDS[name].__doc__ or "").split(":")[-1].strip(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "TAILS.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    began = time.perf_counter()
    rows = []
    for name in WORLDS:
        data = world(name)
        rows += requotes.run_folds(data, range(len(data.folds)), FRACTIONS)
    context = run_context("tails.py", argv, began)
    title = "Re-quotes on three shapes of tail"
    publish(requotes.report(pd.DataFrame(rows), context, title, "tails.py"), args.out)


if __name__ == "__main__":
    main()
