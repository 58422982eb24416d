"""Thin-segment benchmark: are promises kept for a declared segment too thin to calibrate alone?

Why this exists: a segment with too few effective items in the calibration period borrows its
parent's distribution, moved to its own median and widened as its earlier items say
(:meth:`eta.calibration.MondrianCalibration.fit`). The main benchmark's segments are all
common, so it cannot tell whether that holds for the two ways a segment is thin in practice:

* **workshops**: recall repairs are 3% of the repairs, 2.5x slower and twice as wide as the
  rest; a few hundred a year, thin because rare;
* **claims**: theft and injury claims take 60 and 90 days at the median before their price
  lengthens them (about 100 and 155 days with it), and spread wider than glass and collision
  claims; with two years of history their P90 is longer than the calibration period (its
  latest fifth, 146 days), so they are thin there because most of their latest claims are
  still open.

Each history is trained on everything known at its export and quoted statically on what starts
after it; promises are judged against the true finish. *expected kept* is the mean of each
item's true probability of finishing by its promise (less noisy than *kept*); *promise / true
P90* near 1 means no padding beyond what the item's own distribution needs.

Usage::

    python benchmarks/thin_segments.py                  # 8 workshops, 6 claim books, ~5 min
    python benchmarks/thin_segments.py --seeds 2 --out /tmp/t.md
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
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import publish, run_context  # noqa: E402

Z90 = norm.ppf(0.9)
WORKSHOP_ITEMS, WORKSHOP_QUOTED = 13_000, 6_000
CLAIMS_ITEMS, CLAIMS_DAYS, CLAIMS_QUOTED_DAYS = 12_000, 730, 90
KINDS = {
    # kind: share, log-hours offset of the median, spread (sd of log hours)
    "workshops": {
        "retail": (0.4, 0.0, 0.55),
        "online": (0.3, -0.2, 0.6),
        "dealer": (0.17, 0.25, 0.7),
        "fleet": (0.1, -0.35, 0.5),
        "recall": (0.03, 0.9, 1.0),
    },
    "claims": {
        "glass": (0.45, np.log(5 * 24), 0.5),
        "collision": (0.35, np.log(20 * 24), 0.6),
        "theft": (0.12, np.log(60 * 24), 0.8),
        "injury": (0.08, np.log(90 * 24), 0.7),
    },
}


def generated(world: str, n: int, seed: int, days: float) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` items over ``days`` from 2024-01-01: a kind, a fault code and a price that lengthen
    any item; each item's true median hours and spread alongside (as ``true_median`` and
    ``true_spread``)."""
    rng = np.random.default_rng(seed)
    kinds = pd.DataFrame(KINDS[world], index=["share", "offset", "spread"]).T
    kind = rng.choice(kinds.index.to_numpy(), n, p=kinds["share"].to_numpy())
    offset, spread = kinds.loc[kind, "offset"].to_numpy(), kinds.loc[kind, "spread"].to_numpy()
    fault = rng.integers(20, size=n)
    price = rng.uniform(0, 5000, n)
    base = 2.5 if world == "workshops" else 0.0
    median = np.exp(base + offset + np.linspace(-0.6, 0.6, 20)[fault] + 0.3 * np.log1p(price / 400))
    hours = median * np.exp(spread * rng.standard_normal(n))
    start = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, days, n)), unit="D"
    )
    frame = pd.DataFrame(
        {
            "received": start,
            "closed": start + pd.to_timedelta(hours, unit="h"),
            "kind": kind,
            "fault_code": [f"F{f}" for f in fault],
            "price": price,
            "true_median": median,
            "true_spread": spread,
        }
    )
    return frame, hours


def run_seed(world: str, seed: int) -> list[dict]:
    from eta.data import load_history
    from eta.model import EtaModel
    from eta.quote import prepare_items, quote_items
    from eta.spec import DatasetSpec

    spec = DatasetSpec.from_dict(
        {
            "name": world,
            "kind": "resolution",
            "start": "received",
            "end": "closed",
            "timezone": "UTC",
            "clock": "wall",
            "features": {"categorical": ["kind", "fault_code"], "numeric": ["price"]},
            "segments": ["kind"],
        }
    )
    if world == "workshops":
        days = 300 * (WORKSHOP_ITEMS + WORKSHOP_QUOTED) / WORKSHOP_ITEMS
        frame, hours = generated(world, WORKSHOP_ITEMS + WORKSHOP_QUOTED, seed, days)
        export = frame["received"].iloc[WORKSHOP_ITEMS - 1]
    else:
        days = CLAIMS_DAYS + CLAIMS_QUOTED_DAYS
        total = int(CLAIMS_ITEMS * days / CLAIMS_DAYS)
        frame, hours = generated(world, total, seed, days)
        export = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=CLAIMS_DAYS)
    known = frame[frame["received"] <= export].drop(columns=["true_median", "true_spread"])
    known["closed"] = known["closed"].where(known["closed"] <= export)
    model = EtaModel(spec).fit(load_history(known, spec, as_of=export))
    later = frame["received"] > export
    items, _ = prepare_items(frame[later].drop(columns="closed").reset_index(drop=True), spec)
    quotes = quote_items(model, items, online=False)
    started = frame.loc[later, "received"].reset_index(drop=True)
    promise = (pd.to_datetime(quotes["promise_at"], utc=True) - started).dt.total_seconds() / 3600
    promise = promise.to_numpy()
    truth = frame[later].reset_index(drop=True)
    true_p90 = truth["true_median"].to_numpy() * np.exp(Z90 * truth["true_spread"].to_numpy())
    expected = norm.cdf(
        np.log(promise / truth["true_median"].to_numpy()) / truth["true_spread"].to_numpy()
    )
    out = []
    by_key = model.calibration_.by_key
    for kind in KINDS[world]:
        rows = truth["kind"].to_numpy() == kind
        # What quotes after the export use: the twin for quotes made ahead, where there is one.
        distribution = by_key.get(f"ahead|1:{kind}", by_key.get(f"1:{kind}"))
        thin = distribution is None or distribution.borrowed_from is not None
        out.append(
            {
                "world": world,
                "seed": seed,
                "kind": kind,
                "items": int(rows.sum()),
                "kept": float(np.mean(hours[later.to_numpy()][rows] <= promise[rows])),
                "expected": float(np.mean(expected[rows])),
                "ratio": float(np.median(promise[rows] / true_p90[rows])),
                "thin": thin,
                "stretch": getattr(distribution, "stretch", 1.0) if thin else np.nan,
            }
        )
    return out


def report(rows: pd.DataFrame, context: dict) -> str:
    summary = rows.groupby(["world", "kind"], sort=False).agg(
        items=("items", "sum"),
        kept=("kept", "mean"),
        expected=("expected", "mean"),
        worst=("expected", "min"),
        ratio=("ratio", "mean"),
        thin=("thin", "mean"),
        stretch=("stretch", "mean"),  # over the histories where the kind was thin
    )
    seeds = rows.groupby("world")["seed"].nunique()
    lines = [
        "# Promises for thin segments",
        "",
        f"`{context['command']}` on {context['date']} ({context['wall']}; Python "
        f"{platform.python_version()}; engine source hash {context['engine']}). "
        f"{seeds.get('workshops', 0)} generated workshops of {WORKSHOP_ITEMS:,} repairs, each "
        f"quoted on its next {WORKSHOP_QUOTED:,}; {seeds.get('claims', 0)} generated claim "
        f"books of {CLAIMS_ITEMS:,} claims over {CLAIMS_DAYS} days, each quoted on the next "
        f"{CLAIMS_QUOTED_DAYS} days. Static P90 promises, judged against the true finish; "
        "means over the histories. *thin* is the share of histories where the kind borrowed its "
        "parent's shape; *stretch* how much it was widened there (mean over those histories).",
        "",
        "| history | kind | items quoted | kept | expected kept | worst history (expected) "
        "| promise / true P90 (median) | thin | stretch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (world, kind), r in summary.iterrows():
        stretch = "–" if np.isnan(r["stretch"]) else f"{r['stretch']:.2f}"
        lines.append(
            f"| {world} | {kind} | {int(r['items']):,} | {r['kept']:.1%} | {r['expected']:.1%} | "
            f"{r['worst']:.1%} | {r['ratio']:.2f} | {r['thin']:.0%} | {stretch} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=None, help="histories of each kind")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "THIN_SEGMENTS.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    began = time.perf_counter()
    rows = []
    for world, seeds in (("workshops", args.seeds or 8), ("claims", args.seeds or 6)):
        for seed in range(seeds):
            seed_rows = run_seed(world, seed)
            rows += seed_rows
            print(
                f"{world} {seed}: " + ", ".join(f"{r['kind']} {r['kept']:.1%}" for r in seed_rows)
            )
    publish(report(pd.DataFrame(rows), run_context("thin_segments.py", argv, began)), args.out)


if __name__ == "__main__":
    main()
