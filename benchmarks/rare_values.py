"""Rare-value benchmark: are promises kept for items whose category values history rarely saw?

Why this exists: a real category column has a long tail (a helpdesk's 60 categories, a shop's
hundreds of products) and the trees place a value seen a few dozen times from a few dozen
items, or not at all. The main benchmark's categories are all common, so it cannot tell. This
script generates helpdesks whose products follow Zipf's law, each product with its own speed,
trains on the first nine months, quotes the tenth statically, and counts promises kept against
the true finish by how many training items the item's product had (:mod:`eta.familiarity`).

Reading it: every band should keep about 90%; *promise / true P90* near 1 means no padding
beyond what the item's own distribution needs.

Usage::

    python benchmarks/rare_values.py                  # 12 helpdesks, ~1 min
    python benchmarks/rare_values.py --seeds 2 --out /tmp/r.md
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

from benchmarks import publish, run_context  # noqa: E402

ITEMS = 40_000
PRODUCTS = 150
PRODUCT_SPREAD = 0.6
"""Standard deviation of the products' log speeds: the slowest of 150 about 4x the median."""
SCATTER = 0.8
"""Standard deviation of log hours around an item's true median."""
Z90 = 1.2816
BANDS = ((0, 30), (30, 100), (100, 300), (300, None))
EXPORT = pd.Timestamp("2026-01-01", tz="UTC")
TRAINED = pd.Timestamp("2025-10-01", tz="UTC")
QUOTED_UNTIL = pd.Timestamp("2025-11-01", tz="UTC")


def helpdesk(seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A year of tickets (open at the export when not yet solved), each one's true hours to
    its solution and true P90."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.uniform(0, 365, ITEMS))
    opened = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(days, "D")
    popularity = 1.0 / np.arange(1, PRODUCTS + 1) ** 1.4
    product = rng.choice(PRODUCTS, ITEMS, p=popularity / popularity.sum())
    priority = rng.choice(3, ITEMS, p=[0.2, 0.5, 0.3])
    median = (
        np.array([4.0, 12.0, 30.0])[priority]
        * np.exp(rng.normal(0, PRODUCT_SPREAD, PRODUCTS))[product]
    )
    hours = median * np.exp(SCATTER * rng.normal(size=ITEMS))
    solved = opened + pd.to_timedelta(hours, "h")
    frame = pd.DataFrame(
        {
            "ticket": np.arange(ITEMS),
            "opened": opened,
            "solved": solved.where(solved < EXPORT),
            "priority": np.array(["urgent", "normal", "low"])[priority],
            "product": [f"product {k}" for k in product],
        }
    )
    return frame, hours, median * np.exp(SCATTER * Z90)


def run_seed(seed: int) -> list[dict]:
    from eta.data import START, load_history, seen_at
    from eta.model import EtaModel
    from eta.spec import DatasetSpec

    spec = DatasetSpec.from_dict(
        {
            "name": "helpdesk",
            "kind": "resolution",
            "start": "opened",
            "end": "solved",
            "id": "ticket",
            "timezone": "UTC",
            "clock": "wall",
            "features": {"categorical": ["priority", "product"]},
            "segments": ["priority"],
        }
    )
    frame, true_hours, true_p90 = helpdesk(seed)
    history = load_history(frame, spec, as_of=EXPORT)
    model = EtaModel(spec).fit(seen_at(history, TRAINED))
    quoted = (history.frame[START] >= TRAINED) & (history.frame[START] < QUOTED_UNTIL)
    items = history.frame[quoted]
    promise = model.quantiles(items, [spec.confidence], online=False)[:, 0]
    rows = items["ticket"].to_numpy(dtype=np.int64)  # each ticket's number is its row
    hours = true_hours[rows]
    seen = frame.loc[frame["opened"] < TRAINED, "product"].value_counts()
    familiar = items["product"].astype(str).map(seen).fillna(0).to_numpy()
    out = []
    for low, high in BANDS:
        band = (familiar >= low) & (familiar < (high or np.inf))
        ratio = promise[band] / true_p90[rows][band]
        out.append(
            {
                "seed": seed,
                "band": f"{low}–{high - 1}" if high else f"{low}+",
                "items": int(band.sum()),
                "kept": float(np.mean(hours[band] <= promise[band])),
                "ratio": float(np.median(ratio)),
                "off": float(np.mean(np.abs(np.log(ratio)))),
            }
        )
    return out


def report(rows: pd.DataFrame, context: dict) -> str:
    summary = rows.groupby("band", sort=False).agg(
        items=("items", "sum"),
        kept=("kept", "mean"),
        ratio=("ratio", "mean"),
        off=("off", "mean"),
    )
    lines = [
        "# Promises for rarely seen values",
        "",
        f"`{context['command']}` on {context['date']} ({context['wall']}; Python "
        f"{platform.python_version()}; engine source hash {context['engine']}). "
        f"{rows['seed'].nunique()} generated helpdesks of {ITEMS:,} tickets over 2025, "
        f"{PRODUCTS} products by Zipf's law (exponent 1.4), each product's speed lognormal "
        f"(sd {PRODUCT_SPREAD}), three priorities as segments. Trained on what was known on "
        "1 October, October quoted statically at P90, judged against the true finish. A band is "
        "the number of training items (before 1 October) of the item's product.",
        "",
        "| training items of the product | items quoted | kept | promise / true P90 "
        "(median) | mean abs log(promise / true P90) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in summary.itertuples():
        lines.append(f"| {r.Index} | {r.items:,} | {r.kept:.1%} | {r.ratio:.2f} | {r.off:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=12, help="generated helpdesks")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RARE_VALUES.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    began = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        seed_rows = run_seed(seed)
        rows += seed_rows
        print(f"helpdesk {seed}: " + ", ".join(f"{r['band']} {r['kept']:.1%}" for r in seed_rows))
    publish(report(pd.DataFrame(rows), run_context("rare_values.py", argv, began)), args.out)


if __name__ == "__main__":
    main()
