"""The dataset spec: one YAML file that says what a history means.

The spec is a public contract (see DESIGN.md): outside tools write these files, so unknown keys and
wrong types are refused with an error that names the key, instead of being silently ignored.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import itertools
import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)


def _one_or_many(value: object) -> object:
    """One value or a list of them: ``holidays: BA`` reads as ``[BA]``, nothing as none."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


OneOrMany = Annotated[tuple[str, ...], BeforeValidator(_one_or_many)]


RESERVED_COLUMNS = frozenset(
    {
        # a validated history's own columns (eta.data)
        "start", "end", "observed_until", "hours", "finished", "segment", "data_row",
        # what a quote reads from an item in progress (eta.quote)
        "elapsed", "promised_at",
        # features the engine computes (eta.features)
        "backlog", "backlog_all", "finished_7d", "recent_log_hours_7d", "started_7d",
        "backlog_weeks", "queue_weeks", "finished_7d_weeks", "started_7d_weeks",
        "start_hour", "start_weekday", "after_cutoff", "days_off_next_7d", "day_of_year",
        "hours_until_open",
        "record_ended",
    }
)  # fmt: skip
"""Names the engine gives its own columns: a feature or id column by one of these names would be
overwritten by (or read as) the engine's, silently changing every promise."""


def _not_reserved(columns: tuple[str, ...]) -> None:
    """Refuse columns named as the engine names its own (:data:`RESERVED_COLUMNS`)."""
    reserved = sorted(set(columns) & RESERVED_COLUMNS)
    if reserved:
        raise ValueError(
            f"{reserved}: names the engine gives its own columns; rename the column in the "
            f"data and here (e.g. {reserved[0] + '_'!r})"
        )


Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_CONFIDENCE = 0.999
"""The highest promise level: a history tells little about a tail rarer than one in a thousand,
and beyond it a promise would be an extrapolation, not a calibrated quantile."""


class SpecError(ValueError):
    """A spec file is missing, unreadable, or has a bad key; the message names the key."""


Span = tuple[dt.timedelta, dt.timedelta]
"""A span of working hours: opening and closing time after the working day's midnight."""


def _spans(times: tuple[str, ...]) -> tuple[Span, ...]:
    """Working hours written as times in pairs, as spans: ``['09:00', '17:00']`` is one,
    ``['09:00', '12:00', '13:00', '17:00']`` two (a lunch break), and ``['22:00', '06:00']`` a
    night shift, closing the next morning (24 hours and more after the midnight it opened)."""
    if len(times) < 2 or len(times) % 2:
        raise ValueError(
            f"{list(times)}: write opening and closing times in pairs, such as ['09:00', '17:00'],"
            " or ['09:00', '12:00', '13:00', '17:00'] for a lunch break"
        )
    moments = [_parse_clock_time(t, allow_24=bool(i % 2)) for i, t in enumerate(times)]
    if len(moments) == 2 and moments[1] == moments[0]:
        raise ValueError(
            f"closing time {times[1]} is the opening time: write '00:00' to '24:00' for "
            "round-the-clock work"
        )
    if len(moments) == 2 and moments[1] < moments[0]:  # a night shift
        return ((moments[0], moments[1] + dt.timedelta(days=1)),)
    if any(later <= earlier for earlier, later in itertools.pairwise(moments)):
        raise ValueError(
            f"{list(times)}: the times must go forward through the day (a night shift is one "
            "pair, such as ['22:00', '06:00'])"
        )
    return tuple(zip(moments[::2], moments[1::2], strict=True))


def _overnight(spans: tuple[Span, ...]) -> bool:
    return spans[-1][1] > dt.timedelta(days=1)


def _parse_clock_time(value: str, *, allow_24: bool = False) -> dt.timedelta:
    """'09:30' -> 9.5 hours past midnight; '24:00' is allowed as the end of a day."""
    try:
        hours, minutes = (int(part) for part in value.split(":"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time of day like '09:00'") from exc
    limit = 24 if allow_24 else 23
    if not (0 <= hours <= limit and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError(f"{value!r} is not a time of day like '09:00'")
    return dt.timedelta(hours=hours, minutes=minutes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_lists_as_none(cls, raw: object) -> object:
        """A list or section left empty in YAML (``segments:``) reads as null: it means none,
        as an absent key does, not a type error."""
        if not isinstance(raw, dict):
            return raw
        collections = {
            name
            for name, field in cls.model_fields.items()
            if isinstance(field.get_default(call_default_factory=True), tuple | dict | BaseModel)
        }
        return {k: v for k, v in raw.items() if not (v is None and k in collections)}


class CalendarSpec(_Strict):
    """When work happens: working days, opening hours, public holidays, order cut-off."""

    days: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")
    hours: tuple[str, ...] = ("00:00", "24:00")
    """Opening and closing time; more pairs for breaks (``['09:00', '12:00', '13:00', '17:00']``);
    a pair that closes before it opens is a night shift (``['22:00', '06:00']``)."""
    hours_by_day: dict[Weekday, tuple[str, ...]] = Field(default_factory=dict)
    """Working days whose hours differ from ``hours``: ``{Sat: ['10:00', '14:00']}``."""
    holidays: OneOrMany = ()
    """Country codes from the `holidays` package, optionally with a subdivision: 'BA', 'US-CA'."""
    holiday_categories: OneOrMany = ("public",)
    """Which of the `holidays` package's categories of days close the calendar: public holidays
    by default; ``[public, catholic]`` adds Assumption Day in Bavaria, which the package files
    apart because only some of its towns keep it. Each code takes the categories it has."""
    days_off: tuple[str, ...] = ()
    """The business's own days off besides the holidays: a date ('2026-12-28') or a day every
    year ('12-24'). Customers hear them as days the team is off, not as public holidays."""
    holidays_worked: tuple[str, ...] = ()
    """Holidays of ``holidays`` that the business works: by name, as the `holidays` package
    writes it in its default language ('Election Day'), or by date ('2026-11-03', '11-11')."""
    cutoff: str | None = None
    """Items started after this local time count from the next working day (e.g. '14:00'). With
    a night shift ('22:00' to '06:00') the time is in the shift's working day, which begins when
    the shift before it closes: '04:00' is near the end of the shift that opened at 22:00."""

    @field_validator("hours", "hours_by_day", "cutoff", mode="before")
    @classmethod
    def _times_are_quoted(cls, value: object) -> object:
        """YAML reads an unquoted 17:00 as the number 1020 (17 * 60 + 0, base 60)."""
        if isinstance(value, dict):
            for times in value.values():
                cls._times_are_quoted(times)
            return value
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, int | float) and not isinstance(item, bool):
                raise ValueError(
                    f"got the number {item}: write times of day in quotes, such as '17:00' "
                    "(YAML reads an unquoted 17:00 as a number of minutes)"
                )
        return value

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import holidays

        supported = holidays.list_supported_countries()
        for code in value:
            country, _, subdiv = code.partition("-")
            if country not in supported:
                raise ValueError(
                    f"{code!r}: unknown holiday country (use an ISO code such as 'BA')"
                )
            if subdiv and subdiv not in supported[country]:
                raise ValueError(f"{code!r}: unknown subdivision {subdiv!r} of {country}")
        return value

    @field_validator("holiday_categories")
    @classmethod
    def _categories_someone_has(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        from eta.calendar import holiday_categories

        if "public" not in value:
            raise ValueError(
                "'public' is missing: without it no public holiday closes the calendar; "
                "list it beside the others, such as [public, catholic]"
            )
        codes = info.data.get("holidays") or ()
        had = sorted({c for code in codes for c in holiday_categories(code)})
        for category in value:
            if codes and category not in had:
                raise ValueError(
                    f"{category!r}: none of {', '.join(codes)} has such holidays "
                    f"(they have: {', '.join(had)})"
                )
        return tuple(dict.fromkeys(value))

    @field_validator("days_off", "holidays_worked", mode="before")
    @classmethod
    def _dates_as_written(cls, value: object) -> object:
        """One or many; YAML reads an unquoted 2026-12-24 as a date, said back as written."""
        values = (value,) if isinstance(value, dt.date) else _one_or_many(value)
        return tuple(v.isoformat() if isinstance(v, dt.date) else v for v in values)

    @field_validator("days_off")
    @classmethod
    def _days_are_dates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for day in value:
            _calendar_day(day)
        return value

    @field_validator("holidays_worked")
    @classmethod
    def _holidays_there_are(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Each holiday worked is one of the codes' holidays of the categories asked for: by
        a name in any language the `holidays` package has for them, or by its date."""
        from eta.calendar import holiday_dates_of, holiday_key, holiday_names_of

        codes = tuple(info.data.get("holidays") or ())
        categories = tuple(info.data.get("holiday_categories") or ("public",))
        both = sorted(set(value) & set(info.data.get("days_off") or ()))
        if both:
            raise ValueError(f"{both} listed as days off too: a day is one or the other")
        where = ", ".join(codes) or "no holiday code"
        names = holiday_names_of(codes, categories)
        for entry in value:
            if _is_calendar_day(entry):
                day = _calendar_day(entry)
                dates = holiday_dates_of(codes, categories)
                if day not in dates and day not in {(d.month, d.day) for d in dates}:
                    raise ValueError(f"{entry!r} is not a holiday of {where}")
            elif holiday_key(entry) not in names:
                raise ValueError(
                    f"{entry!r} is not a holiday of {where}" + _named(entry, codes, categories)
                )
        return value

    def day_off_rules(self) -> tuple[set[dt.date], set[tuple[int, int]]]:
        """:attr:`days_off` as dates and (month, day) pairs every year."""
        return _day_rules(self.days_off)

    def worked_rules(self) -> tuple[set[dt.date], set[tuple[int, int]], set[str]]:
        """:attr:`holidays_worked` as dates, (month, day) pairs and casefolded names."""
        from eta.calendar import holiday_key, holiday_names_of

        dates, yearly = _day_rules(tuple(d for d in self.holidays_worked if _is_calendar_day(d)))
        named = [d for d in self.holidays_worked if not _is_calendar_day(d)]
        if not named:  # every clock asks: the names of forty years are read only when needed
            return dates, yearly, set()
        # By their names in the package's own language, whichever language they were given in.
        names = holiday_names_of(self.holidays, self.holiday_categories)
        return dates, yearly, {holiday_key(names[holiday_key(d)]) for d in named}

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one working day is needed")
        return tuple(sorted(set(value), key=WEEKDAYS.index))

    @field_validator("hours")
    @classmethod
    def _hours_in_order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _spans(value)
        return value

    @field_validator("hours_by_day")
    @classmethod
    def _days_of_their_own(
        cls, value: dict[str, tuple[str, ...]], info: ValidationInfo
    ) -> dict[str, tuple[str, ...]]:
        days, hours = info.data.get("days", ()), info.data.get("hours")
        for day, times in value.items():
            if day not in days:
                raise ValueError(
                    f"{day} is not a working day: add it to calendar.days to give it hours"
                )
            if _overnight(_spans(times)) or (hours and _overnight(_spans(hours))):
                raise ValueError(
                    f"{day}: hours of their own are supported for days that close before "
                    "midnight, not for night shifts"
                )
        return dict(sorted(value.items(), key=lambda item: WEEKDAYS.index(item[0])))

    @property
    def spans(self) -> tuple[Span, ...]:
        """The usual working hours as spans (see ``hours``)."""
        return _spans(self.hours)

    @property
    def week(self) -> tuple[tuple[Span, ...], ...]:
        """Each weekday's working hours as spans, Monday first (a day off has the usual hours:
        whether a day works is :attr:`days` and the holidays)."""
        own = {day: _spans(times) for day, times in self.hours_by_day.items()}
        return tuple(own.get(day, self.spans) for day in WEEKDAYS)

    @property
    def overnight(self) -> bool:
        """Whether the working day runs past midnight (a night shift, '22:00' to '06:00'): its
        hours belong to the day it opens on."""
        return _overnight(self.spans)

    @property
    def day_begins(self) -> dt.timedelta:
        """When a working day begins after its midnight: at once, or for a night shift when the
        shift that opened the evening before closes (its small hours belong to that day)."""
        return max(self.closes - dt.timedelta(days=1), dt.timedelta(0))

    @field_validator("cutoff")
    @classmethod
    def _cutoff_is_time(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_clock_time(value)
        return value

    @property
    def opens(self) -> dt.timedelta:
        """When a usual working day opens."""
        return self.spans[0][0]

    @property
    def closes(self) -> dt.timedelta:
        """When a usual working day closes, after its midnight (past 24 hours for a night
        shift)."""
        return self.spans[-1][1]

    @property
    def cutoff_time(self) -> dt.timedelta | None:
        return None if self.cutoff is None else _parse_clock_time(self.cutoff)


class FeatureSpec(_Strict):
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    phrases: dict[str, str | dict[str, str]] = Field(default_factory=dict)
    """Customer-safe words per feature ('queue_open': 'how busy the queue is').

    A plain string is English; a mapping gives the words per language
    (``{en: 'the carrier', bs: 'prevoznik'}``). A feature without a phrase in the customer's
    language is never named to that customer (agents see every feature)."""

    @field_validator("categorical", "numeric")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _listed_once_each(value)
        _not_reserved(value)
        return value

    @field_validator("numeric")
    @classmethod
    def _listed_once(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """A column is a category or a number, not both: the model would keep one silently."""
        both = [c for c in value if c in info.data.get("categorical", ())]
        if both:
            raise ValueError(
                f"{both} also listed in features.categorical: list a column once (categorical "
                "to segment by it or for codes, numeric when its size matters)"
            )
        return value

    def phrase(self, feature: str, language: str) -> str | None:
        """The words for ``feature`` in ``language`` ('en', 'bs', ...), or None."""
        words = self.phrases.get(feature)
        if isinstance(words, str):
            return words if language == "en" else None
        return None if words is None else words.get(language)


class StatusSpec(_Strict):
    """A history's status column, read for what the finish column alone cannot say: a ticket
    closed with no finish time (its finish is unknown: quarantined), or one reopened after it
    was solved (still open: its finish is the earlier one's)."""

    column: str
    finished: OneOrMany
    """The values that mean done, in any case (``[solved, closed]``); any other is open."""

    @field_validator("finished")
    @classmethod
    def _some_values(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list the values that mean done, such as [solved, closed]")
        return value


class DatasetSpec(_Strict):
    """What one history means: which columns hold start, end and features, and on which clock."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["resolution", "delivery"]
    start: str
    end: str
    observed_until: str | None = None
    id: str | None = None
    timezone: str = "UTC"
    timestamp_format: str | None = None
    """How the export writes the start, end and observed_until timestamps when not ISO-8601: a
    strftime format such as ``'%m/%d/%Y %I:%M:%S %p'`` (NYC Open Data's '01/15/2024 10:30:00
    PM'). Day and month order cannot be told from a '03/04/2024', so it is never guessed: the
    export's owner says it here. Values the format does not read are still read as ISO-8601;
    without ``%z`` the times are local in ``timezone``."""
    clock: Literal["business", "wall"] = "wall"
    calendar: CalendarSpec = CalendarSpec()
    features: FeatureSpec = FeatureSpec()
    segments: tuple[str, ...] = ()
    status: StatusSpec | None = None
    """The history's status column and its finished values (optional; histories only)."""
    confidence: Annotated[float, Field(gt=0.5, le=MAX_CONFIDENCE)] = 0.9
    rounding: Literal["minute", "hour", "day", "date"] | None = None
    """How promises are rounded up to what a person says: ``hour`` (the next full business
    hour), ``day`` (the close of the business day), ``date`` (the calendar date: "by Thursday"),
    or ``minute``. Default: ``hour`` for resolutions, ``date`` for deliveries."""

    @property
    def promise_rounding(self) -> str:
        """The rounding in force (the explicit ``rounding`` or the default for the kind)."""
        if self.rounding is not None:
            return self.rounding
        return "hour" if self.kind == "resolution" else "date"

    @field_validator("end")
    @classmethod
    def _end_is_not_start(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("start"):
            raise ValueError(f"{value!r} is also the start column: name the finish column")
        return value

    @field_validator("status")
    @classmethod
    def _status_is_no_feature(
        cls, value: StatusSpec | None, info: ValidationInfo
    ) -> StatusSpec | None:
        """A status says how an item ended, which nobody knows when it starts: as a feature
        it would teach the model the answer (a tester's 'status' feature went unremarked)."""
        features = info.data.get("features")
        named = [
            *(features.categorical + features.numeric if features else ()),
            info.data.get("start"),
            info.data.get("end"),
        ]
        if value is not None and value.column in named:
            raise ValueError(
                f"{value.column!r} is also a feature or the start or end column: a status "
                "is known only once an item ends, so it cannot be an input"
            )
        return value

    @field_validator("id")
    @classmethod
    def _id_is_not_reserved(cls, value: str | None) -> str | None:
        if value in RESERVED_COLUMNS:
            raise ValueError(f"{value!r} is one of the engine's own column names: rename it")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return iana_zone(value)

    @field_validator("timestamp_format")
    @classmethod
    def _format_reads_a_date(cls, value: str | None) -> str | None:
        """A format must read back the date it writes: one without a year, month or day (or
        with a directive pandas cannot parse) would quietly put every item in 1900."""
        if value is None:
            return None
        if "%Z" in value:
            raise ValueError(
                f"{value!r}: '%Z' (a zone's name) cannot be read back. If every time ends in "
                "UTC (or GMT, or Z), write it as it is, such as '%Y-%m-%d %H:%M:%S UTC': such "
                "times are read as UTC; write '%z' for offsets such as +01:00"
            )
        sample = dt.datetime(2024, 1, 15, 22, 30, 5, tzinfo=dt.UTC)
        aware = "%z" in value
        try:
            written = (sample if aware else sample.replace(tzinfo=None)).strftime(value)
            read = pd.to_datetime([written], format=value, utc=aware)[0]
        except (ValueError, TypeError):
            read = None
        if read is None or pd.isna(read) or read.date() != sample.date():
            raise ValueError(
                f"{value!r} is not a strftime format that reads a date back: it needs the year, "
                "month and day, such as '%m/%d/%Y %I:%M:%S %p' for '01/15/2024 10:30:00 PM' "
                "or '%d.%m.%Y %H:%M' for '15.01.2024 22:30'"
            )
        return value

    @field_validator("features")
    @classmethod
    def _features_are_known_at_the_start(
        cls, value: FeatureSpec, info: ValidationInfo
    ) -> FeatureSpec:
        """The finish (or the last look) is what a quote predicts, not something it knows; an
        id tells nothing about the next item. Either trained without complaint."""
        roles = {"start": "start", "end": "finish", "observed_until": "last look", "id": "id"}
        for key, role in roles.items():
            column = info.data.get(key)
            if column is not None and column in (*value.categorical, *value.numeric):
                raise ValueError(
                    f"{column!r} is the {role} column ({key}), not a feature: a feature is "
                    "known when an item starts"
                )
        return value

    @field_validator("segments")
    @classmethod
    def _segments_can_be_categories(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        _listed_once_each(value)
        features = info.data.get("features")
        if features is None:  # refused itself: its error says why
            return value
        _not_reserved(value)
        numeric = [s for s in value if s in features.numeric]
        if numeric:
            raise ValueError(
                f"{numeric} are numeric features; a segment groups items by a category (list "
                "the column under features.categorical, or a banded copy of it)"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _segments_as_categories(cls, raw: object) -> object:
        """A segment column the features leave out is a category of the items all the same:
        the contract's spec does not ask to list it twice, and an outside harness's spec with
        ``segments: [customer_type]`` alone was refused. Added before any key is checked, so
        that a segment is checked as a feature is (the finish or id column is refused as one);
        a misspelt one ('priorty') is then a column the data does not have, which loading
        names with the one it has."""
        if not isinstance(raw, dict) or not isinstance(raw.get("segments"), list | tuple):
            return raw  # none, or refused by its own check
        features = raw.get("features") or {}
        if isinstance(features, FeatureSpec):
            features = features.model_dump()
        if not isinstance(features, dict):
            return raw
        listed = [_one_or_many(features.get(kind)) for kind in ("categorical", "numeric")]
        if not all(isinstance(names, list | tuple) for names in listed):
            return raw
        taken = {*listed[0], *listed[1], *RESERVED_COLUMNS}
        extra = [s for s in raw["segments"] if isinstance(s, str) and s not in taken]
        if not extra:
            return raw
        categorical = [*listed[0], *dict.fromkeys(extra)]
        return {**raw, "features": {**features, "categorical": categorical}}

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self.features.categorical + self.features.numeric

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns a history file must have (the end column may be empty for open items)."""
        optional = (self.observed_until, self.id, self.status.column if self.status else None)
        return (self.start, self.end, *(c for c in optional if c), *self.feature_columns)

    @classmethod
    def from_yaml(cls, path: str | Path) -> DatasetSpec:
        path = Path(path)
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_OneValuePerKey)
        except OSError as exc:
            raise SpecError(f"{path}: cannot read spec ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise SpecError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: object, *, source: str = "spec") -> DatasetSpec:
        if not isinstance(raw, dict):
            raise SpecError(f"{source}: a spec is a mapping of keys (name, kind, start, end, ...)")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"key '{'.'.join(str(p) for p in err['loc']) or '(top)'}': {_reason(err)}"
                for err in exc.errors()
            )
            raise SpecError(f"{source}: {problems}") from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
"""Files of the time zone database that are not zones: the server's own zone, a placeholder."""


def iana_zone(name: str, example: str = "Europe/Sarajevo") -> str:
    """``name`` when it is an IANA time zone, else a ValueError saying so, with the zone it
    probably meant when only the case differs ('utc' for 'UTC'). One check for the spec, quotes
    and the service; 'localtime' (whatever zone the server is in) is refused too."""
    try:
        if name in NOT_ZONES:
            raise ValueError(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        zones = _zones_by_case()  # the same name in another case first, then a near one
        near = difflib.get_close_matches(str(name).casefold(), zones, n=1, cutoff=0.85)
        hint = f"; did you mean {zones[near[0]]!r}?" if near else ""
        raise ValueError(f"{name!r} is not an IANA time zone such as {example!r}{hint}") from None
    return name


@functools.cache
def _zones_by_case() -> dict[str, str]:
    return {zone.casefold(): zone for zone in zoneinfo.available_timezones() - NOT_ZONES}


class _OneValuePerKey(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: plain YAML keeps the last,
    so a spec with two ``name:`` lines trained under the second without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _reason(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        near = difflib.get_close_matches(str(err["loc"][-1]), _keys_at(err["loc"][:-1]), n=1)
        return f"unknown key; did you mean {near[0]!r}?" if near else "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return str(err["msg"]).removeprefix("Value error, ")


def _calendar_day(text: str) -> dt.date | tuple[int, int]:
    """'2026-12-24' -> that date; '12-24' -> (12, 24), a day every year."""
    try:
        if len(text.split("-")) == 2:
            month, day = (int(part) for part in text.split("-"))
            dt.date(2024, month, day)  # a leap year: '02-29' is a day some years have
            return month, day
        return dt.date.fromisoformat(text)
    except (ValueError, AttributeError):
        day_first = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.?(\d{4})?", str(text).strip())
        hint = ""
        if day_first:  # '24.12' or '24.12.2026', as German calendars write them
            day, month, year = day_first.groups()
            written = f"{int(month):02d}-{int(day):02d}"
            hint = f"; did you mean {(f'{year}-' if year else '') + written!r}?"
        raise ValueError(
            f"{text!r} is not a date such as '2026-12-24' or a day every year such as '12-24'{hint}"
        ) from None


def _is_calendar_day(text: str) -> bool:
    try:
        _calendar_day(text)
    except ValueError:
        return False
    return True


def _day_rules(days: tuple[str, ...]) -> tuple[set[dt.date], set[tuple[int, int]]]:
    parsed = [_calendar_day(d) for d in days]
    return {p for p in parsed if isinstance(p, dt.date)}, {
        p for p in parsed if isinstance(p, tuple)
    }


def _named(entry: str, codes: tuple[str, ...], categories: tuple[str, ...]) -> str:
    """What to tell of a holiday name not found: its category when it is one of another, else
    the name it was probably meant to be, else the names there are."""
    from eta.calendar import holiday_categories, holiday_key, holiday_names_of
    from eta.tables import some_of

    for category in sorted({c for code in codes for c in holiday_categories(code)}):
        if category not in categories and holiday_key(entry) in holiday_names_of(
            codes, (category,)
        ):
            return f" of the categories asked for: it is a {category!r} one (holiday_categories)"
    names = holiday_names_of(codes, categories)
    near = difflib.get_close_matches(holiday_key(entry), names, n=1, cutoff=0.8)
    if near:
        return f"; did you mean {names[near[0]]!r}?"
    listed = sorted(set(names.values()))
    return f" (its holidays: {some_of(listed, 20)})"


def _keys_at(loc: tuple) -> list[str]:
    """The keys a spec takes at ``loc`` ('calendar': the calendar's), for a typo's hint."""
    model: type[BaseModel] = DatasetSpec
    for part in loc:
        field = model.model_fields.get(str(part))
        nested = field.annotation if field else None
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            return []
        model = nested
    return list(model.model_fields)


def _listed_once_each(value: tuple[str, ...]) -> None:
    repeated = sorted({c for c in value if value.count(c) > 1})
    if repeated:
        raise ValueError(f"{repeated} listed more than once")
