"""Words for quotes: the customer message, the follow-up commitment, the agent summary and the
texts of each risk note, in the customer's language and time zone.

Times are said the way people say them, relative to when the quote is given: "this afternoon",
"by 5:00 PM tomorrow", "on Wednesday at 12:00 PM", and with the date once a day is a week or
more away; the likely time and the follow-up also when the promise beside them is said with its
date, so that two weekdays a week apart are never read as one week. The likely time is said to
the part of the day (it is a median, not a deadline), the promise to the minute it was rounded
to, or to the day for date-rounded promises ("by Thursday"). Every phrase comes from the
language's catalog (:mod:`eta.localization`); this module only chooses which one and fills it in.

A phrase is formatted once per distinct (kind, day, time) in a batch, so a thousand quotes cost a
few hundred phrase look-ups, not thousands of Babel calls.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from babel.dates import get_period_id, get_timezone_location

from eta.calendar import (
    NAT,
    NS_PER_DAY,
    NS_PER_MINUTE,
    Clock,
    holiday_languages,
    holiday_table,
    utc_nanoseconds,
    wall_nanoseconds,
)
from eta.calibration import AHEAD
from eta.features import SEASON
from eta.localization import Language, placeholders
from eta.online import ALL
from eta.risks import Finding
from eta.rounding import in_contact_hours
from eta.spec import CalendarSpec, DatasetSpec
from eta.usual import BUSIER

MAX_CUSTOMER_NOTES = 3
"""The customer message mentions at most this many risk notes (agents see all of them)..."""
MAX_LOW_FILL = 2
"""...and low-severity ones only while it mentions fewer than this many: a message is read
aloud, and "the weekend is in this period" matters less than a holiday or a busy queue."""
_MORNING, _AFTERNOON = 5 * 60, 12 * 60
"""Parts of the day by minute of day: night before 05:00, morning before noon, then afternoon
until the language's evening (:func:`_evening_from`). A night belongs to the evening before it:
a grocery's likely 02:31, quoted at 20:00, was said "tomorrow morning" (now "tonight"), and
00:14 "tomorrow morning" too. CLDR's own night periods differ too much to say one thing by
(Babel gives English's 01:00 as morning and Spanish's 00:00–06:00 as "madrugada")."""
_NIGHT = 3
"""The part of the day said for minutes before :data:`_MORNING`."""
_NEAR = ("today", "tomorrow")
_RELATIONS = (*_NEAR, "weekday", "date")
"""How far a moment is from when the quote is given, as its phrase says it."""
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DATED, _DATED_FAR = -1, -2
"""Relations to the reference day that are always said with the date (for agents' lists, and
for a likely time or follow-up beside a promise said with its date); the second with the year."""
WEEKDAY_DAYS = 7
"""A moment at most this many days ahead (and beyond tomorrow) is said by its weekday alone."""
DATED_FROM_DAYS = 6
"""A likely time or follow-up this many days ahead or more is said with its date, even though
its weekday alone would do: "on Tuesday" six days from a Wednesday reads as this week's."""
SAME_YEAR_DAYS = 300
"""A date further than this from when the quote is given is said with its year: "Thursday,
April 11" for a promise four years ahead read as a few weeks away."""
OTHER_YEAR_DAYS = 31
"""A date in another calendar year than the day the quote is given, and further than this from
it, is said with its year too: a freight forwarder's "at the latest by Wednesday, May 6", told
in October, left the year to be guessed (its year said for 237 of 1,422 such promises)."""
DAYS_FROM = 2
"""Durations for agents of this many days of the spec's clock or more are said in days: a
freight forwarder's agents read "in progress for 4,752.4 h" of a shipment 528 working days
old."""
SIGNED_PERCENT = "+#,##0%;-#,##0%"
"""A change said with its sign either way: "+22%", "-28%" (a pattern with a '+' and no negative
part of its own says a fall as "-+28%")."""
_KEY_SPAN, _MINUTES = 2**20, 24 * 60
"""Bounds of the day numbers and minutes packed into one key per moment (:meth:`Speaker.said`)."""


class Speaker:
    """Says moments and risks for one batch of quotes: one language, one display time zone,
    one reference moment per item (when the quote is given)."""

    def __init__(
        self, language: Language, spec: DatasetSpec, timezone: str, reference: pd.DatetimeIndex
    ) -> None:
        self.language = language
        self.spec = spec
        self.timezone = timezone
        local = _local_ns(reference, timezone)
        self._reference_day = local // NS_PER_DAY
        self._reference_night = (local % NS_PER_DAY) < _MORNING * NS_PER_MINUTE
        self._cache: dict[tuple, str] = {}
        self._packed: dict[str, dict[int, str]] = {}
        self._days: dict[tuple[int, bool], tuple[str, str, str]] = {}
        self._notes: dict[tuple, dict[str, str]] = {}
        self._times: dict[int, str] = {}
        self._styles: dict[str, str] = {}
        self._parts = tuple(
            Forms(language.catalog[f"part.{p}"])
            for p in ("morning", "afternoon", "evening", "night")
        )
        self._evening = _evening_from(str(language.babel))

    # -- moments ------------------------------------------------------------------------------

    def moments(self, instants: pd.DatetimeIndex, style: str) -> list[str]:
        """Each instant said in ``style``: 'on.day', 'on.part', 'on.time', 'by.day',
        'by.time', 'day' (a day on its own) or 'agent' (exact, with its date)."""
        return self.said(_local_ns(instants, self.timezone), style).tolist()

    def said(
        self,
        local: np.ndarray,
        style: str,
        dated: np.ndarray | None = None,
        year: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`moments` of local wall-clock nanoseconds in the display time zone, as an object
        array; where ``dated``, a moment a weekday would name is said with its date too, and
        where ``year``, any moment but today's and tomorrow's with its date and year.

        Words depend only on (relation to the reference day, day, time key), packed into one
        integer per moment: each distinct one in the batch is said once, the rest are look-ups.

        A deadline at midnight is said as the end of the day before ("by Thursday", not "by
        Friday at 12:00 AM", which is read as Friday night): the same instant, in the words of
        a date-rounded promise.
        """
        local = np.asarray(local, dtype=np.int64)
        if style == "by.time":
            midnight = (local != NAT) & (local % NS_PER_DAY == 0)
            if midnight.any():
                out = self._said(local, style, dated, year)
                out[midnight] = self._said(local - NS_PER_MINUTE, "by.day", dated, year)[midnight]
                return out
        return self._said(local, style, dated, year)

    def _said(
        self, local: np.ndarray, style: str, dated: np.ndarray | None, year: np.ndarray | None
    ) -> np.ndarray:
        days = local // NS_PER_DAY
        minute = (local % NS_PER_DAY) // NS_PER_MINUTE
        uses = self._uses(style)
        reference = self._reference_day
        if uses == "part":
            # A night is said as the night of the day before, from a reference in the same night
            # as that night too ("tonight" for 02:00 seen from 01:00, not "last night").
            night = minute < _MORNING
            days = days - night
            reference = reference - (night & self._reference_night)
        # An agent's words are the same whatever the reference, but for whether the date is far.
        away = days - reference
        relation = _needs_year(days, away).astype(np.int64) if style == "agent" else away
        if dated is not None and style != "agent":
            by_weekday = (away > len(_NEAR) - 1) & (away < WEEKDAY_DAYS)
            relation = np.where(np.asarray(dated, bool) & by_weekday, _DATED, relation)
        if year is not None and style != "agent":
            near = (away >= 0) & (away < len(_NEAR))
            relation = np.where(np.asarray(year, bool) & ~near, _DATED_FAR, relation)
        timing = minute if uses == "time" else self._part(minute) if uses == "part" else 0
        packed = ((relation + _KEY_SPAN) * (2 * _KEY_SPAN) + days + _KEY_SPAN) * _MINUTES + timing
        keys = np.where(local != NAT, packed, -1).tolist()
        known = self._packed.setdefault(style, {-1: ""})
        out = []
        for row, key in enumerate(keys):
            words = known.get(key)
            if words is None:
                words = known[key] = self._say(
                    style, int(relation[row]), int(days[row]), int(minute[row])
                )
            out.append(words)
        return np.array(out, dtype=object)

    def duration(self, hours: float) -> str:
        """Clock hours of the spec's clock, for agents: '48 min' under an hour (a grocery's
        agents read '0.8 h'), '37.5 h' under :data:`DAYS_FROM` of its days, then 'about 17
        working days' (days of its usual hours on a business clock) or 'about 198 days' (a
        wall clock's)."""
        lang = self.language
        if round(hours * 60.0) < 60:  # a minute at least, once any time has passed
            minutes = round(hours * 60.0) or (1 if hours > 0 else 0)
            return lang.text("duration.minutes", minutes=lang.number(minutes, "#,##0"))
        if not self.in_days(hours):
            return lang.text("duration.hours", hours=lang.number(hours))
        days = hours / self._day_hours
        said = lang.number(days, "#,##0.#" if days < 10 else "#,##0")
        return lang.text(f"duration.days.{self.spec.clock}", days=said)

    @cached_property
    def _day_hours(self) -> float:
        """Clock hours in one of the spec's working days; asked only by agent texts with a
        duration, not by every quote."""
        return Clock.from_spec(self.spec).hours_per_day()

    def in_days(self, hours: float) -> bool:
        """Whether :meth:`duration` says ``hours`` in days (which then name their clock)."""
        return hours / self._day_hours >= DAYS_FROM  # not NaN

    def days_away(self, local: np.ndarray) -> np.ndarray:
        """Days from each item's reference day to local wall-clock nanoseconds (0: the same day)."""
        return np.asarray(local, dtype=np.int64) // NS_PER_DAY - self._reference_day

    def with_year(self, local: np.ndarray) -> np.ndarray:
        """Whether each moment is said with its year (:func:`_needs_year`)."""
        days = np.asarray(local, dtype=np.int64) // NS_PER_DAY
        return _needs_year(days, days - self._reference_day) & (np.asarray(local) != NAT)

    def with_date(self, local: np.ndarray) -> np.ndarray:
        """Whether each moment is said with its date in a 'by'/'on' phrase: neither today,
        tomorrow nor a weekday of the coming week."""
        away = self.days_away(local)
        return (away < 0) | (away >= WEEKDAY_DAYS)

    def exact(self, utc_ns: int) -> str:
        """One moment (UTC nanoseconds) for agents, with its date ('Thursday, January 8,
        5:00 PM')."""
        local = self._wall(utc_ns)
        return self._moment("agent", 0, local // NS_PER_DAY, local % NS_PER_DAY // NS_PER_MINUTE)

    def time_of_day(self, utc_ns: int) -> str:
        """One moment's time of day (UTC nanoseconds), without its date ('5:00 PM')."""
        return self._time_words(self._wall(utc_ns) % NS_PER_DAY // NS_PER_MINUTE)

    def _wall(self, utc_ns: int, zone: str | None = None) -> int:
        """One moment's local wall time in ``zone`` (the customer's), as naive nanoseconds."""
        instant = np.array([utc_ns], dtype=np.int64)
        return int(wall_nanoseconds(instant, zone or self.timezone)[0])

    def day(self, day: dt.date, row: int) -> str:
        """A day on its own relative to row ``row``'s reference ('tomorrow', 'Thursday')."""
        number = day.toordinal() - _EPOCH_ORDINAL
        return self._moment("day", int(number - self._reference_day[row]), number, 0)

    def dated(self, day: dt.date, row: int, year: bool | None = None) -> str:
        """A day said with its date, and with its year when far from row ``row``'s reference
        ('Thursday, December 25', 'Thursday, December 25, 2031'), or as ``year`` says."""
        number = day.toordinal() - _EPOCH_ORDINAL
        if year is None:
            year = bool(_needs_year(number, number - int(self._reference_day[row])))
        return self._moment("day", _DATED_FAR if year else _DATED, number, 0)

    def _moment(self, style: str, relation: int, day: int, minute: int) -> str:
        key = (
            style,
            relation if style != "agent" else None,
            day,
            self._time_key(self._uses(style), minute),
        )
        said = self._cache.get(key)
        if said is None:
            said = self._cache[key] = self._say(style, relation, day, minute)
        return said

    def _uses(self, style: str) -> str | None:
        """Whether a style's phrases say the time ('time'), only the part of the day ('part'),
        or neither (None), in this language's catalog."""
        uses = self._styles.get(style)
        if uses is None:
            keys = ("agent.moment",) if style == "agent" else (f"{style}.{k}" for k in _RELATIONS)
            fields = set().union(*(placeholders(self.language.catalog[k]) for k in keys))
            uses = self._styles[style] = (
                "time" if "time" in fields else "part" if "part" in fields else ""
            )
        return uses or None

    def _say(self, style: str, relation: int, day: int, minute: int) -> str:
        """``relation``: days from the reference day; for agents, 1 when far from it, else 0."""
        if style == "agent":
            pattern, far = "agent.moment", relation == 1
        else:
            near = _NEAR[relation] if 0 <= relation < len(_NEAR) else None
            weekday = 0 < relation < WEEKDAY_DAYS
            pattern = f"{style}.{near or ('weekday' if weekday else 'date')}"
            if int(self._part(minute)) == _NIGHT and pattern in _AT_NIGHT:
                pattern = _AT_NIGHT[pattern]  # "this night", "on Monday, December 28, in the night"
            sentinel = relation in (_DATED, _DATED_FAR)  # within the week, or said far
            far = relation == _DATED_FAR or (not sentinel and bool(_needs_year(day, relation)))
        weekday, weekday_on, date = self._day_words(day, far)
        return self.language.catalog[pattern].format(
            weekday=weekday,
            weekday_on=weekday_on,
            date=date,
            time=self._time_words(minute),
            part=self._parts[int(self._part(minute))],
        )

    def _part(self, minutes: np.ndarray | int) -> np.ndarray:
        """Night (3) before :data:`_MORNING`, morning (0) before noon, afternoon (1), evening (2)
        from the language's evening (a 0-d array for one minute)."""
        day = (minutes >= _AFTERNOON) * 1 + (minutes >= self._evening) * 1
        return np.where(minutes < _MORNING, _NIGHT, day)

    def _time_key(self, uses: str | None, minute: int) -> int | None:
        """The part of a moment's time of day its words depend on (see :meth:`_uses`)."""
        if uses == "time":
            return minute
        return int(self._part(minute)) if uses == "part" else None

    def _day_words(self, day: int, far: bool = False) -> tuple[str, str, str]:
        words = self._days.get((day, far))
        if words is None:
            lang = self.language
            weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            date = lang.date(dt.date.fromordinal(day + _EPOCH_ORDINAL), year=far)
            words = (lang.weekdays[weekday], lang.weekdays_on[weekday], date)
            self._days[day, far] = words
        return words

    def _time_words(self, minute: int) -> str:
        words = self._times.get(minute)
        if words is None:
            words = self._times[minute] = self.language.time(minute // 60, minute % 60)
        return words

    def segment(self, tag: str) -> str:
        """A calibration segment in the spec's words ('P3 / Access', 'all items'), not its tag
        ('ahead|2:P3 / Access', '0:all')."""
        return segment_words(tag, self.language.catalog["segment.all"])

    # -- risk notes ---------------------------------------------------------------------------

    def note(self, finding: Finding, row: int) -> dict[str, str]:
        """A risk note as the API returns it: code, severity, customer_text, agent_text.

        Notes with the same facts read the same (in a batch, most weekends, drivers and busy
        queues repeat), so each distinct one is worded once; only a holiday's "tomorrow" depends
        on when the quote is given."""
        relative = int(self._reference_day[row]) if finding.code == "holiday_in_window" else None
        key = (relative, finding.key)
        note = self._notes.get(key)
        if note is None:
            words = getattr(self, "_" + finding.code.partition(":")[0])(finding.facts, row)
            note = self._notes[key] = {
                "code": finding.code,
                "severity": finding.severity,
                "customer_text": _sentence(words[0]),
                "agent_text": _sentence(words[1]),
            }
        return dict(note)

    def _kind(self, key: str, **params: object) -> str:
        """A customer text whose wording depends on what is quoted (request or parcel)."""
        return self.language.text(f"{key}.{self.spec.kind}", **params)

    def _overdue(self, facts: dict, row: int) -> tuple[str, str]:
        """Past the promise told, or, when the caller did not say what was told, past the one a
        new item like it gets: the customer is not told "longer than we promised" of a promise
        nobody knows (a tester's helpdesk re-quoted open tickets without ``promised_at``, and 89
        heard an apology for a broken promise where 7 had one)."""
        lang = self.language
        key = "" if facts.get("promise_given", True) else "_usual"
        agent = lang.text(
            f"risk.overdue.agent{key}",
            elapsed=self.duration(facts["elapsed"]),
            promised=self.duration(facts["promised"]),
        )
        return lang.text(f"risk.overdue.customer{key}"), agent

    def _promise_moved(self, facts: dict, row: int) -> tuple[str, str]:
        """The promise told, as it was said: a date alone where promises are dates (a parcel's
        agent read "told: Saturday, October 4, 11:59 PM")."""
        lang, told = self.language, facts["promised"]
        if self.spec.promise_rounding == "date":
            day = dt.date.fromordinal(self._wall(told) // NS_PER_DAY + _EPOCH_ORDINAL)
            said = self.dated(day, row)
        else:
            said = self.exact(told)
        agent = lang.text("risk.promise_moved.agent", promised=said)
        return lang.text("risk.promise_moved.customer"), agent

    def _holiday_in_window(self, facts: dict, row: int) -> tuple[str, str]:
        """Every holiday before the promise, each by its date unless it is today or tomorrow:
        "by Friday, October 17 ... Friday is a public holiday" named October 3, and a window
        over Christmas and New Year named only its first holiday of four."""
        lang = self.language
        names = [holiday_name(self.spec.calendar, day, lang.code) for day in facts["days"]]
        # One needs its year, all say it: "Thursday, January 1 (New Year's Day) and Monday,
        # January 19, 2026" read as two years.
        numbers = np.array([day.toordinal() - _EPOCH_ORDINAL for day in facts["days"]])
        year = bool(_needs_year(numbers, numbers - int(self._reference_day[row])).any())
        days = [self._holiday_day(day, row, year) for day in facts["days"]]
        if len(days) > 1:
            customer = lang.text(
                "risk.holiday_in_window.customer_many",
                days=lang.join(self._holiday_runs(facts["days"], names, row, year)),
            )
        elif names[0]:
            customer = lang.text("risk.holiday_in_window.customer", day=days[0], name=names[0])
        else:
            customer = lang.text("risk.holiday_in_window.customer_unnamed", day=days[0])
        listed = lang.join(
            [
                f"{self.dated(d, row, year)} ({name or default})"
                for d, name, default in zip(facts["days"], names, facts["names"], strict=True)
            ]
        )
        return customer, lang.text("risk.holiday_in_window.agent", holidays=listed)

    def _holiday_runs(
        self, days: Sequence[dt.date], names: list[str | None], row: int, year: bool
    ) -> list[str]:
        """Holidays for the customer, each by its day and name, three or more in a row as one
        span with their names once each: a Kathmandu desk's customers heard Dashain's five days
        and Tihar's six one by one in a sentence."""
        named = dict(zip(days, names, strict=True))
        said = []
        for run in _runs(days):
            if len(run) < 3:
                for day in run:
                    text = self._holiday_day(day, row, year)
                    said.append(f"{text} ({named[day]})" if named[day] else text)
                continue
            span = self.language.dates(run[0], run[-1], year=year)
            words = list(dict.fromkeys(named[day] for day in run if named[day]))
            said.append(f"{span} ({', '.join(words)})" if words else span)
        return said

    def _holiday_day(self, day: dt.date, row: int, year: bool | None) -> str:
        """A holiday today or tomorrow by that word, any other by its date (with its year, if
        ``year``; None: if it is far, as :meth:`dated` decides)."""
        away = day.toordinal() - _EPOCH_ORDINAL - int(self._reference_day[row])
        return self.day(day, row) if 0 <= away < len(_NEAR) else self.dated(day, row, year)

    def _after_cutoff(self, facts: dict, row: int) -> tuple[str, str]:
        lang, at = self.language, facts["cutoff_at"]
        cutoff = self.time_of_day(at)  # in the zone the start is said in
        started, begin = self.exact(facts["started"]), self.exact(facts["begin"])
        agent = lang.text("risk.after_cutoff.agent", started=started, begin=begin, cutoff=cutoff)
        # A customer whose clock is not the business's hears the business's time and city: a
        # shopper in Tokyo read an Amsterdam shop's 22:00 cut-off as "6:00 AM", with no zone.
        ours = self._wall(at, self.spec.timezone)
        if ours == self._wall(at):
            return self._kind("risk.after_cutoff.customer", cutoff=cutoff), agent
        city = get_timezone_location(self.spec.timezone, locale=lang.babel, return_city=True)
        ours_said = self._time_words(ours % NS_PER_DAY // NS_PER_MINUTE)
        customer = self._kind("risk.after_cutoff.customer_elsewhere", cutoff=ours_said, city=city)
        return customer, agent

    def _outside_hours(self, facts: dict, row: int) -> tuple[str, str]:
        started, begin = self.exact(facts["started"]), self.exact(facts["begin"])
        agent = self.language.text("risk.outside_hours.agent", started=started, begin=begin)
        return self._kind("risk.outside_hours.customer"), agent

    def _peak_season(self, facts: dict, row: int) -> tuple[str, str]:
        lang = self.language
        agent = lang.text(
            "risk.peak_season.agent",
            weeks=lang.localize_digits(_ranges(facts["weeks"])),
            slower=lang.percent(facts["slower"] - 1, SIGNED_PERCENT),
            busier=lang.percent(facts["busier"] - 1, SIGNED_PERCENT),
        )
        # A peak learned from slowness alone (volume at or under the trend) is no "busiest
        # time of the year": the customer hears that it is a slower time of year.
        busy = facts["busier"] >= BUSIER
        return self._kind("risk.peak_season.customer" + ("" if busy else "_slow")), agent

    def _busier_than_usual(self, facts: dict, row: int) -> tuple[str, str]:
        lang = self.language
        agent = lang.text(
            "risk.busier_than_usual.agent",
            measure=lang.catalog[f"measure.{facts['measure']}"],
            value=lang.number(facts["value"], "#,##0"),
            usual=lang.number(facts["usual"], "#,##0"),
        )
        return self._kind("risk.busier_than_usual.customer"), agent

    def _recent_promises_missed(self, facts: dict, row: int) -> tuple[str, str]:
        lang = self.language
        agent = lang.text(
            "risk.recent_promises_missed.agent",
            group=self.segment(_bare_group(facts["group"])),
            rate=lang.percent(facts["rate"], "#,##0.#%"),
            judged=lang.number(facts["judged"], "#,##0"),
            target=lang.percent(facts["target"], "#,##0.#%"),
        )
        return self._kind("risk.recent_promises_missed.customer"), agent

    def _thin_history(self, facts: dict, row: int) -> tuple[str, str]:
        lang = self.language
        parts = []
        if facts["group"] is not None:
            group = self.segment(_bare_group(facts["group"]))
            parts.append(lang.text("risk.thin_history.agent", group=group))
        if facts["unseen"]:
            # "column=value", the column as the export's header spells it ('Category ')
            unseen = (f"{c.strip()}={v}" for c, _, v in (u.partition("=") for u in facts["unseen"]))
            parts.append(lang.text("risk.thin_history.agent_unseen", values=", ".join(unseen)))
        if facts.get("missing"):
            columns = ", ".join(column.strip() for column in facts["missing"])
            parts.append(lang.text("risk.thin_history.agent_missing", columns=columns))
        if facts["beyond"]:

            def said(name: str, value: float) -> str:  # as an agent reads it
                words = self._input_words(name, value)  # a start time as a time of day
                if words is not None:
                    return words[1]
                # 1e308 in 309 digits helps no one
                return lang.number(value, "0.###E0" if abs(value) >= 1e12 else "#,##0.###")

            values = ", ".join(
                f"{lang.catalog.get(f'input.{name}', name.strip())} {said(name, value)} "
                f"({said(name, low)}–{said(name, high)})"
                for name, value, low, high in facts["beyond"]
            )
            parts.append(lang.text("risk.thin_history.agent_beyond", values=values))
        if facts.get("outlived") is not None:
            longest = self.duration(facts["outlived"])
            parts.append(lang.text("risk.thin_history.agent_outlived", longest=longest))
        if facts.get("far") is not None:
            longest = self.duration(facts["far"])
            parts.append(lang.text("risk.thin_history.agent_far", longest=longest))
        if facts.get("short") is not None:
            share = lang.percent(facts["short"], "#,##0%")
            parts.append(lang.text("risk.thin_history.agent_short", share=share))
        if any(facts.get(k) is not None for k in ("short", "outlived", "far")):
            # Not "extra time allowed": the promise is more likely short than padded.
            return self._kind("risk.thin_history.customer_short"), " ".join(parts)
        # "We have seen few like this one, so this time is less certain": not "so we have
        # allowed extra time", which a value never seen is not given (its trees answer it as
        # history answers an unknown value; a parcel by 'drone' was told so with a promise a day
        # shorter than standard's).
        # "We have seen few like this one" is for an item that is: a value never seen, a number
        # outside the range, a segment calibrated on a wider group without a median of its own.
        # Not for one of 777 parcels whose segment borrows only its shape (every USPS parcel was
        # told so), nor for an item whose only finding is a value not given.
        fell_back = facts["group"] is not None and not facts.get("own_median", False)
        few = facts["unseen"] or facts["beyond"] or fell_back
        return (self._kind("risk.thin_history.customer") if few else ""), " ".join(parts)

    def _weekend_in_window(self, facts: dict, row: int) -> tuple[str, str]:
        """Weekdays off by name, the business's own days off by date ("Saturday, Sunday and
        Thursday, December 24")."""
        lang = self.language
        own = [self._days_off(run, row) for run in _runs(facts.get("dates", ()))]
        days = lang.join([lang.weekdays[d] for d in facts["weekdays"]] + own)
        customer = self._kind("risk.weekend_in_window.customer", days=days)
        return customer, lang.text("risk.weekend_in_window.agent", days=days)

    def _days_off(self, run: list[dt.date], row: int) -> str:
        """One of the business's own days off by its date (or today, tomorrow), a run of three
        or more as one ('December 28 – 31': five dates in a row read as a list of weekdays)."""
        if len(run) < 3:
            return self.language.join([self._holiday_day(d, row, None) for d in run])
        number = run[-1].toordinal() - _EPOCH_ORDINAL
        far = bool(_needs_year(number, number - int(self._reference_day[row])))
        return self.language.dates(run[0], run[-1], year=far)

    def _long_tail(self, facts: dict, row: int) -> tuple[str, str]:
        lang = self.language
        agent = lang.text(
            "risk.long_tail.agent",
            ratio=lang.number(facts["ratio"], "0.0"),
            p50=self.duration(facts["p50"]),
            p97=self.duration(facts["p97"]),
        )
        return self._kind("risk.long_tail.customer"), agent

    def _driver(self, facts: dict, row: int) -> tuple[str, str]:
        lang = self.language
        feature = str(facts["feature"])
        said = self._input_words(feature, facts["value"])
        if said is None:
            value = facts["value"]
            if isinstance(value, float | np.floating):
                # Under 1, two significant digits: a grocery's backlog of 0.04 weeks of
                # arrivals read "= 0 (+25%)", and 0.06 and 0.12 alike "0.1".
                small = 0 < abs(value) < 1
                value = lang.number(float(value), "@#" if small else "#,##0.#")
            said = feature.strip(), value
        agent = lang.text(
            "risk.driver.agent",
            feature=said[0],
            value=said[1],
            effect=lang.percent(facts["effect"], SIGNED_PERCENT),
        )
        phrase = self.spec.features.phrase(facts["feature"], lang.code)
        return (lang.text("risk.driver.customer", phrase=phrase) if phrase else ""), agent

    def _input_words(self, feature: str, value: object) -> tuple[str, str] | None:
        """An input the engine made (not a spec's column) and its value, in an agent's words:
        "start day = Wednesday", not "start_weekday = 2"; "typical time of the last 7 days'
        finishes = 36.6 h", not "recent_log_hours_7d = 3.6" (a tester's 1,239 notes)."""
        key = f"input.{feature}"
        if key not in self.language.catalog or not isinstance(value, int | float | np.number):
            return None
        lang, value = self.language, float(value)
        if feature == "start_hour":
            minutes = round(value * 60)
            said = lang.time(minutes // 60 % 24, minutes % 60)
        elif feature == "start_weekday":
            said = lang.weekdays[int(value) % 7]
        elif feature == SEASON:
            said = lang.date(dt.date(2001, 1, 1) + dt.timedelta(days=int(value)))
        elif feature == "after_cutoff":
            said = lang.catalog["value.yes" if value else "value.no"]
        elif feature == "recent_log_hours_7d":
            said = self.duration(float(np.exp(value)))
        else:
            said = lang.number(value)
        return lang.catalog[key], said


def compose(
    speaker: Speaker,
    *,
    earliest: np.ndarray,
    likely: np.ndarray,
    promise: np.ndarray,
    follow_up: np.ndarray,
    in_progress: np.ndarray,
    elapsed: np.ndarray,
    escalate: np.ndarray,
    segments: Sequence[str],
    findings: list[list[Finding]],
    confidence: float,
) -> dict[str, list]:
    """The words of a batch of quotes: ``customer_message``, ``follow_up_message``,
    ``agent_summary``, ``risk_notes`` (lists of dicts, ranked) and ``risk_codes`` (the notes'
    codes, comma-separated), one entry per item.

    Texts are built column by column: every sentence is said once per distinct set of words it
    is made of, and the pieces are joined as object arrays (numpy adds ``str`` objects in C).
    The four moments are UTC nanoseconds (:func:`eta.calendar.utc_nanoseconds`)."""
    lang, spec = speaker.language, speaker.spec
    n = len(findings)
    by_date = spec.promise_rounding == "date"
    # Promises to the minute (a grocery's 25-minute deliveries) say the likely time and the
    # follow-up to the minute too: "hoy por la tarde" beside "a más tardar, hoy a las 21:40".
    to_minute = spec.promise_rounding == "minute"
    moments = np.concatenate([earliest, likely, promise, follow_up])
    earliest, likely, promise, follow_up = np.split(wall_nanoseconds(moments, speaker.timezone), 4)
    one_day = by_date & (likely // NS_PER_DAY == promise // NS_PER_DAY)
    escalate, in_progress = np.asarray(escalate, bool), np.asarray(in_progress, bool)

    # A likely time or follow-up beside a promise said with its date carries its date too:
    # "most likely on Friday, and at the latest by Thursday, December 17" reads as one week.
    promise_dated = speaker.with_date(promise)

    def dated(local: np.ndarray) -> np.ndarray:
        return promise_dated | (speaker.days_away(local) >= DATED_FROM_DAYS)

    # ...and its year, beside a promise said with the same year: "el lunes 4 de enero y, a más
    # tardar, el viernes 8 de enero de 2027" left the first date's year to be guessed.
    promise_year = speaker.with_year(promise)

    def year(local: np.ndarray) -> np.ndarray:
        return promise_year & (_year_of(local) == _year_of(promise))

    follow = _per_distinct(
        lambda follow_up: _sentence(
            lang.text(f"message.follow_up.{spec.kind}", follow_up=follow_up)
        ),
        follow_up=_follow_up_words(
            speaker, follow_up, dated(follow_up), year(follow_up), always_time=to_minute
        ),
    )
    # An item under way says so in the same sentence: "Your parcel is on its way. Your parcel
    # will most likely arrive..." said the parcel twice. An escalated one's apology says it.
    under_way = in_progress & ~escalate

    def say_window(one: bool, under: bool, likely: str, promise: str) -> str:
        # "most likely on Friday, and at the latest by Friday" is said "by Friday"
        key = f"message.{'under_way.' * under}{'by' if one else 'window'}.{spec.kind}"
        return _sentence(
            lang.text(key, promise=promise)
            if one
            else lang.text(key, likely=likely, promise=promise)
        )

    window = _per_distinct(
        say_window,
        one=one_day,
        under=under_way,
        likely=speaker.said(
            likely,
            "on.day" if by_date else "on.time" if to_minute else "on.part",
            dated(likely),
            year(likely),
        ),
        promise=speaker.said(promise, "by.day" if by_date else "by.time"),
    )
    heard, which = _hear(speaker, findings, escalate)
    customer = np.array([h.customer for h in heard], dtype=object)[which]
    apology = np.array([h.apology for h in heard], dtype=object)[which]
    opening = np.where(escalate, apology, "")

    summary = _fill(
        lang,
        "agent.summary",
        n,
        level=lang.percent(confidence, "#,##0.#%"),
        **{name: speaker.said(values, "agent") for name, values in (
            ("earliest", earliest), ("likely", likely), ("promise", promise),
            ("follow_up", follow_up),
        )},
    )  # fmt: skip
    rows = np.flatnonzero(in_progress)
    if len(rows):
        clock = lang.catalog[f"clock.{spec.clock}"]
        summary[rows] += [
            " "
            + lang.text(
                "agent.elapsed_days" if speaker.in_days(e) else "agent.elapsed",
                elapsed=speaker.duration(e),
                clock=clock,
            )
            for e in np.asarray(elapsed, float)[rows].tolist()
        ]
    summary[escalate] += " " + lang.text("agent.escalate")
    summary += " " + _per_distinct(
        lambda segment: lang.text("agent.segment", segment=speaker.segment(segment)),
        segment=np.asarray(segments, dtype=object).astype(str).astype(object),
    )
    summary += " " + np.array([h.risks for h in heard], dtype=object)[which]
    return {
        "customer_message": (opening + window + customer + follow).tolist(),
        "follow_up_message": follow.tolist(),
        "agent_summary": summary.tolist(),
        # Each item gets its own notes: a caller may edit one quote's without touching others.
        "risk_notes": [list(map(dict.copy, heard[k].notes)) for k in which.tolist()],
        "risk_codes": np.array([h.codes for h in heard], dtype=object)[which].tolist(),
    }


def _hear(
    speaker: Speaker, findings: list[list[Finding]], escalate: np.ndarray
) -> tuple[list[_Heard], np.ndarray]:
    """The words of each distinct combination of findings, and which one each item has.

    A batch has few combinations: findings of equal facts are mostly the very same object
    (:mod:`eta.risks` interns them). A holiday's "tomorrow" depends on the item's reference day,
    so that is part of the combination."""
    heard: list[_Heard] = []
    index: dict[tuple, int] = {}
    which = []
    risks_said: dict[str, str] = {"": speaker.language.text("agent.no_risks")}
    for row, (day, late, found) in enumerate(
        zip(speaker._reference_day.tolist(), escalate.tolist(), findings, strict=True)
    ):
        key = (day, late, *found)
        k = index.get(key)
        if k is None:
            k = index[key] = len(heard)
            heard.append(_heard(speaker, found, row, late, risks_said))
        which.append(k)
    return heard, np.array(which, dtype=np.int64)


def _per_distinct(say: Callable[..., str], **columns: np.ndarray) -> np.ndarray:
    """``say(**values)`` for each row, said once per distinct combination of values; an
    object array of ``str``."""
    names = list(columns)
    said: dict[tuple, str] = {}
    out = []
    for values in zip(*(np.asarray(c).tolist() for c in columns.values()), strict=True):
        words = said.get(values)
        if words is None:
            words = said[values] = say(**dict(zip(names, values, strict=True)))
        out.append(words)
    return np.array(out, dtype=object)


def _fill(lang: Language, key: str, n: int, **params: np.ndarray | str) -> np.ndarray:
    """``lang.text(key, **params)`` for ``n`` rows at once, where a param may be a column:
    the pattern's pieces added as object arrays."""
    out = np.full(n, "", dtype=object)
    for literal, field, form, conversion in string.Formatter().parse(lang.catalog[key]):
        out += literal
        if field is not None:
            if form or conversion:
                raise ValueError(f"{lang.code}: {key} has a formatted placeholder {{{field}}}")
            out += params[field]
    if lang.digits:
        out[:] = [text.translate(lang.digits) for text in out.tolist()]
    return out


class _Heard(NamedTuple):
    """What one combination of findings makes of a quote's words."""

    notes: list[dict]
    """The risk notes, ranked (each row gets its own copies)."""
    apology: str
    """The overdue note's customer text and a space ('' when not overdue)."""
    customer: str
    """The notes a customer hears, each with a space before and one after (or '')."""
    risks: str
    """The agent summary's list of risk codes."""
    codes: str
    """The codes as the ``risk_codes`` column lists them."""


def _heard(
    speaker: Speaker,
    findings: list[Finding],
    row: int,
    escalate: bool,
    risks_said: dict[str, str],
) -> _Heard:
    lang = speaker.language
    notes = [speaker.note(f, row) for f in findings]
    apology = next((n["customer_text"] for n in notes if n["code"] == "overdue"), "")
    said = _for_customer(notes, MAX_CUSTOMER_NOTES - int(bool(escalate)))
    customer = "".join(f" {n['customer_text']}" for n in said) + " "
    codes = ", ".join(n["code"] for n in notes)
    risks = risks_said.get(codes)
    if risks is None:
        risks = risks_said[codes] = lang.text("agent.risks", codes=codes)
    return _Heard(
        notes,
        apology + " " if escalate else "",
        customer,
        risks,
        ",".join(n["code"] for n in notes),
    )


@lru_cache(maxsize=64)
def _evening_from(locale: str) -> int:
    """The minute of the day from which ``locale`` says "evening": where CLDR's day periods
    (through Babel) leave the afternoon's. 18:00 in English, 19:00 in Portuguese, 20:00 in
    Spanish, whose "tarde" runs until dark: at a fixed 17:00, Madrid's likely times from 17:00
    to 20:00 were said "por la noche"."""
    afternoon = get_period_id(dt.time(13), locale=locale)
    for hour in range(14, 24):
        if get_period_id(dt.time(hour), locale=locale) != afternoon:
            return hour * 60
    return 18 * 60


def _follow_up_words(
    speaker: Speaker,
    local: np.ndarray,
    dated: np.ndarray,
    year: np.ndarray,
    *,
    always_time: bool = False,
) -> np.ndarray:
    """When the customer hears from us: to the minute within a person's day, by the part of the
    day outside it. Follow-ups are set in the business's hours; a customer eight time zones
    away was told "We will update you on Wednesday at 5:00 AM" (now "on Wednesday morning").
    With ``always_time`` (promises to the minute, a delivery in the next hour), at any hour: a
    grocery's evening orders heard "we will update you tonight" beside "by 21:40"."""
    out = speaker.said(local, "on.time", dated, year)
    if always_time:
        return out
    night = ~in_contact_hours(local) & (local != NAT)
    if night.any():
        out[night] = speaker.said(local, "on.part", dated, year)[night]
    return out


def _for_customer(notes: list[dict], limit: int) -> list[dict]:
    """The notes a customer hears: ranked, with customer words, at most one driver, low ones
    only to fill up to :data:`MAX_LOW_FILL`; the overdue apology is said first, elsewhere.
    A busy queue is not said after the busiest time of the year: "This is the busiest time of
    the year..." then "The carrier has more parcels than usual right now..." said it twice."""
    said: list[dict] = []
    drivers = 0
    for note in notes:
        if not note["customer_text"] or note["code"] == "overdue" or len(said) >= limit:
            continue
        if note["code"] == "busier_than_usual" and any(n["code"] == "peak_season" for n in said):
            continue
        if note["severity"] == "low" and len(said) >= MAX_LOW_FILL:
            continue
        if note["code"].startswith("driver:"):
            if drivers:
                continue
            drivers += 1
        said.append(note)
    return said


_OWN_PARENTHESES = re.compile(r"\s*\(([^()]*)\)")
"""A holiday name's own parenthesis ('Diwali (Deepavali)'), said as a comma instead."""


def holiday_name(calendar: CalendarSpec, day: dt.date, language: str) -> str | None:
    """A holiday's name in ``language`` from the ``holidays`` package, or None when the package
    has no translation for it (a customer never hears a name in another language)."""
    names = [
        _holiday_names(code, calendar.holiday_categories, day.year, language).get(day)
        for code in calendar.holidays
    ]
    found = [n for n in names if n]
    return "; ".join(dict.fromkeys(found)) if found else None


@lru_cache(maxsize=256)
def _holiday_names(
    code: str, categories: tuple[str, ...], year: int, language: str
) -> dict[dt.date, str]:
    supported = holiday_languages(code)
    chosen = next((s for s in supported if s == language), None) or next(
        (s for s in supported if s.split("_")[0] == language), None
    )
    if chosen is None:
        return {}
    table = holiday_table(code, categories, year, language=chosen)
    # A name is said in parentheses, so its own become a comma: "(Diwali (Deepavali))" was said.
    return {day: _OWN_PARENTHESES.sub(r", \1", str(name)) for day, name in table.items()}


def _year_of(local: np.ndarray) -> np.ndarray:
    """The calendar year of local wall-clock nanoseconds."""
    return (
        (np.asarray(local, dtype=np.int64) // NS_PER_DAY)
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
    )


class Forms(str):
    """A word with other forms for other patterns, written ``'Nachmittag|nachmittag|nachmittags'``
    in a catalog: ``{part}`` is the first, ``{part[2]}`` the third (the first where there is
    none). German says "heute Nachmittag", "am Mittwochnachmittag" and "am Mittwoch, 15. Januar,
    nachmittags", where one form served every pattern as "im Laufe des Nachmittags"."""

    def __new__(cls, written: str) -> Forms:
        forms = written.split("|")
        word = super().__new__(cls, forms[0])
        word.forms = tuple(forms)
        return word

    def __getitem__(self, index: object) -> str:  # type: ignore[override]
        if isinstance(index, int) and 0 <= index < len(self.forms):
            return self.forms[index]
        return self.forms[0]


def _runs(days: Sequence[dt.date]) -> list[list[dt.date]]:
    """Consecutive dates grouped: [24], [28, 29, 30, 31]."""
    runs: list[list[dt.date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


_AT_NIGHT = {"on.part.today": "on.part.tonight", "on.part.date": "on.part.date_night"}
"""Patterns said otherwise of a night: "tonight", not "this night"; "on Monday night, December
28", not "on Monday, December 28, in the night" (a tester's follow-up at 02:00 on Tuesday)."""


def _needs_year(day: np.ndarray | int, away: np.ndarray | int) -> np.ndarray:
    """Whether a day (days since 1970-01-01) said ``away`` days from the quote's day is said
    with its year (:data:`SAME_YEAR_DAYS`, :data:`OTHER_YEAR_DAYS`)."""
    day, away = np.asarray(day, dtype=np.int64), np.asarray(away, dtype=np.int64)
    year = day.astype("datetime64[D]").astype("datetime64[Y]")
    quoted_in = (day - away).astype("datetime64[D]").astype("datetime64[Y]")
    distance = np.abs(away)
    return (distance > SAME_YEAR_DAYS) | ((year != quoted_in) & (distance > OTHER_YEAR_DAYS))


def segment_words(tag: str, everything: str = "all items") -> str:
    """A calibration segment as people say it: its values ('P3 / Access'), or ``everything``
    for the whole population, from a tag such as 'ahead|2:P3 / Access', '0:all' or '*' (the
    whole model's online key). Tags stay in the machine-readable ``segment`` column."""
    bare = str(tag).removeprefix(AHEAD)
    if bare == ALL:
        return everything
    depth, sep, values = bare.partition(":")
    if sep and depth.isdigit():
        return everything if depth == "0" else values
    return bare


def _bare_group(group: str) -> str:
    """A risk note's group: a tag, or the values of one (the depth cut off, as older notes
    carry it); 'all' is then the depth-0 group."""
    return "0:all" if group == "all" else group


def _local_ns(instants: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """Local wall-clock nanoseconds in ``timezone`` (NaT stays int64 min)."""
    return wall_nanoseconds(utc_nanoseconds(instants), timezone)


def _sentence(text: str) -> str:
    """Capital first letter: a sentence may start with a placeholder ('tomorrow is ...'); one
    full stop at the end, even when a placeholder ends with one (Bosnian dates: '12. 1.')."""
    if text.endswith(".."):
        text = text[:-1]
    return text[:1].upper() + text[1:] if text else text


def _ranges(weeks: Sequence[int]) -> str:
    """[47, 48, 49, 51] -> '47–49, 51'."""
    parts: list[tuple[int, int]] = []
    for week in sorted(weeks):
        if parts and parts[-1][1] == week - 1:
            parts[-1] = (parts[-1][0], week)
        else:
            parts.append((week, week))
    return ", ".join(f"{a}–{b}" if a != b else f"{a}" for a, b in parts)
