"""History validation: every bad row reported with where it is, quarantined, never lost."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eta.calendar import Clock
from eta.data import (
    DUPLICATE,
    FINISHED,
    MISSING,
    ROW,
    category_texts,
    load_history,
    look_up,
    rejected_kinds,
    seen_at,
)
from eta.doubts import doubts
from eta.spec import WEEKDAYS, CalendarSpec, DatasetSpec, FeatureSpec, SpecError
from eta.synthetic import load_spec, tickets
from eta.tables import DataError, read_table, record_lines
from eta.timestamps import parse_finishes, parse_timestamps, read_ends

SPEC = load_spec("tickets")
HEADER = "ticket_id,created_at,resolved_at,priority,category,channel,queue_open\n"


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


GOOD = [
    f"T{i},2025-03-0{1 + i % 5}T10:00:00+01:00,2025-03-1{i % 9}T12:00:00+01:00,high,billing,email,3"
    for i in range(40)
]


LOOKED = SPEC.model_copy(update={"observed_until": "checked_at"})
"""The tickets spec with last looks at open items, in a ``checked_at`` column."""


def write_looked(tmp_path: Path, rows: list[str]) -> Path:
    """A history for :data:`LOOKED`: the good rows never looked at, then ``rows``."""
    path = tmp_path / "history.csv"
    rows = [r + "," for r in GOOD] + rows
    path.write_text(HEADER.rstrip("\n") + ",checked_at\n" + "\n".join(rows) + "\n")
    return path


def test_each_kind_of_bad_row_is_reported_with_row_column_and_reason(tmp_path: Path) -> None:
    bad = [
        "B1,,2025-03-10T12:00:00+01:00,high,billing,email,1",
        "B2,yesterday,2025-03-10T12:00:00+01:00,high,billing,email,1",
        "B3,2025-03-10T12:00:00+01:00,2025-03-01T12:00:00+01:00,high,billing,email,1",
        "B4,2025-03-10T12:00:00+01:00,soon,high,billing,email,1",
        "B5,2025-03-10T12:00:00+01:00,,high,billing,email,many",
        "T0,2025-03-10T12:00:00+01:00,,high,billing,email,1",
        "B6,2025-03-10T12:00:00+01:00,,high,billing,email,-inf",
        "B7,9999-12-31,,high,billing,email,1",
        "B8,2025-02-29T12:00:00+01:00,,high,billing,email,1",  # not a leap year
    ]
    path = write(tmp_path, GOOD + bad)
    quarantine = tmp_path / "rejected.csv"
    history = load_history(path, SPEC, quarantine=quarantine, max_rejected=0.5)
    got = history.rejected.set_index("ticket_id")[["row", "column", "reason"]]
    assert got.loc["B1"].tolist() == [41, "created_at", "missing start timestamp"]
    assert got.loc["B2"].tolist()[:2] == [42, "created_at"]
    assert got.loc["B2", "reason"].startswith("unparseable timestamp 'yesterday': not ISO-8601")
    assert got.loc["B3"].tolist() == [43, "resolved_at", "finishes before it starts"]
    assert got.loc["B4"].tolist()[:2] == [44, "resolved_at"]
    assert got.loc["B4", "reason"].startswith("unparseable timestamp 'soon'")
    # ISO-8601 all right, but a day the calendar does not have (was "not ISO-8601").
    assert got.loc["B8", "reason"] == (
        "unparseable timestamp '2025-02-29T12:00:00+01:00': no such day on the calendar"
    )
    assert got.loc["B5"].tolist() == [45, "queue_open", "not a number: 'many'"]
    assert got.loc["T0"].tolist() == [46, "ticket_id", DUPLICATE]
    assert got.loc["B6"].tolist() == [47, "queue_open", "not a finite number"]
    assert got.loc["B7", "reason"].startswith("timestamp outside the years 1700-2249")
    saved = pd.read_csv(quarantine, dtype=str)
    assert len(saved) == 9 and set(saved["file"]) == {str(path)}
    assert len(history.frame) == 40  # nothing good was lost


def test_a_repeated_id_keeps_the_row_that_knows_most(tmp_path: Path) -> None:
    """A re-export appended to the last one: T1 was open then and has finished since; T2's
    first row has a typo in its start. Each id keeps its usable, finished row."""
    rows = [
        "T1,2025-03-02T10:00:00+01:00,,high,billing,email,3",
        "T2,2025-03-0x,2025-03-12T12:00:00+01:00,high,billing,email,3",
        "T1,2025-03-02T10:00:00+01:00,2025-03-19T12:00:00+01:00,high,billing,email,3",
        "T2,2025-03-03T10:00:00+01:00,2025-03-12T12:00:00+01:00,high,billing,email,3",
    ]
    history = load_history(write(tmp_path, GOOD[3:] + rows), SPEC, max_rejected=0.5)
    kept = history.frame.set_index("ticket_id")
    assert kept.loc["T1", "finished"] and kept.loc["T2", "start"].day == 3
    reasons = history.rejected.groupby("ticket_id")["reason"].apply(list).to_dict()
    assert reasons == {
        "T1": [DUPLICATE],
        "T2": [
            "unparseable timestamp '2025-03-0x': not ISO-8601 like the column's other values "
            "(such as 2024-07-01T12:00)"
        ],
    }


def test_an_export_written_twice_loads_its_rows_once(tmp_path: Path) -> None:
    """Every row twice: half the rows were duplicate ids and the export was refused whole.
    A copy cell for cell loses nothing: quarantined, not counted against the export; a
    duplicate id with other cells still is."""
    history = load_history(write(tmp_path, GOOD + GOOD), SPEC)
    assert len(history.frame) == len(GOOD) and len(history.rejected) == len(GOOD)
    assert set(history.rejected["reason"]) == {DUPLICATE}
    other = [row.replace("email", "phone") for row in GOOD]
    with pytest.raises(DataError, match=r"40 of 80 rows \(50.0%\) were rejected"):
        load_history(write(tmp_path, GOOD + other), SPEC)


def test_a_few_starts_in_another_format_are_told_the_format_that_reads_them(tmp_path: Path) -> None:
    """A tenth of a helpdesk export's rows were written 19.12.2025 14:03: refused as "not
    ISO-8601" without a word of the timestamp_format that reads them with the ISO ones."""
    rows = ["T9,19.03.2025 10:00,2025-03-22T12:00:00+01:00,high,billing,email,3"]
    history = load_history(write(tmp_path, GOOD + rows), SPEC, max_rejected=0.5)
    [reason] = history.rejected["reason"]
    assert reason.endswith(
        "not ISO-8601 like the column's other values (such as 2024-07-01T12:00); these look "
        "like day/month/year: set timestamp_format: '%d.%m.%Y %H:%M' in the spec"
    )


def test_a_finish_after_now_is_not_the_export_time_and_its_item_is_open(tmp_path: Path) -> None:
    bad = [
        "F1,2025-03-10T12:00:00+01:00,2099-03-14T12:00:00+01:00,high,billing,email,1",
        "F2,0000-00-00,2025-03-12T12:00:00+01:00,high,billing,email,1",
    ]
    history = load_history(write(tmp_path, GOOD + bad), SPEC, max_rejected=0.5)
    reasons = history.rejected.set_index("ticket_id")["reason"]
    assert list(reasons.index) == ["F2"]
    assert "still open" not in reasons["F2"]  # a start cannot be left empty for "open"
    # The export time is the latest real timestamp, not 2099: open items are days old, not decades.
    assert history.as_of == pd.Timestamp("2025-03-18T12:00:00+01:00")
    assert not history.frame.set_index("ticket_id").loc["F1", "finished"]
    # Open as documented, but said: the owner of the export learns how many and where.
    assert doubts(history, as_of_given=False) == [
        "1 item(s) finish after the export time and after today (2099-03-14; e.g. row 41 "
        "(line 42), resolved_at '2099-03-14T12:00:00+01:00'), so they count as still open; "
        "typos or placeholders? Leave the cell empty for an item still open"
    ]
    assert history.read_as_open["row"].tolist() == [41]


def test_a_start_after_now_is_rejected_not_taken_for_the_export_time(tmp_path: Path) -> None:
    """One mistyped year (2052) made the export time 27 years later: every open item that old,
    and every promise twice as long. A history mostly after now is a simulation's: it stands."""
    typo = "S1,2052-03-14T12:00:00+01:00,,high,billing,email,1"
    finished = "S2,2062-03-11T12:00:00+01:00,2025-03-12T12:00:00+01:00,high,billing,email,1"
    history = load_history(write(tmp_path, [*GOOD, typo, finished]), SPEC)
    first, second = history.rejected[["column", "reason"]].itertuples(index=False)
    assert first.reason.startswith("'2052-03-14T12:00:00+01:00' is after now: a typo in the year?")
    # Blamed on the start, not on a finish "before it starts" (a tester's 2062)
    assert second.column == "created_at" and "2062-03-11" in second.reason
    assert history.as_of == load_history(write(tmp_path, GOOD), SPEC).as_of
    ahead = [row.replace("2025-", "2095-") for row in GOOD]
    simulated = load_history(write(tmp_path, ahead), SPEC)
    assert simulated.rejected.empty and simulated.as_of.year == 2095


def test_a_quote_never_closed_refuses_the_file_naming_where_it_opens(tmp_path: Path) -> None:
    """'"billing' on one row and 'ret"urns' later: read as it is, the records in between were
    one category value and the history trained on the rest without a word."""
    rows = [*GOOD]
    rows[3] = rows[3].replace(",billing,", ',"billing,')
    rows[-2] = rows[-2].replace(",billing,", ',bill"ing,')
    with pytest.raises(DataError) as refused:
        load_history(write(tmp_path, rows), SPEC)
    message = str(refused.value)
    assert "row 4 (line 5), column 'category': the cell holds" in message
    assert 'a quote character (") that is not closed where the value ends' in message
    described = [
        *GOOD[:-1],
        'D1,2025-03-03T10:00:00+01:00,,high,billing,email,1,"two\nlines, fine"',
    ]
    header = HEADER.rstrip("\n") + ",description\n"
    path = tmp_path / "described.csv"
    path.write_text(header + "\n".join(r + ("" if r.startswith("D1") else ",") for r in described))
    assert len(load_history(path, SPEC).frame) == len(described)  # not a spec column
    # A stray quote in a description, closed by a later row's quoted description: the rows in
    # between were one description, and only two rows were said to be rejected.
    described = [r + ',"fine"' for r in GOOD]
    described[5] = described[5].replace(',"fine"', ',"stray')
    path.write_text(header + "\n".join(described))
    with pytest.raises(DataError) as refused:
        load_history(path, SPEC)
    assert "row 6 (line 7), column 'description': the cell holds" in str(refused.value)


def test_an_exports_own_reason_column_is_kept_beside_the_quarantines(tmp_path: Path) -> None:
    """A ticket export with a 'reason' column (why it was closed) could not be loaded once a
    row was rejected: 'cannot insert reason, already exists'."""
    path = tmp_path / "history.csv"
    rows = [*GOOD, "B1,yesterday,,high,billing,email,1"]
    path.write_text(HEADER.rstrip("\n") + ",reason\n" + "".join(r + ",solved\n" for r in rows))
    rejected = load_history(path, SPEC).rejected
    assert rejected[["row", "column", "reason (data)"]].values.tolist() == [
        [41, "created_at", "solved"]
    ]
    assert rejected["reason"].iloc[0].startswith("unparseable timestamp 'yesterday'")


def test_finishes_after_a_given_export_time_are_not_doubted_unless_they_are_after_today(
    tmp_path: Path,
) -> None:
    """--as-of before the last finishes hides them on purpose (a backtest's cut); only a finish
    after today is a typo."""
    rows = [*GOOD, "F1,2025-03-10T12:00:00+01:00,2030-01-01T00:00:00Z,high,billing,email,1"]
    history = load_history(write(tmp_path, rows), SPEC, as_of="2025-03-12T00:00:00Z")
    assert history.frame["finished"].sum() < 40  # finishes after the cut are hidden ...
    assert history.read_as_open["row"].tolist() == [41]  # ... only 2030 is doubted
    said = doubts(history, as_of_given=True)
    assert said[0].startswith("1 item(s) finish after the export time and after today (2030-01-01;")


def test_an_open_item_last_seen_after_today_is_seen_at_the_export_time_and_said(
    tmp_path: Path,
) -> None:
    """A last look typed in 2099 cannot make an item that old; it was clipped without a word."""
    path = write_looked(
        tmp_path,
        [
            "L1,2025-03-10T12:00:00+01:00,,high,billing,email,1,2099-01-01T00:00:00+01:00",
            "L2,2025-03-10T12:00:00+01:00,,high,billing,email,1,2025-03-11T00:00:00+01:00",
        ],
    )
    history = load_history(path, LOOKED)
    seen = history.frame.set_index("ticket_id")["observed_until"]
    assert seen["L1"] == history.as_of and seen["L2"] < history.as_of
    assert history.read_as_open[["row", "column"]].values.tolist() == [[41, "checked_at"]]
    assert doubts(history, as_of_given=False) == [
        "1 open item(s) were last seen after the export time and after today (2099-01-01; e.g. "
        "row 41 (line 42), checked_at '2099-01-01T00:00:00+01:00'), so they count as seen at "
        "the export time; typos or placeholders?"
    ]


def test_a_finish_before_its_start_is_quarantined_in_a_history_with_last_looks(
    tmp_path: Path,
) -> None:
    """With `observed_until` in the spec, one such row crashed loading with a TypeError: the
    finish's cells were read as the timestamp format of the last looks."""
    path = write_looked(
        tmp_path,
        [
            "B1,2025-03-10T12:00:00+01:00,2025-03-10,high,billing,email,1,",
            "B2,2025-03-10T12:00:00+01:00,2025-03-09T12:00:00+01:00,high,billing,email,1,",
        ],
    )
    rejected = load_history(path, LOOKED).rejected.set_index("ticket_id")["reason"]
    assert rejected.to_dict() == {"B2": "finishes before it starts"}  # B1 finished that day


def test_a_parquet_file_written_from_a_filtered_frame_loads(tmp_path: Path) -> None:
    """pandas writes a frame's row labels to Parquet: a filtered export failed to load with
    'Unalignable boolean Series', and a named index (the ids) was lost as a column."""
    sim = tickets(600, seed=4)
    finished = sim.history[sim.history["resolved_at"].notna()]
    finished.iloc[::2].to_parquet(tmp_path / "labels.parquet")
    assert len(load_history(tmp_path / "labels.parquet", sim.spec).frame) == len(finished[::2])
    finished.set_index("ticket_id").to_parquet(tmp_path / "ids.parquet")
    history = load_history(tmp_path / "ids.parquet", sim.spec)
    assert set(history.frame["ticket_id"]) == set(finished["ticket_id"])


def test_a_history_without_open_items_whose_latest_are_young_is_doubted(tmp_path: Path) -> None:
    """An export with its open rows filtered out trains promises that are short; with them it
    is not doubted, nor is one whose items all finished long before the export."""
    sim = tickets(4_000, seed=3)
    history, end = sim.history, sim.spec.end
    said = doubts(load_history(history[history[end].notna()], sim.spec), as_of_given=False)
    [doubt] = said
    assert doubt.startswith("no item is open at the export time (2025-12-31 15:53 UTC), though ")
    assert f"add them with an empty {end}" in doubt
    assert doubts(load_history(history, sim.spec), as_of_given=False) == []
    archive = history[history[end].notna() & (history[sim.spec.start] < "2025-10-01")]
    said = doubts(load_history(archive, sim.spec), as_of_given=False)
    assert not any(doubt.startswith("no item is open") for doubt in said)


def test_an_export_that_lost_its_recent_finishes_is_doubted() -> None:
    """An ETL that stopped writing the end column leaves recent items open for weeks; a model
    would take them for the slowest items of all. Open rows as the world leaves them (the
    same history exported whole) are not doubted."""
    sim = tickets(4_000, seed=3)
    history, spec = sim.history.copy(), sim.spec
    assert doubts(load_history(history, spec), as_of_given=False) == []
    lost = history[spec.start] >= "2025-10-01"
    history.loc[lost, spec.end] = pd.NaT
    said = doubts(load_history(history, spec), as_of_given=False)
    [doubt] = [d for d in said if "lose their finishes" in d]
    assert doubt.startswith("1,187 of the items that started since 2025-07-18 are still open")
    assert f"an empty {spec.end} where the item was done" in doubt


def test_finishes_written_as_dates_alone_are_said_and_not_judged_against_the_hours() -> None:
    """An order desk's export of dates alone: every finish, read at its date's end, fell while
    the calendar was closed, and training advised a wall clock."""
    sim = tickets(2_000, seed=3)
    spec = sim.spec
    dates = pd.to_datetime(sim.history[spec.end], utc=True).dt.tz_convert(spec.timezone)
    history = sim.history.assign(**{spec.end: dates.dt.strftime("%Y-%m-%d").where(dates.notna())})
    said = doubts(load_history(history, spec), as_of_given=False)
    assert [d for d in said if "time of day" in d or "calendar" in d] == [
        "100% of the finishes are dates without a time of day, each read as the end of its "
        "date: durations run to the end of the day an item finished, and the hours items finish "
        "in are unknown (export the finishes with their time if you have it)"
    ]
    assert not any(
        "time of day" in d for d in doubts(load_history(sim.history, spec), as_of_given=False)
    )


def test_promises_rounded_far_coarser_than_the_items_take_are_doubted() -> None:
    """A grocery's 30-minute orders, on a delivery spec's default rounding to the date, were
    each promised "by the end of today" without a word from eta train."""
    sim = tickets(2_000, seed=3)
    minutes = pd.to_timedelta(np.random.default_rng(0).uniform(15, 60, len(sim.history)), "min")
    history = sim.history.assign(**{sim.spec.end: sim.history[sim.spec.start] + minutes})
    spec = sim.spec.model_copy(update={"kind": "delivery", "rounding": None, "clock": "wall"})
    [doubt] = [d for d in doubts(load_history(history, spec), as_of_given=True) if "rounded" in d]
    assert doubt.startswith("half the finished items took 3") and "minutes or less" in doubt
    assert "(rounding: date, the default for kind: delivery)" in doubt
    assert "set 'rounding: minute' in the spec" in doubt
    for fine in ("minute", "hour"):
        said = doubts(
            load_history(history, spec.model_copy(update={"rounding": fine})), as_of_given=True
        )
        assert not any("rounded" in d for d in said) or fine == "hour"
    # Tickets taking days, rounded to the hour: nothing to say.
    assert not any(
        "rounded" in d for d in doubts(load_history(sim.history, sim.spec), as_of_given=False)
    )


def test_a_feature_column_the_export_stopped_filling_is_doubted() -> None:
    """A column filled for most of the history and missing in its latest items: the model
    learnt from it, and every item quoted without it is promised alike. One missing now and
    then, or filled in the latest items too, is not doubted."""
    sim = tickets(4_000, seed=3)
    history, spec = sim.history.copy(), sim.spec
    history.loc[history.sample(frac=0.3, random_state=1).index, "channel"] = None
    assert doubts(load_history(history, spec), as_of_given=False) == []
    emptied = history[spec.start] >= "2025-11-15"
    history.loc[emptied, "channel"] = None
    history.loc[emptied, "queue_open"] = np.nan
    said = doubts(load_history(history, spec), as_of_given=False)
    lately = [d for d in said if "did the export stop filling it?" in d]
    assert [d.split(":")[0] for d in lately] == ["channel", "queue_open"], said
    shares = re.search(
        r"missing in (\d+)% of the items that started since .*, against (\d+)%", lately[1]
    )
    assert shares and shares.group(1) == "100" and int(shares.group(2)) < 10, said


def test_a_category_value_renamed_in_the_export_is_doubted() -> None:
    """'billing' became 'billing & payments' in the export's last weeks: the model took it for
    a new queue, learnt from its few items, and a retrain refused a better model without a
    word. A value that merely ends, or a new one beside the old ones, is not doubted."""
    sim = tickets(4_000, seed=3)
    history, spec = sim.history.copy(), sim.spec
    renamed = (history[spec.start] >= "2025-12-10") & (history["category"] == "billing")
    history.loc[renamed, "category"] = "billing & payments"
    said = [d for d in doubts(load_history(history, spec), as_of_given=False) if "renamed" in d]
    assert said == [
        "category: 'billing' stopped at 2025-12-09 and 'billing & payments' began then; "
        "renamed? The model learns 'billing & payments' from its few items since and quotes "
        "'billing' from the items before: write one name for both in the export, or retrain "
        "later"
    ], said
    ended = sim.history[~renamed]  # billing's last weeks gone, nothing new
    assert not any("renamed" in d for d in doubts(load_history(ended, spec), as_of_given=False))
    added = sim.history.copy()
    added.loc[renamed & (added.index % 2 == 0), "category"] = "billing & payments"
    assert not any("renamed" in d for d in doubts(load_history(added, spec), as_of_given=False))
    gap = (history[spec.start] >= "2025-10-15") & (history["category"] == "billing")
    later = history[~gap]  # billing ended in October, the new name began in December
    assert not any("renamed" in d for d in doubts(load_history(later, spec), as_of_given=False))


def test_finishes_written_in_utc_for_a_local_spec_are_doubted() -> None:
    """Finishes an hour early in summer time only (as a column written in UTC for a London
    desk is): many more of them fall while the calendar is closed than in winter time, and
    training said nothing. Written in local time, not doubted."""
    sim = tickets(6_000, seed=3)
    history, spec = sim.history.copy(), sim.spec
    assert not any("UTC" in d for d in doubts(load_history(history, spec), as_of_given=False))
    ends = pd.to_datetime(history[spec.end], utc=True).dt.tz_convert(spec.timezone)
    summer = ends.map(lambda t: bool(t.dst()) if pd.notna(t) else False).to_numpy(bool)
    history.loc[summer, spec.end] = (ends[summer] - pd.Timedelta(hours=1)).astype(object)
    said = [d for d in doubts(load_history(history, spec), as_of_given=False) if "UTC" in d]
    assert len(said) == 1 and said[0].startswith(f"{spec.end}: ") and "in summer time" in said[0]


def test_doubts_name_a_late_last_timestamp_and_items_open_longer_than_any_finish(
    tmp_path: Path,
) -> None:
    stale = [f"S{i},2025-01-0{1 + i % 5}T10:00:00+01:00,,high,billing,email,3" for i in range(3)]
    late = ["L1,2025-03-05T10:00:00+01:00,2025-09-01T10:00:00+02:00,high,billing,email,3"]
    history = load_history(write(tmp_path, GOOD + stale + late), SPEC)
    said = doubts(history, as_of_given=False)
    assert len(said) == 2, said
    assert "days after its latest start" in said[0] and "--as-of" in said[0]
    assert said[1].startswith("3 open items") and "open longer than any item took" in said[1]
    assert len(doubts(history, as_of_given=True)) == 1  # the export time was said: only stale


def test_a_start_typed_in_a_far_earlier_year_is_doubted(tmp_path: Path) -> None:
    typo = ["Y1,1900-03-03T10:00:00+01:00,2025-03-12T12:00:00+01:00,high,billing,email,3"]
    history = load_history(write(tmp_path, GOOD + typo), SPEC)
    [said] = doubts(history, as_of_given=True)
    assert said.startswith("1 item(s) start more than 365 days before") and "1900-03-03" in said


def test_category_values_that_differ_only_in_case_are_one_value_written_as_most_rows_do(
    tmp_path: Path,
) -> None:
    mixed = [
        f"M{i},2025-03-0{1 + i % 5}T10:00:00+01:00,,{p},billing,{c},3"
        for i, (p, c) in enumerate([("High", "Email"), ("HIGH", "EMAIL"), ("low", "chat")])
    ]
    history = load_history(write(tmp_path, GOOD + mixed), SPEC)
    assert sorted(history.frame["priority"].unique()) == ["high", "low"]  # 40 rows write 'high'
    assert sorted(history.frame["channel"].unique()) == ["chat", "email"]
    assert sorted(history.frame["segment"].unique()) == ["high / billing", "low / billing"]
    assert history.respelled == {
        "priority": {"high": ("HIGH", "High")},
        "channel": {"email": ("EMAIL", "Email")},
    }
    said = doubts(history, as_of_given=True)
    assert said == [
        "priority: values that differ only in case are taken as one, written as most rows "
        "write them ('high' for 'HIGH' / 'High')",
        "channel: values that differ only in case are taken as one, written as most rows "
        "write them ('email' for 'EMAIL' / 'Email')",
    ]


def test_two_exports_of_one_history_keep_their_rejected_rows_apart(tmp_path: Path) -> None:
    csv = write(tmp_path, [*GOOD, "P1,2025-03-0x,,high,billing,email,1"])
    parquet = tmp_path / "history.parquet"
    read_table(csv).iloc[:-1].assign(ticket_id=lambda f: f["ticket_id"] + "p").pipe(
        lambda f: pd.concat([f, f.iloc[:1]])  # a duplicate id
    ).to_parquet(parquet)
    load_history(csv, SPEC)
    load_history(parquet, SPEC)
    from_csv = pd.read_csv(tmp_path / "history.rejected.csv")
    from_parquet = pd.read_parquet(tmp_path / "history.rejected.parquet")
    assert from_csv["ticket_id"].tolist() == ["P1"]
    assert from_parquet["ticket_id"].tolist() == ["T0p"]


def test_unknown_categories_are_not_errors(tmp_path: Path) -> None:
    rows = [*GOOD, "N1,2025-03-02T10:00:00+01:00,,galactic,never-seen,pigeon,2"]
    history = load_history(write(tmp_path, rows), SPEC)
    assert history.rejected.empty
    assert "galactic" in set(history.frame["priority"])


def test_too_many_rejected_rows_refuse_to_train(tmp_path: Path) -> None:
    rows = GOOD[:10] + [f"X{i},garbage,,high,billing,email,1" for i in range(5)]
    with pytest.raises(DataError, match=r"5 of 15 rows \(33.3%\) were rejected.*row 11"):
        load_history(write(tmp_path, rows), SPEC)
    assert (tmp_path / "history.rejected.csv").exists()


def test_a_spec_column_missing_from_the_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("ticket_id,created_at,resolved_at\nT1,2025-01-01,\n")
    with pytest.raises(
        DataError, match=r"h.csv.*\['priority', 'category', 'channel', 'queue_open'\]"
    ) as refused:
        load_history(path, SPEC)
    assert "did you mean" not in str(refused.value)  # nothing near: nothing suggested


def test_a_header_written_another_way_is_suggested_not_taken(tmp_path: Path) -> None:
    """An export's header keeps 'Priority ' with a space; the spec says 'priority'. Headers are
    read as written (quotes, the service and the quarantine name columns alike), so loading
    stops, but says which header was meant."""
    path = tmp_path / "h.csv"
    path.write_text(
        "ticket_id,created_at,resolved_at,Priority ,category,chanel,queue_open\n"
        "T1,2025-01-01,,high,billing,email,1\n"
    )
    with pytest.raises(DataError) as refused:
        load_history(path, SPEC)
    assert "did you mean 'Priority ' for 'priority', 'chanel' for 'channel'?" in str(refused.value)


def test_a_semicolon_export_with_decimal_commas_reads_as_its_comma_twin(tmp_path: Path) -> None:
    """Excel where the decimal mark is a comma writes ';' between cells and '0,5' for a half
    (with a BOM and CRLF): read as one column before, it was refused with every spec column
    missing; its decimal commas, in a ',' file, rejected every row as 'not a number'."""
    rows = [r.replace(",3", ",2.5") for r in GOOD]
    comma = write(tmp_path, rows)
    semicolon = tmp_path / "excel.csv"
    text = (HEADER + "\n".join(rows) + "\n").replace(",", ";").replace("2.5", "2,5")
    semicolon.write_bytes(("\ufeff" + text).replace("\n", "\r\n").encode())
    assert read_table(semicolon).columns[0] == "ticket_id"
    from_excel = load_history(semicolon, SPEC)
    assert from_excel.rejected.empty
    pd.testing.assert_frame_equal(from_excel.frame, load_history(comma, SPEC).frame)
    assert (from_excel.frame["queue_open"] == 2.5).all()


def test_a_decimal_comma_is_read_only_where_it_cannot_be_something_else(tmp_path: Path) -> None:
    """In a ','-separated file (quoted) or with tabs where every value looks like a thousands
    group, '2,5' and '1,234' are not guessed: the reason says how to write them."""
    in_quotes = write(tmp_path, [*GOOD, 'C1,2025-03-03T10:00:00+01:00,,high,billing,email,"2,5"'])
    [reason] = load_history(in_quotes, SPEC).rejected["reason"]
    assert reason == "not a number: '2,5' looks like a decimal comma; write 2.5"
    tabs = tmp_path / "history.tsv.csv"
    rows = [*GOOD[:-1], "C1,2025-03-03T10:00:00+01:00,,high,billing,email,1;234"]
    tabs.write_text((HEADER + "\n".join(rows) + "\n").replace(",", "\t").replace(";", ","))
    [reason] = load_history(tabs, SPEC).rejected["reason"]
    assert reason == (
        "not a number: '1,234' looks like thousands with a separator; write 1234 (or 1.234 if "
        "the comma is a decimal mark)"
    )
    quoted = write(
        tmp_path, [*GOOD, 'C1,2025-03-03T10:00:00+01:00,,high,billing,email,"1,000,000"']
    )
    [reason] = load_history(quoted, SPEC).rejected["reason"]
    assert reason.startswith(
        "not a number: '1,000,000' looks like thousands with a separator; write 1000000 ("
    )
    rows = [*GOOD[:-1], "C1,2025-03-03T10:00:00+01:00,,high,billing,email,0;25"]
    tabs.write_text((HEADER + "\n".join(rows) + "\n").replace(",", "\t").replace(";", ","))
    history = load_history(tabs, SPEC)
    assert history.rejected.empty
    assert history.frame.set_index("ticket_id").loc["C1", "queue_open"] == 0.25


def test_numbers_with_both_marks_read_the_one_way_they_can(tmp_path: Path) -> None:
    """'1,053.29' and '1.234,50' (thousands grouped, the last mark the decimal one) read as
    1053.29 and 1234.5 in any file; with one mark, '1,234' is still not guessed."""
    for delimiter in ("\t", ";", ","):
        rows = [
            *GOOD[:-1],
            'C1,2025-03-03T10:00:00+01:00,,high,billing,email,"1,053.29"',
            'C2,2025-03-03T11:00:00+01:00,,high,billing,email,"-1.234,50"',
            'C3,2025-03-03T12:00:00+01:00,,high,billing,email,"12,345,678.5"',
        ]
        path = tmp_path / f"history{len(delimiter)}{ord(delimiter)}.csv"
        text = HEADER + "\n".join(rows) + "\n"
        if delimiter != ",":  # the cells' own commas stay; the separators change
            text = "\n".join(
                delimiter.join(cell.strip('"') for cell in next(csv.reader([line])))
                for line in text.splitlines()
            )
        path.write_text(text)
        history = load_history(path, SPEC)
        assert history.rejected.empty, (delimiter, history.rejected["reason"].tolist())
        read = history.frame.set_index("ticket_id")["queue_open"]
        assert read[["C1", "C2", "C3"]].tolist() == [1053.29, -1234.5, 12345678.5], delimiter


def test_naive_timestamps_are_local_to_the_spec_and_offsets_are_respected(tmp_path: Path) -> None:
    rows = [
        "A,2025-07-01 10:00:00,,high,billing,email,1",
        "B,2025-07-01T10:00:00Z,,high,billing,email,1",
    ]
    history = load_history(write(tmp_path, rows), SPEC, as_of="2025-07-02T00:00:00Z")
    starts = history.frame.set_index("ticket_id")["start"]
    assert starts["A"] == pd.Timestamp("2025-07-01T08:00:00Z")  # Sarajevo is UTC+2 in July
    assert starts["B"] == pd.Timestamp("2025-07-01T10:00:00Z")


def test_open_rows_are_kept_as_censored_and_as_of_hides_later_finishes(tickets_history) -> None:
    cut = tickets_history.frame["start"].quantile(0.5)
    earlier = seen_at(tickets_history, cut)
    assert (earlier.frame["start"] <= cut).all()
    assert earlier.frame["end"].dropna().le(cut).all()
    was_finished_later = tickets_history.frame["end"] > cut
    later_ids = set(tickets_history.frame.loc[was_finished_later, "ticket_id"])
    reopened = earlier.frame[earlier.frame["ticket_id"].isin(later_ids)]
    assert len(reopened) > 0 and not reopened["finished"].any()
    assert (reopened["observed_until"] == cut).all()


def test_a_tsv_file_is_read_and_its_rejected_rows_are_written_with_tabs(tmp_path: Path) -> None:
    path = tmp_path / "history.tsv"
    rows = [*GOOD, "B1,yesterday,,high,billing,email,1"]
    path.write_text((HEADER + "\n".join(rows) + "\n").replace(",", "\t"))
    history = load_history(path, SPEC)
    assert len(history.frame) == len(GOOD)
    quarantined = tmp_path / "history.rejected.tsv"
    assert "\tcreated_at\t" in quarantined.read_text()
    assert read_table(quarantined)["ticket_id"].tolist() == ["B1"]


def test_rows_whose_cells_do_not_match_the_header_are_quarantined_with_their_cells(
    tmp_path: Path,
) -> None:
    """A row one cell short was read with a blank, its values perhaps under the wrong names; a
    row with a cell too many refused the whole file."""
    short = "S1,2025-03-03T10:00:00+01:00,2025-03-04T10:00:00+01:00,high,email,2"
    extra = "X1,2025-03-03T10:00:00+01:00,,high,billing,email,2,Smith, Jane"
    rows = [*GOOD[:5], short, *GOOD[5:10], extra, *GOOD[10:]]
    quarantine = tmp_path / "rejected.csv"
    history = load_history(write(tmp_path, rows), SPEC, quarantine=quarantine)
    assert sorted(history.frame["ticket_id"]) == sorted(r.split(",")[0] for r in GOOD)
    got = read_table(quarantine).set_index("ticket_id")
    assert got.loc["S1", ["row", "column"]].tolist() == ["6", "queue_open"]
    assert got.loc["S1", "reason"].startswith("the row has 6 cells where the header has 7: a cell")
    assert got.loc["X1", "column"] == "(extra cell 1)"
    assert "has 9 cells where the header has 7: a ',' inside a value" in got.loc["X1", "reason"]
    assert got.loc["X1", ["queue_open", "(extra cell 1)", "(extra cell 2)"]].tolist() == [
        "2",
        "Smith",
        " Jane",
    ]  # nothing lost
    with pytest.raises(DataError, match=r"row 6 \(line 7\), column 'queue_open': the row"):
        load_history(write(tmp_path, rows), SPEC, max_rejected=0.01)
    with pytest.raises(DataError, match="or allow more with --max-rejected"):
        load_history(write(tmp_path, rows), SPEC, max_rejected=0.01)


def test_a_delimiter_ending_every_row_but_the_header_is_named(tmp_path: Path) -> None:
    """Every row one cell longer than the header: pandas took the first column for an index
    and read every value one column to the left."""
    with pytest.raises(DataError, match="the row has 8 cells where the header has 7"):
        load_history(write(tmp_path, [row + "," for row in GOOD]), SPEC)


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.xlsx"
    path.write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        load_history(path, SPEC)


@pytest.mark.parametrize("rows", [8, 5_000])
def test_look_up_answers_as_the_table_does_for_one_quote_and_for_a_batch(rows: int) -> None:
    # A batch is looked up once per distinct value; the answers must not change with that.
    table = {"billing": 0.0, "shipping": 1.0, MISSING: 2.0, 7: 3.0}
    pool = np.array(["billing", "shipping", MISSING, "never seen", 7, 7.0, None, np.nan], object)
    values = pool if rows == len(pool) else np.random.default_rng(0).choice(pool, size=rows)
    expected = np.array([table.get(v, -1.0) for v in values])
    np.testing.assert_array_equal(look_up(values, table, -1.0), expected)
    assert set(expected) == {-1.0, 0.0, 1.0, 2.0, 3.0}  # every kind of value was asked for


def test_the_same_category_reads_the_same_from_csv_parquet_and_python() -> None:
    # A float column of codes with blanks (Parquet, pandas), its CSV text, and stray spaces.
    as_floats = pd.Series([1.0, np.nan, 12.0])
    as_csv = pd.Series(["1.0", "", "12.00"], dtype="string").replace("", None)
    as_mixed = pd.Series([" 1", "  ", 12], dtype=object)
    expected = ["1", MISSING, "12"]
    for values in (as_floats, as_csv, as_mixed):
        assert category_texts(values).tolist() == expected
    # Only whole numbers lose their decimals: codes like '2.10' or '1.5' stay what they are.
    assert category_texts(pd.Series(["2.10", "1.5", "v1.0", "-3.0"])).tolist() == [
        "2.10",
        "1.5",
        "v1.0",
        "-3",
    ]


def test_an_empty_string_in_parquet_is_an_open_item_as_an_empty_csv_cell_is(
    tmp_path: Path,
) -> None:
    csv = write(tmp_path, [*GOOD, "O1,2025-03-10T12:00:00+01:00,,high,billing,email,2"])
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)  # open: "" as in many exports
    assert (frame["resolved_at"] == "").sum() == 1
    frame.loc[0, "created_at"] = " "
    frame.to_parquet(tmp_path / "history.parquet")
    history = load_history(tmp_path / "history.parquet", SPEC, max_rejected=0.5)
    assert history.rejected["reason"].tolist() == ["missing start timestamp"]
    assert history.frame.set_index("ticket_id").loc["O1", "finished"] == False  # noqa: E712


@pytest.mark.parametrize("nothing", ["NULL", "None", "NaT", "nan", " n/a ", "#N/A"])
def test_a_word_for_nothing_is_an_empty_cell_in_timestamps_and_numbers(
    tmp_path: Path, nothing: str
) -> None:
    rows = [
        f"O1,2025-03-10T12:00:00+01:00,{nothing},high,billing,email,2",
        f"O2,2025-03-10T12:00:00+01:00,2025-03-11T12:00:00+01:00,{nothing},billing,email,{nothing}",
        f"O3,{nothing},2025-03-11T12:00:00+01:00,high,billing,email,2",
    ]
    history = load_history(write(tmp_path, [*GOOD, *rows]), SPEC, max_rejected=0.5)
    assert history.rejected["reason"].tolist() == ["missing start timestamp"]
    frame = history.frame.set_index("ticket_id")
    assert frame.loc["O1", "finished"] == False  # noqa: E712 (open, not rejected)
    assert np.isnan(frame.loc["O2", "queue_open"])  # missing, not "not a number"
    assert frame.loc["O2", "priority"] == nothing.strip()  # a category may be called 'None'


def test_a_feature_column_empty_or_the_same_everywhere_is_doubted(tmp_path: Path) -> None:
    rows = [
        f"E{i},2025-03-0{1 + i % 5}T10:00:00+01:00,2025-03-1{i % 9}T12:00:00+01:00,"
        f"{['high', 'low'][i % 2]},billing,email,n/a"
        for i in range(120)
    ]
    said = doubts(load_history(write(tmp_path, rows), SPEC), as_of_given=True)
    assert said == [
        "category: every row has the same value (billing), so it tells the model nothing",
        "channel: every row has the same value (email), so it tells the model nothing",
        "queue_open: every value is missing, so it tells the model nothing",
    ]


US = "%m/%d/%Y %I:%M:%S %p"


def test_a_timestamp_format_in_the_spec_reads_an_export_that_is_not_iso(tmp_path: Path) -> None:
    """NYC Open Data writes '01/15/2024 10:30:00 PM'; with the spec's timestamp_format the
    history is the one its ISO-8601 copy gives, and ISO-8601 values in it are still read."""
    us = [
        f"T{i},03/0{1 + i % 5}/2025 10:00:00 AM,03/1{i % 9}/2025 0{1 + i % 9}:30:00 PM,"
        "high,billing,email,3"
        for i in range(40)
    ]
    iso = [
        f"T{i},2025-03-0{1 + i % 5}T10:00:00,2025-03-1{i % 9}T{13 + i % 9}:30:00,"
        "high,billing,email,3"
        for i in range(40)
    ]
    spec = SPEC.model_copy(update={"timestamp_format": US})
    mixed = [*us[:-1], iso[-1]]  # a row written by another tool
    from_us = load_history(write(tmp_path, mixed), spec)
    assert from_us.rejected.empty
    from_iso = load_history(write(tmp_path, iso), SPEC)
    pd.testing.assert_frame_equal(from_us.frame, from_iso.frame)
    bad = [
        *us,
        "B1,13/01/2025 10:00:00 AM,,high,billing,email,3",
        "B2,02/30/2025 10:00:00 AM,,high,billing,email,3",  # not March 2nd
    ]
    reasons = load_history(write(tmp_path, bad), spec).rejected["reason"]
    assert reasons.tolist() == [
        f"unparseable timestamp '{value}': neither the spec's timestamp_format "
        "'%m/%d/%Y %I:%M:%S %p' nor ISO-8601"
        for value in ("13/01/2025 10:00:00 AM", "02/30/2025 10:00:00 AM")
    ]
    # Day first throughout, where the spec says month first: the format that reads them
    swapped = [f"S{i},{13 + i % 9}/03/2025 10:00:00 AM,,high,billing,email,3" for i in range(10)]
    reasons = load_history(write(tmp_path, us + swapped), spec, max_rejected=0.5).rejected["reason"]
    assert reasons.iloc[0].endswith(
        "nor ISO-8601; it looks like day/month/year: set timestamp_format: "
        "'%d/%m/%Y %I:%M:%S %p' in the spec (rows it did read may have day and month swapped)"
    )


def test_a_column_not_in_iso_8601_says_the_value_and_the_format_to_set(tmp_path: Path) -> None:
    """Every row rejected as a bare 'unparseable timestamp' told the user nothing. The reason
    shows the value and the timestamp_format that reads it, with day or month first only when
    a value over 12 shows which (never guessed)."""

    def first_reason(starts: list[str]) -> str:
        rows = [f"T{i},{start},,high,billing,email,3" for i, start in enumerate(starts)]
        rejected = load_history(write(tmp_path, GOOD[:5] + rows), SPEC, max_rejected=1.0).rejected
        assert len(rejected) == len(rows)
        return rejected["reason"].iloc[0]

    assert first_reason([f"03/{13 + i}/2025 10:00:00 PM" for i in range(9)]) == (
        "unparseable timestamp '03/13/2025 10:00:00 PM': not ISO-8601 (such as "
        "2024-07-01T12:00); it looks like month/day/year: set timestamp_format: "
        "'%m/%d/%Y %I:%M:%S %p' in the spec"
    )
    assert first_reason([f"0{1 + i}.03.2025 22:00" for i in range(8)] + ["13.03.2025 22:00"]) == (
        "unparseable timestamp '01.03.2025 22:00': not ISO-8601 (such as 2024-07-01T12:00); it "
        "looks like day/month/year: set timestamp_format: '%d.%m.%Y %H:%M' in the spec"
    )
    # Written as most rows are: a stray slashed date first set a hint of slashes for dots.
    dotted = ["03/04/2025"] + [f"{13 + i}.03.2025 22:00" for i in range(8)]
    assert first_reason(dotted).endswith("set timestamp_format: '%d.%m.%Y %H:%M' in the spec")
    assert first_reason([f"03/0{1 + i}/2025" for i in range(9)]).endswith(
        "; set timestamp_format in the spec: '%m/%d/%Y' if the month comes first, '%d/%m/%Y' "
        "if the day does"
    )


def test_a_no_date_placeholder_finish_is_read_as_open_and_said(tmp_path: Path) -> None:
    """'01/01/1900' is the classic SQL Server / Excel "no date", '9999-12-31' and '0000-00-00'
    others: rejected as finishing before they start, a tester's export lost 53 of its 112
    open items, the slowest, and its promises with them. A time of day, or any other date
    before the start, is still an error."""
    rows = [
        "P1,2025-03-10T12:00:00+01:00,1900-01-01 00:00:00,high,billing,email,1",
        "P2,2025-03-10T12:00:00+01:00,1899-12-30,high,billing,email,1",
        "P3,2025-03-10T12:00:00+01:00,1970-01-01T00:00:00Z,high,billing,email,1",
        "P4,2025-03-10T12:00:00+01:00,9999-12-31 23:59:59,high,billing,email,1",
        "P5,2025-03-10T12:00:00+01:00,0000-00-00 00:00:00,high,billing,email,1",
        "B1,2025-03-10T12:00:00+01:00,2001-01-01T00:00:00Z,high,billing,email,1",
        "B2,2025-03-10T12:00:00+01:00,1900-01-01 09:00:00,high,billing,email,1",
    ]
    history = load_history(write(tmp_path, GOOD + rows), SPEC, max_rejected=0.5)
    reasons = history.rejected.set_index("ticket_id")["reason"]
    assert list(reasons.index) == ["B1", "B2"]
    assert reasons["B1"] == reasons["B2"] == "finishes before it starts"
    kept = history.frame.set_index("ticket_id")
    placeholders = ["P1", "P2", "P3", "P4", "P5"]
    assert not kept.loc[placeholders, "finished"].any()
    assert (kept.loc[placeholders, "observed_until"] == history.as_of).all()
    assert history.read_as_open["row"].tolist() == [41, 42, 43, 44, 45]
    assert doubts(history, as_of_given=False) == [
        "5 item(s) finish at a date systems write for no date (0000-00-00 00:00:00, "
        "1899-12-30, 1900-01-01 00:00:00, ...; e.g. row 41 (line 42), resolved_at "
        "'1900-01-01 00:00:00'), so they count as still open; placeholders? Leave the cell "
        "empty for an item still open"
    ]


def test_zeros_under_a_format_of_their_own_are_no_date() -> None:
    """'00.00.0000' under '%d.%m.%Y': no format reads a year in it, and the slow item it
    belonged to was quarantined as unreadable (a tester's order desk)."""
    start = pd.Series(pd.to_datetime(["2025-03-03T08:00Z"] * 3, utc=True))
    written = pd.Series(["00.00.0000", "00/00/0000 00:00", "31.02.2025"])
    end, none = read_ends(written, start, "UTC", "%d.%m.%Y")
    assert none.tolist() == [True, True, False] and end.isna().all()


def test_a_no_date_placeholder_last_look_is_no_look(tmp_path: Path) -> None:
    path = write_looked(
        tmp_path, ["L1,2025-03-10T12:00:00+01:00,,high,billing,email,1,1900-01-01 00:00:00"]
    )
    history = load_history(path, LOOKED)
    assert history.rejected.empty
    assert history.frame.set_index("ticket_id").loc["L1", "observed_until"] == history.as_of
    [said] = doubts(history, as_of_given=False)
    assert said.startswith("1 open item(s) were last seen at a date systems write for no date")


def test_record_lines_count_line_breaks_in_quoted_cells_and_blank_lines(tmp_path: Path) -> None:
    """The line a record begins on, as an editor shows it, for records pandas numbers 1, 2, ...
    after the header: quoted cells may span lines (CRLF inside them too), blank lines hold no
    record, and a ';' file is read with its own delimiter."""
    path = tmp_path / "h.csv"
    path.write_bytes(
        b'\xef\xbb\xbfid;note\r\n1;"two\r\nlines"\r\n\r\n2;plain\r\n3;"a;b\nc\nd"\r\n4;x\r\n'
    )
    assert read_table(path)["id"].tolist() == ["1", "2", "3", "4"]
    assert record_lines(path, [1, 2, 3, 4]) == {1: 2, 2: 5, 3: 6, 4: 9}
    assert record_lines(path, [3]) == {3: 6} and record_lines(path, []) == {}


def test_rows_in_another_order_load_as_the_same_history(tmp_path: Path) -> None:
    """An export without ORDER BY: rows starting at the same moment kept the file's order,
    and the same rows trained a different model."""
    rows = [r.replace("T10:00:00", "T09:00:00") for r in GOOD]  # many starts tied
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    # Only where each row was in the data differs (quotes of a backtest are named by it).
    first = load_history(write(tmp_path, rows), SPEC).frame.drop(columns=ROW)
    again = load_history(write(tmp_path, shuffled), SPEC).frame.drop(columns=ROW)
    pd.testing.assert_frame_equal(first, again)
    anonymous = SPEC.model_copy(update={"id": None})
    first = load_history(write(tmp_path, rows), anonymous).frame
    again = load_history(write(tmp_path, shuffled), anonymous).frame
    pd.testing.assert_frame_equal(
        first.drop(columns=["ticket_id", ROW], errors="ignore"),
        again.drop(columns=["ticket_id", ROW], errors="ignore"),
    )


@pytest.mark.parametrize(
    ("written", "timestamp_format"),
    [("2025-01-01 07:18:21.000000 UTC", "%Y-%m-%d %H:%M:%S.%f UTC"),
     ("2025-01-01T07:18:21Z", "%Y-%m-%dT%H:%M:%SZ"),
     ("01.01.2025 07:18:21 GMT", "%d.%m.%Y %H:%M:%S GMT")],
)  # fmt: skip
def test_a_format_that_says_utc_is_read_as_utc_whatever_the_specs_zone(
    written: str, timestamp_format: str
) -> None:
    """BigQuery writes '... UTC': read in the spec's New York time, every start moved 5 hours."""
    [read] = parse_timestamps(pd.Series([written]), "America/New_York", timestamp_format)
    assert read == pd.Timestamp("2025-01-01T07:18:21Z")


def test_a_finish_without_a_time_of_day_is_the_end_of_that_date(tmp_path: Path) -> None:
    """'2025-03-03' for a ticket opened at 10:00 that day read as midnight: 'finishes before it
    starts'; and an order delivered on Monday as finished by Friday's close."""
    rows = [
        *GOOD,
        "D1,2025-03-03T10:00:00+01:00,2025-03-03,high,billing,email,1",
        "D2,2025-02-27T10:00:00+01:00,2025-03-03,high,billing,email,1",
        "D3,2025-03-03T10:00:00+01:00,2025-03-02,high,billing,email,1",
    ]
    history = load_history(write(tmp_path, rows), SPEC)
    end = history.frame.set_index("ticket_id")["end"].dt.tz_convert("Europe/Sarajevo")
    assert end["D1"] == end["D2"] == pd.Timestamp("2025-03-03T23:59", tz="Europe/Sarajevo")
    assert history.rejected.set_index("ticket_id")["reason"].to_dict() == {
        "D3": "finishes before it starts"
    }


def test_a_date_alone_ends_by_now_and_only_text_is_read_as_a_date() -> None:
    """A daily export's finishes of today were listed as 'after today' and counted open; an
    instant at midnight (a Parquet column) or '2025-03-03T10' (a time without a colon) was
    moved to the end of its date."""
    start = pd.Series(pd.to_datetime(["2025-03-03T08:00Z"] * 3, utc=True))
    now = pd.Timestamp("2025-03-03T15:00Z")
    read = parse_finishes(pd.Series(["2025-03-03", "2025-03-03T10", None]), start, "UTC", now=now)
    assert read.tolist()[:2] == [now, pd.Timestamp("2025-03-03T10:00Z")]
    instants = pd.Series(pd.to_datetime(["2025-03-04T00:00", "2025-03-05T00:00", None]))
    assert parse_finishes(instants, start, "UTC").tolist()[:2] == [
        pd.Timestamp("2025-03-04T00:00Z"),
        pd.Timestamp("2025-03-05T00:00Z"),
    ]


def test_a_finish_in_the_repeated_autumn_hour_may_be_its_second_occurrence(tmp_path: Path) -> None:
    """Opened at 02:30 summer time, resolved at 02:20 winter time, 50 minutes later: read both
    as the first 02:xx, the row 'finished before it started' and was quarantined."""
    rows = [*GOOD, "F1,2025-10-26T02:30:00,2025-10-26T02:20:00,high,billing,email,1"]
    history = load_history(write(tmp_path, rows), SPEC)  # Europe/Sarajevo: 03:00 -> 02:00
    assert history.rejected.empty
    row = history.frame.set_index("ticket_id").loc["F1"]
    assert row["end"] - row["start"] == pd.Timedelta(minutes=50)
    rows[-1] = "F1,2025-10-26T02:30:00,2025-10-26T01:20:00,high,billing,email,1"
    assert load_history(write(tmp_path, rows), SPEC).rejected["reason"].tolist() == [
        "finishes before it starts"
    ]  # no reading makes that one right


def test_a_wall_clock_history_finished_only_in_working_hours_is_doubted() -> None:
    """Tickets worked Monday to Friday, 09:00-17:00, exported under ``clock: wall``: the spec
    should probably say ``business``. The same tickets under ``business``, or finishing at any
    hour of the day, are not doubted."""
    sim = tickets(4_000, seed=3)
    history, spec = sim.history.copy(), sim.spec
    wall = spec.model_copy(update={"clock": "wall"})
    [doubt] = [d for d in doubts(load_history(history, wall), as_of_given=False) if "clock" in d]
    assert "'clock: business' in the spec" in doubt, doubt
    assert int(doubt.split("%")[0]) >= 95, doubt
    assert [d for d in doubts(load_history(history, spec), as_of_given=False) if "clock" in d] == []
    rng = np.random.default_rng(0)
    anytime = pd.to_timedelta(rng.uniform(0, 24, len(history)), unit="h")
    history[spec.end] = pd.to_datetime(history[spec.end], utc=True) + anytime
    said = doubts(load_history(history, wall), as_of_given=False)
    assert [d for d in said if "clock" in d] == [], said


def test_a_segment_worked_outside_the_calendars_hours_is_named() -> None:
    """An IT desk's P1 incidents, worked round the clock, under ``clock: business``: 59% took no
    business hours, their promises ran to the next opening, and training said nothing; under
    ``clock: wall``, its advice to count business hours took them in with the rest."""
    sim = tickets(4_000, seed=3)
    history, spec = sim.history.copy(), sim.spec
    urgent = history["priority"] == "high"
    start = pd.to_datetime(history.loc[urgent, spec.start], utc=True).dt.tz_convert(spec.timezone)
    night = start.dt.normalize() + pd.Timedelta(hours=22)  # opened at 22:00, done by 04:00
    rng = np.random.default_rng(0)
    history.loc[urgent, spec.start] = night
    history.loc[urgent, spec.end] = night + pd.to_timedelta(rng.uniform(0.5, 6, urgent.sum()), "h")
    # the other priorities are worked in the calendar's hours only
    [doubt] = [d for d in doubts(load_history(history, spec), as_of_given=False) if "clock" in d]
    assert doubt.startswith("items of priority=high (100% of their finishes) finish while"), doubt
    assert "'clock: business' counts only its hours" in doubt and "normal" not in doubt
    wall = spec.model_copy(update={"clock": "wall"})
    [doubt] = [d for d in doubts(load_history(history, wall), as_of_given=False) if "clock" in d]
    assert "; but items of priority=high (100% of their finishes) finish while it is" in doubt


def test_kinds_of_rejection_leave_out_values_but_name_the_delimiter(tmp_path: Path) -> None:
    """A ';' file's extra cells: the summary by kind said "a '…' inside a value"."""
    path = tmp_path / "history.csv"
    rows = [
        r.replace(",", ";") for r in [*GOOD, "X1,2025-03-03T10:00:00+01:00,,high,bill;ing,email,1"]
    ]
    rows += ["X2;2025-03-03T10:00:00+01:00;;high;billing;email;many"]
    path.write_text(HEADER.replace(",", ";") + "\n".join(rows) + "\n")
    kinds = rejected_kinds(load_history(path, SPEC, max_rejected=0.5).rejected).index.tolist()
    assert any("a ';' inside a value" in kind for kind in kinds), kinds
    assert "queue_open: not a number: '…'" in kinds


def test_kinds_of_rejection_read_an_apostrophe_as_one() -> None:
    """ "the spec's timestamp_format '%m/%d/%Y'" was summed up as "the spec'…'%m/%d/%Y"."""
    reason = (
        "unparseable timestamp '13/45/2025 09:00:00 AM': neither the spec's timestamp_format "
        "'%m/%d/%Y %I:%M:%S %p' nor ISO-8601"
    )
    rejected = pd.DataFrame({"column": ["Created Date"] * 2, "reason": [reason, reason]})
    assert rejected_kinds(rejected).to_dict() == {
        "Created Date: unparseable timestamp '…': neither the spec's timestamp_format '…' nor "
        "ISO-8601": 2
    }


def test_the_quarantine_of_an_excel_export_is_written_as_the_export_is(tmp_path: Path) -> None:
    """A ';' export with a byte order mark (Excel's, in locales with a decimal comma) had its
    rejected rows written with commas and without the mark: Excel opened it as one column."""
    rows = [row.replace(",", ";") for row in [*GOOD, "T99,not a time,,high,billing,email,3"]]
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER.replace(",", ";") + "\n".join(rows) + "\n").encode())
    history = load_history(path, SPEC, max_rejected=0.5)
    written = (tmp_path / "excel.rejected.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbf") and b";" in written.splitlines()[0]
    assert read_table(tmp_path / "excel.rejected.csv")["ticket_id"].tolist() == ["T99"]
    assert len(history.rejected) == 1
    plain = write(tmp_path, [*GOOD, "T99,not a time,,high,billing,email,3"])
    load_history(plain, SPEC, max_rejected=0.5)
    assert (tmp_path / "history.rejected.csv").read_text().startswith("file,row,column,reason")


def test_a_segment_finishing_only_in_office_hours_on_a_round_the_clock_calendar_is_named() -> None:
    """A city's requests under one round-the-clock spec: the housing department finished only
    on weekdays, 09:00-17:00, and its promises fell "by Sunday at 4:00 AM"; nothing said so.
    Items finishing at any hour are not named."""
    rng = np.random.default_rng(5)
    n, tz = 3_000, "America/New_York"
    spec = DatasetSpec(
        name="city", kind="resolution", start="opened", end="closed", timezone=tz, clock="wall",
        calendar=CalendarSpec(days=tuple(WEEKDAYS)), segments=["agency"],
        features=FeatureSpec(categorical=["agency"]),
    )  # fmt: skip
    opened = pd.Timestamp("2025-01-06", tz=tz) + pd.to_timedelta(rng.uniform(0, 300, n), "D")
    agency = rng.choice(["police", "housing"], n)
    police = opened + pd.to_timedelta(rng.uniform(1, 6, n), "h")
    office = Clock(CalendarSpec(hours=("09:00", "17:00")), tz, "business")
    housing = office.add_hours(opened, rng.uniform(2, 60, n)).tz_convert(tz)
    closed = np.where(agency == "police", police, housing)
    frame = pd.DataFrame({"opened": opened, "closed": closed, "agency": agency})
    said = doubts(load_history(frame, spec), as_of_given=False)
    [doubt] = [d for d in said if "hours of the week" in d]
    assert doubt.startswith("items of agency=housing (") and "95% of their finishes" in doubt
    assert "police" not in doubt and "a spec of their own" in doubt
    frame["agency"] = "police"
    frame["closed"] = police
    said = doubts(load_history(frame, spec), as_of_given=False)
    assert not [d for d in said if "hours of the week" in d], said


def test_a_local_time_at_the_edge_of_nanoseconds_is_out_of_range_not_an_error() -> None:
    """One cell "1677-09-21T00:12:44" in Berlin time, before the earliest instant nanoseconds
    hold once in UTC, refused a whole file: "Converting ... underflows past ...", no row named."""
    # Another cell's nanoseconds make pandas read the column in nanoseconds.
    text = pd.Series(["1677-09-21T00:12:44", "2024-10-01 10:00:00.000000001"], dtype="string")
    for values in (text, pd.Series(pd.to_datetime(text.astype(object), format="ISO8601"))):
        parsed = parse_timestamps(values, "Europe/Berlin")
        assert parsed.isna().tolist() == [True, False]
        assert parsed.iloc[1].floor("s") == pd.Timestamp("2024-10-01 08:00", tz="UTC")
    formatted = parse_timestamps(text, "Europe/Berlin", "%Y-%m-%dT%H:%M:%S")
    assert formatted.isna().tolist() == [True, False]


def test_a_header_naming_a_column_twice_is_refused_naming_it(tmp_path: Path) -> None:
    """A CSV's second 'category' was read as 'category.1' and the first used without a word;
    a Parquet file's was a schema dump that never named the column."""
    path = tmp_path / "twice.csv"
    path.write_text("ticket_id,category,created_at,category\nT1,billing,2025-03-03T10:00Z,x\n")
    with pytest.raises(DataError, match=r"twice\.csv: the header names a column more than once: "):
        read_table(path)
    with pytest.raises(DataError, match=r"'category' \(columns 2, 4\); keep one"):
        read_table(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table([pa.array([1.0]), pa.array(["a"]), pa.array([2.0])], ["w", "c", "w"])
    pq.write_table(table, tmp_path / "twice.parquet")
    with pytest.raises(DataError, match=r"'w' \(columns 1, 3\); keep one"):
        read_table(tmp_path / "twice.parquet")


def test_a_status_column_catches_closed_items_without_a_finish_and_reopened_ones(
    tmp_path: Path,
) -> None:
    """A helpdesk export had 40 tickets 'closed' with no solved time (read as open for 18
    months) and 15 reopened ones with the earlier solve's time (read as finished)."""
    spec = DatasetSpec.from_dict(
        {**SPEC.model_dump(), "status": {"column": "status", "finished": ["Solved", "closed"]}}
    )
    rows = [r + ",solved" for r in GOOD] + [
        "C1,2025-03-02T10:00:00+01:00,,high,billing,email,3, Closed ",
        "R1,2025-03-02T10:00:00+01:00,2025-03-04T10:00:00+01:00,high,billing,email,3,open",
        "N1,2025-03-02T10:00:00+01:00,2025-03-04T10:00:00+01:00,high,billing,email,3,",
    ]
    path = tmp_path / "history.csv"
    path.write_text(HEADER.rstrip("\n") + ",status\n" + "\n".join(rows) + "\n")
    history = load_history(path, spec, max_rejected=0.5)
    [reason] = history.rejected["reason"]
    assert history.rejected["ticket_id"].tolist() == ["C1"]
    assert reason == "its status says it finished, but 'resolved_at' is empty: when is unknown"
    kept = history.frame.set_index("ticket_id")
    assert not kept.loc["R1", FINISHED] and kept.loc["N1", FINISHED]  # no status: as written
    assert history.read_as_open["why"].tolist() == ["reopened"]
    said = " ".join(doubts(history, as_of_given=False))
    assert "1 item(s) have a finish but a status that is not done ('open'; e.g. row 42" in said
    with pytest.raises(SpecError, match="'category' is also a feature"):
        DatasetSpec.from_dict(
            {**SPEC.model_dump(), "status": {"column": "category", "finished": "x"}}
        )


def test_a_spec_without_a_timezone_is_doubted(tmp_path: Path) -> None:
    """An outside harness's Warsaw pallets were read as UTC, calendar and all, without a word."""
    import yaml

    written = yaml.safe_load(SPEC.to_yaml())
    bare = DatasetSpec.from_dict({k: v for k, v in written.items() if k != "timezone"})
    assert bare.timezone == "UTC"
    said = doubts(load_history(write(tmp_path, GOOD), bare), as_of_given=True)
    assert any(d.startswith("the spec names no timezone") for d in said)
    named = DatasetSpec.from_dict({**written, "timezone": "UTC"})  # UTC on purpose: no doubt
    said = doubts(load_history(write(tmp_path, GOOD), named), as_of_given=True)
    assert not any("timezone" in d for d in said)


def test_an_export_with_fractions_of_a_second_loads_as_the_same_history(tickets_sim) -> None:
    """The same export as Parquet (nanoseconds) and as CSV (whole seconds) trained models whose
    promises differed for 95% of items, by 3% at the median."""
    spec, raw = tickets_sim.spec, tickets_sim.history
    jitter = pd.to_timedelta(np.random.default_rng(5).integers(0, 10**9, len(raw)), unit="ns")
    fine = raw.assign(
        **{c: pd.to_datetime(raw[c], utc=True) + jitter for c in (spec.start, spec.end)}
    )
    whole = raw.assign(
        **{c: pd.to_datetime(raw[c], utc=True).dt.floor("s") for c in (spec.start, spec.end)}
    )
    as_of = pd.Timestamp(whole[spec.start].max()) + pd.Timedelta(days=1)
    pd.testing.assert_frame_equal(
        load_history(fine, spec, as_of=as_of).frame, load_history(whole, spec, as_of=as_of).frame
    )
