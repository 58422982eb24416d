"""The CLI contract: commands, flags and quote columns that outside tools rely on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from eta.cli import app
from eta.quote import DETAIL_COLUMNS, QUOTE_COLUMNS
from eta.synthetic import tickets

runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    sim = tickets(5_000, seed=21)
    history = sim.history.copy()
    history["created_at"] = history["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    history["resolved_at"] = history["resolved_at"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    history.loc[7, "resolved_at"] = "not a date"  # one bad row, to be quarantined
    history.to_csv(root / "history.csv", index=False)
    (root / "spec.yaml").write_text(sim.spec.to_yaml())
    open_items = sim.history[sim.history["resolved_at"].isna()].head(20).drop(columns="resolved_at")
    open_items.loc[open_items.index[3], "created_at"] = pd.NaT
    open_items.to_csv(root / "items.csv", index=False)
    return root


def backtest(workspace: Path, data: str, *more: object) -> object:
    return run("backtest", "--spec", workspace / "spec.yaml", "--data", workspace / data, *more)


def _trained(workspace: Path) -> Path:
    """The workspace's model, trained by the train test or here when run alone."""
    if not (workspace / "model").exists():
        test_train_writes_a_model_quarantines_bad_rows_and_logs_to_mlflow(workspace)
    return workspace / "model"


def run(*args: str) -> object:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_every_command_has_help() -> None:
    for command in ("train", "quote", "backtest", "demo"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "--" in result.output
    said = run("serve", "--help").output  # '[env ETA_PORT]' was read as markup and vanished
    assert all(name in said for name in ("ETA_MODEL_DIR", "ETA_REGISTRY", "ETA_HOST", "ETA_PORT"))


def test_train_writes_a_model_quarantines_bad_rows_and_logs_to_mlflow(workspace: Path) -> None:
    result = run(
        "train",
        "--spec",
        workspace / "spec.yaml",
        "--data",
        workspace / "history.csv",
        "--out",
        workspace / "model",
        "--register",
    )
    assert result.exit_code == 0, result.output
    assert (workspace / "model" / "model.json").exists()
    rejected = pd.read_csv(workspace / "history.rejected.csv")
    assert rejected[["row", "column", "reason"]].values.tolist() == [
        [
            8,
            "resolved_at",
            "unparseable timestamp 'not a date': not ISO-8601 like the column's other values "
            "(such as 2024-07-01T12:00)",
        ]
    ]
    assert "row 8 (line 9), column 'resolved_at'" in result.output  # the header is line 1
    assert "registered tickets version 1" in result.output
    assert "no yearly season learnt" in result.output  # 5,000 tickets over less than a year
    assert "a small history" not in result.output
    # The segments counted are those calibrated on their own items: a tester's 400 sellers read
    # "398 calibration segments" where 37 had a distribution of their own.
    from eta.model import EtaModel

    calibration = EtaModel.load(workspace / "model").calibration_
    own = [t for t in calibration.segments if calibration.by_key[t].borrowed_from is None]
    said = re.search(r"(\d+) calibration segments(?: \(and (\d+) thin)?", result.output)
    assert said and int(said[1]) == len(own), result.output
    assert int(said[2] or 0) == len(calibration.segments) - len(own)

    import mlflow

    runs = mlflow.search_runs(experiment_names=["eta"])
    assert len(runs) == 1 and runs["metrics.rows"].iloc[0] > 4_000
    import hashlib  # the registered version names its export, as the retrain pipeline's do

    data = (workspace / "history.csv").resolve()
    assert runs["params.data"].iloc[0] == str(data)
    assert runs["params.data_sha256"].iloc[0] == hashlib.sha256(data.read_bytes()).hexdigest()
    from importlib.metadata import version  # what shaped the model, as the retrain runs say

    assert runs["params.eta_version"].iloc[0] == version("eta-engine")
    assert runs["params.lightgbm_version"].iloc[0] == version("lightgbm")
    assert runs["params.scikit-learn_version"].iloc[0] == version("scikit-learn")


def test_quote_keeps_one_row_per_input_row_with_the_contract_columns(workspace: Path) -> None:
    _trained(workspace)
    out = workspace / "quotes.parquet"
    result = run(
        "quote",
        "--model",
        workspace / "model",
        "--data",
        workspace / "items.csv",
        "--out",
        out,
        "--now",
        "2026-01-05T10:00:00+01:00",
        "--confidence",
        "0.95",
    )
    assert result.exit_code == 0, result.output
    quotes = pd.read_parquet(out)
    items = pd.read_csv(workspace / "items.csv")
    assert list(quotes.columns[: len(QUOTE_COLUMNS)]) == list(QUOTE_COLUMNS)
    assert quotes["id"].tolist() == items["ticket_id"].tolist()
    assert "created_at" in quotes.loc[3, "error"] and pd.isna(quotes.loc[3, "promise_at"])
    ok = quotes.drop(index=3)
    assert (ok["earliest_at"] <= ok["likely_at"]).all()
    waiting = ok[~ok["escalate"]]  # an escalated item hears back before its likely time
    assert (waiting["likely_at"] <= waiting["follow_up_at"]).all()
    assert (ok["follow_up_at"] <= ok["promise_at"]).all()
    assert (ok["promise_at"] > pd.Timestamp("2026-01-05T09:00:00Z")).all()  # re-quotes: future
    assert (ok["confidence"] == 0.95).all()
    # Every item is in progress at --now: "already working on it" or, past its promise, sorry.
    assert ok["customer_message"].str.contains(r"Most likely .*, and at the latest by").all()
    assert ok["customer_message"].str.match(r"(We are already working|This is taking longer)").all()


def test_quote_refuses_an_output_file_it_cannot_write_properly(workspace: Path) -> None:
    _trained(workspace)
    out = workspace / "quotes.xlsx"
    result = run(
        "quote", "--model", workspace / "model", "--data", workspace / "items.csv", "--out", out
    )
    assert result.exit_code == 2
    assert "quotes.xlsx: unknown file type '.xlsx'" in result.output
    assert "Traceback" not in result.output and not out.exists()
    # A folder named like a file was an IsADirectoryError traceback after all the quoting,
    # and a model written over a file one after all the training.
    (workspace / "folder.csv").mkdir()
    args = ("--model", workspace / "model", "--data", workspace / "items.csv")
    result = run("quote", *args, "--out", workspace / "folder.csv")
    assert result.exit_code == 2 and "folder.csv: is a folder, not a file" in result.output
    train = ("--spec", workspace / "spec.yaml", "--data", workspace / "history.csv")
    result = run("train", *train, "--out", workspace / "items.csv")
    assert result.exit_code == 2 and "items.csv: is a file; a model is a folder" in result.output


def test_quote_names_the_file_and_the_start_column_it_lacks(workspace: Path) -> None:
    _trained(workspace)
    items = pd.read_csv(workspace / "items.csv").rename(columns={"created_at": "Created_at"})
    items.to_csv(workspace / "renamed.csv", index=False)
    out = workspace / "never.csv"
    args = ("--data", workspace / "renamed.csv", "--out", out)
    result = run("quote", "--model", workspace / "model", *args)
    assert result.exit_code == 2 and not out.exists()
    assert "renamed.csv: no column 'created_at', the spec's start" in result.output
    assert "did you mean 'Created_at' for 'created_at'?" in result.output


def test_quote_refuses_a_file_whose_quote_mark_is_never_closed(workspace: Path) -> None:
    """Read as it was, the second item vanished into the first's priority: one row for two."""
    items = workspace / "unclosed.csv"
    items.write_text(
        "ticket_id,created_at,resolved_at,priority,category,channel,queue_open\n"
        'B1,2026-01-05T09:30:00,,"normal,account,email,1\n'
        "B2,2026-01-05T09:30:00,,normal,account,email,1\n"
    )
    out = workspace / "unclosed_quotes.csv"
    result = run("quote", "--model", _trained(workspace), "--data", items, "--out", out)
    assert result.exit_code == 2 and not out.exists()
    assert "row 1 (line 2), column 'priority'" in result.output
    assert 'a quote character (") that is not closed where the value ends' in result.output


def test_quote_names_a_column_that_looks_like_a_requote_one(workspace: Path) -> None:
    """'Elapsed' (a header's capital) or a quote file fed back ('promise_at') was read as no
    re-quote at all, without a word: every item quoted as new."""
    _trained(workspace)
    items = pd.read_csv(workspace / "items.csv").drop(index=3)
    items["Elapsed"], items["promise_at"] = 5.0, "2026-01-06T17:00:00+01:00"
    items.to_csv(workspace / "requotes.csv", index=False)
    out = workspace / "requoted.csv"
    args = ("--data", workspace / "requotes.csv", "--out", out, "--now", "2026-01-05T10:00")
    result = run("quote", "--model", workspace / "model", *args)
    assert result.exit_code == 0, result.output
    assert "no column 'elapsed' or 'promised_at', so every item was quoted as new" in result.output
    assert "did you mean 'Elapsed' for 'elapsed', 'promise_at' for 'promised_at'?" in result.output


def test_quote_says_when_an_id_repeats_or_a_column_is_the_quotes_own(workspace: Path) -> None:
    """A grocery's repeated ids were quoted twice, and its per-row 'locale' came back as the
    run's, neither with a word."""
    from eta.spec import DatasetSpec

    _trained(workspace)
    items = pd.read_csv(workspace / "items.csv")
    spec_id = DatasetSpec.from_yaml(workspace / "spec.yaml").id
    items.loc[4, spec_id] = items.loc[1, spec_id]
    items["locale"] = "es"
    items.to_csv(workspace / "twice.csv", index=False)
    out = workspace / "twice_quoted.csv"
    result = run(
        "quote", "--model", workspace / "model", "--data", workspace / "twice.csv", "--out", out
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"1 id(s) are on more than one row ({str(items.loc[1, spec_id])!r} on rows 2, 5)" in said
    assert "column 'locale' is not read" in said
    assert len(pd.read_csv(out)) == len(items)  # one row per input row still


def test_mlflows_own_tracking_variable_is_honoured_after_etas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eta.settings import Settings

    monkeypatch.delenv("ETA_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/mlflow-own.db")
    assert Settings().tracking_uri == "sqlite:////tmp/mlflow-own.db"
    monkeypatch.setenv("ETA_TRACKING_URI", "sqlite:////tmp/eta-own.db")
    assert Settings().tracking_uri == "sqlite:////tmp/eta-own.db"
    assert Settings(tracking_uri="http://mlflow:5000").tracking_uri == "http://mlflow:5000"


def test_a_tracking_store_that_cannot_be_used_stops_before_training_with_status_3(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eta.settings import get_settings

    (tmp_path / "a file").write_text("not a directory")
    uri = f"sqlite:///{tmp_path / 'a file' / 'mlflow.db'}"
    monkeypatch.setenv("ETA_TRACKING_URI", uri)
    get_settings.cache_clear()
    out = tmp_path / "model"
    args = ("--spec", workspace / "spec.yaml", "--data", workspace / "history.csv", "--out", out)
    result = run("train", *args)
    assert result.exit_code == 3, result.output
    assert f"the MLflow tracking store '{uri}' (ETA_TRACKING_URI) cannot be used" in result.output
    assert not out.exists()  # said before training, not after


def test_a_new_tracking_store_is_said_once(tmp_path: Path, monkeypatch) -> None:
    """A mistyped file name ('stroe.db') started an empty registry, and the retrain promoted
    its first candidate "there is no champion yet", without a word."""
    from eta.settings import get_settings
    from eta.tracking import check_store

    monkeypatch.setenv("ETA_TRACKING_URI", f"sqlite:///{tmp_path / 'stroe.db'}")
    get_settings.cache_clear()
    first, again = check_store(), check_store()
    assert first is not None and f"a new MLflow store was made at {tmp_path / 'stroe.db'}" in first
    assert again is None


def test_backtest_refuses_an_output_it_cannot_write_before_training(workspace: Path) -> None:
    period = ["--test-start", "2025-11-01", "--test-end", "2025-12-01"]
    result = backtest(workspace, "history.csv", *period, "--out", workspace / "bt.json")
    assert result.exit_code == 2 and "bt.json: unknown file type '.json'" in result.output
    assert "on_time_rate" not in result.output  # refused first, not after the whole backtest


def test_backtest_replay_prints_metrics_and_writes_quotes(workspace: Path) -> None:
    out = workspace / "bt.csv"
    period = ["--test-start", "2025-11-01", "--test-end", "2025-12-01"]
    result = backtest(workspace, "history.csv", *period, "--replay", "--out", out)
    assert result.exit_code == 0, result.output
    assert "on_time_rate" in result.output and "replay" in result.output
    assert "on time by segment" in result.output and "high / " in result.output
    said = " ".join(result.output.split())
    assert "worst_segment (of 300+ items)" in said, said  # not the worst of the table below
    assert "items (outcome known)" in said and "quoted (all items)" in said, said
    quotes = pd.read_csv(out)
    assert list(quotes.columns[: len(QUOTE_COLUMNS)]) == list(QUOTE_COLUMNS)
    assert {*DETAIL_COLUMNS, "error", "actual_hours"} <= set(quotes.columns)  # as eta quote's
    assert len(quotes) > 200

    import mlflow

    runs = mlflow.search_runs(experiment_names=["eta"])
    run_id = runs["run_id"].iloc[0]
    assert runs["metrics.on_time_rate"].iloc[0] > 0.5
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "model")}
    assert "model/model.json" in artifacts


def test_backtest_and_quote_write_integer_ids_alike(workspace: Path) -> None:
    """A Parquet export's integer ids come back as integers from both commands, so their
    outputs join; the backtest wrote them as text."""
    model = _trained(workspace)
    history = pd.read_csv(workspace / "history.csv")
    history["ticket_id"] = range(1, len(history) + 1)
    history.to_parquet(workspace / "int_ids.parquet")
    period = ["--test-start", "2025-11-01", "--test-end", "2025-11-15"]
    result = backtest(workspace, "int_ids.parquet", *period, "--out", workspace / "bt.parquet")
    assert result.exit_code == 0, result.output
    items = history[history["resolved_at"].isna()].drop(columns="resolved_at").head(5)
    items.to_parquet(workspace / "int_items.parquet")
    out = workspace / "int_quotes.parquet"
    args = ("--data", workspace / "int_items.parquet", "--out", out)
    assert run("quote", "--model", model, *args).exit_code == 0
    backtested, quoted = pd.read_parquet(workspace / "bt.parquet"), pd.read_parquet(out)
    assert backtested["id"].dtype == quoted["id"].dtype == "int64"


def test_the_demo_runs_end_to_end_and_says_when_no_segment_is_big_enough(tmp_path: Path) -> None:
    """The README's main job, small: a worst segment of none was printed as 0.0%."""
    result = run("demo", "--no-serve", "--rows", 3000, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.count("worst segment n/a (no segment of 300 items)") == 2
    for name in ("tickets", "deliveries"):
        assert (tmp_path / "models" / name / "model.json").exists()
        assert (tmp_path / "models" / name / "backtest.json").exists()


def test_a_bad_spec_exits_2_naming_the_key(workspace: Path, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        (workspace / "spec.yaml").read_text().replace("clock: business", "clock: lunar")
    )
    result = runner.invoke(
        app,
        [
            "train",
            "--spec",
            str(spec),
            "--data",
            str(workspace / "history.csv"),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 2
    assert "key 'clock'" in result.output


def test_a_missing_data_file_exits_2(workspace: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "--spec",
            str(workspace / "spec.yaml"),
            "--data",
            str(tmp_path / "none.csv"),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 2 and "no such file" in result.output


def test_quote_speaks_the_customers_language_and_time_zone(workspace: Path) -> None:
    _trained(workspace)
    out = workspace / "quotes_fa.csv"
    result = run(
        "quote",
        "--model",
        workspace / "model",
        "--data",
        workspace / "items.csv",
        "--out",
        out,
        "--locale",
        "fa",
        "--timezone",
        "Asia/Tehran",
    )
    assert result.exit_code == 0, result.output
    quotes = pd.read_csv(out).drop(index=3)
    assert (quotes["locale"] == "fa").all() and (quotes["text_direction"] == "rtl").all()
    assert (quotes["timezone"] == "Asia/Tehran").all()
    assert quotes["window_end"].str.endswith("+03:30").all()  # said in Tehran time
    import json

    notes = [json.loads(v) for v in quotes["risk_notes"]]
    assert all(isinstance(n, list) for n in notes) and any(notes)
    unknown = run(
        "quote", "--model", workspace / "model", "--data", workspace / "items.csv",
        "--out", workspace / "q_it.csv", "--locale", "it",
    )  # fmt: skip
    assert unknown.exit_code == 0 and "answered in English" in unknown.output
    bad_zone = run(
        "quote", "--model", workspace / "model", "--data", workspace / "items.csv",
        "--out", workspace / "q_x.csv", "--timezone", "Mars/Olympus",
    )  # fmt: skip
    assert bad_zone.exit_code == 2
    assert "--timezone: 'Mars/Olympus' is not an IANA" in bad_zone.output


def test_a_finish_typed_in_a_later_year_is_doubted_and_as_of_settles_it(workspace: Path) -> None:
    history = pd.read_csv(workspace / "history.csv", dtype=str)
    finished = history.index[history["resolved_at"].notna()][10]
    history.loc[finished, "resolved_at"] = "2026-06-01T10:00:00+0000"  # meant 2025
    history.to_csv(workspace / "typo.csv", index=False)
    period = ["--test-start", "2025-12-01", "--test-end", "2025-12-08"]
    doubted = backtest(workspace, "typo.csv", *period)
    assert doubted.exit_code == 0, doubted.output
    assert "check the data:" in doubted.output and "pass --as-of" in doubted.output
    settled = backtest(workspace, "typo.csv", *period, "--as-of", "2026-01-01")
    assert settled.exit_code == 0, settled.output
    assert "pass --as-of" not in settled.output


def test_a_backtest_of_the_last_days_says_its_rate_is_not_known_yet(workspace: Path) -> None:
    result = backtest(workspace, "history.csv", "--test-start", "2025-12-20")
    assert result.exit_code == 0, result.output
    assert "still open within their promise" in result.output and "lies between" in result.output


def test_the_first_registered_version_becomes_champion_and_later_ones_do_not(
    workspace: Path, tmp_path: Path
) -> None:
    from eta import tracking

    train = ("train", "--spec", workspace / "spec.yaml", "--data", workspace / "history.csv")
    first = run(*train, "--out", tmp_path / "first", "--register")
    assert first.exit_code == 0, first.output
    assert "registered tickets version 1 as @champion" in first.output
    assert tracking.alias_version("tickets", "champion") == "1"

    second = run(*train, "--out", tmp_path / "second", "--register")
    assert second.exit_code == 0, second.output
    assert "@champion stays on version 1" in second.output
    assert tracking.alias_version("tickets", "champion") == "1"


def test_a_rejected_row_is_said_on_the_line_it_begins_after_cells_with_line_breaks(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ServiceNow's descriptions hold line breaks: 'line row + 1' sent the reader three lines
    above the row. The line is counted only when rows were rejected."""
    from eta.cli import load_checked_history
    from eta.spec import DatasetSpec

    history = pd.read_csv(workspace / "history.csv", dtype=str).head(400)
    history.insert(1, "note", "printer jam")
    history.loc[0:2, "note"] = "user says:\nprinter jam"
    history.loc[7, "resolved_at"] = history.loc[8, "resolved_at"]  # the workspace's bad row
    history.loc[9, "created_at"] = "not a date"
    data = tmp_path / "multiline.csv"
    history.to_csv(data, index=False)
    lines = data.read_text().split("\n")
    assert [i + 1 for i, line in enumerate(lines) if "not a date" in line] == [14]
    dataset = DatasetSpec.from_yaml(workspace / "spec.yaml")
    load_checked_history(data, dataset, None, None)
    said = capsys.readouterr().err
    assert "row 10 (line 14), column 'created_at'" in said


def test_a_segment_whose_promises_lie_beyond_every_finish_is_named(capsys) -> None:
    """A team whose items take months, three quarters open, in a history long enough for the
    rest: its promises were kept 39% of the time, and the warning for the whole history did
    not fire."""
    from eta.cli import _print_short_history

    info = {"still_running_share": 0.05, "still_running_by_segment": {"B": 0.35, "A": 0.02}}
    _print_short_history(info, 0.9)
    said = " ".join(capsys.readouterr().out.split())
    assert (
        "a short history for some segments' durations: of their items, an estimated B 35%" in said
    )
    assert "A 2%" not in said
    _print_short_history({**info, "still_running_by_segment": {"A": 0.02}}, 0.9)
    assert capsys.readouterr().out == ""


def test_rejected_rows_are_counted_by_column_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first three rejected rows may all be of one kind; the count per kind says the rest."""
    from eta.cli import load_checked_history

    sim = tickets(400, seed=3)
    history = sim.history.astype({"created_at": str, "resolved_at": str, "queue_open": str})
    history.loc[[1, 2, 3], "queue_open"] = ["many", "lots", "few"]
    history.loc[[5, 6], "created_at"] = ["x", "yesterday"]
    history.to_csv(tmp_path / "history.csv", index=False)
    load_checked_history(tmp_path / "history.csv", sim.spec, None, None)
    said = " ".join(capsys.readouterr().err.split())
    assert "5 row(s) rejected" in said, said
    assert (
        "by column and reason: 3 queue_open: not a number: '…'; "
        "2 created_at: unparseable timestamp '…': not ISO-8601"
    ) in said, said


def test_no_season_asks_for_a_history_longer_than_the_one_given(tmp_path: Path) -> None:
    # 14 months: over a year, but the latest fifth calibrates, so the trees see under a year.
    days = 425
    sim = tickets(3_000, seed=5, start="2024-06-01", days=days)
    sim.history.to_parquet(tmp_path / "history.parquet")
    (tmp_path / "spec.yaml").write_text(sim.spec.to_yaml())
    args = ["--spec", tmp_path / "spec.yaml", "--data", tmp_path / "history.parquet"]
    result = run("train", *args, "--out", tmp_path / "model")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    months = re.search(r"no yearly season learnt:.* about (\d+) months or more", said)
    assert months, said
    assert int(months.group(1)) * 30.44 > days, said  # more than what was given
    result = run("backtest", *args, "--test-start", "2025-07-01")
    assert result.exit_code == 0, result.output
    assert "no yearly season learnt" in result.output, result.output


def test_train_says_no_season_was_learnt_only_from_under_a_year(tmp_path: Path) -> None:
    # 600 days: the quantile models' items (all but the latest fifth) span over a year.
    sim = tickets(4_000, seed=5, start="2024-06-01", days=600)
    sim.history.to_parquet(tmp_path / "history.parquet")
    (tmp_path / "spec.yaml").write_text(sim.spec.to_yaml())
    result = run(
        "train",
        "--spec",
        tmp_path / "spec.yaml",
        "--data",
        tmp_path / "history.parquet",
        "--out",
        tmp_path / "model",
    )
    assert result.exit_code == 0, result.output
    assert "no yearly season learnt" not in result.output, result.output


def test_train_says_a_small_history_gives_wide_promises(tmp_path: Path) -> None:
    sim = tickets(400, seed=5)
    sim.history.to_parquet(tmp_path / "history.parquet")
    (tmp_path / "spec.yaml").write_text(sim.spec.to_yaml())
    train = ("--spec", tmp_path / "spec.yaml", "--data", tmp_path / "history.parquet")
    result = run("train", *train, "--out", tmp_path / "model")
    assert result.exit_code == 0, result.output
    finished = int(sim.history["resolved_at"].notna().sum())
    assert f"a small history: {finished:,} finished items" in " ".join(result.output.split())


def test_commands_started_together_on_a_new_tracking_store_all_open_it(tmp_path: Path) -> None:
    """MLflow makes a new SQLite store's tables on first use: of three commands a tester
    started at once, two failed ("table _alembic_tmp_experiments already exists")."""
    env = {**os.environ, "ETA_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    opening = "from eta.tracking import check_store; check_store()"
    started = [
        subprocess.Popen([sys.executable, "-c", opening], env=env, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    failures = [p.stderr.read().decode() for p in started if p.wait(timeout=120) != 0]
    assert failures == [], failures


def test_the_worst_segments_shown_are_those_furthest_below_target(monkeypatch) -> None:
    """400 sellers: the lowest rates belong to sellers with two orders judged, which say
    little; a seller with 213 orders, 64% kept, says much and heads the table."""
    import io

    from rich.console import Console

    from eta import cli

    rates = {f"S{k:03d}": (0.5, 2) for k in range(20)} | {"S398": (0.64, 213)}
    rates |= {f"T{k:03d}": (0.9, 300) for k in range(380)}
    by_segment = pd.DataFrame(
        {
            "items": [n for _, n in rates.values()],
            "on_time_rate": [r for r, _ in rates.values()],
            "not_yet_known": 0,
        },
        index=pd.Index(list(rates), name="segment"),
    ).sort_values("on_time_rate")
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=120))
    cli._print_segments(by_segment, 0.9)
    shown = re.findall(r"\b([ST]\d{3})\b", out.getvalue())
    assert shown[0] == "S398" and len(shown) == cli.SEGMENTS_SHOWN, shown
    assert "10 of 401 furthest" in out.getvalue()
