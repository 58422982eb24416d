"""The ``eta`` command: train, quote, backtest, demo (the contract in DESIGN.md).

Each command answers bad input with one clear line naming the file, row, column or key at fault
and exits with status 2; rejected history rows are written to a quarantine file, never dropped
silently.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from eta.data import (
    MAX_REJECTED,
    History,
    describe_rejected,
    load_history,
    near_misses,
    refuse_merged_records,
    rejected_kinds,
)
from eta.doubts import doubts
from eta.evaluation import MIN_SEGMENT_ITEMS
from eta.settings import get_settings
from eta.spec import MAX_CONFIDENCE, DatasetSpec, SpecError, iana_zone
from eta.tables import DataError, quarantine_beside, read_table, table_path
from eta.timestamps import parse_timestamp
from eta.tracking import TrackingError

if TYPE_CHECKING:
    from eta.model import EtaModel

app = typer.Typer(
    help="Realistic, padded ETAs learned from history: train, quote, backtest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # errors stay one greppable line

F = TypeVar("F", bound=Callable[..., None])


def friendly_errors(command: F) -> F:
    """Turn the engine's own input errors into one readable line and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except (SpecError, DataError, FileNotFoundError, KeyError, ValueError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            err_console.print(f"[bold red]error:[/] {message}", highlight=False)
            raise typer.Exit(2) from None
        except TrackingError as exc:  # not the input's fault: a status of its own
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(TRACKING_FAILED) from None
        except OSError as exc:  # a file that cannot be written or read: a folder, no access
            where = f"{exc.filename}: " if exc.filename else ""
            err_console.print(f"[bold red]error:[/] {where}{exc.strerror or exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


TRACKING_FAILED = 3
"""Exit status when the MLflow tracking store cannot be used (2 is bad input)."""


def option_timestamp(value: str | None, name: str, timezone: str) -> pd.Timestamp | None:
    """A command-line instant, read as the data's timestamps are: naive means local time in the
    spec's ``timezone`` (``--now "2024-07-01 12:00"`` is noon where the items are)."""
    if value is None:
        return None
    parsed = parse_timestamp(value, timezone)
    if pd.isna(parsed):
        raise ValueError(
            f"--{name} {value!r} is not an ISO-8601 timestamp (e.g. 2024-07-01T12:00, local "
            f"time in {timezone}, or 2024-07-01T12:00+02:00)"
        )
    return parsed


UNKNOWN_OUTCOMES = 0.05
"""Share of backtest items whose outcome is not known yet above which the rate is qualified."""


def load_checked_history(
    data: Path,
    dataset: DatasetSpec,
    as_of: str | None,
    quarantine: Path | None,
    max_rejected: float = MAX_REJECTED,
) -> History:
    """:func:`eta.data.load_history` for a command: ``--as-of`` read as the data's timestamps
    are, and what was rejected or looks doubtful said on stderr."""
    history = load_history(
        data,
        dataset,
        as_of=option_timestamp(as_of, "as-of", dataset.timezone),
        quarantine=quarantine,
        max_rejected=max_rejected,
    )
    report_rejected(history.rejected, quarantine or quarantine_beside(data))
    said = tuple(doubts(history, as_of_given=as_of is not None))
    for doubt in said:
        err_console.print(f"[yellow]check the data:[/] {doubt}", highlight=False)
    return dataclasses.replace(history, doubts=said)


CALENDAR_MISMATCH = 0.2
"""Share of finished items taking no clock time above which ``train`` says to check the calendar."""

SpecOption = Annotated[Path, typer.Option("--spec", help="Dataset spec (YAML).")]
DataOption = Annotated[Path, typer.Option("--data", help="History (CSV or Parquet).")]
MaxRejectedOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Refuse above this share of rejected rows.")
]
ConfidenceOption = Annotated[
    float | None,
    typer.Option(
        help=f"Promise level, above 0.5 and at most {MAX_CONFIDENCE} (default: the spec's)."
    ),
]
QuarantineOption = Annotated[
    Path | None,
    typer.Option(
        help="Where rejected rows go (default: beside the data, *.rejected.csv/.parquet)."
    ),
]


@app.command()
@friendly_errors
def train(
    spec: SpecOption,
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    as_of: Annotated[
        str | None, typer.Option(help="Train on what was known at this time (ISO-8601).")
    ] = None,
    register: Annotated[bool, typer.Option(help="Register a model version in MLflow.")] = False,
    quarantine: QuarantineOption = None,
    max_rejected: MaxRejectedOption = 0.05,
) -> None:
    """Train, calibrate and write a model; log the run to MLflow."""
    from eta.model import EtaModel, check_model_folder
    from eta.tracking import check_store, data_params, log_run

    check_model_folder(out)  # before training, not after it
    dataset = DatasetSpec.from_yaml(spec)
    said_store(check_store())
    history = load_checked_history(data, dataset, as_of, quarantine, max_rejected)
    with console.status(f"training {dataset.name} on {len(history.frame):,} rows"):
        model = EtaModel(dataset).fit(history)
        model.save(out)
    info = model.info_
    by_key = model.calibration_.by_key
    own = sum(by_key[tag].borrowed_from is None for tag in model.calibration_.segments)
    borrowing = len(model.calibration_.segments) - own
    console.print(
        f"[green]trained[/] {dataset.name}: {info['rows']:,} rows ({info['open_share']:.1%} open), "
        f"{own} calibration segment{'' if own == 1 else 's'}"
        + (
            f" (and {borrowing} thin {'one' if borrowing == 1 else 'ones'} on a wider group's "
            "shape)"
            if borrowing
            else ""
        )
        + f" -> {out}"
    )
    share = info["no_clock_time_share"]
    if share > CALENDAR_MISMATCH and dataset.clock == "wall":
        console.print(
            f"[yellow]check the data:[/] {share:.0%} of finished items took under a minute; "
            f"are {dataset.start!r} and {dataset.end!r} the moments work started and finished?"
        )
    elif share > CALENDAR_MISMATCH:
        console.print(
            f"[yellow]check the calendar:[/] {share:.0%} of finished items took no time on the "
            f"business clock (they finished while {spec}'s calendar says everyone is off); "
            "promises count only its working time"
        )
    _print_short_history(info, dataset.confidence)
    _print_few_finished(info)
    _print_no_season(model)
    _print_episodes(info, dataset.timezone)
    logged = log_run(
        f"train {dataset.name}",
        {
            "spec": dataset.name,
            "as_of": info["as_of"],
            **data_params(data, history),
            **model.settings.__dict__,
        },
        {
            "rows": info["rows"],
            "open_share": info["open_share"],
            "rejected_rows": info["rejected_rows"],
        },
        model_dir=out,
        files=[spec],
        register_as=dataset.name if register else None,
    )
    console.print(f"MLflow run {logged['run_id']}")
    if "version" in logged:
        console.print(_register_note(dataset.name, logged["version"]), highlight=False)


def _register_note(name: str, version: str) -> str:
    """Set ``@champion`` when ``name`` has none yet, and say what the registry now holds.

    The first version of a name becomes ``@champion``: the tour's ``models:/NAME@champion`` and
    the retrain pipeline need one to serve and to beat. Later versions are only registered:
    moving the alias is the pipeline's job, after comparing them with the champion.
    """
    from eta.promotion import CHAMPION
    from eta.tracking import alias_version, set_alias

    champion = alias_version(name, CHAMPION)
    if champion is None:
        set_alias(name, CHAMPION, version)
        return f"registered {name} version {version} as @{CHAMPION} (it had none)"
    return (
        f"registered {name} version {version}; @{CHAMPION} stays on version {champion} "
        "(the retrain pipeline moves it when a candidate is better)"
    )


def _print_no_season(model: EtaModel) -> None:
    """Say when the model learnt no yearly season (its training items span less than a year,
    :data:`eta.model.SEASONAL_SPAN`): a peak it has not seen is in no promise. One year of
    synthetic parcels met its first Black Friday so: November kept 81.1% of its promises quoted
    ahead; two years of the same world, one peak seen and learnt, kept 85.7%.

    The history to ask for is longer than a year: its latest items calibrate the model and are
    not learnt from (fourteen months of tickets were told to retrain on "more than a year")."""
    from eta.features import SEASON
    from eta.model import SEASONAL_SPAN

    if SEASON in model.inputs_:
        return
    info = model.info_
    first, last = (pd.Timestamp(t) for t in info["training_window"])
    learnt_until = pd.Timestamp(info["calibration_from"] or last)
    learnt, whole = learnt_until - first, last - first
    needed = whole * (SEASONAL_SPAN / max(learnt, pd.Timedelta(days=1)))
    console.print(
        f"[yellow]no yearly season learnt:[/] the items the model learns from span "
        f"{learnt.days} days ({first:%Y-%m-%d} to {learnt_until:%Y-%m-%d}; the later ones "
        "calibrate it), less than a year, so a peak it has not seen (a Black Friday, a Christmas "
        "rush) is not in its promises; in one, expect them broken more often until the live "
        f"speed catches up. A history of about {math.ceil(needed.days / 30.44)} months or more "
        "would let it learn one"
    )


FEW_FINISHED = 1000
"""Finished items below which ``eta train`` warns that promises will be wide."""


def _print_few_finished(info: dict) -> None:
    """Say when the history is small: a tester's 300 rows trained without a word and promised
    4.5 times the true 90th percentile (its 1,300 rows, 1.5 times). Promises stay honest there
    (calibration pads for what the trees could not learn), but a user should know why."""
    finished = round(info["rows"] * (1.0 - info["open_share"]))
    if finished < FEW_FINISHED:
        console.print(
            f"[yellow]a small history:[/] {finished:,} finished items; the model learns little "
            "from so few, and calibration pads promises for what it could not learn, so expect "
            f"them wide. {FEW_FINISHED:,} or more finished items give tighter ones"
        )


def _print_short_history(info: dict, confidence: float) -> None:
    """Say when a promise lies beyond every finish the history shows, for all items or for
    the segments where it does (a team whose items take months, three quarters open)."""
    short = {
        segment: share
        for segment, share in info.get("still_running_by_segment", {}).items()
        if share > 1 - confidence
    }
    named = ", ".join(f"{s} {v:.0%}" for s, v in sorted(short.items(), key=lambda x: -x[1]))
    running = info["still_running_share"]
    if running > 1 - confidence:
        console.print(
            f"[yellow]a short history for these durations:[/] an estimated {running:.0%} of items "
            f"were still running at the longest time any item took to finish"
            + (f" (by segment: {named})" if named else "")
            + f", so a {confidence:.0%} promise lies beyond every finish seen and comes from the "
            "tail model alone; expect it broken more often than that. Train on a longer history "
            "when there is one"
        )
    elif short:
        console.print(
            f"[yellow]a short history for some segments' durations:[/] of their items, an "
            f"estimated {named} were still running at the longest time any of them took to "
            f"finish, so their {confidence:.0%} promises lie beyond every finish seen; expect "
            "them broken more often than that. Train on a longer history when there is one"
        )


@app.command()
@friendly_errors
def quote(
    model: Annotated[Path, typer.Option("--model", help="Model directory.")],
    data: Annotated[Path, typer.Option("--data", help="Items to quote (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Quotes file (CSV or Parquet).")],
    confidence: ConfidenceOption = None,
    now: Annotated[
        str | None, typer.Option(help="Quote as of this time; earlier starts are in progress.")
    ] = None,
    locale: Annotated[
        str | None,
        typer.Option(
            help="Customer's locale: en, bs, ru, fa, pt (pt_BR), es, de, fr, nl, with a region "
            "for dates (en_GB, de_AT); others fall back to English and say so in locale_note."
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="IANA zone times are said in, and a promised_at written as a date was told "
            "in (default: the spec's)."
        ),
    ] = None,
) -> None:
    """Quote items: one row per input row, same order, with messages and risk notes."""
    from eta.model import EtaModel
    from eta.quote import REQUOTE_COLUMNS, prepare_items, quote_items, write_quotes

    if timezone is not None:
        try:
            iana_zone(timezone)
        except ValueError as exc:
            raise ValueError(f"--timezone: {exc}") from None
    table_path(out)  # before quoting 200,000 rows, not after
    loaded = EtaModel.load(model)
    raw = read_table(data)
    if loaded.spec.start not in raw.columns:
        start = loaded.spec.start
        raise DataError(
            f"{data}: no column {start!r}, the spec's start, to quote items from"
            f"{near_misses([start], raw.columns)} (columns present: {list(raw.columns)})"
        )
    refuse_merged_records(raw, [*loaded.spec.required_columns, *REQUOTE_COLUMNS], str(data))
    moment = option_timestamp(now, "now", loaded.spec.timezone)
    items, errors = prepare_items(raw, loaded.spec, now=moment, timezone=timezone)
    quotes = quote_items(
        loaded,
        items,
        confidence=confidence,
        now=moment,
        locale=locale,
        timezone=timezone,
    )
    quotes["error"] = errors
    write_quotes(quotes, out)
    bad = int((errors != "").sum())
    console.print(f"[green]quoted[/] {len(quotes) - bad:,} items -> {out}")
    note = quotes["locale_note"].iloc[0] if len(quotes) else ""
    if note:
        err_console.print(f"[yellow]{note}[/]", highlight=False)
    if bad:
        err_console.print(f"[yellow]{bad} row(s) could not be quoted; see the 'error' column[/]")
    spec = loaded.spec
    absent = [c for c in spec.feature_columns if c not in raw.columns]
    unread = [c for c in raw.columns if c not in {*spec.required_columns, *REQUOTE_COLUMNS}]
    if absent:
        err_console.print(
            f"[yellow]{data}: no column {', '.join(map(repr, absent))}: every item was quoted "
            "with that value unknown, so its promises are less sure than with it"
            f"{near_misses(absent, unread)}[/]",
            highlight=False,
        )
    shadowed = [c for c in unread if c in quotes.columns and c != "id"]
    if shadowed:  # a tester's per-row 'locale' came back as the run's, without a word
        err_console.print(
            f"[yellow]{data}: column {', '.join(map(repr, shadowed))} is not read: the quotes' "
            "own column of that name says what was used (--locale, --timezone and --confidence "
            "hold for the whole run)[/]",
            highlight=False,
        )
    if spec.id is not None and spec.id in raw.columns:
        ids = raw[spec.id].astype("string")
        repeated = ids[ids.notna() & ids.duplicated(keep=False)]
        if len(repeated):
            first = repeated.iloc[0]
            rows = [i + 1 for i, value in enumerate(ids.tolist()) if value == first][:3]
            err_console.print(
                f"[yellow]{data}: {repeated.nunique():,} id(s) are on more than one row ("
                f"{first!r} on rows {', '.join(map(str, rows))}); each row is quoted as an item "
                "of its own[/]",
                highlight=False,
            )
    requote = near_misses([c for c in REQUOTE_COLUMNS if c not in raw.columns], unread)
    if requote:  # a quote file fed back writes 'promise_at', and a header may write 'Elapsed'
        err_console.print(
            f"[yellow]{data}: no column {' or '.join(map(repr, REQUOTE_COLUMNS))}, so every "
            f"item was quoted as new{requote}[/]",
            highlight=False,
        )


@app.command()
@friendly_errors
def backtest(
    spec: SpecOption,
    data: DataOption,
    test_start: Annotated[str, typer.Option(help="First start time of the test period.")],
    test_end: Annotated[
        str | None, typer.Option(help="End of the test period (exclusive).")
    ] = None,
    replay: Annotated[
        bool, typer.Option(help="Walk the test period in time order with online recalibration.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write per-item quotes here.")] = None,
    confidence: ConfidenceOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="When the history was exported (ISO-8601; default: its latest time)."),
    ] = None,
    quarantine: QuarantineOption = None,
    max_rejected: MaxRejectedOption = 0.05,
) -> None:
    """Train on what was known at --test-start, quote the test period, measure the promises."""
    from eta.backtest import run_backtest
    from eta.quote import QUOTE_COLUMNS, write_quotes
    from eta.tracking import check_store, log_run

    if out is not None:
        table_path(out)  # before minutes of training, not after
    dataset = DatasetSpec.from_yaml(spec)
    said_store(check_store())
    history = load_checked_history(data, dataset, as_of, quarantine, max_rejected)
    start = option_timestamp(test_start, "test-start", dataset.timezone)
    end = option_timestamp(test_end, "test-end", dataset.timezone)
    with console.status("training and quoting the test period"):
        result = run_backtest(history, start, end, replay=replay, confidence=confidence)
    metrics = result.metrics
    print_metrics(metrics, f"{dataset.name} backtest ({metrics['mode']})")
    _print_segments(result.by_segment, confidence or dataset.confidence)
    _print_no_season(result.model)
    _print_episodes(result.model.info_, dataset.timezone)
    unknown, quoted = metrics["not_yet_known"], metrics["not_yet_known"] + metrics["items"]
    if quoted and unknown / quoted > UNKNOWN_OUTCOMES:
        rest = (
            f"those are the slow ones, so the on-time rate of the rest "
            f"({metrics['on_time_rate_known']:.1%}) runs high: it lies between "
            f"{metrics['on_time_rate_at_least']:.1%} and {metrics['on_time_rate_at_most']:.1%}, "
            f"{metrics['on_time_rate']:.1%} by estimate"
            if metrics["items"]
            else "no promise of the period has come due yet, kept or not"
        )
        err_console.print(
            f"[yellow]{unknown:,} of {quoted:,} items ({unknown / quoted:.0%}) are still open "
            f"within their promise,[/] so whether it holds is not known yet; {rest}. Judge an "
            "earlier test period",
            highlight=False,
        )
    if out is not None:
        quotes = result.quotes.assign(error="")  # as `eta quote` writes: no item is refused
        columns = [*QUOTE_COLUMNS, *(c for c in quotes if c not in QUOTE_COLUMNS)]
        write_quotes(quotes[columns], out)
        console.print(f"quotes -> {out}")
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = result.model.save(Path(scratch) / "model")
        log_run(
            f"backtest {dataset.name}",
            {
                "spec": dataset.name,
                "data": str(data),
                "test_start": test_start,
                "test_end": test_end,
                "replay": replay,
            },
            result.metrics,
            model_dir=model_dir,
            files=[spec, *([out] if out is not None else [])],
        )


@app.command()
@friendly_errors
def demo(
    out: Annotated[Path, typer.Option(help="Where demo data and models go.")] = Path("demo-output"),
    rows: Annotated[int, typer.Option(help="Synthetic history rows per dataset.")] = 40_000,
    serve: Annotated[
        bool, typer.Option(help="End by serving the demo models on localhost (ETA_PORT).")
    ] = True,
) -> None:
    """Build everything on embedded synthetic data: histories, models, backtests, quotes; then
    serve the models with the agent console and the checkout widget."""
    import json

    from eta.demo import run_demo
    from eta.model import BACKTEST_FILE

    results = run_demo(out, rows, console)
    models = out / "models"
    for name, metrics in results.items():  # shown by the service's GET /v1/models/{name}
        (models / name / BACKTEST_FILE).write_text(json.dumps(metrics), encoding="utf-8")
    if serve:
        from service.server import serve as run_service

        run_service(get_settings().model_copy(update={"model_dir": models}), console)


@app.command()
@friendly_errors
def serve(
    model_dir: Annotated[
        Path | None,
        typer.Option(
            help="A model directory or a folder of them (env ETA_MODEL_DIR; default models)."
        ),
    ] = None,
    registry: Annotated[
        list[str] | None,
        typer.Option(
            help="A registered model, models:/NAME@ALIAS; repeat for more (env ETA_REGISTRY)."
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface (env ETA_HOST; default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (env ETA_PORT; default 8000).")] = None,
) -> None:
    """Run the quote service: API, agent console, checkout widget (settings: ETA_* variables)."""
    from service.server import serve as run_service

    given = {"model_dir": model_dir, "registry": tuple(registry or ()), "host": host, "port": port}
    run_service(get_settings().model_copy(update={k: v for k, v in given.items() if v}), console)


def print_metrics(metrics: dict, title: str) -> None:
    """The metrics as a table; the worst segment's rows say it is counted among segments of
    :data:`~eta.evaluation.MIN_SEGMENT_ITEMS` items or more (a tester read 86.3% as the worst
    where a segment of 292 items, in the table below, kept 63%)."""
    table = Table(title=title, show_header=False)
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        if key.startswith("worst_segment"):
            key = f"{key} (of {MIN_SEGMENT_ITEMS}+ items)"
            shown = "no segment that large" if value is None else shown
        # "items 6,046" beside "quoted 8,348" read as two counts of one thing
        key = {"items": "items (outcome known)", "quoted": "quoted (all items)"}.get(key, key)
        table.add_row(key, shown)
    console.print(table)


SEGMENTS_SHOWN = 10


def _print_episodes(info: dict, timezone: str) -> None:
    """Say which one-off episodes calibration left out (:mod:`eta.episodes`)."""
    for episode in info["episodes_left_out"]:
        first, last = (pd.Timestamp(episode[end]).tz_convert(timezone) for end in ("first", "last"))
        console.print(
            f"[yellow]check the data:[/] items that started from {first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d} took {episode['slowdown']:.1f}x as long as usual, and later ones "
            "as long as usual again (a strike? an outage?): calibration leaves out those "
            f"{episode['items']:,} items, so promises are made for the world without it"
        )


def _print_segments(by_segment: pd.DataFrame, confidence: float) -> None:
    """The worst segments' on-time rates: where promises break, whatever the segments' size
    (the metrics' worst segment counts only those of 300 items and more). Worst is furthest
    below the target in binomial standard errors, not the lowest rate: a tester's 400 sellers
    were headed by ones with 2 orders judged (0 of 2 kept), while a seller with 213 orders,
    64% kept, was not shown."""
    if len(by_segment) < 2:
        return
    quoted = by_segment["items"] + by_segment["not_yet_known"]
    error = np.sqrt(confidence * (1.0 - confidence) / quoted.clip(lower=1))
    below = (by_segment["on_time_rate"] - confidence) / error
    shown = by_segment.iloc[np.argsort(below.fillna(np.inf).to_numpy(), kind="stable")]
    shown = shown.head(SEGMENTS_SHOWN)
    more = len(by_segment) - len(shown)
    title = "on time by segment" + (
        f", the {len(shown)} of {len(by_segment)} furthest below target" if more else ""
    )
    estimated = "on_time_rate_known" in shown  # the unknown outcomes counted in
    rates = ["on time (estimated)", "of those known"] if estimated else ["on time"]
    table = Table("segment", "judged", "not yet known", *rates, title=title)
    for row in shown.itertuples():
        said = [
            "–" if pd.isna(rate) else f"{rate:.1%}"
            for rate in [row.on_time_rate, *([row.on_time_rate_known] if estimated else [])]
        ]
        table.add_row(str(row.Index), f"{row.items:,}", f"{row.not_yet_known:,}", *said)
    console.print(table)


def said_store(note: str | None) -> None:
    """Say :func:`eta.tracking.check_store`'s note, if any, where warnings go."""
    if note:
        err_console.print(f"[yellow]{note}[/]", highlight=False)


REJECTED_KINDS_SHOWN = 6
"""How many kinds of rejection (column and reason) the summary names."""


def report_rejected(rejected: pd.DataFrame, where: Path) -> None:
    """Say on stderr how many rows were rejected, where they are kept, and the first three;
    when the reasons differ, how many rows each column and reason took.

    Rows count from 1 after the header; in a CSV file the line each begins on is said too
    (not row + 1: a cell may hold line breaks), counted only when rows were rejected. The first
    three of a tester's 483 rejected rows were all one amount column's, and nothing said that
    53 of them were open items, the slowest of the history."""
    if not len(rejected):
        return
    err_console.print(
        f"[yellow]{len(rejected)} row(s) rejected[/] (kept in {where}); first: "
        + "; ".join(describe_rejected(rejected.head(3), str(rejected["file"].iloc[0]))),
        highlight=False,
    )
    kinds = rejected_kinds(rejected)
    if len(kinds) > 1:
        shown = [f"{rows:,} {kind}" for kind, rows in kinds.head(REJECTED_KINDS_SHOWN).items()]
        more = len(kinds) - REJECTED_KINDS_SHOWN
        err_console.print(
            "  by column and reason: " + "; ".join(shown) + (f"; {more} more" if more > 0 else ""),
            highlight=False,
        )


if __name__ == "__main__":
    app()
