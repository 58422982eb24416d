"""The spec contract: good specs load, bad ones are refused with the key named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from eta.data import END, FINISHED, HOURS, ROW, SEEN, SEGMENT, START, load_history
from eta.features import CALENDAR_FEATURES, RECENT_FEATURES, RECORD_ENDED
from eta.quote import PROMISED
from eta.spec import RESERVED_COLUMNS, DatasetSpec, SpecError, iana_zone
from eta.synthetic import load_spec
from eta.tables import DataError

BASE = {
    "name": "tickets",
    "kind": "resolution",
    "start": "created_at",
    "end": "resolved_at",
    "timezone": "Europe/Sarajevo",
    "clock": "business",
    "calendar": {"days": ["Mon", "Tue"], "hours": ["09:00", "17:00"], "holidays": "BA"},
    "features": {"categorical": ["priority"], "numeric": ["queue_open"]},
    "segments": ["priority"],
}


def test_the_design_contract_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        """
name: tickets
kind: resolution
start: created_at
end: resolved_at
observed_until: null
id: ticket_id
timezone: Europe/Sarajevo
clock: business
calendar: {days: [Mon, Tue, Wed, Thu, Fri], hours: ["09:00", "17:00"], holidays: BA, cutoff: null}
features: {categorical: [priority, category, channel], numeric: [queue_open]}
segments: [priority]
confidence: 0.9
"""
    )
    spec = DatasetSpec.from_yaml(path)
    assert spec.calendar.holidays == ("BA",)
    assert spec.required_columns[:3] == ("created_at", "resolved_at", "ticket_id")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"colour": "red"}, "colour"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"kind": "teleport"}, "kind"),
        ({"confidence": 1.5}, "confidence"),
        ({"segments": ["queue_open"]}, "segments"),
        ({"calendar": {"holidays": "XX"}}, "calendar.holidays"),
        ({"calendar": {"hours": ["17:00", "17:00"]}}, "calendar.hours"),
        ({"calendar": {"cutoff": "25:99"}}, "calendar.cutoff"),
        ({"calendar": {"hours_by_day": {"Sat": ["09:00", "13:00"]}}}, "calendar.hours_by_day"),
        ({"calendar": {"hours": ["09:00", "12:00", "13:00"]}}, "calendar.hours"),
        ({"calendar": {"hours": ["09:00", "13:00", "12:00", "17:00"]}}, "calendar.hours"),
        ({"calendar": {"hours": ["22:00", "02:00", "03:00", "06:00"]}}, "calendar.hours"),
        (
            {"calendar": {"days": ["Sat"], "hours_by_day": {"Sat": ["13:00", "09:00"]}}},
            "calendar.hours_by_day",
        ),
        (
            {"calendar": {"days": ["Sat"], "hours_by_day": {"Sa": ["09:00", "13:00"]}}},
            "calendar.hours_by_day.Sa",
        ),
        ({"calendar": {"days": ["Funday"]}}, "calendar.days.0"),
        ({"features": {"categorical": ["priority", "priority"]}}, "features.categorical"),
        ({"end": BASE["start"]}, "end"),
        ({"features": {"numeric": ["hours"]}}, "features.numeric"),
        ({"features": {"categorical": ["finished"]}}, "features.categorical"),
        ({"id": "elapsed"}, "id"),
        ({"features": {"categorical": [BASE["end"]]}}, "features"),  # the answer, not a feature
        ({"id": "ticket", "features": {"categorical": ["ticket"]}}, "features"),
        ({"features": {"categorical": ["priority"]}, "segments": ["priority"] * 2}, "segments"),
        ({"timestamp_format": "%H:%M"}, "timestamp_format"),  # no date: every item in 1900
        ({"timestamp_format": "%m/%Y"}, "timestamp_format"),
        ({"timestamp_format": "MM/DD/YYYY"}, "timestamp_format"),
    ],
)
def test_a_bad_spec_names_the_key(change: dict, key: str) -> None:
    with pytest.raises(SpecError, match=f"key '{key}"):
        DatasetSpec.from_dict({**BASE, **change}, source="s.yaml")


def test_a_segment_left_out_of_the_features_is_a_category_all_the_same() -> None:
    """An outside harness's spec with ``segments: [customer_type]`` alone was refused: the
    contract does not ask to list a segment twice. A numeric one is refused."""
    spec = DatasetSpec.from_dict({**BASE, "segments": ["region", "priority"]})
    assert spec.features.categorical == ("priority", "region")
    assert spec.segments == ("region", "priority")
    with pytest.raises(SpecError, match=r"key 'segments'.*numeric features"):
        DatasetSpec.from_dict({**BASE, "segments": ["queue_open"]})
    # Checked as a feature is: the finish column as a segment would leak every outcome.
    with pytest.raises(SpecError, match="'resolved_at' is the finish column"):
        DatasetSpec.from_dict({**BASE, "segments": ["resolved_at"]})
    with pytest.raises(SpecError, match=r"key 'segments': \['hours'\]: names the engine"):
        DatasetSpec.from_dict({**BASE, "segments": ["hours"]})


def test_a_misspelt_segment_says_which_column_it_means() -> None:
    """A freight forwarder's 'customs_chanel' got no more than "must also be listed"; now the
    spec takes it, and loading names the column the data has."""
    spec = DatasetSpec.from_dict({**BASE, "segments": ["priorty"]}, source="s.yaml")
    history = pd.DataFrame(
        {"created_at": ["2025-01-06 10:00"], "resolved_at": [None], "priority": ["P1"],
         "queue_open": [3]}
    )  # fmt: skip
    with pytest.raises(DataError, match=r"priorty.*did you mean 'priority'"):
        load_history(history, spec)


def test_a_zone_name_in_a_timestamp_format_says_what_to_write_instead() -> None:
    with pytest.raises(SpecError, match="'%Z' \\(a zone's name\\) cannot be read back"):
        DatasetSpec.from_dict({**BASE, "timestamp_format": "%Y-%m-%d %H:%M:%S %Z"})


def test_a_missing_required_key_is_named() -> None:
    raw = {k: v for k, v in BASE.items() if k != "start"}
    with pytest.raises(SpecError, match="key 'start': required key is missing"):
        DatasetSpec.from_dict(raw)


def test_unreadable_spec_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        DatasetSpec.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        DatasetSpec.from_yaml(bad)


def test_a_time_zone_is_checked_in_one_place_with_its_likely_spelling() -> None:
    assert iana_zone("America/St_Johns") == "America/St_Johns"
    with pytest.raises(ValueError, match=r"'utc' is not an IANA time zone .*did you mean 'UTC'\?"):
        iana_zone("utc")
    for not_a_zone in ("localtime", "Factory", "Mars/Olympus"):  # the server's zone, a placeholder
        with pytest.raises(ValueError, match=f"'{not_a_zone}' is not an IANA time zone"):
            iana_zone(not_a_zone)
    for typo in ("europe/berlin", "Europe/Berln"):  # another case, a letter left out
        with pytest.raises(SpecError, match=r"key 'timezone'.*did you mean 'Europe/Berlin'"):
            DatasetSpec.from_dict({**BASE, "timezone": typo})


def test_a_misspelt_key_is_told_the_key_it_was_probably_meant_to_be() -> None:
    with pytest.raises(SpecError, match=r"key 'calender': unknown key; did you mean 'calendar'"):
        DatasetSpec.from_dict({**BASE, "calender": {}})
    nested = {**BASE, "calendar": {"holliday": ["DE"]}}
    with pytest.raises(SpecError, match=r"'calendar.holliday': unknown key; did you mean 'holi"):
        DatasetSpec.from_dict(nested)
    with pytest.raises(SpecError, match=r"key 'flavour': unknown key$"):  # nothing near it
        DatasetSpec.from_dict({**BASE, "flavour": "mint"})


def test_a_key_given_twice_is_refused_not_overwritten(tmp_path: Path) -> None:
    """Plain YAML keeps the last: a spec with two name lines trained under the second."""
    path = tmp_path / "twice.yaml"
    path.write_text(DatasetSpec.from_dict(BASE).to_yaml() + "name: other\n")
    with pytest.raises(SpecError, match=r"twice\.yaml: not valid YAML: key 'name' is given twice"):
        DatasetSpec.from_yaml(path)
    nested = (
        DatasetSpec.from_dict(BASE)
        .to_yaml()
        .replace("  days:", "  hours: ['08:00', '12:00']\n  days:", 1)
    )
    path.write_text(nested)
    with pytest.raises(SpecError, match="key 'hours' is given twice"):
        DatasetSpec.from_yaml(path)


@pytest.mark.parametrize("name", ["tickets", "deliveries"])
def test_embedded_specs_round_trip_through_yaml(name: str, tmp_path: Path) -> None:
    spec = load_spec(name)
    path = tmp_path / "spec.yaml"
    path.write_text(spec.to_yaml())
    assert DatasetSpec.from_yaml(path) == spec


def test_a_timestamp_format_round_trips_through_yaml(tmp_path: Path) -> None:
    spec = DatasetSpec.from_dict({**BASE, "timestamp_format": "%m/%d/%Y %I:%M:%S %p"})
    path = tmp_path / "spec.yaml"
    path.write_text(spec.to_yaml())
    assert DatasetSpec.from_yaml(path).timestamp_format == "%m/%d/%Y %I:%M:%S %p"


def test_a_short_saturday_round_trips_through_yaml(tmp_path: Path) -> None:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    calendar = {
        "days": days,
        "hours": ["08:00", "18:00"],
        "hours_by_day": {"Sat": ["09:00", "13:00"]},
    }
    spec = DatasetSpec.from_dict({**BASE, "calendar": calendar})
    path = tmp_path / "spec.yaml"
    path.write_text(spec.to_yaml())
    assert DatasetSpec.from_yaml(path) == spec
    assert spec.calendar.week[5] == ((dt.timedelta(hours=9), dt.timedelta(hours=13)),)
    assert spec.calendar.week[4] == ((dt.timedelta(hours=8), dt.timedelta(hours=18)),)


def test_unquoted_times_of_day_in_yaml_are_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    text = yaml.safe_dump({**BASE, "calendar": {"hours": ["09:00", "17:00"], "cutoff": "14:00"}})
    path.write_text(text.replace("'17:00'", "17:00").replace("'14:00'", "14:00"))
    assert "17:00" in path.read_text() and "'17:00'" not in path.read_text()
    with pytest.raises(SpecError) as refused:
        DatasetSpec.from_yaml(path)
    message = str(refused.value)
    assert "key 'calendar.hours'" in message and "got the number 1020" in message
    assert "key 'calendar.cutoff'" in message and "in quotes, such as '17:00'" in message


def test_every_column_the_engine_names_itself_is_reserved() -> None:
    engine_columns = {
        *(START, END, SEEN, HOURS, FINISHED, SEGMENT, ROW),
        *RECENT_FEATURES,
        *CALENDAR_FEATURES,
        RECORD_ENDED,
        PROMISED,
        "elapsed",
    }
    assert engine_columns <= RESERVED_COLUMNS


def test_days_off_written_without_quotes_read_as_written(tmp_path: Path) -> None:
    """YAML reads an unquoted 2026-12-24 as a date: the spec keeps it as the text it was."""
    path = tmp_path / "spec.yaml"
    text = DatasetSpec.from_dict(BASE).to_yaml()
    path.write_text(text.replace("  days_off: []\n", "  days_off: [2026-12-24, 12-31]\n"))
    assert DatasetSpec.from_yaml(path).calendar.days_off == ("2026-12-24", "12-31")
