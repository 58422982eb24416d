"""Unknown-value benchmark: are promises kept when a quote lacks one of the values it is learnt on?

Why this exists: quotes meet values the model never saw (a new category, a blank field, a column
missing from the items file, a missing number). The main benchmark (:mod:`benchmarks.run`) quotes
items with every value known, so it says nothing about them. This script trains on what was known
at each fold's start, as a static backtest does, quotes the fold's items once with every value
known and once per declared feature with that feature unknown (categories: a value never seen;
numbers: missing), and counts promises kept against the true finish.

Reading it: with a value unknown, a promise should still hold about as often as with it known
(it may be longer: not knowing costs something). Static months drift, so "all known" itself is
not 90% everywhere; compare each row with it.

Usage::

    python benchmarks/unknown_values.py                  # tickets, deliveries, flights; 3 folds
    python benchmarks/unknown_values.py --datasets flights --folds 2 --out /tmp/u.md
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

NEVER_SEEN = "(a value never seen)"
KNOWN = "(all known)"


def run_fold(data: datasets.BenchmarkDataset, fold: int) -> list[dict]:
    """Promises kept and their median, per feature made unknown, on one fold."""
    from eta.backtest import period_items
    from eta.data import seen_at
    from eta.model import EtaModel

    history, spec = data.history, data.history.spec
    test_start, test_end = data.folds[fold]
    model = EtaModel(spec).fit(seen_at(history, test_start))
    items = period_items(history, test_start, test_end)
    actual = data.actual_hours(items)
    known = ~np.isnan(actual)
    variants = {KNOWN: items}
    variants |= {c: items.assign(**{c: NEVER_SEEN}) for c in spec.features.categorical}
    variants |= {c: items.assign(**{c: np.nan}) for c in spec.features.numeric}
    month = test_start.tz_convert(spec.timezone).strftime("%Y-%m")
    rows = []
    for unknown, quoted in variants.items():
        promise = model.quantiles(quoted, [spec.confidence], online=False)[:, 0]
        rows.append(
            {
                "dataset": data.name,
                "month": month,
                "unknown": unknown,
                "items": int(known.sum()),
                "kept": float(np.mean(actual[known] <= promise[known])),
                "median_promise": float(np.median(promise)),
            }
        )
    return rows


def report(rows: pd.DataFrame, context: dict) -> str:
    summary = rows.groupby(["dataset", "unknown"], sort=False).agg(
        folds=("month", "size"), kept=("kept", "mean"), median_promise=("median_promise", "mean")
    )
    lines = [
        "# Promises with a value unknown",
        "",
        f"`{context['command']}` on {context['date']} ({context['wall']}; Python "
        f"{platform.python_version()}; engine source hash {context['engine']}). Static quotes "
        "(trained at each fold's start, a month quoted from the model's own record), P90, judged "
        "against the true finish. Each row makes one declared feature unknown for every item: "
        "a category never seen, or a missing number.",
        "",
        "| dataset | unknown | folds | kept | vs all known | median promise (clock h) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for (name, unknown), r in summary.iterrows():
        base = summary.loc[(name, KNOWN), "kept"]
        lines.append(
            f"| {name} | {unknown} | {r['folds']} | {r['kept']:.1%} | "
            f"{(r['kept'] - base) * 100:+.1f} pt | {r['median_promise']:.1f} |"
        )
    lines += ["", "Per fold:", "", "| dataset | month | unknown | items | kept | median promise |"]
    lines.append("|---|---|---|---:|---:|---:|")
    for r in rows.itertuples():
        lines.append(
            f"| {r.dataset} | {r.month} | {r.unknown} | {r.items} | {r.kept:.1%} | "
            f"{r.median_promise:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["tickets", "deliveries", "flights"])
    parser.add_argument("--folds", type=int, default=3, help="the last N monthly folds")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "UNKNOWN_VALUES.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    began = time.perf_counter()
    rows = []
    for name in args.datasets:
        data = datasets.load(name)
        for fold in range(len(data.folds))[-args.folds :]:
            fold_rows = run_fold(data, fold)
            rows += fold_rows
            kept = ", ".join(f"{r['unknown']} {r['kept']:.1%}" for r in fold_rows)
            print(f"{name} {fold_rows[0]['month']}: {kept}", flush=True)
    publish(report(pd.DataFrame(rows), run_context("unknown_values.py", argv, began)), args.out)


if __name__ == "__main__":
    main()
