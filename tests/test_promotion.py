"""Retrain and promote: the alias moves only to a candidate that keeps promises better."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eta import tracking
from eta.cli import app
from eta.data import FINISHED, HOURS, START, History, load_history, seen_at
from eta.evaluation import pinball_losses
from eta.model import EtaModel, Settings
from eta.promotion import (
    CHALLENGER,
    CHAMPION,
    Gate,
    Tighter,
    compare,
    durations_moved,
    renamed_values,
    retrain_and_promote,
    window_shrunk,
    without_champion,
)

runner = CliRunner()


def metrics(on_time: float, pinball: float, worst: float | None = None, items: int = 5000) -> dict:
    return {
        "items": items,
        "on_time_rate": on_time,
        "gap": on_time - 0.9,
        "pinball_loss": pinball,
        "worst_segment_on_time_rate": worst,
    }


@pytest.mark.parametrize(
    ("candidate", "champion", "tighter", "promote"),
    [
        (metrics(0.90, 5.0), None, None, True),
        (metrics(0.85, 5.0), None, None, False),
        (metrics(0.90, 5.0), metrics(0.90, 5.5), Tighter(0.5, 0.1), True),
        (metrics(0.90, 5.0), metrics(0.90, 5.5), Tighter(0.5, 0.3), False),  # noise
        (metrics(0.90, 5.6), metrics(0.90, 5.5), Tighter(-0.1, 0.01), False),
        (metrics(0.84, 4.0), metrics(0.90, 5.5), Tighter(1.5, 0.1), False),
        (metrics(0.90, 6.0), metrics(0.80, 5.5), Tighter(-0.5, 0.1), True),
        (metrics(0.90, 5.0, worst=0.80), metrics(0.90, 5.5, worst=0.88), Tighter(0.5, 0.1), False),
        (metrics(0.90, 5.0, worst=0.87), metrics(0.90, 5.5, worst=0.88), Tighter(0.5, 0.1), True),
        (metrics(0.90, 5.0, items=50), None, None, False),
    ],
)
def test_the_gate_promotes_only_a_calibrated_candidate_that_is_clearly_better(
    candidate: dict, champion: dict | None, tighter: Tighter | None, promote: bool
) -> None:
    decided, reasons = Gate().decide(candidate, champion, 0.9, tighter)
    assert decided is promote and reasons


def test_a_candidate_off_target_is_told_where_the_champion_stands() -> None:
    """87.4% against a champion's 86.9%, tighter too: "the candidate misses the target" alone
    read as if the champion kept its promises."""
    decided, reasons = Gate().decide(metrics(0.874, 5.878), metrics(0.869, 5.926), 0.9)
    assert not decided and reasons[0].startswith("the candidate keeps 87.4% of its promises")
    assert reasons[1].startswith("the champion keeps 86.9%, 3.1 pt from it: neither is on target")
    _, reasons = Gate().decide(metrics(0.874, 5.878), metrics(0.90, 5.926), 0.9)
    assert reasons[1] == "the champion keeps 90.0%, 0.0 pt from it"


def test_an_export_whose_durations_moved_far_from_the_champions_is_doubted(tickets_model) -> None:
    """Every duration divided by three went through a retrain without a word."""
    import copy

    champion = tickets_model
    median = champion.info_["median_finish_hours"]
    assert median > 0
    candidate = copy.copy(champion)
    candidate.info_ = {**champion.info_, "median_finish_hours": median / 3}
    said = durations_moved(candidate, champion)
    assert said is not None and "3.0 times shorter than the champion's history" in said
    candidate.info_["median_finish_hours"] = median * 1.5  # a slower season: no doubt
    assert durations_moved(candidate, champion) is None
    older = copy.copy(champion)
    older.info_ = {k: v for k, v in champion.info_.items() if k != "median_finish_hours"}
    assert durations_moved(candidate, older) is None  # saved before it kept one


def test_category_values_renamed_since_the_champion_are_doubted(tickets_model) -> None:
    """'Billing' renamed 'billing & payments' in every row of an export: promoted without a
    word, and live tickets still written 'Billing' kept 80% of their promises. A value added,
    or one of many sellers gone, is not doubted."""
    import copy

    champion = tickets_model
    candidate = copy.copy(champion)
    categories = champion.categories_["category"]
    renamed = ["billing & payments" if v == "billing" else v for v in categories]
    candidate.categories_ = {**champion.categories_, "category": renamed}
    [said] = renamed_values(candidate, champion)
    assert said.startswith("check the export: category values the champion learnt are gone")
    assert "(billing)" in said and "(billing & payments)" in said
    candidate.categories_["category"] = [*categories, "returns"]
    assert renamed_values(candidate, champion) == []
    sellers = [f"S{k:03d}" for k in range(400)]
    champion = copy.copy(champion)
    champion.categories_ = {**champion.categories_, "seller": sellers}
    candidate.categories_ = {**candidate.categories_, "seller": [*sellers[1:], "S400"]}
    assert renamed_values(candidate, champion) == []


def test_an_export_spanning_less_than_half_the_champions_history_is_doubted(
    tickets_model,
) -> None:
    """An export cut to its last three weeks was refused as too short, never called cut."""
    import copy

    champion = tickets_model
    first, last = champion.info_["training_window"]
    candidate = copy.copy(champion)
    late = pd.Timestamp(last) - pd.Timedelta(days=21)
    candidate.info_ = {**champion.info_, "training_window": [late.isoformat(), last]}
    said = window_shrunk(candidate, champion)
    assert said is not None and said.startswith(f"check the export: it starts on {late:%Y-%m-%d}")
    assert "spans 21 days" in said and "truncated?" in said
    longer = pd.Timestamp(first) - pd.Timedelta(days=30)  # a longer export: nothing to say
    candidate.info_["training_window"] = [longer.isoformat(), last]
    assert window_shrunk(candidate, champion) is None


def test_a_day_that_moves_every_item_counts_once_in_the_standard_error() -> None:
    rng = np.random.default_rng(7)
    days = np.repeat(np.arange(20), 200)
    actual = np.full(days.size, 10.0)
    champion = actual + 1.0  # padded by an hour: loss 0.1 each
    # The candidate's promise moves with each day's luck, nearly the same for its items.
    candidate = actual + 1.0 + np.repeat(rng.normal(0.0, 0.5, 20), 200) + rng.normal(0, 0.01, 4000)
    tighter = Tighter.measure(actual, candidate, champion, days, 0.9)
    gain = pinball_losses(actual, champion, 0.9) - pinball_losses(actual, candidate, 0.9)
    naive = gain.std(ddof=1) / np.sqrt(gain.size)
    assert tighter.by == pytest.approx(gain.mean())
    assert tighter.standard_error > 10 * naive  # 20 days, not 4,000 items, of evidence


def test_a_small_holdout_widens_the_allowed_gap_to_two_standard_errors() -> None:
    gate = Gate(tolerance=0.01)
    assert gate.allowed_gap(0.9, 100_000) == 0.01
    assert gate.allowed_gap(0.9, 400) == pytest.approx(2 * (0.09 / 400) ** 0.5)


def test_retrain_registers_every_version_and_moves_the_champion_alias_only_when_it_should(
    tickets_history: History, tmp_path: Path
) -> None:
    import mlflow

    early = seen_at(tickets_history, tickets_history.as_of - pd.Timedelta(days=75))
    first = retrain_and_promote(early, "tickets", tmp_path / "first")
    assert first.comparison.promote and first.comparison.champion is None
    assert (first.report.parent / "report.md").exists()

    # What looked wrong in the export is in the report and the run, not only on a terminal.
    doubt = "priority: every value is missing, so it tells the model nothing"
    doubted = replace(tickets_history, doubts=(doubt,))
    second = retrain_and_promote(doubted, "tickets", tmp_path / "second")
    assert f"check the data: {doubt}" in second.report.read_text()
    run = mlflow.MlflowClient().get_run(second.run_id)
    assert run.data.metrics["data_doubts"] == 1.0
    assert second.comparison.champion is not None
    assert second.comparison.holdout.start >= pd.Timestamp(early.as_of)  # champion never saw it
    champion = tracking.load_model("tickets", CHAMPION)
    expected = second.version if second.comparison.promote else first.version
    assert champion.info_["as_of"] == _as_of(expected)
    if not second.comparison.promote:
        assert tracking.load_model("tickets", CHALLENGER).info_["as_of"] == _as_of(second.version)
    report = second.report.read_text()
    assert "| pinball loss |" in report and ("**promoted**" in report) == second.comparison.promote
    # Each segment's size and rates, and the worst of 300+ items named (a tester's report had
    # a bar chart alone, and a "worst segment" row that was not the worst shown)
    assert "On time by segment" in report and "| segment | items | candidate | champion |" in report
    assert "| worst segment of 300+ items |" in report and "| … which one |" in report
    assert "lower by -" not in report

    # With a champion trained on everything, no outcome it has not seen is known yet (another
    # seed: the same recipe would be the champion itself, which is not registered again).
    tracking.set_alias("tickets", CHAMPION, second.version)
    third = retrain_and_promote(
        tickets_history, "tickets", tmp_path / "third", settings=Settings(seed=1)
    )
    assert third.version is not None and third.identical_to is None
    assert not third.comparison.promote and "only" in third.comparison.reasons[0]
    assert tracking.load_model("tickets", CHAMPION).info_["as_of"] == _as_of(second.version)

    # The same candidate again, not promoted again: the challenger's own files, not registered
    # a second time (a nightly job on an export that did not change).
    fourth = retrain_and_promote(
        tickets_history, "tickets", tmp_path / "fourth", settings=Settings(seed=1)
    )
    assert fourth.identical_to == (CHALLENGER, third.version) and fourth.version is None
    assert not fourth.comparison.promote
    said = fourth.comparison.reasons[-1]
    assert f"identical to the challenger, tickets version {third.version}" in said
    registered = mlflow.MlflowClient().search_model_versions("name = 'tickets'")
    assert sorted(int(v.version) for v in registered) == [1, 2, 3]
    assert tracking.alias_version("tickets", CHALLENGER) == third.version
    assert tracking.alias_version("tickets", CHAMPION) == second.version


def _as_of(version: str) -> str:
    import mlflow

    client = mlflow.MlflowClient()
    run = client.get_run(client.get_model_version("tickets", version).run_id)
    return run.data.params["as_of"]


def test_the_pipeline_answers_bad_input_with_one_line_and_status_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).parents[1] / "pipelines" / "retrain_and_promote.py"
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: t\nkind: resolution\nstart: a\nend: b\nclock: sometimes\n")
    done = subprocess.run(
        [sys.executable, str(script), "--spec", str(spec), "--data", str(tmp_path / "h.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "key 'clock'" in done.stderr and "Traceback" not in done.stderr
    spec.write_text("name: t\nkind: resolution\nstart: a\nend: b\n")
    for option, value, says in (
        ("--holdout-days", "0", "0 is not a finite number of days above 0"),
        ("--holdout-days", "inf", "inf is not a finite number of days"),
        ("--tolerance", "-1", "-1 is not a share of promises from 0 to 1"),
    ):
        done = subprocess.run(
            [sys.executable, str(script), "--spec", str(spec), "--data", str(spec), option, value],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2 and says in done.stderr, done.stderr


def test_the_pipeline_takes_the_max_rejected_its_error_names(
    tickets_sim, tmp_path: Path, monkeypatch
) -> None:
    """An export appended to itself was refused "…or allow more with --max-rejected", and the
    retrain pipeline then said "No such option"."""
    import subprocess
    import sys

    monkeypatch.setenv("ETA_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    script = Path(__file__).parents[1] / "pipelines" / "retrain_and_promote.py"
    (tmp_path / "spec.yaml").write_text(tickets_sim.spec.to_yaml())
    head = tickets_sim.history.head(30)  # appended again, re-exported: its ids, other cells
    pd.concat([head, head.assign(queue_open=head["queue_open"] + 1)]).to_csv(
        tmp_path / "twice.csv", index=False
    )
    args = [sys.executable, str(script), "--spec", str(tmp_path / "spec.yaml")]
    args += ["--data", str(tmp_path / "twice.csv"), "--out", str(tmp_path / "out")]
    refused = subprocess.run(args, capture_output=True, text=True, check=False)
    assert "--max-rejected" in refused.stderr, refused.stderr
    allowed = subprocess.run([*args, "--max-rejected", "0.6"], capture_output=True, text=True)
    # Read past the duplicates, it stops at what thirty items cannot do: learn.
    assert "No such option" not in allowed.stderr and "--max-rejected" not in allowed.stderr
    assert "finished" in allowed.stderr, allowed.stderr


def test_the_pipelines_run_end_to_end_with_a_local_as_of(
    tickets_sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    root = Path(__file__).parents[1] / "pipelines"
    monkeypatch.setenv("ETA_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    history = tmp_path / "history.csv"
    tickets_sim.history.to_csv(history, index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(tickets_sim.spec.to_yaml())

    def run(script: str, *args: object) -> subprocess.CompletedProcess:
        command = [sys.executable, str(root / script), *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)

    retrained = run(
        "retrain_and_promote.py", "--spec", spec, "--data", history, "--out", tmp_path / "m",
        "--as-of", "2025-11-01 00:00",
    )  # fmt: skip
    assert retrained.returncode == 0, retrained.stderr
    assert "version 1: promoted" in retrained.stdout
    items = tickets_sim.history[tickets_sim.history[tickets_sim.spec.start] >= "2025-11-01"]
    items.drop(columns=tickets_sim.spec.end).to_csv(tmp_path / "items.csv", index=False)
    quoted = runner.invoke(
        app,
        ["quote", "--model", str(tmp_path / "m" / "model"), "--data", str(tmp_path / "items.csv"),
         "--out", str(tmp_path / "q.csv")],
    )  # fmt: skip
    assert quoted.exit_code == 0, quoted.output
    monitored = run(
        "monitor.py", "--quotes", tmp_path / "q.csv", "--outcomes", history, "--spec", spec,
        "--as-of", "2025-12-15 00:00", "--out", tmp_path / "report",
    )  # fmt: skip
    assert monitored.returncode in (0, 1), monitored.stderr  # 1: an alert was raised
    assert "promises due" in monitored.stdout and "Traceback" not in monitored.stderr
    assert int(monitored.stdout.split(" promises due")[0].split()[-1].replace(",", "")) > 100


def test_a_history_the_champion_cannot_read_is_refused_before_anything_is_registered(
    tickets_model, tickets_sim, deliveries_sim, tmp_path: Path
) -> None:
    import mlflow

    from eta.data import load_history
    from eta.promotion import ChampionMismatch

    logged = tracking.log_run(
        "train tickets", {}, {}, model_dir=tickets_model.save(tmp_path / "m"), register_as="tickets"
    )
    tracking.set_alias("tickets", CHAMPION, logged["version"])
    deliveries = load_history(deliveries_sim.history, deliveries_sim.spec)
    with pytest.raises(ChampionMismatch, match="champion tickets version 1 reads column") as error:
        retrain_and_promote(deliveries, "tickets", tmp_path / "out")
    assert "'priority'" in str(error.value) and "spec differs" in str(error.value)
    tickets = load_history(
        tickets_sim.history, tickets_sim.spec.model_copy(update={"clock": "wall"})
    )
    with pytest.raises(ChampionMismatch, match=r"counts time on the business clock .* on the wall"):
        retrain_and_promote(tickets, "tickets", tmp_path / "out")
    versions = mlflow.MlflowClient().search_model_versions("name = 'tickets'")
    assert [str(v.version) for v in versions] == ["1"]


def test_a_candidate_older_than_the_challenger_leaves_the_challenger_where_it_is(
    tickets_history: History, tickets_model: EtaModel, tmp_path: Path
) -> None:
    """A tester's retrain on an export as of 1 November moved @challenger back from a version
    that had learnt from January's."""
    from eta.promotion import Gate

    early = seen_at(tickets_history, tickets_history.as_of - pd.Timedelta(days=75))
    _register_champion(EtaModel(early.spec).fit(early), tmp_path / "champion")
    logged = tracking.log_run(
        "train tickets", {}, {}, model_dir=tickets_model.save(tmp_path / "c"), register_as="tickets"
    )
    tracking.set_alias("tickets", CHALLENGER, logged["version"])
    middle = seen_at(tickets_history, tickets_history.as_of - pd.Timedelta(days=30))
    never = Gate(min_items=10**9)  # nothing is promoted
    result = retrain_and_promote(middle, "tickets", tmp_path / "out", gate=never)
    assert result.version is not None and not result.comparison.promote
    assert tracking.alias_version("tickets", CHALLENGER) == logged["version"]
    assert f"@challenger stays on version {logged['version']}" in result.comparison.reasons[-1]
    assert "@challenger stays" in result.report.read_text()
    # A candidate of later history than the challenger's still takes the alias.
    later = retrain_and_promote(
        tickets_history, "tickets", tmp_path / "later", gate=never, settings=Settings(seed=1)
    )
    assert tracking.alias_version("tickets", CHALLENGER) == later.version


def _register_champion(model: EtaModel, directory: Path) -> None:
    logged = tracking.log_run(
        "train tickets", {}, {}, model_dir=model.save(directory), register_as="tickets"
    )
    tracking.set_alias("tickets", CHAMPION, logged["version"])


def test_a_change_of_promise_level_is_refused_before_anything_is_registered(
    tickets_model: EtaModel, tickets_sim, tmp_path: Path
) -> None:
    """A P80 candidate replaced a P90 champion, judged at 80% as over-padded: the promise
    customers get dropped to 80% without anyone deciding it."""
    import mlflow

    from eta.promotion import ChampionMismatch

    _register_champion(tickets_model, tmp_path / "m")
    at_80 = load_history(
        tickets_sim.history, tickets_sim.spec.model_copy(update={"confidence": 0.8})
    )
    with pytest.raises(ChampionMismatch, match="promises at P90, the new spec 'tickets' at P80"):
        retrain_and_promote(at_80, "tickets", tmp_path / "out")
    with pytest.raises(ChampionMismatch, match=r"on purpose, register the new model \(eta train"):
        compare(EtaModel(at_80.spec), at_80, tickets_model)
    versions = mlflow.MlflowClient().search_model_versions("name = 'tickets'")
    assert [str(v.version) for v in versions] == ["1"]


def test_a_candidate_compared_with_its_own_champion_says_the_holdout_cannot_tell(
    tickets_history: History,
) -> None:
    """A monthly retrain after a promotion trains its shadow on the champion's own history
    (the holdout starts at the champion's cut-off): the two tied on every item, and the report
    said "not tighter"."""
    cutoff = tickets_history.as_of - pd.Timedelta(days=25)
    champion = EtaModel(tickets_history.spec).fit(seen_at(tickets_history, cutoff))
    comparison = compare(EtaModel(tickets_history.spec), tickets_history, champion)
    assert comparison.holdout.start == pd.Timestamp(champion.as_of_)
    assert comparison.tighter.by == 0 and comparison.tighter.standard_error == 0
    [reason] = comparison.reasons
    assert not comparison.promote
    assert "promised exactly what the champion did: this holdout cannot tell them apart" in reason
    assert "the 25 days since is untested" in reason


def test_a_candidate_spec_with_fewer_features_is_not_told_the_export_lacks_them(
    tickets_model: EtaModel, tickets_sim
) -> None:
    """The file had the champion's columns; only the new spec left them out, and the message
    sent the data team looking for a fault in the export."""
    from eta.promotion import ChampionMismatch, check_champion_reads
    from eta.spec import FeatureSpec

    weak = tickets_sim.spec.model_copy(
        update={"features": FeatureSpec(categorical=("channel",)), "segments": ()}
    )
    history = load_history(tickets_sim.history, weak)
    with pytest.raises(ChampionMismatch) as error:
        check_champion_reads(tickets_model, history)
    message = str(error.value)
    assert "['priority', 'category', 'queue_open']" in message
    assert "the new spec 'tickets' (features ['channel']) does not load" in message
    assert "does not have" not in message and "declare them in the new spec" in message


def test_a_holdout_too_short_for_the_gate_says_to_lengthen_it_not_to_wait(
    tickets_history: History,
) -> None:
    """A 1-day holdout behind a champion trained months before was blamed on the champion's
    cut-off and told to wait for outcomes, which never adds a day to it."""
    early = seen_at(tickets_history, tickets_history.as_of - pd.Timedelta(days=75))
    champion = EtaModel(early.spec).fit(early)
    for against in (champion, None):
        comparison = compare(
            EtaModel(tickets_history.spec), tickets_history, against, holdout_days=1
        )
        [reason] = comparison.reasons
        assert not comparison.promote and reason.startswith("the holdout of 1 day (")
        assert "(need 200): pass a longer --holdout-days" in reason
        assert "cut-off" not in reason and "retrain again" not in reason
        # A first candidate not promoted: the service has nothing to serve, and is told so
        *_, said = without_champion(comparison, "tickets").reasons
        assert said.startswith("there is no @champion of tickets yet, so nothing answers")
    promoted = replace(comparison, promote=True)
    assert without_champion(promoted, "tickets") == promoted


STORES = {
    "sqlite": (lambda path: f"sqlite:///{path}", "mlflow.db", Path.is_file),
    "plain path": (str, "mlruns", Path.is_dir),
    "file URI": (Path.as_uri, "mlruns", Path.is_dir),
}
"""Tracking stores in a local path: how a path is said as a URI, the store's name, what it is."""


@pytest.mark.parametrize("store", STORES)
def test_a_tracking_store_in_a_folder_that_does_not_exist_is_refused_not_made(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped ETA_TRACKING_URI made its folders and an empty registry, and the first
    candidate was promoted with no champion to compare it with (SQLite and MLflow's file store,
    a folder, alike)."""
    from eta.settings import get_settings

    as_uri, name, made = STORES[store]
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses it otherwise
    mistyped = tmp_path / "typo" / "sub" / name
    monkeypatch.setenv("ETA_TRACKING_URI", as_uri(mistyped))
    get_settings.cache_clear()
    with pytest.raises(tracking.TrackingError) as error:
        tracking.check_store()
    assert f"{as_uri(mistyped)!r} (ETA_TRACKING_URI) cannot be used" in str(error.value)
    assert f"the folder {mistyped.parent} does not exist" in str(error.value)
    assert not (tmp_path / "typo").exists()

    first = tmp_path / name  # a new store in a folder that exists: a team's first run
    monkeypatch.setenv("ETA_TRACKING_URI", as_uri(first))
    get_settings.cache_clear()
    tracking.check_store()
    assert made(first)


@pytest.mark.parametrize(
    ("champion_on_time", "says", "never_says"),
    [(0.921, "over-padded", "breaks"), (0.85, "breaks too many", "over-padded")],
)
def test_an_off_target_champion_is_replaced_with_the_reason_on_its_side_of_the_target(
    champion_on_time: float, says: str, never_says: str
) -> None:
    promote, reasons = Gate().decide(metrics(0.916, 5.0), metrics(champion_on_time, 5.5), 0.9)
    assert promote and len(reasons) == 1
    assert says in reasons[0] and never_says not in reasons[0] and "only" not in reasons[0]


def test_the_retrain_run_records_the_export_it_learnt_from(
    tickets_sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import subprocess
    import sys

    import mlflow

    from eta.settings import get_settings

    monkeypatch.chdir(tmp_path)
    history = tmp_path / "history.csv"
    tickets_sim.history.to_csv(history, index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(tickets_sim.spec.to_yaml())
    script = Path(__file__).parents[1] / "pipelines" / "retrain_and_promote.py"
    done = subprocess.run(
        [sys.executable, str(script), "--spec", str(spec), "--data", str(history),
         "--out", str(tmp_path / "m"), "--as-of", "2025-11-01 00:00"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr

    mlflow.set_tracking_uri(get_settings().tracking_uri)
    (run,) = mlflow.search_runs(experiment_names=["eta"], output_format="list")
    params = run.data.params
    assert params["data"] == str(history.resolve())
    assert params["data_sha256"] == hashlib.sha256(history.read_bytes()).hexdigest()
    assert 0 < int(params["data_rows"]) <= len(tickets_sim.history)
    assert params["champion_version"] == "none" and float(params["holdout_days"]) == 28
    assert_package_versions(params)


def assert_package_versions(params: dict[str, str]) -> None:
    """The run names the versions of what shaped its model, as installed."""
    from importlib.metadata import version

    for label, distribution in tracking.PACKAGES.items():
        assert params[f"{label}_version"] == version(distribution), label
    assert set(tracking.PACKAGES) >= {"eta", "lightgbm", "scikit-learn", "pandas", "numpy"}


def _pipeline():
    """The retrain pipeline's command, run in this process (a subprocess imports for seconds)."""
    import importlib.util

    path = Path(__file__).parents[1] / "pipelines" / "retrain_and_promote.py"
    spec = importlib.util.spec_from_file_location("retrain_and_promote", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def test_a_retrain_identical_to_the_champion_registers_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    """The scheduled job on the export the champion was trained on registered a second version
    of the same model, and @challenger moved to it."""
    import mlflow

    from eta import synthetic

    sim = synthetic.tickets(3_000, seed=4)
    sim.history.to_csv(tmp_path / "history.csv", index=False)
    (tmp_path / "spec.yaml").write_text(sim.spec.to_yaml())
    data = ("--spec", tmp_path / "spec.yaml", "--data", tmp_path / "history.csv")
    trained = runner.invoke(
        app, ["train", *map(str, data), "--out", str(tmp_path / "trained"), "--register"]
    )
    assert trained.exit_code == 0, trained.output

    retrained = CliRunner().invoke(_pipeline(), [*map(str, data), "--out", str(tmp_path / "r")])
    assert retrained.exit_code == 1, retrained.output  # not promoted: the champion stays
    said = " ".join(retrained.output.split())
    assert "tickets: not promoted, identical to version 1 (@champion)" in said
    assert "nothing was registered" in said
    assert "version 2" not in said
    client = mlflow.MlflowClient()
    assert [str(v.version) for v in client.search_model_versions("name = 'tickets'")] == ["1"]
    assert tracking.alias_version("tickets", CHAMPION) == "1"
    assert tracking.alias_version("tickets", CHALLENGER) is None
    report = (tmp_path / "r" / "report" / "report.md").read_text()
    assert "identical to the champion, tickets version 1" in report

    retrain = mlflow.search_runs(
        experiment_names=["eta"], filter_string="attributes.run_name = 'retrain tickets'",
        output_format="list",
    )[0]  # fmt: skip
    params = retrain.data.params
    assert params["champion_version"] == "1" and float(params["holdout_days"]) == 28
    assert params["model_sha256"] == tracking.model_fingerprint(tmp_path / "trained")
    assert retrain.data.metrics["promoted"] == 0
    assert_package_versions(params)


def test_outcomes_not_known_yet_are_counted_in_not_dropped() -> None:
    from eta.evaluation import on_time_estimate

    rng = np.random.default_rng(3)
    hours = rng.exponential(10.0, 20_000)
    promise = np.full(hours.size, 10.0 * np.log(10))  # the true P90: 90% kept
    open_for = rng.uniform(0.0, 60.0, hours.size)  # the export looked at each item this late
    finished = hours <= open_for
    seen = np.where(finished, hours, open_for)
    known = finished | (seen > promise)
    naive = (seen[known] <= promise[known]).mean()
    assert naive > 0.92  # the slow items' promises are still running: the known rate runs high
    assert on_time_estimate(pd.Series(seen), pd.Series(finished), promise) == pytest.approx(
        0.9, abs=0.01
    )


def test_the_weekly_on_time_rate_counts_in_the_latest_weeks_outcomes_not_known_yet() -> None:
    """The report's weekly plot read 100% where the reader looks first: in the last week, the
    promises still running are the slow items', and only the quick ones were known."""
    from eta.evaluation import kept_probability, known_outcomes, on_time_estimate
    from eta.promotion import on_time_by

    rng = np.random.default_rng(4)
    n, export = 16_000, pd.Timestamp("2025-03-03", tz="UTC")  # a Monday: eight whole weeks
    start = export - pd.to_timedelta(rng.uniform(0.0, 56.0, n), unit="D")
    hours = rng.exponential(48.0, n)
    promise = np.full(n, 48.0 * np.log(10))  # the true P90: 90% kept in every week
    watched = ((export - start) / pd.Timedelta(hours=1)).to_numpy()
    items = pd.DataFrame({HOURS: np.minimum(hours, watched), FINISHED: hours <= watched})
    quotes = pd.DataFrame(
        {
            "start": start,
            "segment": "all",
            "actual_hours": known_outcomes(items, promise),
            "hours": items[HOURS],
            "finished": items[FINISHED],
            "candidate_promise_hours": promise,
        }
    )
    week = start.tz_localize(None).to_period("W")
    weekly = on_time_by(quotes, ["candidate"], pd.Series(week, index=quotes.index))
    last = weekly.iloc[-1]
    assert last["candidate_known"] > 0.94  # the slow promises of the last week still running
    assert last["candidate"] == pytest.approx(0.9, abs=0.03)
    assert weekly["candidate"].between(0.87, 0.93).all()
    # The weeks' estimates are parts of the whole one, not estimates of their own.
    kept = kept_probability(quotes["hours"], quotes["finished"], promise)
    assert np.nanmean(kept) == pytest.approx(
        on_time_estimate(items[HOURS], items[FINISHED], promise)
    )
    assert kept[items[FINISHED] & (items[HOURS] <= promise)].min() == 1.0


def test_a_candidate_older_than_the_champion_is_refused_and_not_registered(
    tickets_history: History, tickets_model, tmp_path: Path
) -> None:
    """Registered anyway, it became @challenger, the alias of the latest candidate: a model
    older than the one in service (a tester's --as-of before the champion's)."""
    import mlflow

    from eta.model import EtaModel
    from eta.promotion import ChampionMismatch, compare

    _register_champion(tickets_model, tmp_path / "m")
    older = seen_at(tickets_history, tickets_history.as_of - pd.Timedelta(days=90))
    with pytest.raises(ChampionMismatch) as refused:
        retrain_and_promote(older, "tickets", tmp_path / "out")
    said = str(refused.value)
    assert "is older than the history of the champion" in said and "will not change that" in said
    assert f"{older.as_of:%Y-%m-%d}" in said and f"{tickets_model.as_of_:%Y-%m-%d}" in said
    assert "Nothing was registered" in said
    versions = mlflow.MlflowClient().search_model_versions("name = 'tickets'")
    assert [str(v.version) for v in versions] == ["1"]
    with pytest.raises(ChampionMismatch, match="older than"):
        compare(EtaModel(older.spec), older, tickets_model)


def test_a_history_shorter_than_the_holdout_is_told_so_with_its_own_dates(
    tickets_history: History, tmp_path: Path
) -> None:
    """A two-week export was reported as judged from a date before its first row, and was
    told to wait for more outcomes, which would never make room to train the shadow."""
    from dataclasses import replace

    from eta.model import EtaModel
    from eta.promotion import compare, write_report

    frame = tickets_history.frame
    recent = frame[frame[START] >= tickets_history.as_of - pd.Timedelta(days=21)]
    short = replace(tickets_history, frame=recent.reset_index(drop=True))
    comparison = compare(EtaModel(short.spec), short, None)
    assert not comparison.promote and comparison.holdout.start == recent[START].min()
    [reason] = comparison.reasons
    assert reason.startswith(f"the history starts on {recent[START].min():%Y-%m-%d}, less than")
    assert "pass a shorter --holdout-days" in reason
    report = write_report(comparison, "tickets", tmp_path / "report").read_text()
    assert f"items starting {recent[START].min():%Y-%m-%d %H:%M} to" in report


def test_a_champion_too_recent_to_judge_is_named_in_the_report(
    tickets_history: History, tickets_model, tmp_path: Path
) -> None:
    from eta.model import EtaModel
    from eta.promotion import compare, write_report

    comparison = compare(EtaModel(tickets_history.spec), tickets_history, tickets_model)
    assert not comparison.promote and "retrain again when more outcomes" in comparison.reasons[0]
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "on_time_by_week.png").write_bytes(b"an earlier run's plot")
    report = write_report(comparison, "tickets", tmp_path / "report").read_text()
    assert "no champion" not in report and "Holdout: none" in report
    assert not (tmp_path / "report" / "on_time_by_week.png").exists()  # nothing was plotted


def test_the_champion_reads_an_export_in_another_case_as_it_learnt_it(tickets_sim) -> None:
    """The export now writes 'TECHNICAL': the champion was quoted as if every category were
    new to it, kept fewer promises and was replaced by a model no better."""
    spec = tickets_sim.spec
    history = load_history(tickets_sim.history, spec)
    champion = EtaModel(spec).fit(seen_at(history, history.as_of - pd.Timedelta(days=30)))
    shouting = load_history(
        tickets_sim.history.assign(category=lambda f: f["category"].str.upper()), spec
    )
    judged = [
        compare(EtaModel(spec), h, champion, holdout_days=14).champion for h in (history, shouting)
    ]
    assert judged[0]["items"] > 300
    assert judged[1] == judged[0]


def _delete_artifacts(version: str) -> str:
    """Delete a registered version's files (a cleaned ``mlruns``); returns its source."""
    import shutil

    import mlflow

    source = mlflow.MlflowClient().get_model_version("tickets", version).source
    shutil.rmtree(Path(source.removeprefix("file://")))
    return source


def test_a_champion_whose_artifacts_are_gone_is_named_with_where_they_were(
    tickets_model, tickets_sim, tmp_path: Path
) -> None:
    """MLflow raises nothing for a version whose files were deleted: it downloads an empty
    folder, which the error called "not a model directory", with no word of what to do."""
    import subprocess
    import sys

    _register_champion(tickets_model, tmp_path / "m")
    source = _delete_artifacts("1")
    says = (
        f"tickets@champion (version 1): no model files at {source}; were they moved or "
        "deleted? register the model again (`eta train --register`), then move @champion to "
        "the new version"
    )
    with pytest.raises(FileNotFoundError) as error:
        tracking.load_model("tickets", CHAMPION)
    assert str(error.value) == says
    history, spec = tmp_path / "history.csv", tmp_path / "spec.yaml"
    tickets_sim.history.to_csv(history, index=False)
    spec.write_text(tickets_sim.spec.to_yaml())
    script = Path(__file__).parents[1] / "pipelines" / "retrain_and_promote.py"
    done = subprocess.run(
        [sys.executable, str(script), "--spec", str(spec), "--data", str(history),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


def test_a_challenger_whose_artifacts_are_gone_is_no_candidates_twin(
    tickets_model, tmp_path: Path
) -> None:
    """Its fingerprint was that of no files at all; a retrain asking whether it repeats the
    challenger should register its candidate, not stop."""
    _register_champion(tickets_model, tmp_path / "m")
    tracking.set_alias("tickets", CHALLENGER, "1")
    _delete_artifacts("1")
    assert tracking.registered_files("tickets", CHALLENGER) is None
    assert tracking.registered_files("tickets", "nobody") is None


def test_a_registered_model_whose_spec_was_edited_is_named_in_the_registry(
    tickets_model, tmp_path: Path
) -> None:
    """The error named the scratch folder the artifacts were downloaded to."""
    import mlflow

    from eta.model import SpecChanged

    _register_champion(tickets_model, tmp_path / "m")
    source = mlflow.MlflowClient().get_model_version("tickets", "1").source
    spec = Path(source.removeprefix("file://")) / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("clock: business", "clock: wall"))
    with pytest.raises(SpecChanged) as error:
        tracking.load_model("tickets", CHAMPION)
    assert str(error.value).startswith(
        f"tickets@champion (version 1): {source}/spec.yaml: changed after the model was trained"
    )


def test_a_candidate_of_an_export_unlike_the_champions_history_moves_no_alias(
    tickets_history: History, tmp_path: Path
) -> None:
    """A tester's export with 'billing' renamed in every row was promoted without a look, and
    live tickets still written the old way kept 80% of their promises; one cut to three weeks
    became @challenger, a click from service. Both are registered; neither alias moves."""
    early = seen_at(tickets_history, tickets_history.as_of - pd.Timedelta(days=75))
    _register_champion(EtaModel(early.spec).fit(early), tmp_path / "champion")
    champion = tracking.alias_version("tickets", CHAMPION)

    class Lenient(Gate):
        def decide(self, *args, **kwargs) -> tuple[bool, list[str]]:
            return True, ["any candidate is promoted"]

    lenient = Lenient()
    frame = tickets_history.frame
    category = frame["category"].astype(str)
    renamed = replace(
        tickets_history,
        frame=frame.assign(category=category.replace("billing", "billing & payments")),
    )
    result = retrain_and_promote(renamed, "tickets", tmp_path / "renamed", gate=lenient)
    assert result.version is not None and not result.comparison.promote
    said = "\n".join(result.comparison.reasons)
    assert "renamed?" in said and "move @champion to this candidate's version by hand" in said
    assert "@challenger is not set" in said
    assert tracking.alias_version("tickets", CHAMPION) == champion
    assert tracking.alias_version("tickets", CHALLENGER) is None
    # The same export unchanged is promoted by the same gate.
    plain = retrain_and_promote(tickets_history, "tickets", tmp_path / "plain", gate=lenient)
    assert plain.comparison.promote
    assert tracking.alias_version("tickets", CHAMPION) == plain.version
