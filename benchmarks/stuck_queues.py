"""Re-quotes in queues that get stuck differently: in-flight tables per spread band, or one.

Why this exists: a tester's history of 40 queues kept 81% of its re-quotes at twice the first
promise. Being late means different things in different queues: where a fifth of the tickets
get stuck, the model already spreads an item wide and a late one is nearly done; where few get
stuck, a late item is one of the rare stuck ones, far from done. One in-flight table for all
items asks both for the same level. This script simulates such a history (40 queues of Monday
to Friday work, medians of 4 to 40 working hours, 0 to 25% of each queue's tickets stuck 3 to
10 times longer, seeded), replays its last six months as :mod:`benchmarks.requotes` does, and
quotes every ticket still truly open after 100% and 200% of its first promise twice, from the
same model: with the in-flight tables per third of the spreads
(:class:`eta.inflight.InFlightBySpread`) and with all items' tables alone. Results are
grouped by the queue's share of stuck tickets.

Usage: ``python benchmarks/stuck_queues.py [--out benchmarks/STUCK_QUEUES.md]`` (about 4
minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import datasets, publish, requotes, run_context  # noqa: E402
from eta import synthetic  # noqa: E402
from eta.calendar import Clock  # noqa: E402
from eta.data import load_history  # noqa: E402
from eta.inflight import InFlightBySpread  # noqa: E402

QUEUES, ITEMS, SEED = 40, 37_000, 21
FRACTIONS = (1.0, 2.0)
SHARES = [0.0, 0.05, 0.10, 0.15, 0.20, 0.25]
"""Bands of the queues' shares of stuck tickets."""


def history() -> tuple[datasets.BenchmarkDataset, dict[str, float]]:
    """The 40-queue history (as exported on 1 January 2026) and each queue's stuck share."""
    rng = np.random.default_rng(SEED)
    base = synthetic.tickets(1_000, seed=1).spec
    features = base.features.model_copy(
        update={"categorical": ["queue"], "numeric": [], "phrases": {}}
    )
    spec = base.model_copy(update={"segments": ["queue"], "features": features})
    median = np.exp(rng.uniform(np.log(4), np.log(40), QUEUES))
    stuck_share = rng.uniform(0.0, 0.25, QUEUES)
    weight = rng.dirichlet(np.full(QUEUES, 2.0))
    day = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, ITEMS), unit="D")
    start = (day + pd.to_timedelta(rng.uniform(8, 18, ITEMS), unit="h")).tz_localize(
        spec.timezone, nonexistent="shift_forward", ambiguous="NaT"
    )
    queue = rng.choice(QUEUES, ITEMS, p=weight)
    stuck = rng.random(ITEMS) < stuck_share[queue]
    usual = median[queue] * rng.lognormal(0, 0.6, ITEMS)
    hours = usual * np.where(stuck, rng.uniform(3, 10, ITEMS), 1.0)
    clock = Clock.from_spec(spec)
    end = clock.add_hours(clock.effective_start(pd.Series(start)), hours)
    names = np.array([f"q{k:02d}" for k in range(QUEUES)])
    truth = pd.DataFrame(
        {"ticket_id": np.arange(ITEMS).astype(str), "created_at": start, "resolved_at": end,
         "queue": names[queue]}
    )[(day.day_of_week < 5) & pd.notna(start)]  # fmt: skip
    as_of = pd.Timestamp("2026-01-01", tz="UTC")
    export = truth.assign(
        resolved_at=truth["resolved_at"].where(pd.to_datetime(truth["resolved_at"]) <= as_of)
    )
    data = datasets.BenchmarkDataset(
        "stuck queues",
        load_history(export, spec, as_of=as_of),
        datasets.monthly_folds(spec.timezone, 2025, range(7, 13)),
        pd.Series(pd.to_datetime(truth["resolved_at"]).to_numpy(), index=truth["ticket_id"]),
        "",
    )
    return data, dict(zip(names, stuck_share, strict=True))


def requoted(data: datasets.BenchmarkDataset, stuck: dict[str, float]) -> pd.DataFrame:
    """One row per re-quote: its queue's stuck share, whether each variant's promise held and
    how long it still had to go."""
    from eta.quote import quote_items

    rows = []
    for fold in range(len(data.folds)):
        month = requotes.Month.replayed(data, fold)
        model = month.model
        variants = {"bands": model.in_flight_, "one table": _one_table(model.in_flight_)}
        for fraction in FRACTIONS:
            again = month.requotes(fraction)
            truth = month.truth[again.still_open]
            row = pd.DataFrame(
                {"fraction": fraction, "stuck": again.items["queue"].map(stuck).to_numpy()}
            )
            for name, in_flight in variants.items():
                model.in_flight_ = in_flight
                promise = quote_items(
                    model, again.items, features=again.features, offsets=again.offsets,
                    online=False,
                )["promise_hours"].to_numpy(float)  # fmt: skip
                row[f"kept, {name}"] = truth <= promise
                row[f"to go, {name}"] = promise - again.elapsed
            rows.append(row)
    return pd.concat(rows, ignore_index=True)


def _one_table(in_flight: InFlightBySpread) -> InFlightBySpread:
    """The same model's in-flight levels from all items' tables alone."""
    return replace(in_flight, edges=np.array([]), bands=[])


def report(frame: pd.DataFrame) -> list[str]:
    band = pd.cut(frame["stuck"], SHARES).astype(str).rename("stuck share")
    lines = [
        "| elapsed | queues' stuck share | re-quotes | kept, one table | kept, bands | "
        "h to go, one table | h to go, bands |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (fraction, share), part in frame.groupby([frame["fraction"], band]):
        lines.append(_line(f"{fraction:.0%}", share, part))
    for fraction, part in frame.groupby("fraction"):
        lines.append(_line(f"{fraction:.0%}", "**all**", part))
    return lines


def _line(fraction: str, share: str, part: pd.DataFrame) -> str:
    return (
        f"| {fraction} | {share} | {len(part):,} | {part['kept, one table'].mean():.1%} | "
        f"{part['kept, bands'].mean():.1%} | {part['to go, one table'].mean():.0f} | "
        f"{part['to go, bands'].mean():.0f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/STUCK_QUEUES.md")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    frame = requoted(*history())
    context = run_context("stuck_queues.py", argv, began)
    lines = [
        "# Re-quotes in queues that get stuck differently",
        "",
        "Generated by `benchmarks/stuck_queues.py`; do not edit by hand.",
        "",
        f"- command: `{context['command']}`; date: {context['date']}; engine: {context['engine']};"
        f" wall time {context['wall']}",
        f"- history: {QUEUES} queues, {ITEMS:,} tickets over 2025 (Monday to Friday, business"
        f" hours), seed {SEED}; each queue has 0-25% of its tickets stuck 3-10x longer; monthly"
        " folds July to December, replayed; tickets truly still open after 100% and 200% of"
        " their first promise are quoted again by the same model, with in-flight tables per"
        " third of the spreads (*bands*) and with all items' tables alone (*one table*)",
        "",
        *report(frame),
    ]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
