"""Drift confined to a feature that is not a segment: one channel of a helpdesk turns 1.4x slower.

Why this exists: online calibration corrects promises per segment (the spec's ``segments``) and
training weighs every month of the history alike. A slowdown that only one value of another
feature shows (a tester's helpdesk whose Apps Team became 1.4x slower nine months before the
export: 85.1% of that team's promises kept in replay, 89.6% overall) is neither: the model learns
a blend of the team's old and new speed, and each segment's correction sees the team diluted
among the segment's other items. The main benchmark (:mod:`benchmarks.run`) has no such drift,
and its worst-segment line cannot show one, so this script builds it.

The world is the engine's own two-year synthetic tickets history (:func:`eta.synthetic.tickets`,
2024-2025, export at the end of 2025, spec ``segments: [priority, category]``). The drifted
feature is ``channel``, declared in the spec's ``features.categorical`` and not a segment; from
1 April 2025 (nine months before the export) every ticket of one channel (``chat`` by default,
about a quarter of the tickets, spread over every segment) takes ``--slowdown`` times its clock
hours, placed on the spec's business clock as the generator places them. The export is then
censored again (a ticket whose new finish is after the export is open) and ``queue_open`` is
counted again from the new finishes, as an export would count it. The control (``no drift``) is
the same world without the slowdown, every ticket as generated.

For each of the last ``--folds`` months (October to December 2025 by default), in both worlds,
the engine is trained on what was known at the month's start and quotes the month twice with
:func:`eta.backtest.run_backtest`, as the main benchmark does: static (the month quoted from the
model's own record, as ``eta quote`` does) and replay (each ticket quoted as it starts, recent
history live, online calibration from outcomes as they become known). Promises (P90) are judged
as told (rounded up, after the rounding allowance) against the simulation's true finish, open
tickets included, with :func:`eta.evaluation.promise_metrics`.

Reading it: compare the drifted channel's on-time rate with the other channels' and with the
same channel in the control world. Its mean promise beside the true P90 of its tickets (the
90th percentile of their true clock hours) says by how much promises fall short; a mean of
promises is not a percentile, so read that ratio against the control world's. In the control
world every channel should sit near 90%; with the drift, the drifted channel falls below the
others, and replay is the number that says what the live engine does. Replay's per-segment
corrections also lengthen the other channels' promises, which share the drifted channel's
segments (their on-time rate rises above the control's). The worst segment (>= 300 items) is the
backtest's own line: it mixes channels, so it does not show the drift.

Usage::

    python benchmarks/feature_drift.py                        # 3 folds, both worlds (~3 min)
    python benchmarks/feature_drift.py --folds 1 --n 30000 --out /tmp/f.md
    python benchmarks/feature_drift.py --value web --slowdown 1.6
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import datasets, publish, run_context  # noqa: E402

SEED = 2025
START = "2024-01-01"
DAYS = 731
"""2024-01-01 to the end of 2025 (2024 has 366 days): the export is at midnight on New Year."""
FEATURE = "channel"
CHANGE = "2025-04-01"
"""Local date from which the drifted channel's new tickets are slower: nine months before the
export."""
WORLDS = ("drift", "no drift")
MODES = ("static", "replay")


def world(name: str, n: int, value: str, slowdown: float, change: str) -> datasets.BenchmarkDataset:
    """The two-year tickets history with ``FEATURE == value`` tickets started from ``change``
    taking ``slowdown`` times their clock hours (``slowdown=1`` is the history as generated)."""
    from eta import synthetic
    from eta.calendar import Clock
    from eta.data import load_history

    sim = synthetic.tickets(n, seed=SEED, start=START, days=DAYS)
    spec = sim.spec
    if FEATURE not in spec.features.categorical or FEATURE in spec.segments:
        raise ValueError(f"{FEATURE!r} must be a declared categorical feature and not a segment")
    if value not in set(sim.truth[FEATURE]):
        raise ValueError(f"{FEATURE} has no value {value!r}: {sorted(set(sim.truth[FEATURE]))}")
    clock = Clock.from_spec(spec)
    start = pd.DatetimeIndex(sim.truth[spec.start])
    changed_at = pd.Timestamp(change, tz=spec.timezone)
    drifted = (sim.truth[FEATURE] == value).to_numpy() & (start >= changed_at)
    hours = sim.truth["true_hours"].to_numpy(float) * np.where(drifted, slowdown, 1.0)
    # Placed on the calendar as the generator places them: clock hours from the effective start,
    # floored to the second, never before the ticket was created.
    stretched = clock.add_hours(clock.effective_start(start), hours).floor("s")
    end_ns = np.where(
        drifted,
        np.maximum(stretched.as_unit("ns").asi8, start.as_unit("ns").asi8),
        pd.DatetimeIndex(sim.truth["true_end"]).as_unit("ns").asi8,
    )
    true_end = pd.Series(pd.to_datetime(end_ns, utc=True), index=sim.truth.index)
    export = sim.history.copy()
    export[spec.end] = true_end.where(true_end <= sim.as_of)
    export["queue_open"] = _open_backlog(start.as_unit("ns").asi8, end_ns)
    history = load_history(export, spec, as_of=sim.as_of)
    changed = (
        f"{drifted.sum():,} {FEATURE}={value} tickets {slowdown:g}x slower"
        if slowdown != 1
        else "every ticket as generated"
    )
    return datasets.BenchmarkDataset(
        name=name,
        history=history,
        folds=datasets.monthly_folds(spec.timezone, 2025, range(1, 13)),
        true_end=pd.Series(true_end.to_numpy(), index=export[spec.id].astype(str).to_numpy()),
        description=(
            f"synthetic tickets, n={n:,}, seed {SEED}, {START} to the end of 2025; {changed}; "
            f"{history.open_share:.1%} open at export"
        ),
    )


def _open_backlog(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Tickets open when each one is created (rows in start order), as the generator counts:
    every end at or before a start belongs to an earlier ticket."""
    finished = np.searchsorted(np.sort(ends), starts, side="right")
    return np.maximum(np.arange(len(starts)) - finished, 0).astype(np.int64)


def run_fold(data: datasets.BenchmarkDataset, fold: int, value: str) -> pd.DataFrame:
    """Static and replay promises of one month, one row per item: drifted?, true and promised
    hours (as told), segment."""
    from eta.backtest import period_items, run_backtest

    history = data.history
    test_start, test_end = data.folds[fold]
    items = period_items(history, test_start, test_end)
    actual = data.actual_hours(items)
    month = test_start.tz_convert(history.spec.timezone).strftime("%Y-%m")
    frames = []
    for mode in MODES:
        result = run_backtest(
            history, test_start, test_end, replay=mode == "replay", actual_hours=actual
        )
        frames.append(
            pd.DataFrame(
                {
                    "world": data.name,
                    "month": month,
                    "mode": mode,
                    "drifted": (items[FEATURE] == value).to_numpy(),
                    "segment": items["segment"].astype(str).to_numpy(),
                    "actual": actual,
                    "promise": result.quotes["promise_hours"].to_numpy(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def measure(items: pd.DataFrame, confidence: float) -> dict:
    """On-time rates (drifted value, the others, all), the drifted value's mean promise and true
    P90, and the backtest's worst segment, judged as :mod:`benchmarks.run` judges."""
    from eta.evaluation import promise_metrics

    def metrics(rows: pd.DataFrame) -> dict:
        return promise_metrics(
            rows["actual"].to_numpy(), rows["promise"].to_numpy(), rows["segment"], confidence
        )

    drifted, others = items[items["drifted"]], items[~items["drifted"]]
    everyone, slow, rest = metrics(items), metrics(drifted), metrics(others)
    return {
        "items": everyone["items"],
        "drifted_items": slow["items"],
        "drifted": slow["on_time_rate"],
        "others": rest["on_time_rate"],
        "overall": everyone["on_time_rate"],
        "promise": slow["mean_promise_hours"],
        "others_promise": rest["mean_promise_hours"],
        "p90": float(np.nanquantile(drifted["actual"], confidence)),
        "worst_segment": everyone["worst_segment"],
        "worst": everyone["worst_segment_on_time_rate"],
    }


def report(
    items: pd.DataFrame,
    args: argparse.Namespace,
    context: dict,
    worlds: dict[str, datasets.BenchmarkDataset],
    confidence: float,
) -> str:
    per_fold = [
        {"world": w, "mode": m, "month": month} | measure(rows, confidence)
        for (w, m, month), rows in items.groupby(["world", "mode", "month"], sort=False)
    ]
    overall = [
        {"world": w, "mode": m} | measure(rows, confidence)
        for (w, m), rows in items.groupby(["world", "mode"], sort=False)
    ]
    months = sorted(items["month"].unique())
    value = f"{FEATURE}={args.value}"
    lines = [
        "# Drift confined to a feature that is not a segment",
        "",
        "Generated by `benchmarks/feature_drift.py`; do not edit by hand.",
        "",
        f"- command: `{context['command']}`; date: {context['date']}; engine source hash "
        f"{context['engine']}; wall time {context['wall']}; {platform.machine()}, "
        f"Python {platform.python_version()}, {args.threads} OpenMP thread(s)",
        *(f"- {name}: {data.description}" for name, data in worlds.items()),
        f"- drift world: `{value}` tickets started from {args.change} take "
        f"{args.slowdown:g}x their clock hours; `{FEATURE}` is a declared feature, not a segment "
        "(segments: priority, category)",
        f"- folds {months[0]} to {months[-1]}: trained at each month's start on what was known "
        "then, the month quoted static and in replay (`eta.backtest.run_backtest`); P90 promises "
        "judged as told against the true finish, open tickets included",
        "",
        f"## {months[0]} to {months[-1]}, all items together",
        "",
        f"| world | mode | {value} on time | other channels | overall | {args.value} mean "
        f"promise h | {args.value} true P90 h | promise / P90 | others' mean promise h | "
        "worst segment |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in overall:
        lines.append(
            f"| {r['world']} | {r['mode']} | {r['drifted']:.1%} | {r['others']:.1%} | "
            f"{r['overall']:.1%} | {r['promise']:.1f} | {r['p90']:.1f} | "
            f"{r['promise'] / r['p90']:.2f} | {r['others_promise']:.1f} | {_worst(r)} |"
        )
    by_world = {(r["world"], r["mode"]): r for r in overall}
    if all(w in worlds for w in WORLDS):
        lines += [
            "",
            "A mean promise is not a percentile (the channel mixes priorities and categories), "
            "so compare the worlds: against the control,",
            "",
        ]
        for mode in MODES:
            slow, calm = by_world["drift", mode], by_world["no drift", mode]
            lines.append(
                f"- {mode}: {args.value}'s promises {slow['promise'] / calm['promise']:.2f}x "
                f"the control's while its true P90 is {slow['p90'] / calm['p90']:.2f}x; "
                f"kept {(slow['drifted'] - calm['drifted']) * 100:+.1f} pt; the other channels' "
                f"promises {slow['others_promise'] / calm['others_promise']:.2f}x, kept "
                f"{(slow['others'] - calm['others']) * 100:+.1f} pt"
            )
    lines += [
        "",
        "## Per month",
        "",
        f"| world | mode | month | items ({args.value}) | {value} on time | other channels | "
        f"overall | {args.value} mean promise h | {args.value} true P90 h | worst segment |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in per_fold:
        lines.append(
            f"| {r['world']} | {r['mode']} | {r['month']} | {r['items']:,} "
            f"({r['drifted_items']:,}) | {r['drifted']:.1%} | {r['others']:.1%} | "
            f"{r['overall']:.1%} | {r['promise']:.1f} | {r['p90']:.1f} | {_worst(r)} |"
        )
    return "\n".join(lines) + "\n"


def _worst(row: dict) -> str:
    if row["worst_segment"] is None:
        return "none with 300 items"
    return f"{row['worst_segment']} {row['worst']:.1%}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=3, help="the last N months of 2025")
    parser.add_argument("--n", type=int, default=50_000, help="tickets over the two years")
    parser.add_argument("--value", default="chat", help=f"the {FEATURE} that drifts")
    parser.add_argument("--slowdown", type=float, default=1.4)
    parser.add_argument("--change", default=CHANGE, help="local date the slowdown begins")
    parser.add_argument(
        "--no-drift",
        action="store_true",
        help="only the control world, without the slowdown (by default both worlds run)",
    )
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads for LightGBM")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "FEATURE_DRIFT.md")
    args = parser.parse_args(argv)
    if not 1 <= args.folds <= 12:
        parser.error("--folds must be between 1 and 12")
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore", category=UserWarning)  # LightGBM feature names
    began = time.perf_counter()
    slowdowns = {"drift": args.slowdown, "no drift": 1.0}
    if args.no_drift:
        del slowdowns["drift"]
    worlds = {w: world(w, args.n, args.value, s, args.change) for w, s in slowdowns.items()}
    frames = []
    with threadpool_limits(limits=args.threads, user_api="openmp"):
        for name, data in worlds.items():
            confidence = data.history.spec.confidence
            for fold in range(len(data.folds))[-args.folds :]:
                rows = run_fold(data, fold, args.value)
                frames.append(rows)
                for mode, got in rows.groupby("mode", sort=False):
                    r = measure(got, confidence)
                    print(
                        f"{name} {got['month'].iloc[0]} {mode}: {args.value} {r['drifted']:.1%}, "
                        f"others {r['others']:.1%}, overall {r['overall']:.1%}; {args.value} "
                        f"promise {r['promise']:.1f} h vs true P90 {r['p90']:.1f} h",
                        flush=True,
                    )
    context = run_context("feature_drift.py", argv, began)
    items = pd.concat(frames, ignore_index=True)
    publish(report(items, args, context, worlds, confidence), args.out)


if __name__ == "__main__":
    main()
