"""``eta demo``: the whole product on embedded synthetic histories, in about a minute.

It writes the two histories and their specs, trains both models (logged to MLflow), backtests the
last month in replay mode against the simulation's ground truth, and quotes the items that were
still open at export time, so a newcomer sees real promises and real on-time rates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from eta import synthetic
from eta.backtest import period_items, run_backtest
from eta.calendar import Clock
from eta.data import load_history
from eta.evaluation import MIN_SEGMENT_ITEMS
from eta.model import EtaModel
from eta.quote import prepare_items, quote_items
from eta.settings import get_settings
from eta.tables import write_table
from eta.tracking import log_run


def run_demo(out: Path, rows: int, console: Console) -> dict[str, dict]:
    """Run the demo for both embedded datasets; returns each one's replay backtest metrics."""
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in ("tickets", "deliveries"):
        # Two years, as most real histories have: the model has seen a peak season before the
        # one it is tested on.
        sim = synthetic.by_name(name, n=rows, seed=7, start="2024-01-01", days=730)
        spec = sim.spec
        data_path, spec_path = out / f"{name}.parquet", out / f"{name}.yaml"
        write_table(sim.history, data_path)
        spec_path.write_text(spec.to_yaml(), encoding="utf-8")
        history = load_history(data_path, spec)

        test_start = (sim.as_of - pd.DateOffset(months=1)).normalize()
        with console.status(f"{name}: replay backtest of the last month"):
            items = period_items(history, test_start, None)
            truth = sim.truth.set_index(spec.id)["true_end"]
            clock = Clock.from_spec(spec)
            actual = clock.hours_between(
                clock.effective_start(items["start"]), truth.loc[items[spec.id].astype(str)]
            )
            result = run_backtest(history, test_start, replay=True, actual_hours=actual)
        metrics = result.metrics
        results[name] = metrics
        worst = metrics["worst_segment_on_time_rate"]  # None: no segment is big enough to judge
        console.print(
            f"[bold]{name}[/]: replay backtest from {test_start:%Y-%m-%d}, {metrics['items']:,} "
            f"items: on time [bold]{metrics['on_time_rate']:.1%}[/] (target "
            f"{spec.confidence:.0%}), worst segment "
            + (
                f"{worst:.1%}"
                if worst is not None
                else f"n/a (no segment of {MIN_SEGMENT_ITEMS} items)"
            )
            + f", mean promise {metrics['mean_promise_hours']:.1f} clock hours"
        )

        with console.status(f"{name}: training on the full history"):
            model = EtaModel(spec).fit(history)
            model_dir = model.save(out / "models" / name)
        log_run(
            f"demo train {name}",
            {"spec": name, "rows": rows, **model.settings.__dict__},
            {k: v for k, v in metrics.items() if isinstance(v, float)},
            model_dir=model_dir,
        )
        _show_quotes(console, model, sim, SECOND_LANGUAGE[name])
    console.print(
        f"\nModels in {out / 'models'}; runs in MLflow ({get_settings().tracking_uri}). "
        "Try: eta quote --model "
        + str(out / "models" / "tickets")
        + " --data ITEMS.csv --out q.csv"
    )
    return results


SECOND_LANGUAGE = {"tickets": "bs", "deliveries": "ru"}
"""The demo says each quote in English and in a language of the history's region."""


def _show_quotes(
    console: Console, model: EtaModel, sim: synthetic.SyntheticHistory, second: str
) -> None:
    """New items quoted as they start, and items still open at export re-quoted then."""
    spec = model.spec
    history = sim.history
    new = history.tail(3)
    # Open items of three ages (one of the oldest tenth, the median, the newest): what agents
    # re-quote every day. The very oldest are strays beyond anything history knows.
    still_open = history[history[spec.end].isna()].sort_values(spec.start)
    still_open = still_open.iloc[[len(still_open) // 10, len(still_open) // 2, -1]]
    for title, raw, now in (
        ("new items, quoted as they start", new, None),
        ("items still open at export, re-quoted then", still_open, sim.as_of),
    ):
        items, _ = prepare_items(raw, spec)
        english = quote_items(model, items, now=now)
        other = quote_items(model, items, now=now, locale=second)
        table = Table(title=f"{spec.name}: {title} ({spec.timezone})")
        for column in ("id", "started", "likely", "promise", "follow-up", "risks"):
            table.add_column(column, overflow="fold")
        fmt = "%a %d %b %H:%M"
        for (_, row), (_, q) in zip(raw.iterrows(), english.iterrows(), strict=True):
            table.add_row(
                str(q["id"]),
                pd.Timestamp(row[spec.start]).tz_convert(spec.timezone).strftime(fmt),
                *(
                    q[c].tz_convert(spec.timezone).strftime(fmt)
                    for c in ("likely_at", "promise_at", "follow_up_at")
                ),
                q["risk_codes"].replace(",", ", "),
            )
        console.print(table)
        first, translated = english.iloc[0], other.iloc[0]
        console.print(f"  [bold]{first['id']}[/], customer (en): “{first['customer_message']}”")
        console.print(f"  customer ({second}): “{translated['customer_message']}”")
        console.print(f"  agent: {first['agent_summary']}", highlight=False)
