"""Benchmark the ETA engine against peers on time-ordered monthly folds; write RESULTS.md.

Why this exists: the engine claims that its P90 promises are kept 90% of the time, in every big
segment, and are no longer than necessary, on histories with open (censored) items and drift.
This script checks those claims against the truth, fold by fold, next to the engine with open
rows dropped (what censoring-awareness buys) and next to peers a data team could use instead
(:mod:`benchmarks.peers`), all on the same rows and features (:mod:`benchmarks.datasets`).

For each dataset and fold it runs

* the engine, static (``eta.backtest.run_backtest``: train at the fold's start, quote the month
  knowing what ``eta quote`` would: recent history up to the fold's start),
* the engine, replay (``replay=True``: live recent history and online recalibration from
  outcomes as they become known), and replay as the service quotes (``served=True``: recent
  history from the model's own record),
* both again with ``Settings(use_open_items=False)`` (open rows dropped),
* every peer, static,

and records the on-time rate, its gap to the target, the worst segment with >= 300 items, the
mean promise, the pinball loss at the promise level, and the seconds spent training and quoting.

Usage::

    python benchmarks/run.py                      # full run, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick              # smoke: small data, 2 folds, report in /tmp
    python benchmarks/run.py --datasets tickets flights --folds 3 --out /tmp/r.md

Work is spread over ``--jobs`` worker processes (one fold at a time each), every worker limited
to ``--threads`` OpenMP threads (LightGBM in the engine and in the peers alike). One thread per
worker is the default on purpose: on a shared machine, OpenMP threads that busy-wait for each
other slow LightGBM down by up to 100x when another process competes for the cores, which makes
timings meaningless; single-threaded workers are immune to that.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import logging
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import datasets, engine_fingerprint, peers  # noqa: E402

if TYPE_CHECKING:
    from eta.data import History

TARGET_GAP = 0.015
TARGET_WORST = 0.85
ENGINE_RUNS = (
    ("engine static", False, False, True),
    ("engine replay", True, False, True),
    ("engine replay, as served", True, True, True),
    ("engine static, open dropped", False, False, False),
    ("engine replay, open dropped", True, False, False),
)
"""(method, replay, served, use_open_items): see :func:`eta.backtest.run_backtest`."""
PEER_NAMES = tuple(p.name for p in peers.all_peers())
METHODS = tuple(run[0] for run in ENGINE_RUNS) + PEER_NAMES
QUICK_FOLDS = 2


# --------------------------------------------------------------------------------------------
# One fold
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _dataset(name: str, quick: bool) -> datasets.BenchmarkDataset:
    return datasets.load(name, quick=quick)


@contextmanager
def _timed_fits(cache: dict | None) -> Iterator[tuple[list[float], list[float]]]:
    """Seconds of ``EtaModel.fit`` while the block runs (run_backtest fits internally).

    Yields two lists: the training seconds to report per fit, and the seconds actually spent
    inside ``fit`` (what to subtract from the run's wall time to get the quoting time).

    With a ``cache`` (one per fold), a fit of the same settings on the same history at the same
    moment is done once and copied: static and replay train identical models (LightGBM is seeded and
    deterministic), so the second fit would only burn time. The copy reports the seconds the
    original fit took (and copying it counts as time spent, not as quoting).
    """
    from eta.model import EtaModel

    original = EtaModel.fit
    reported: list[float] = []
    spent: list[float] = []

    def fit(self: EtaModel, history: History) -> EtaModel:
        key = (self.spec.to_yaml(), self.settings, history.as_of, len(history.frame))
        began = time.perf_counter()
        if cache is not None and key in cache:
            state, seconds = cache[key]
            self.__dict__.update(copy.deepcopy(state))
        else:
            original(self, history)
            seconds = time.perf_counter() - began
            if cache is not None:
                cache[key] = (copy.deepcopy(self.__dict__), seconds)
        reported.append(seconds)
        spent.append(time.perf_counter() - began)
        return self

    EtaModel.fit = fit  # type: ignore[method-assign]
    try:
        yield reported, spent
    finally:
        EtaModel.fit = original  # type: ignore[method-assign]


def _row(
    dataset: str,
    fold: int,
    month: str,
    method: str,
    metrics: dict,
    train_s: float,
    quote_s: float,
) -> dict:
    return {
        "dataset": dataset,
        "fold": fold,
        "month": month,
        "method": method,
        "items": metrics["items"],
        "on_time": metrics["on_time_rate"],
        "gap": metrics["gap"],
        "worst_segment": metrics["worst_segment"],
        "worst_on_time": metrics["worst_segment_on_time_rate"],
        "mean_promise_h": metrics["mean_promise_hours"],
        "pinball": metrics["pinball_loss"],
        "train_s": train_s,
        "quote_s": quote_s,
    }


def run_fold(name: str, quick: bool, fold: int, threads: int, share_fit: bool) -> list[dict]:
    """Every method on one fold of one dataset; one result row per method."""
    from threadpoolctl import threadpool_limits

    from eta.allowance import shown_hours
    from eta.backtest import period_items, run_backtest
    from eta.data import START
    from eta.evaluation import promise_metrics
    from eta.model import Settings

    warnings.filterwarnings("ignore", category=UserWarning)  # sklearn/LightGBM feature names
    logging.disable(logging.INFO)  # MAPIE turns on INFO logging of quantile crossings
    with threadpool_limits(limits=threads, user_api="openmp"):
        data = _dataset(name, quick)
        history = data.history
        test_start, test_end = data.folds[fold]
        month = test_start.tz_convert(history.spec.timezone).strftime("%Y-%m")
        items = period_items(history, test_start, test_end)
        actual = data.actual_hours(items)
        confidence = history.spec.confidence
        rows = []
        fits_cache: dict | None = {} if share_fit else None
        for method, replay, served, use_open in ENGINE_RUNS:
            began = time.perf_counter()
            with _timed_fits(fits_cache) as (train_times, fit_times):
                result = run_backtest(
                    history,
                    test_start,
                    test_end,
                    replay=replay,
                    served=served,
                    settings=Settings(use_open_items=use_open),
                    actual_hours=actual,
                )
            quote_s = time.perf_counter() - began - sum(fit_times)
            rows.append(_row(name, fold, month, method, result.metrics, sum(train_times), quote_s))

        began = time.perf_counter()
        fold_data = peers.fold_data(history, items, test_start)
        features_s = time.perf_counter() - began  # shared by all peers: counted in each
        segments = items["segment"].to_numpy()
        clock, rounding = data.clock, history.spec.promise_rounding
        begin = clock.effective_start(items[START])
        for peer in peers.all_peers():
            began = time.perf_counter()
            peer.fit(fold_data)
            fitted = time.perf_counter()
            # Judged as customers would be told it: rounded up as the engine's promises are.
            promise = shown_hours(clock, begin, peer.promise_hours(fold_data), rounding)
            quoted = time.perf_counter()
            metrics = promise_metrics(actual, promise, segments, confidence)
            rows.append(
                _row(
                    name,
                    fold,
                    month,
                    peer.name,
                    metrics,
                    fitted - began + features_s,
                    quoted - fitted,
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# Aggregation and report
# --------------------------------------------------------------------------------------------


def aggregate(folds: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and method, over folds: mean |gap|, on-time, worst segment, promise, pinball."""
    grouped = folds.assign(abs_gap=folds["gap"].abs()).groupby(["dataset", "method"], sort=False)
    out = grouped.agg(
        folds=("fold", "size"),
        mean_abs_gap=("abs_gap", "mean"),
        max_abs_gap=("abs_gap", "max"),
        on_time=("on_time", "mean"),
        min_worst_on_time=("worst_on_time", "min"),
        mean_promise_h=("mean_promise_h", "mean"),
        pinball=("pinball", "mean"),
        train_s=("train_s", "mean"),
        quote_s=("quote_s", "mean"),
    ).reset_index()
    # groupby(sort=False) keeps the order of the (already sorted) fold rows
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.1f}%"


def _pt(value: float) -> str:
    return f"{100 * value:+.1f} pt" if not pd.isna(value) else "–"


def _num(value: float, digits: int = 2) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def summary_table(summary: pd.DataFrame) -> str:
    """The per-dataset Markdown table of aggregated results."""
    lines = [
        "| method | mean abs gap | max abs gap | on-time | min worst segment | mean promise h "
        "| pinball @P90 | train s | quote s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in summary.itertuples():
        lines.append(
            f"| {r.method} | {100 * r.mean_abs_gap:.1f} pt | {100 * r.max_abs_gap:.1f} pt "
            f"| {_pct(r.on_time)} | {_pct(r.min_worst_on_time)} | {_num(r.mean_promise_h)} "
            f"| {_num(r.pinball, 3)} | {_num(r.train_s, 1)} | {_num(r.quote_s, 1)} |"
        )
    return "\n".join(lines)


def fold_table(folds: pd.DataFrame) -> str:
    """Per-fold Markdown table: on-time (gap), worst segment, promise and pinball per method."""
    lines = [
        "| month | method | items | on-time | gap | worst segment (on-time) | mean promise h "
        "| pinball | train s | quote s |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in folds.itertuples():
        worst = "–" if pd.isna(r.worst_on_time) else f"{r.worst_segment} ({_pct(r.worst_on_time)})"
        lines.append(
            f"| {r.month} | {r.method} | {r.items} | {_pct(r.on_time)} | {_pt(r.gap)} | {worst} "
            f"| {_num(r.mean_promise_h)} | {_num(r.pinball, 3)} | {_num(r.train_s, 1)} "
            f"| {_num(r.quote_s, 2)} |"
        )
    return "\n".join(lines)


def verdict(summary: pd.DataFrame) -> list[str]:
    """The targets, checked against one dataset's aggregated numbers; one bullet per target."""
    by = summary.set_index("method")
    peer_rows = by.loc[[m for m in PEER_NAMES if m in by.index]]
    replay, static = by.loc["engine replay"], by.loc["engine static"]
    best_pinball = peer_rows["pinball"].idxmin()
    best_gap = peer_rows["mean_abs_gap"].idxmin()

    def mark(ok: bool) -> str:
        return "**PASS**" if ok else "**FAIL**"

    no_segment = pd.isna(replay["min_worst_on_time"])
    worst_ok = not no_segment and replay["min_worst_on_time"] >= TARGET_WORST
    static_ok = (static["mean_abs_gap"] <= peer_rows.loc[best_gap, "mean_abs_gap"]) or (
        static["mean_abs_gap"] <= TARGET_GAP
    )
    lines = [
        f"- {mark(replay['mean_abs_gap'] <= TARGET_GAP)} replay gap <= 1.5 pt: mean |gap| "
        f"{100 * replay['mean_abs_gap']:.2f} pt over {int(replay['folds'])} folds "
        f"(worst fold {100 * replay['max_abs_gap']:.1f} pt, mean on-time "
        f"{_pct(replay['on_time'])}).",
        (
            "- n/a worst segment >= 85%: no segment has 300 test items in a fold."
            if no_segment
            else f"- {mark(worst_ok)} worst segment >= 85% (replay, segments with >= 300 "
            f"items): lowest over folds {_pct(replay['min_worst_on_time'])} (static: "
            f"{_pct(static['min_worst_on_time'])})."
        ),
        f"- {mark(replay['pinball'] <= peer_rows.loc[best_pinball, 'pinball'])} engine replay "
        f"pinball <= best peer: {replay['pinball']:.3f} vs {best_pinball} "
        f"{peer_rows.loc[best_pinball, 'pinball']:.3f} "
        f"({100 * (replay['pinball'] / peer_rows.loc[best_pinball, 'pinball'] - 1):+.1f}%).",
        f"- {mark(static_ok)} static gap no worse than the best peer's or <= 1.5 pt: engine "
        f"static {100 * static['mean_abs_gap']:.2f} pt, best peer {best_gap} "
        f"{100 * peer_rows.loc[best_gap, 'mean_abs_gap']:.2f} pt (its worst segment "
        f"{_pct(peer_rows.loc[best_gap, 'min_worst_on_time'])}, the engine's "
        f"{_pct(static['min_worst_on_time'])}).",
    ]
    if "engine replay, as served" in by.index:
        served = by.loc["engine replay, as served"]
        lines.append(
            f"- As the service quotes (replay from the model's own record of recent history): "
            f"mean |gap| {100 * served['mean_abs_gap']:.2f} pt, worst segment "
            f"{_pct(served['min_worst_on_time'])}, pinball {served['pinball']:.3f}."
        )
    if "engine replay, open dropped" in by.index:
        dropped = by.loc["engine replay, open dropped"]
        dropped_static = by.loc["engine static, open dropped"]
        lines.append(
            f"- Censoring-awareness: on-time {_pct(static['on_time'])} static / "
            f"{_pct(replay['on_time'])} replay with open rows, "
            f"{_pct(dropped_static['on_time'])} / {_pct(dropped['on_time'])} with them dropped; "
            f"pinball {static['pinball']:.3f} / {replay['pinball']:.3f} vs "
            f"{dropped_static['pinball']:.3f} / {dropped['pinball']:.3f}."
        )
    return lines


def _load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def write_report(
    path: Path,
    folds: pd.DataFrame,
    summary: pd.DataFrame,
    descriptions: dict[str, str],
    context: dict[str, str],
) -> str:
    """Write RESULTS.md; return its text."""
    import lightgbm

    parts = [
        "# ETA engine benchmark",
        "",
        "Generated by `benchmarks/run.py`; do not edit by hand.",
        "",
        f"- command: `{context['command']}`",
        f"- date: {context['date']}",
        f"- machine: {os.cpu_count()} CPUs (`nproc`), {platform.platform()}, "
        f"Python {platform.python_version()}, LightGBM {lightgbm.__version__}",
        f"- engine: eta {context['eta_version']}, source hash {context['engine']} (sha256 of "
        "src/eta/*.py at the start of the run; other engineers edit the engine in parallel)",
        f"- parallelism: {context['jobs']} worker process(es), {context['threads']} OpenMP "
        f"thread(s) each; engine fit {context['fits']}",
        f"- load average (1/5/15 min): at start {context['load_start']}, at end "
        f"{context['load_end']} (other processes on the machine slow every method alike)",
        f"- wall time: {context['wall']}",
        "",
        "How to read: each fold trains on what was known at the start of a calendar month and "
        "promises every item that starts in that month at P90; *gap* is on-time rate minus 90%, "
        "*worst segment* is the lowest on-time rate of a calibration segment with at least 300 "
        "test items, *pinball* is the quantile loss at 0.9 in clock hours (lower is better at "
        "the same on-time rate). Every method's promise is judged as a customer is told it: "
        "rounded up as the spec says (deliveries to the end of the date, tickets to the hour; "
        "flights to the minute), the engine's after its rounding allowance, "
        "the peers' rounded as they come. Synthetic datasets are judged against the true "
        "finish times, "
        "so items still open at export count. Peers and the *open dropped* engine runs train "
        "on finished rows only. Static quotes (engine and peers) know the recent history only "
        "up to the fold's start, as `eta quote` does; replay quotes see every start and finish "
        "before the item's own start, and *as served* replays the way the service quotes: from "
        "the model's own record of recent history, recalibrated online from outcomes. "
        "*train s* includes feature computation; engine *quote s* includes replay's online "
        "recalibration.",
        "",
        "Targets: replay mean |gap| <= 1.5 pt; worst segment >= 85%; engine replay pinball <= "
        "best peer's; static mean |gap| no worse than the best peer's or <= 1.5 pt.",
        "",
    ]
    for name in summary["dataset"].unique():
        rows = summary[summary["dataset"] == name]
        parts += [
            f"## {name}",
            "",
            descriptions[name],
            "",
            summary_table(rows),
            "",
            "### Verdict",
            "",
            *verdict(rows),
            "",
            "<details><summary>Per fold</summary>",
            "",
            fold_table(folds[folds["dataset"] == name]),
            "",
            "</details>",
            "",
        ]
    text = "\n".join(parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(datasets.DATASETS), choices=list(datasets.DATASETS)
    )
    parser.add_argument(
        "--folds", type=int, default=None, help="use only the last N monthly folds (default all)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: small data, last 2 folds; report to /tmp/eta-bench/RESULTS-quick.md",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="report path (default benchmarks/RESULTS.md)"
    )
    parser.add_argument("--csv", type=Path, default=None, help="per-fold results as CSV")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes"
    )
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads per worker")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="fit the engine anew for replay instead of reusing the static run's identical fit",
    )
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = Path(
            "/tmp/eta-bench/RESULTS-quick.md" if args.quick else ROOT / "benchmarks/RESULTS.md"
        )
    if args.folds is None:
        args.folds = QUICK_FOLDS if args.quick else 6
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    load_start = _load_average()
    engine = engine_fingerprint()
    from eta import __version__ as eta_version

    began = time.perf_counter()
    tasks = []
    descriptions = {}
    for name in args.datasets:
        data = datasets.load(name, quick=args.quick)
        descriptions[name] = data.description
        n_folds = len(data.folds)
        tasks += [(name, fold) for fold in range(max(n_folds - args.folds, 0), n_folds)]
        del data
    # Heavy folds first (flights, later months) so that workers finish together.
    tasks.sort(key=lambda t: (t[0] != "flights", -t[1]))
    print(
        f"{len(tasks)} folds on {args.jobs} worker(s) x {args.threads} thread(s): "
        + ", ".join(args.datasets),
        flush=True,
    )
    rows: list[dict] = []

    def report_fold(name: str, fold: int, result: list[dict], seconds: float) -> None:
        rows.extend(result)
        done = len({(r["dataset"], r["fold"]) for r in rows})
        best = ", ".join(
            f"{r['method']} {100 * r['on_time']:.1f}%/{r['pinball']:.2f}"
            for r in result
            if r["method"] in ("engine static", "engine replay", "MAPIE CQR")
        )
        print(
            f"[{done}/{len(tasks)} {time.perf_counter() - began:6.0f}s] {name} "
            f"{result[0]['month']} in {seconds:.0f}s (on-time/pinball: {best})",
            flush=True,
        )

    if args.jobs <= 1:
        for name, fold in tasks:
            t0 = time.perf_counter()
            report_fold(
                name,
                fold,
                run_fold(name, args.quick, fold, args.threads, not args.refit),
                time.perf_counter() - t0,
            )
    else:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # workers start with the limit
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            started = {}
            futures = {}
            for name, fold in tasks:
                future = pool.submit(run_fold, name, args.quick, fold, args.threads, not args.refit)
                futures[future] = (name, fold)
                started[future] = time.perf_counter()
            for future in as_completed(futures):
                name, fold = futures[future]
                # Wall time since submission overstates queued folds; per-method times are exact.
                report_fold(name, fold, future.result(), time.perf_counter() - started[future])

    dataset_order = {name: i for i, name in enumerate(args.datasets)}
    method_order = {m: i for i, m in enumerate(METHODS)}
    folds = pd.DataFrame(rows)
    folds = folds.assign(
        _d=folds["dataset"].map(dataset_order), _m=folds["method"].map(method_order)
    )
    folds = folds.sort_values(["_d", "fold", "_m"]).drop(columns=["_d", "_m"])
    folds = folds.reset_index(drop=True)
    summary = aggregate(folds)
    wall = time.perf_counter() - began
    context = {
        "command": command,
        "engine": engine,
        "eta_version": eta_version,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "jobs": str(args.jobs),
        "threads": str(args.threads),
        "fits": "refit for every run" if args.refit else "shared by static and replay runs",
        "load_start": load_start,
        "load_end": _load_average(),
        "wall": f"{wall / 60:.1f} min",
    }
    text = write_report(args.out, folds, summary, descriptions, context)
    if args.csv:
        folds.to_csv(args.csv, index=False)
    print()
    print(text)
    print(f"\nwrote {args.out} in {wall / 60:.1f} min")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
