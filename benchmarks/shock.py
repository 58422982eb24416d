"""How fast replay promises come back to size after a shock: a ten-day carriers' strike.

The synthetic one-year deliveries history of the main benchmark, once as generated and once with a
strike: every parcel under way between 8 and 18 September 2025 is held until the strike ends (its
true finish moves later by the time it was held). Both histories are replayed from 1 August to
1 November with the same trained model, and each week's promises are compared: share kept, mean
promise, and the actual P90 of the week's parcels. After the strike, promises should come back to
the no-strike history's size; judged at the speed of the day, the strike's parcels (judged weeks
later, when parcels ran at their usual speed again) kept promises long for weeks.

Then the same for a model trained three weeks after the strike and quoting the next six weeks
statically, as `eta quote` does between retrainings: the strike's parcels sit in its history and
in its calibration period, and nothing live brings its promises back (a tester's Olist-like
export, trained three months after a strike, promised twice the true 90th percentile).

Usage: ``python benchmarks/shock.py [--out benchmarks/SHOCK.md]`` (about 30 seconds on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import publish, run_context  # noqa: E402
from eta import synthetic  # noqa: E402
from eta.backtest import period_items, run_backtest  # noqa: E402
from eta.calendar import Clock  # noqa: E402
from eta.data import START, load_history  # noqa: E402

STRIKE = (
    pd.Timestamp("2025-09-08", tz="Europe/Berlin"),
    pd.Timestamp("2025-09-18", tz="Europe/Berlin"),
)
TEST = ("2025-08-01", "2025-11-01")
STATIC = ("2025-10-06", "2025-11-17")
"""Static quotes from three weeks after the strike to before the November peak."""


def histories() -> dict[str, tuple[pd.DataFrame, synthetic.SyntheticHistory]]:
    """The benchmark's deliveries history as generated, and with the strike: (export, truth)."""
    sim = synthetic.deliveries(n=40_000, seed=2025, start="2025-01-01", days=365)
    spec = sim.spec
    start = sim.truth[spec.start]
    true_end = sim.truth["true_end"]
    held = (start < STRIKE[1]) & (true_end > STRIKE[0])
    struck_end = true_end.where(~held, true_end + (STRIKE[1] - np.maximum(start, STRIKE[0])))
    out = {}
    for name, ends in (("no strike", true_end), ("strike", struck_end)):
        export = sim.history.copy()
        export[spec.end] = ends.where(ends <= sim.as_of)
        out[name] = (export, ends)
    return sim, out


def weekly(
    sim: synthetic.SyntheticHistory,
    export: pd.DataFrame,
    ends: pd.Series,
    period: tuple[str, str] = TEST,
    replay: bool = True,
) -> pd.DataFrame:
    spec = sim.spec
    tz = spec.timezone
    history = load_history(export, spec, as_of=sim.as_of)
    t0, t1 = (pd.Timestamp(t, tz=tz) for t in period)
    items = period_items(history, t0, t1)
    clock = Clock.from_spec(spec)
    truth = pd.Series(ends.to_numpy(), index=export[spec.id].astype(str).to_numpy())
    actual = clock.hours_between(
        clock.effective_start(items[START]), truth.reindex(items[spec.id].astype(str)).to_numpy()
    )
    result = run_backtest(history, t0, t1, replay=replay, actual_hours=actual)
    promise = result.quotes["promise_hours"].to_numpy(float)
    week = pd.DatetimeIndex(items[START].to_numpy()).tz_convert(tz).tz_localize(None)
    frame = pd.DataFrame(
        {
            "week": week.to_period("W-SUN").start_time.date,
            "kept": actual <= promise,
            "promise": promise,
            "actual": actual,
        }
    )
    return frame.groupby("week").agg(
        items=("kept", "size"),
        kept=("kept", "mean"),
        promise=("promise", "mean"),
        p90=("actual", lambda a: np.quantile(a, 0.9)),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/SHOCK.md")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    sim, runs = histories()
    weeks = {name: weekly(sim, *run) for name, run in runs.items()}
    table = weeks["strike"].join(weeks["no strike"], rsuffix=" (no strike)")
    strike_end = STRIKE[1].tz_localize(None).date()
    after = [d for d in table.index if d >= strike_end]
    settled = table.loc[[d for d in after if (d - strike_end).days >= 14]]
    static = {name: weekly(sim, *run, STATIC, replay=False) for name, run in runs.items()}
    static_table = static["strike"].join(static["no strike"], rsuffix=" (no strike)")
    context = run_context("shock.py", argv, began)
    lines = [
        "# Promises after a shock",
        "",
        "Generated by `benchmarks/shock.py`; do not edit by hand.",
        "",
        f"- command: `{context['command']}`; date: {context['date']}; engine: {context['engine']};"
        f" wall time {context['wall']}",
        "- history: synthetic deliveries (n=40,000, seed 2025, 2025), as in `benchmarks/run.py`;"
        f" strike {STRIKE[0].date()} to {STRIKE[1].date()}: parcels under way are held until it"
        " ends",
        f"- replay from {TEST[0]} to {TEST[1]}, P90, trained on what was known on {TEST[0]}",
        "",
        *_weeks_table(table),
        "",
        f"From two weeks after the strike to the end ({len(settled)} weeks): {_summary(settled)}.",
        "",
        "## Static quotes after the strike",
        "",
        f"Trained on what was known on {STATIC[0]} (the strike's parcels in its calibration"
        f" period), quoting every parcel that starts until {STATIC[1]} without retraining.",
        "",
        *_weeks_table(static_table),
        "",
        f"All {len(static_table)} weeks: {_summary(static_table)}.",
    ]
    publish("\n".join(lines) + "\n", args.out)


def _weeks_table(table: pd.DataFrame) -> list[str]:
    lines = [
        "| week from | items | kept | mean promise h | actual P90 h | kept, no strike | "
        "mean promise h, no strike |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for day, row in table.iterrows():
        lines.append(
            f"| {day} | {int(row['items']):,} | {row['kept']:.1%} | {row['promise']:.1f} | "
            f"{row['p90']:.1f} | {row['kept (no strike)']:.1%} | {row['promise (no strike)']:.1f} |"
        )
    return lines


def _summary(weeks: pd.DataFrame) -> str:
    kept = np.average(weeks["kept"], weights=weeks["items"])
    calm = np.average(weeks["kept (no strike)"], weights=weeks["items (no strike)"])
    ratio = weeks["promise"].sum() / weeks["promise (no strike)"].sum()
    return (
        f"promises kept {kept:.1%} (no strike: {calm:.1%}), mean promise {ratio:.2f}x the"
        " no-strike history's"
    )


if __name__ == "__main__":
    main()
