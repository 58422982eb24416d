"""Robustness through the contracts: histories unlike the synthetic ones, driven through the CLI.

Each history is generated here (small, seeded) in the shapes real exports come in: zones far
from UTC with a DST change inside, business and wall clocks, naive and offset timestamps, CSV
and Parquet, no features or only numeric ones, a categorical with one value or hundreds, odd
column names, tiny or heavily censored histories, durations from seconds to months. Whatever
should work must train, quote and backtest (static and replay) with the contract's columns and
ordered, future promises; whatever should be refused must say where, without a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from eta.cli import app
from eta.quote import QUOTE_COLUMNS

runner = CliRunner()
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri"]
US_OFFICE = {"days": WEEKDAYS, "hours": ["09:00", "17:00"], "holidays": "US"}


def make_history(
    n: int = 1_500,
    *,
    seed: int = 0,
    tz: str = "UTC",
    last: str = "2025-04-15",
    days: int = 110,
    categorical: dict[str, int] | None = None,
    numeric: tuple[str, ...] = ("load",),
    blank_share: float = 0.0,
    heavy_tail: bool = False,
    looked_share: float = 0.0,
    weekends_only: bool = False,
) -> pd.DataFrame:
    """A history in columns ``item_id, opened, closed[, seen], <features>`` with aware instants.

    Items still running at the export are open (``closed`` empty). ``looked_share`` of the rows
    were last looked at a random age before they finished (open, with ``seen``), the way open
    tickets sit in an export. ``categorical`` maps a column to its number of values.
    """
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(last, tz=tz)
    offsets = np.sort(rng.integers(0, days * 86_400, n))
    start = end - pd.Timedelta(days=days) + pd.to_timedelta(offsets, unit="s")
    if weekends_only:  # move every start to the Saturday or Sunday of its week
        start = start + pd.to_timedelta((5 - start.day_of_week) % 7 + rng.integers(0, 2, n), "D")
    log_hours = rng.normal(np.log(10.0), 0.6, n)
    frame = pd.DataFrame({"item_id": [f"X{i:05d}" for i in range(n)]})
    for column, values in (categorical if categorical is not None else {"kind": 3}).items():
        codes = rng.integers(0, values, n)
        frame[column] = np.array([f"{column}-{j}" for j in range(values)], dtype=object)[codes]
        log_hours += 0.4 * (codes % 3)
    for column in numeric:
        values = rng.gamma(2.0, 2.0, n)
        log_hours += 0.06 * values
        frame[column] = np.where(rng.random(n) < blank_share, np.nan, values)
    if heavy_tail:  # from seconds to months
        log_hours = rng.normal(np.log(3.0), 2.5, n)
    hours = np.clip(np.exp(log_hours), 5 / 3600, 24 * 120)
    finish = start + pd.to_timedelta(hours * 3600, unit="s")
    as_of = pd.Series(start).max()
    looked = rng.random(n) < looked_share
    seen = start + pd.to_timedelta(rng.random(n) * hours * 3600, unit="s")
    is_open = (finish > as_of) | looked
    frame["opened"] = start
    frame["closed"] = pd.Series(finish).where(~is_open)
    if looked_share:
        frame["seen"] = pd.Series(seen.where(seen < as_of, as_of)).where(is_open)
    return frame


def as_text(values: pd.Series, style: str) -> pd.Series:
    """Aware instants written as an export would: with offset, naive local, or JS-style UTC."""
    formats = {"offset": "%Y-%m-%dT%H:%M:%S%z", "naive": "%Y-%m-%d %H:%M:%S"}
    if style == "js":
        text = values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    else:
        text = values.dt.strftime(formats[style])
    return text.where(values.notna(), None)


def write(frame: pd.DataFrame, path: Path, timestamps: str) -> Path:
    """Write ``frame`` with its instants as ``timestamps``: text styles for CSV, or for Parquet
    'aware' / 'naive' datetime columns (or text)."""
    frame = frame.copy()
    for column in ("opened", "closed", "seen"):
        if column not in frame:
            continue
        if timestamps == "aware":
            continue
        if timestamps == "naive-datetime":
            frame[column] = frame[column].dt.tz_localize(None)
        else:
            frame[column] = as_text(frame[column], timestamps)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def write_spec(path: Path, **keys: object) -> Path:
    spec = {
        "name": "robust",
        "kind": "resolution",
        "start": "opened",
        "end": "closed",
        "id": "item_id",
        "timezone": "UTC",
        "clock": "wall",
        "features": {"categorical": ["kind"], "numeric": ["load"]},
        "segments": ["kind"],
    }
    spec.update(keys)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def cli(*args: object) -> object:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def refused(*args: object) -> object:
    """A command that must fail cleanly: status 2, one error line, no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "error:" in result.output
    return result


def check_quotes(
    quotes: pd.DataFrame, starts: pd.Series | None = None, now: pd.Timestamp | None = None
) -> None:
    """The contract's columns, in order, and quotes a customer can rely on."""
    assert list(quotes.columns[: len(QUOTE_COLUMNS)]) == list(QUOTE_COLUMNS)
    instants = ["earliest_at", "likely_at", "follow_up_at", "promise_at"]
    for column in instants:
        quotes[column] = pd.to_datetime(quotes[column], utc=True, format="ISO8601")
    assert quotes[instants].notna().all().all()
    assert (quotes["earliest_at"] <= quotes["likely_at"]).all()
    assert (quotes["likely_at"] <= quotes["promise_at"]).all()
    assert (quotes["follow_up_at"] <= quotes["promise_at"]).all()
    if starts is not None:
        assert (quotes["promise_at"] > starts.to_numpy()).all()
    if now is not None:
        assert (quotes["promise_at"] > now).all()
    assert quotes["customer_message"].str.len().gt(20).all()


def train_quote_backtest(
    root: Path, history: pd.DataFrame, spec: Path, data: Path, test_start: str
) -> None:
    """Train, quote the latest items as new and as in progress, backtest static and replay."""
    trained = cli("train", "--spec", spec, "--data", data, "--out", root / "model")
    assert trained.exit_code == 0, trained.output
    items = history.tail(40).drop(columns=["closed", "seen"], errors="ignore")
    items_path = write(items, root / f"items{data.suffix}", "offset")
    starts = pd.to_datetime(items["opened"], utc=True)
    for now in (None, starts.max() + pd.Timedelta(hours=30)):
        out = root / "quotes.parquet"
        given = [] if now is None else ["--now", now.isoformat()]
        result = cli("quote", "--model", root / "model", "--data", items_path, "--out", out, *given)
        assert result.exit_code == 0, result.output
        quotes = pd.read_parquet(out)
        assert (quotes["error"] == "").all(), quotes["error"].unique()
        assert quotes["id"].tolist() == items["item_id"].tolist()
        check_quotes(quotes, starts, now)
    for replay in ([], ["--replay"]):
        out = root / "backtest.csv"
        result = cli(
            "backtest", "--spec", spec, "--data", data, "--test-start", test_start, *replay,
            "--out", out,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "on_time_rate" in result.output and "pinball" in result.output
        quotes = pd.read_csv(out)
        assert len(quotes) > 20
        check_quotes(quotes)


# -- histories that must work --------------------------------------------------------------

CLOCKS_AND_ZONES = {
    # zone, clock/calendar, timestamp style, file type
    "los-angeles-wall-offsets-csv": ("America/Los_Angeles", {}, "offset", ".csv"),
    "kolkata-business-naive-parquet": (
        "Asia/Kolkata",
        {
            "clock": "business",
            "calendar": {
                "days": [*WEEKDAYS, "Sat"],
                "hours": ["09:30", "18:30"],
                "holidays": "IN",
                "cutoff": "16:00",
            },
        },
        "naive",
        ".parquet",
    ),
    "chatham-wall-js-utc-csv": ("Pacific/Chatham", {}, "js", ".csv"),
    "chatham-business-aware-parquet": (
        "Pacific/Chatham",
        {"clock": "business", "calendar": {"days": WEEKDAYS, "hours": ["08:00", "16:45"]}},
        "aware",
        ".parquet",
    ),
    "los-angeles-business-naive-datetimes": (
        "America/Los_Angeles",
        {"clock": "business", "calendar": US_OFFICE},
        "naive-datetime",
        ".parquet",
    ),
}


@pytest.mark.parametrize("case", sorted(CLOCKS_AND_ZONES))
def test_zones_far_from_utc_with_a_dst_change_inside(tmp_path: Path, case: str) -> None:
    """DST starts on 9 Mar (Los Angeles) and ends on 6 Apr (Chatham, +12:45/+13:45) inside the
    data; India is +05:30 all year."""
    tz, clock, timestamps, suffix = CLOCKS_AND_ZONES[case]
    history = make_history(tz=tz, seed=len(case))
    data = write(history, tmp_path / f"history{suffix}", timestamps)
    spec = write_spec(tmp_path / "spec.yaml", timezone=tz, **clock)
    train_quote_backtest(tmp_path, history, spec, data, "2025-03-20")


FEATURE_SHAPES = {
    "numeric-only-mostly-blank": (
        {"categorical": {}, "blank_share": 0.6},
        {"features": {"numeric": ["load"]}, "segments": []},
    ),
    "no-features": (
        {"categorical": {}, "numeric": ()},
        {"features": {}, "segments": []},
    ),
    "one-categorical-with-one-value": (
        {"categorical": {"kind": 1}, "numeric": ()},
        {"features": {"categorical": ["kind"]}},
    ),
    "hundreds-of-values-as-segment": (  # many segments never finish an item in calibration
        {"categorical": {"kind": 400}},
        {},
    ),
    "two-levels-odd-names-thin-segment": (
        {"categorical": {"kind": 3, "équipe de nuit": 25}, "numeric": ("очередь load",)},
        {
            "features": {
                "categorical": ["kind", "équipe de nuit"],
                "numeric": ["очередь load"],
            },
            "segments": ["kind", "équipe de nuit"],
        },
    ),
}


@pytest.mark.parametrize("case", sorted(FEATURE_SHAPES))
def test_feature_and_segment_shapes(tmp_path: Path, case: str) -> None:
    shape, keys = FEATURE_SHAPES[case]
    history = make_history(seed=len(case), **shape)
    data = write(history, tmp_path / "history.csv", "offset")
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    train_quote_backtest(tmp_path, history, spec, data, "2025-03-25")


CENSORING_AND_SIZE = {
    "tiny-300-rows": ({"n": 300}, {}),
    "nothing-open": ({"days": 200, "last": "2025-08-01"}, {}),
    "sixty-percent-open-observed-until": ({"looked_share": 0.6}, {"observed_until": "seen"}),
    "seconds-to-months": ({"heavy_tail": True, "n": 2_000}, {}),
}


@pytest.mark.parametrize("case", sorted(CENSORING_AND_SIZE))
def test_sizes_censoring_and_heavy_tails(tmp_path: Path, case: str) -> None:
    shape, keys = CENSORING_AND_SIZE[case]
    history = make_history(seed=len(case), **shape)
    if case == "nothing-open":
        history = history[history["closed"].notna()].reset_index(drop=True)
        assert len(history) > 1_000
    data = write(history, tmp_path / "history.parquet", "aware")
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    test_start = str((history["opened"].max() - pd.Timedelta(days=20)).date())
    train_quote_backtest(tmp_path, history, spec, data, test_start)


def test_business_hours_when_every_item_starts_on_a_weekend_or_after_cutoff(
    tmp_path: Path,
) -> None:
    """Deliveries on a Mon-Fri calendar with a cut-off, every order placed on a weekend: the
    clock starts on the next working day and promises are dates."""
    history = make_history(tz="America/New_York", weekends_only=True, seed=3)
    data = write(history, tmp_path / "history.csv", "offset")
    calendar = {"days": WEEKDAYS, "holidays": "US-NY", "cutoff": "14:00"}
    spec = write_spec(
        tmp_path / "spec.yaml",
        kind="delivery",
        clock="business",
        timezone="America/New_York",
        calendar=calendar,
    )
    train_quote_backtest(tmp_path, history, spec, data, "2025-03-20")


# -- quoting unusual items -------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("robust-model")
    history = make_history(tz="America/Los_Angeles", seed=7)
    data = write(history, root / "history.csv", "offset")
    spec = write_spec(root / "spec.yaml", timezone="America/Los_Angeles", segments=["kind"])
    result = cli("train", "--spec", spec, "--data", data, "--out", root / "model")
    assert result.exit_code == 0, result.output
    return root / "model"


def quote(model: Path, tmp_path: Path, items: pd.DataFrame, *args: str) -> tuple[object, Path]:
    path = tmp_path / "items.csv"
    items.to_csv(path, index=False)
    out = tmp_path / "quotes.parquet"
    return cli("quote", "--model", model, "--data", path, "--out", out, *args), out


def test_unseen_missing_future_past_and_in_progress_items(model: Path, tmp_path: Path) -> None:
    now = pd.Timestamp("2025-04-16T10:00:00-07:00")
    items = pd.DataFrame(
        {
            "item_id": ["unseen", "blank", "future", "old", "elapsed", "overdue", "date-only"],
            "opened": [
                "2025-04-16T09:00:00-07:00",
                "2025-04-16 09:30:00",
                "2027-01-01T00:00:00Z",
                "2024-06-01T12:00:00+05:30",
                "2025-04-16T08:00:00-07:00",
                "2025-04-01T08:00:00-07:00",
                "2025-04-16",
            ],
            "kind": ["never-seen-before", None, "kind-1", "kind-2", "kind-0", "kind-1", "kind-0"],
            "load": [3.0, None, 1.0, 2.0, None, 4.0, 2.0],
            "elapsed": [None, None, None, None, 30.0, None, None],
            "promised_at": [None, None, None, None, None, "2025-04-03T17:00:00-07:00", None],
        }
    )
    result, out = quote(model, tmp_path, items, "--now", now.isoformat())
    assert result.exit_code == 0, result.output
    quotes = pd.read_parquet(out)
    assert (quotes["error"] == "").all(), quotes["error"].to_dict()
    check_quotes(quotes, pd.to_datetime(items["opened"], utc=True, format="mixed"), now)
    quotes = quotes.set_index("id")
    assert "thin_history" in quotes.loc["unseen", "risk_codes"]
    assert quotes.loc["elapsed", "elapsed_hours"] == 30.0
    assert quotes.loc["overdue", "escalate"] and "overdue" in quotes.loc["overdue", "risk_codes"]
    assert quotes.loc["future", "promise_at"] > pd.Timestamp("2027-01-01", tz="UTC")
    assert quotes.loc["old", "customer_message"].startswith("This is taking longer")


def test_a_date_without_time_is_local_midnight_not_utc(model: Path, tmp_path: Path) -> None:
    """'2025-04-16' in a Los Angeles history is that day's midnight there (its '-16' is the
    day, not a UTC offset): it gets the same quote as the same moment written in full."""
    items = pd.DataFrame(
        {"opened": ["2025-04-16", "2025-04-16T00:00:00-07:00"], "kind": "kind-0", "load": 2.0}
    )
    result, out = quote(model, tmp_path, items)
    assert result.exit_code == 0, result.output
    quotes = pd.read_parquet(out)
    assert quotes["promise_at"].nunique() == 1 and quotes["likely_at"].nunique() == 1


def test_bad_in_progress_values_are_row_errors_not_a_failed_batch(
    model: Path, tmp_path: Path
) -> None:
    items = pd.DataFrame(
        {
            "opened": ["2025-04-16T09:00:00-07:00"] * 4 + ["1950-01-01T00:00:00Z"],
            "elapsed": ["soon", "-5", "1e7", "12", None],
        }
    )
    result, out = quote(model, tmp_path, items, "--now", "2025-04-17T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert "4 row(s) could not be quoted" in result.output
    quotes = pd.read_parquet(out)
    assert quotes["error"][:3].tolist() == [
        f"column 'elapsed': {cell!r} is not a number of hours from 0 to 100,000"
        for cell in ("soon", "-5", "1e7")
    ]
    assert quotes["error"][3] == "" and quotes["elapsed_hours"][3] == 12.0
    assert quotes["error"][4].startswith("column 'opened': started more than 100,000 hours")
    assert quotes["promise_at"][:3].isna().all() and quotes["promise_at"][4:].isna().all()


# -- input that must be refused ------------------------------------------------------------


def test_too_many_bad_rows_are_refused_and_quarantined(tmp_path: Path) -> None:
    history = make_history(n=600, seed=5)
    data = write(history, tmp_path / "history.csv", "offset")
    text = pd.read_csv(data, dtype=str)
    text.loc[:59, "opened"] = "yesterday"  # 10% of the rows
    text.loc[100, "closed"] = "2001-01-01T00:00:00Z"
    text.loc[101, "load"] = "lots"
    text.to_csv(data, index=False)
    spec = write_spec(tmp_path / "spec.yaml")
    result = refused("train", "--spec", spec, "--data", data, "--out", tmp_path / "m")
    assert str(data) in result.output and "row 1 (line 2), column 'opened'" in result.output
    rejected = pd.read_csv(tmp_path / "history.rejected.csv")
    assert len(rejected) == 62
    reasons = dict(zip(rejected["row"], rejected["reason"], strict=True))
    assert reasons[1].startswith("unparseable timestamp 'yesterday': not ISO-8601")
    assert reasons[101] == "finishes before it starts" and reasons[102] == "not a number: 'lots'"


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"features": {"numeric": ["queue length"]}, "segments": []}, "queue length"),
        ({"observed_until": "last_seen"}, "last_seen"),
    ],
)
def test_a_spec_naming_a_column_the_file_lacks(tmp_path: Path, keys: dict, named: str) -> None:
    data = write(make_history(n=300), tmp_path / "history.parquet", "aware")
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    result = refused("train", "--spec", spec, "--data", data, "--out", tmp_path / "m")
    assert named in result.output and "history.parquet" in result.output


def test_empty_or_unusable_histories_and_periods_are_refused(tmp_path: Path) -> None:
    history = make_history(n=400, seed=9)
    spec = write_spec(tmp_path / "spec.yaml")
    empty = write(history.head(0), tmp_path / "empty.csv", "offset")
    assert (
        "no usable timestamps"
        in refused("train", "--spec", spec, "--data", empty, "--out", tmp_path / "m").output
    )
    data = write(history, tmp_path / "history.csv", "offset")
    after = refused("backtest", "--spec", spec, "--data", data, "--test-start", "2030-01-01")
    assert "no items start in the test period" in after.output
    before = refused("backtest", "--spec", spec, "--data", data, "--test-start", "2020-01-01")
    assert "items had finished" in before.output and "a later --test-start" in before.output
    backwards = ["--test-start", "2025-04-01", "--test-end", "2025-03-01"]
    reversed_period = refused("backtest", "--spec", spec, "--data", data, *backwards)
    assert (
        "ends (2025-03-01" in reversed_period.output
        and "before it starts" in reversed_period.output
    )
    early = refused(
        "train", "--spec", spec, "--data", data, "--out", tmp_path / "m", "--as-of", "2020-01-01"
    )
    assert "no row starts by the as-of time 2020-01-01" in early.output
    assert "history.csv" in early.output


def test_a_history_whose_every_timestamp_is_unreadable_is_quarantined(tmp_path: Path) -> None:
    history = make_history(n=300, seed=9)
    for column in ("opened", "closed"):  # epoch seconds, as some exports write them
        history[column] = (history[column].astype("int64") // 10**9).astype(str)
    data = tmp_path / "epoch.csv"
    history.to_csv(data, index=False)
    spec = write_spec(tmp_path / "spec.yaml")
    result = refused("train", "--spec", spec, "--data", data, "--out", tmp_path / "m")
    assert "300 of 300 rows" in result.output and "column 'opened'" in result.output
    assert "a bare number; write ISO-8601" in result.output
    quarantined = pd.read_csv(tmp_path / "epoch.rejected.csv")
    assert len(quarantined) == 300 and set(quarantined["column"]) == {"opened"}


def test_naive_command_line_times_are_local_to_the_spec_as_in_the_data(tmp_path: Path) -> None:
    history = make_history(seed=5, tz="America/New_York")
    spec = write_spec(tmp_path / "spec.yaml", timezone="America/New_York")
    data = write(history, tmp_path / "history.csv", "naive")
    model = tmp_path / "model"
    trained = cli("train", "--spec", spec, "--data", data, "--out", model, "--as-of", "2025-04-01")
    assert trained.exit_code == 0, trained.output
    as_of = json.loads((model / "model.json").read_text())["info"]["as_of"]
    assert pd.Timestamp(as_of) == pd.Timestamp("2025-04-01", tz="America/New_York")
    items = pd.DataFrame({"opened": ["2025-04-16 10:00:00"], "kind": "k0", "load": 2.0})
    quoted = pd.read_parquet(quote(model, tmp_path, items, "--now", "2025-04-16 12:00")[1])
    offset = quote(model, tmp_path, items, "--now", "2025-04-16T12:00-04:00")[1]
    pd.testing.assert_frame_equal(quoted, pd.read_parquet(offset))
    assert quoted["elapsed_hours"].iloc[0] == pytest.approx(2.0)  # noon in New York, not UTC


def test_integer_codes_with_blanks_in_parquet_are_the_values_a_csv_or_json_gives(
    tmp_path: Path,
) -> None:
    """A store code column with blanks is float in Parquet (7.0); an item file says '7'."""
    history = make_history(seed=4)
    codes = history["kind"].str[-1].astype(float)
    history["store"] = codes.where(np.random.default_rng(4).random(len(history)) > 0.1)
    assert history["store"].dtype == float
    data = write(history, tmp_path / "history.parquet", "aware")
    keys = {"features": {"categorical": ["store"], "numeric": ["load"]}, "segments": []}
    spec = write_spec(tmp_path / "spec.yaml", **keys)
    result = cli("train", "--spec", spec, "--data", data, "--out", tmp_path / "model")
    assert result.exit_code == 0, result.output
    items = pd.DataFrame({"opened": "2025-04-16T09:00:00Z", "store": ["1", "9", ""], "load": 2.0})
    result, out = quote(tmp_path / "model", tmp_path, items)
    assert result.exit_code == 0, result.output
    risks = pd.read_parquet(out)["risk_codes"].str.split(",")
    assert ["thin_history" in codes for codes in risks] == [False, True, False]


def test_unreadable_files_are_named_with_what_is_wrong(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    latin = tmp_path / "latin.csv"
    good = write(make_history(n=400), tmp_path / "h.csv", "offset")
    assert cli("train", "--spec", spec, "--data", good, "--out", tmp_path / "m").exit_code == 0
    latin.write_bytes(good.read_text().replace("kind-0", "Zürich").encode("latin-1"))
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    for path, says in (
        (empty, "the file is empty"),
        (latin, "not UTF-8 text (it holds byte 0xfc)"),
        (folder, "is a folder, not a file"),
    ):
        for command in (
            ["train", "--spec", spec, "--data", path, "--out", tmp_path / "m"],
            ["quote", "--model", tmp_path / "m", "--data", path, "--out", tmp_path / "q.csv"],
        ):
            output = refused(*command).output
            assert str(path.name) in output and says in output, output


def test_a_history_started_all_at_once_and_an_empty_batch_of_items(tmp_path: Path) -> None:
    history = make_history(n=600, seed=4)
    history["opened"] = history["opened"].iloc[0]  # a bulk import: one start for every row
    history["closed"] = history["opened"] + pd.to_timedelta(
        np.random.default_rng(4).lognormal(2.0, 0.5, len(history)), unit="h"
    )
    spec = write_spec(tmp_path / "spec.yaml")
    data = write(history, tmp_path / "h.csv", "offset")
    assert cli("train", "--spec", spec, "--data", data, "--out", tmp_path / "m").exit_code == 0
    header_only = tmp_path / "none.csv"
    header_only.write_text("item_id,opened,kind,load\n")
    out = tmp_path / "q.csv"
    result = cli("quote", "--model", tmp_path / "m", "--data", header_only, "--out", out)
    assert result.exit_code == 0 and "quoted 0 items" in result.output
    assert list(pd.read_csv(out).columns[: len(QUOTE_COLUMNS)]) == list(QUOTE_COLUMNS)


@pytest.mark.parametrize("command", ["train", "backtest"])
def test_a_negative_share_of_rejected_rows_is_refused(tmp_path: Path, command: str) -> None:
    spec = write_spec(tmp_path / "spec.yaml")
    data = write(make_history(n=200), tmp_path / "h.csv", "offset")
    more = ["--out", tmp_path / "m"] if command == "train" else ["--test-start", "2025-01-01"]
    command = [command, "--spec", spec, "--data", data, *more]
    result = runner.invoke(app, [str(a) for a in [*command, "--max-rejected", "-1"]])
    assert result.exit_code == 2 and "max-rejected" in result.output


def test_a_history_too_short_for_its_durations_is_said_so(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml")
    history = make_history(n=800, seed=8)
    normal = write(history, tmp_path / "h.csv", "offset")
    result = cli("train", "--spec", spec, "--data", normal, "--out", tmp_path / "m")
    assert result.exit_code == 0 and "short history" not in result.output
    history.loc[: len(history) // 3, "closed"] = pd.NaT  # the oldest third: open at the export
    young = write(history, tmp_path / "young.csv", "offset")
    result = cli("train", "--spec", spec, "--data", young, "--out", tmp_path / "m2")
    assert result.exit_code == 0 and "a short history for these durations" in result.output
