"""Monitoring report: of the promises made, how many held? Per segment, per week, with alerts.

Join the quotes that were given (the output of ``eta quote`` or ``eta backtest --out``) with what
happened since (an export with the spec's id and end columns, or a file with ``id`` and
``finished_at``) and judge every promise that has come due (:mod:`eta.monitoring`).

    python pipelines/monitor.py --quotes q.parquet --outcomes export.parquet --spec tickets.yaml

Exit status: 0 no alert, 1 some segment keeps fewer promises than its target beyond noise (the
noise of all the segments judged together: a model on target everywhere alerts in at most 5% of
runs), 2 bad input. With ``--spec`` and an export that has the spec's segment columns, segments
are the items' own ('normal / security'), as ``eta backtest`` names them.

A segment that keeps *more* promises than its target beyond the same noise is over-padded: its
promises are later than they need be, which loses sales at checkout, but they hold. It is
printed, and written to the report and ``monitoring.json``, and leaves the exit status as it is
(0 when nothing else is wrong): a scheduler pages someone on any status but 0, and over-padding
can wait for the next retrain. Both directions are one family of tests, so a model on target
everywhere raises either finding in at most 5% of runs. How much earlier its promises could have
been is said on the spec's clock (working hours for a business clock; clock hours without
``--spec``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from eta.calendar import Clock
from eta.cli import friendly_errors, option_timestamp, report_rejected
from eta.data import MAX_REJECTED
from eta.monitoring import promise_report, read_promises, report_files, write_report
from eta.spec import DatasetSpec
from eta.tables import DataError, quarantine_beside, write_table

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
@friendly_errors
def main(
    quotes: Annotated[Path, typer.Option(help="Quotes given (CSV or Parquet).")],
    outcomes: Annotated[Path, typer.Option(help="What happened (CSV or Parquet).")],
    spec: Annotated[
        Path | None,
        typer.Option(help="Read outcomes as an export of this spec (its id and end columns)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="When the outcomes were exported: promises due by then are judged (default: "
            "the outcomes' latest finish, not now: an older export's open items would count as "
            "late ever since)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("runs/monitor"),
) -> None:
    """Judge every promise that has come due and write a report."""
    from eta.tracking import log_run

    dataset = DatasetSpec.from_yaml(spec) if spec is not None else None
    given, happened, rejected = read_promises(quotes, outcomes, dataset)
    for path, rows in rejected.items():
        write_table(rows, quarantine_beside(path))
        report_rejected(rows, quarantine_beside(path))
        if len(rows) > MAX_REJECTED * rows.attrs["of"]:  # 29 rows of 16,000 judged as all
            raise DataError(
                f"{path}: {len(rows):,} of {rows.attrs['of']:,} rows could not be used, more "
                f"than {MAX_REJECTED:.0%} (they are in {quarantine_beside(path)}); nothing "
                "was judged"
            )
    zone = dataset.timezone if dataset is not None else "UTC"
    moment = option_timestamp(as_of, "as-of", zone)
    if moment is None:
        latest = happened["finished_at"].max()
        moment = pd.Timestamp.now(tz="UTC") if pd.isna(latest) else pd.Timestamp(latest)
        what = (
            "now: the outcomes hold no finish" if pd.isna(latest) else "the outcomes' latest finish"
        )
        Console(stderr=True).print(
            f"judging as of {moment:%Y-%m-%d %H:%M} UTC, {what} "
            "(--as-of sets when the outcomes were exported)",
            highlight=False,
        )
    clock = Clock.from_spec(dataset) if dataset is not None else None
    report = promise_report(given, happened, moment, clock=clock)
    path = write_report(report, out)
    console = Console()
    o = report.overall
    console.print(
        f"{o['judged']:,} promises due, {o['on_time_rate']:.1%} kept "
        f"(target {report.confidence:.0%}); report: {path}"
        if o["judged"]
        else f"no promise has come due yet ({o['not_due_yet']:,} not yet); report: {path}"
    )
    for alert in report.alerts:
        console.print(f"[yellow]alert[/] {alert}")
    for finding in report.over_padded:
        console.print(f"[cyan]over-padded[/] {finding}")
    params = {"quotes": str(quotes), "outcomes": str(outcomes), "as_of": moment.isoformat()}
    counts = {
        "segments_alerted": len(report.alerts),
        "segments_over_padded": len(report.over_padded),
    }
    log_run("monitor", params, {**o, **counts}, files=report_files(out))
    raise typer.Exit(1 if report.alerts else 0)


if __name__ == "__main__":
    app()
