"""Retrain on fresh history and promote the new model only if it keeps promises better.

The data team's scheduled job (nightly, weekly): validate the export, train a candidate, compare it
with the champion on the latest period whose outcomes are known, write a report with plots, log
everything to MLflow, register the new version and move ``@champion`` to it only when the gate
(:class:`eta.promotion.Gate`) says so, and no alias at all when the export differs from the
champion's history as a faulty one would (:func:`eta.promotion.export_changed`). The service
picks the new champion up on its next reload.

    python pipelines/retrain_and_promote.py --spec tickets.yaml --data tickets.parquet

Exit status: 0 promoted, 1 not promoted (the report says why), 2 bad input, 3 the MLflow
tracking store cannot be used. A candidate identical to a registered version (the same export,
spec and settings: a job run twice) is not registered again. Identical to the champion it exits 1,
"not promoted, identical to version N (@champion)": the champion stays in service, as after any
candidate that is not promoted, and a scheduler that accepts 0 and 1 as a completed run needs no
new status to learn. Identical to the challenger, the gate decides as for any candidate, and a
promotion moves ``@champion`` to the challenger's version.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from eta.cli import (
    DataOption,
    MaxRejectedOption,
    QuarantineOption,
    SpecOption,
    friendly_errors,
    load_checked_history,
    said_store,
)
from eta.promotion import Gate, retrain_and_promote
from eta.spec import DatasetSpec
from eta.tracking import check_store

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
@friendly_errors
def main(
    spec: SpecOption,
    data: DataOption,
    out: Annotated[Path, typer.Option(help="Where the model and the report go.")] = Path(
        "runs/retrain"
    ),
    name: Annotated[
        str | None, typer.Option(help="Registered model name (default: the spec's name).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Retrain on what was known at this time (ISO-8601).")
    ] = None,
    holdout_days: Annotated[float, typer.Option(help="Days of starts to compare on.")] = 28.0,
    tolerance: Annotated[float, typer.Option(help="Allowed |on-time - target|.")] = 0.02,
    quarantine: QuarantineOption = None,
    max_rejected: MaxRejectedOption = 0.05,
) -> None:
    """Retrain, compare with @champion, register, promote when better."""
    from rich.console import Console

    # Before minutes of training, and before a version is registered; inf got pandas' words.
    if not (holdout_days > 0 and math.isfinite(holdout_days)):
        raise typer.BadParameter(
            f"{holdout_days:g} is not a finite number of days above 0, such as 28",
            param_hint="--holdout-days",
        )
    if not 0 <= tolerance < 1:
        raise typer.BadParameter(
            f"{tolerance:g} is not a share of promises from 0 to 1, such as 0.02",
            param_hint="--tolerance",
        )
    console = Console()
    dataset = DatasetSpec.from_yaml(spec)
    said_store(check_store())
    history = load_checked_history(data, dataset, as_of, quarantine, max_rejected)
    model_name = name or dataset.name
    with console.status(f"retraining {model_name} on {len(history.frame):,} rows"):
        result = retrain_and_promote(
            history,
            model_name,
            out,
            holdout_days=holdout_days,
            gate=Gate(tolerance=tolerance),
            data=data,
        )
    if result.identical_to is not None:
        alias, version = result.identical_to
        verdict = "[green]promoted[/]" if result.comparison.promote else "[yellow]not promoted[/]"
        console.print(
            f"{model_name}: {verdict}, identical to version {version} (@{alias}); nothing was "
            "registered"
        )
    else:
        promoted = result.comparison.promote
        verdict = "[green]promoted[/]" if promoted else "[yellow]not promoted[/]"
        console.print(f"{model_name} version {result.version}: {verdict}")
    for reason in result.comparison.reasons:
        console.print(f"  - {reason}")
    console.print(f"report: {result.report}; MLflow run {result.run_id}")
    raise typer.Exit(0 if result.comparison.promote else 1)


if __name__ == "__main__":
    app()
