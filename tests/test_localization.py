"""Message catalogs: every key in every language, translated from the current English text with
the same placeholders; every risk code has words; locales resolve or fall back to English."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from eta.calendar import utc_nanoseconds, wall_nanoseconds
from eta.localization import LANGUAGES, catalog, language, placeholders
from eta.messages import Speaker, compose
from eta.risks import CODES
from eta.spec import WEEKDAYS, CalendarSpec
from eta.synthetic import load_spec

WEEKDAY_FIELDS = {"weekday", "weekday_on"}
"""A phrase may name a weekday in either form (languages differ in which one reads right)."""


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "en"])
def test_every_key_is_translated_from_the_current_english_text(code) -> None:
    english, other = catalog("en"), catalog(code)
    assert set(other) == set(english), "keys missing or extra"
    for key, entry in english.items():
        translation = other[key]
        assert translation["source"] == entry["source"], f"{code} {key}: stale (English changed)"
        assert translation["text"].strip(), f"{code} {key}: not translated"
        needed = placeholders(entry["source"])
        found = placeholders(translation["text"])
        assert needed - WEEKDAY_FIELDS <= found <= needed | WEEKDAY_FIELDS, f"{code} {key}"


def test_every_catalog_file_is_a_language_and_every_language_has_one() -> None:
    """A catalog added without its language (or the reverse) would be answered in English."""
    from importlib import resources

    files = {p.name for p in resources.files("eta").joinpath("locales").iterdir()}
    assert {f for f in files if f.endswith(".po")} == {f"{code}.po" for code in LANGUAGES}


def test_english_is_the_source_text_itself() -> None:
    assert all(entry["text"] == "" for entry in catalog("en").values())


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_risk_code_has_customer_and_agent_words_in_every_language(code) -> None:
    keys = set(catalog(code))
    for risk in CODES:
        customer = {f"risk.{risk}.customer"} | {
            f"risk.{risk}.customer.{kind}" for kind in ("resolution", "delivery")
        }
        assert customer & keys, f"{code}: no customer words for {risk}"
        assert f"risk.{risk}.agent" in keys, f"{code}: no agent words for {risk}"
        if f"risk.{risk}.customer" not in keys:  # per kind: both kinds
            assert all(f"risk.{risk}.customer.{k}" in keys for k in ("resolution", "delivery"))


@pytest.mark.parametrize("code", LANGUAGES)
def test_weekday_forms_and_date_format_are_usable(code) -> None:
    lang = language(code)
    assert len(lang.weekdays_on) == 7 and all(lang.weekdays_on)
    said = lang.date(dt.date(2026, 1, 15))
    assert lang.localize_digits("15") in said


@pytest.mark.parametrize(
    ("requested", "used", "direction", "note"),
    [
        (None, "en", "ltr", ""),
        ("bs", "bs", "ltr", ""),
        ("bs-BA", "bs_BA", "ltr", ""),
        ("ru_RU", "ru_RU", "ltr", ""),
        ("fa", "fa", "rtl", ""),
        ("en_GB", "en_GB", "ltr", ""),
        ("pt_BR", "pt_BR", "ltr", ""),
        ("pt-BR", "pt_BR", "ltr", ""),
        ("es", "es", "ltr", ""),
        ("es-MX", "es_MX", "ltr", ""),
        ("de", "de", "ltr", ""),
        ("de-AT", "de_AT", "ltr", ""),
        ("de_CH", "de_CH", "ltr", ""),
        ("fr-FR", "fr_FR", "ltr", ""),
        ("fr-BE", "fr_BE", "ltr", ""),
        ("nl", "nl", "ltr", ""),
        ("nl-BE", "nl_BE", "ltr", ""),
        ("it-IT", "en", "ltr", "locale 'it-IT' is not available; answered in English"),
        ("klingon!", "en", "ltr", "locale 'klingon!' is not available; answered in English"),
    ],
)
def test_locales_resolve_or_fall_back_to_english(requested, used, direction, note) -> None:
    lang = language(requested)
    assert (lang.locale, lang.direction, lang.note) == (used, direction, note)


def test_persian_uses_persian_digits_and_percent_sign() -> None:
    fa = language("fa")
    assert fa.time(17, 5) == "۱۷:۰۵"
    assert fa.percent(0.9) == "۹۰٪"
    assert language("ru").time(17, 5) == "17:05"


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_date_far_from_the_quote_is_said_with_its_year(code: str) -> None:
    reference = pd.DatetimeIndex([pd.Timestamp("2025-06-02T09:00", tz="UTC")] * 2)
    speaker = Speaker(language(code), load_spec("tickets"), "UTC", reference)
    moments = pd.DatetimeIndex(["2025-06-13T15:00", "2030-04-11T15:00"], tz="UTC")
    year = language(code).localize_digits("2030")
    for style in ("by.time", "agent"):
        near, far = speaker.moments(moments, style)
        assert year in far and language(code).localize_digits("2025") not in near, (near, far)


def test_the_evening_starts_where_the_language_says_it_does() -> None:
    """Spanish "tarde" runs until dark: at a fixed 17:00, Madrid's likely times from 17:00 to
    20:00 were said "por la noche" (CLDR's day periods, through Babel)."""
    reference = pd.DatetimeIndex([pd.Timestamp("2025-06-02T09:00", tz="UTC")] * 3)
    moments = pd.DatetimeIndex(
        ["2025-06-02T17:30", "2025-06-02T19:00", "2025-06-02T21:00"], tz="UTC"
    )

    def parts(code: str) -> list[str]:
        return Speaker(language(code), load_spec("tickets"), "UTC", reference).moments(
            moments, "on.part"
        )

    assert parts("es") == ["hoy por la tarde", "hoy por la tarde", "hoy por la noche"]
    assert parts("de") == ["heute Nachmittag", "heute Abend", "heute Abend"]
    assert parts("fr") == ["aujourd'hui dans l'après-midi", *["aujourd'hui dans la soirée"] * 2]
    assert parts("nl") == ["vanmiddag", "vanavond", "vanavond"]
    assert [p.split()[-1] for p in parts("en")] == ["afternoon", "evening", "evening"]


def test_the_small_hours_are_said_as_the_night_of_the_day_before() -> None:
    """A grocery's likely 02:31, quoted at 20:00, was said "tomorrow morning", and 00:14 too:
    the night belongs to the evening before, also seen from within that night."""

    def parts(code: str, reference: str, moments: list[str]) -> list[str]:
        references = pd.DatetimeIndex([pd.Timestamp(reference, tz="UTC")] * len(moments))
        speaker = Speaker(language(code), load_spec("tickets"), "UTC", references)
        return speaker.moments(pd.DatetimeIndex(moments, tz="UTC"), "on.part")

    wednesday_evening = "2025-07-02T20:00"  # a Wednesday
    night = ["2025-07-03T00:14", "2025-07-03T02:31", "2025-07-04T02:00", "2025-07-06T03:00"]
    assert parts("en", wednesday_evening, [*night, "2025-07-03T06:00"]) == [
        "tonight",
        "tonight",
        "tomorrow night",
        "on Saturday night",
        "tomorrow morning",
    ]
    assert parts("en", "2025-07-03T01:00", ["2025-07-03T02:46", "2025-07-03T09:00"]) == [
        "tonight",
        "this morning",
    ]
    # A week or more away, with its date: "on Monday, December 28, in the night" read oddly.
    assert parts("en", wednesday_evening, ["2025-07-15T02:00", "2025-07-14T15:00"]) == [
        "on Monday night, July 14",
        "on Monday, July 14, in the afternoon",
    ]
    assert parts("ru", wednesday_evening, night[:3]) == [
        "сегодня ночью",
        "сегодня ночью",
        "завтра ночью",
    ]
    assert parts("de", wednesday_evening, night) == [
        "heute Nacht",
        "heute Nacht",
        "morgen Nacht",
        "am Samstag in der Nacht",
    ]
    assert parts("fr", wednesday_evening, night[1:]) == [
        "cette nuit",
        "demain dans la nuit",
        "samedi dans la nuit",
    ]
    assert parts("nl", wednesday_evening, night[1:]) == [
        "vannacht",
        "morgennacht",
        "op zaterdagnacht",
    ]


def test_a_date_in_another_year_is_said_with_it_unless_it_is_weeks_away() -> None:
    """Quoted in October, "at the latest by Wednesday, May 6" left the year to be guessed."""
    reference = pd.DatetimeIndex([pd.Timestamp("2025-10-10T09:00", tz="UTC")] * 3)
    moments = pd.DatetimeIndex(["2026-05-06T17:00", "2025-12-30T17:00", "2026-09-01T17:00"])
    said = Speaker(language("en"), load_spec("tickets"), "UTC", reference).moments(
        moments.tz_localize("UTC"), "by.day"
    )
    assert said == [
        "by Wednesday, May 6, 2026",
        "by Tuesday, December 30",
        "by Tuesday, September 1, 2026",
    ]
    late_december = pd.DatetimeIndex([pd.Timestamp("2025-12-28T09:00", tz="UTC")])
    early_january = pd.DatetimeIndex([pd.Timestamp("2026-01-20T12:00", tz="UTC")])
    speaker = Speaker(language("en"), load_spec("tickets"), "UTC", late_december)
    assert speaker.moments(early_january, "by.day") == ["by Tuesday, January 20"]
    assert speaker.dated(dt.date(2026, 3, 3), 0) == "Tuesday, March 3, 2026"


DATED_CASES = {
    # reference Monday 7 December 2026; likely Friday 11; promise Thursday 17 December
    "en": (
        "Your parcel will most likely arrive on Friday, December 11, and at the latest by "
        "Thursday, December 17."
    ),
    "bs": (
        "Vaša pošiljka će najvjerovatnije stići u petak, 11. 12., a najkasnije u četvrtak, 17. 12."
    ),
    "ru": (
        "Скорее всего, Ваш заказ будет доставлен в пятницу, 11 декабря, самое позднее — "
        "в четверг, 17 декабря."
    ),
    "fa": (
        "مرسولهٔ شما به احتمال زیاد جمعه ۱۱ دسامبر و حداکثر تا پنجشنبه ۱۷ دسامبر "
        "به دستتان خواهد رسید."
    ),
    "pt": (
        "Seu pedido provavelmente chegará na sexta-feira, 11 de dezembro, e no máximo até "
        "quinta-feira, 17 de dezembro."
    ),
    "es": (
        "Lo más probable es que su pedido llegue el viernes 11 de diciembre y, a más tardar, "
        "el jueves 17 de diciembre."
    ),
    "de": (
        "Sie erhalten Ihr Paket voraussichtlich am Freitag, 11. Dezember, spätestens am "
        "Donnerstag, 17. Dezember."
    ),
    "fr": (
        "Votre colis devrait arriver le vendredi 11 décembre, et au plus tard le jeudi 17 décembre."
    ),
    "nl": (
        "Uw pakket wordt naar verwachting op vrijdag 11 december bezorgd, uiterlijk op "
        "donderdag 17 december."
    ),
}


def _two_parcels(
    code: str, reference: str, elapsed: tuple[float, float] = (0.0, 0.0), **moments: tuple
) -> list[str]:
    """The customer messages of two parcels quoted at ``reference`` (UTC), each moment given
    for both: ``earliest``, ``likely``, ``promise``, ``follow_up``; with ``elapsed`` (clock
    hours) under way, and then their agent summaries too."""
    references = pd.DatetimeIndex([pd.Timestamp(reference, tz="UTC")] * 2)
    speaker = Speaker(language(code), load_spec("deliveries"), "UTC", references)
    words = compose(
        speaker,
        **{k: utc_nanoseconds(pd.DatetimeIndex(list(v), tz="UTC")) for k, v in moments.items()},
        in_progress=np.array(elapsed) > 0,
        elapsed=np.array(elapsed),
        escalate=np.zeros(2, bool),
        segments=["0:all", "0:all"],
        findings=[[], []],
        confidence=0.9,
    )
    return words["agent_summary"] if any(elapsed) else words["customer_message"]


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_likely_day_beside_a_dated_promise_carries_its_date_too(code: str) -> None:
    """'most likely on Friday, and at the latest by Thursday, December 17': a shopper reads the
    Friday as after the Thursday. Beside a dated promise the likely day and the follow-up are
    dated too; beside one said by its weekday they stay weekdays."""
    dated, near = _two_parcels(
        code,
        "2026-12-07T09:00",
        earliest=("2026-12-08T10:00", "2026-12-08T10:00"),
        likely=("2026-12-11T10:00", "2026-12-09T10:00"),
        promise=("2026-12-17T23:59", "2026-12-11T23:59"),
        follow_up=("2026-12-14T15:00", "2026-12-10T15:00"),
    )
    lang = language(code)
    if code in DATED_CASES:
        assert dated.startswith(DATED_CASES[code])
    day = lang.date(dt.date(2026, 12, 11))
    assert day in dated and lang.date(dt.date(2026, 12, 14)) in dated  # likely and follow-up
    assert lang.date(dt.date(2026, 12, 9)) not in near  # a weekday beside a weekday promise
    assert lang.date(dt.date(2026, 12, 10)) not in near


def test_a_likely_day_beside_a_promise_said_with_its_year_carries_it_too() -> None:
    """Quoted on December 6: "el lunes 4 de enero y, a más tardar, el viernes 8 de enero de
    2027", the likely day 29 days away and the promise 33. Beside a promise said with its year,
    the likely day and the follow-up of that year carry it too; one in this year does not."""
    same_year, this_year = _two_parcels(
        "es",
        "2026-12-06T09:00",
        earliest=("2026-12-30T10:00", "2026-12-28T10:00"),
        likely=("2027-01-04T10:00", "2026-12-30T10:00"),
        promise=("2027-01-08T23:59", "2027-01-08T23:59"),
        follow_up=("2027-01-06T15:00", "2026-12-31T15:00"),
    )
    assert same_year.startswith(
        "Lo más probable es que su pedido llegue el lunes 4 de enero de 2027 y, a más tardar, "
        "el viernes 8 de enero de 2027."
    ), same_year
    assert "6 de enero de 2027" in same_year  # the follow-up
    assert "30 de diciembre y" in this_year and "31 de diciembre a" in this_year, this_year


def _new_item(speaker: Speaker, **moments: np.ndarray) -> dict:
    """The words of one new item with no findings, at the four moments given (UTC ns)."""
    return compose(
        speaker,
        **moments,
        in_progress=np.zeros(1, bool),
        elapsed=np.zeros(1),
        escalate=np.zeros(1, bool),
        segments=["0:all"],
        findings=[[]],
        confidence=0.9,
    )


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_follow_up_at_night_for_the_customer_is_said_by_the_part_of_the_day(code: str) -> None:
    """Berlin's agents update at 14:00, which is 5:00 AM in Los Angeles: that customer hears
    'on Wednesday morning'; one in New York, at 8:00 AM, hears the time."""
    spec = load_spec("tickets")
    follow_up = utc_nanoseconds(pd.DatetimeIndex([pd.Timestamp("2026-12-09T13:00", tz="UTC")]))
    said = {}
    for zone in ("America/Los_Angeles", "America/New_York"):
        reference = pd.DatetimeIndex([pd.Timestamp("2026-12-07T15:00", tz="UTC")])
        speaker = Speaker(language(code), spec, zone, reference)
        words = _new_item(
            speaker,
            earliest=follow_up - 30 * 3_600 * 10**9,
            likely=follow_up - 3_600 * 10**9,
            promise=follow_up + 30 * 3_600 * 10**9,
            follow_up=follow_up,
        )
        local = wall_nanoseconds(follow_up, zone)
        on = {style: speaker.said(local, style)[0] for style in ("on.time", "on.part")}
        said[zone] = words["follow_up_message"][0], on
    night, words = said["America/Los_Angeles"]
    assert words["on.part"] in night and words["on.time"] not in night
    day, words = said["America/New_York"]
    assert words["on.time"] in day


@pytest.mark.parametrize("code", LANGUAGES)
def test_promises_to_the_minute_say_the_likely_time_and_follow_up_to_the_minute(code: str) -> None:
    """A grocery's 25-minute deliveries: "most likely tonight, and at the latest by 21:40" and
    "we will update you tonight" told a customer nothing they could wait for. With promises to
    the minute, the likely time and the follow-up are told to the minute, even at night."""
    spec = load_spec("tickets").model_copy(update={"rounding": "minute"})
    quoted = pd.Timestamp("2026-12-07T20:55", tz="Europe/Madrid")
    minute = 60 * 10**9
    at = utc_nanoseconds(pd.DatetimeIndex([quoted]))
    speaker = Speaker(language(code), spec, "Europe/Madrid", pd.DatetimeIndex([quoted]))
    words = _new_item(
        speaker,
        earliest=at + 12 * minute,
        likely=at + 24 * minute,
        promise=at + 40 * minute,
        follow_up=at + 33 * minute,
    )
    local = wall_nanoseconds(np.r_[at + 24 * minute, at + 33 * minute], "Europe/Madrid")
    likely, follow_up = speaker.said(local, "on.time")
    assert likely in words["customer_message"][0], words["customer_message"][0]
    assert follow_up in words["follow_up_message"][0], words["follow_up_message"][0]


@pytest.mark.parametrize("code", LANGUAGES)
def test_a_deadline_at_midnight_is_said_as_the_end_of_the_day_before(code: str) -> None:
    """'By Saturday, February 21 at 12:00 AM' is read as Saturday night: it is said 'by
    Friday', the same instant; other deadlines keep their time."""
    reference = pd.DatetimeIndex([pd.Timestamp("2026-02-16T09:00", tz="UTC")] * 4)
    speaker = Speaker(language(code), load_spec("tickets"), "UTC", reference)
    deadlines = pd.DatetimeIndex(
        ["2026-02-21T00:00", "2026-02-17T00:00", "2026-03-03T00:00", "2026-02-20T23:00"], tz="UTC"
    )
    ends = pd.DatetimeIndex(
        ["2026-02-20T12:00", "2026-02-16T12:00", "2026-03-02T12:00", "2026-02-20T12:00"], tz="UTC"
    )
    said = speaker.moments(deadlines, "by.time")
    assert said[:3] == speaker.moments(ends, "by.day")[:3]
    assert said[3] != speaker.moments(ends, "by.day")[3]
    if code == "en":
        assert said[:3] == ["by Friday", "by the end of today", "by Monday, March 2"]
    if code == "de":
        assert said == ["am Freitag", "heute", "am Montag, 2. März", "am Freitag bis 23:00 Uhr"]


@pytest.mark.parametrize(
    ("code", "holidays", "day", "name", "said"),
    [
        (
            "pt",
            "BR-SP",
            dt.date(2026, 12, 25),
            "Natal",
            "Sexta-feira, 25 de dezembro é feriado (Natal), por isso pode ser necessário todo o "
            "prazo.",
        ),
        (
            "pt",
            "BR-SP",
            dt.date(2026, 11, 20),
            "Dia Nacional de Zumbi e da Consciência Negra",
            None,
        ),
        (
            "es",
            "ES",
            dt.date(2026, 12, 25),
            "Natividad del Señor",
            "El viernes 25 de diciembre es festivo (Natividad del Señor), por lo que podría "
            "necesitarse todo el plazo.",
        ),
        ("es", "MX", dt.date(2026, 9, 16), "Día de la Independencia", None),
        (
            "de",
            "DE",
            dt.date(2026, 12, 25),
            "Erster Weihnachtstag",
            "Freitag, 25. Dezember ist ein Feiertag (Erster Weihnachtstag), daher kann es bis "
            "zum zugesagten Termin dauern.",
        ),
        ("de", "AT", dt.date(2026, 10, 26), "Nationalfeiertag", None),
        ("de", "CH", dt.date(2026, 8, 1), "Nationalfeiertag", None),
        (
            "fr",
            "FR",
            dt.date(2026, 7, 14),
            "Fête nationale",
            "Le mardi 14 juillet est un jour férié (Fête nationale), il faudra donc peut-être "
            "tout le délai annoncé.",
        ),
        ("fr", "BE", dt.date(2026, 7, 21), "Fête nationale", None),
        (
            "nl",
            "NL",
            dt.date(2026, 4, 27),
            "Koningsdag",
            "Maandag 27 april is een feestdag (Koningsdag), waardoor het tot de uiterste datum "
            "kan duren.",
        ),
        ("nl", "BE", dt.date(2026, 7, 21), "Nationale feestdag", None),
    ],
)
def test_holidays_are_named_in_the_customers_language(code, holidays, day, name, said) -> None:
    """Brazilian, Spanish-, German-, French- and Dutch-speaking shoppers hear the holiday's name
    in their language (the `holidays` package has pt_BR, es, de, fr and nl names), not
    'Christmas Day'."""
    from eta.messages import holiday_name
    from eta.risks import Finding
    from eta.spec import DatasetSpec

    assert holiday_name(CalendarSpec(holidays=(holidays,)), day, code) == name
    raw = load_spec("deliveries").model_dump()
    raw["calendar"]["holidays"] = [holidays]
    spec = DatasetSpec.from_dict(raw)
    reference = pd.DatetimeIndex([pd.Timestamp("2026-07-01T09:00", tz="UTC")])
    speaker = Speaker(language(code), spec, "UTC", reference)
    note = speaker.note(
        Finding("holiday_in_window", "medium", {"days": (day,), "names": ("x",)}), 0
    )
    assert f"({name})" in note["customer_text"] and f"({name})" in note["agent_text"]
    if said is not None:
        assert note["customer_text"] == said


def test_a_holiday_name_said_in_parentheses_has_none_of_its_own() -> None:
    """A freight forwarder's customers read "(Diwali (Deepavali))"."""
    from eta.messages import holiday_name

    assert (
        holiday_name(CalendarSpec(holidays=["IN"]), dt.date(2025, 10, 20), "en")
        == "Diwali, Deepavali"
    )
    assert (
        holiday_name(CalendarSpec(holidays=["US"]), dt.date(2027, 12, 24), "en")
        == "Christmas Day, observed"
    )
    assert (
        holiday_name(CalendarSpec(holidays=["DE"]), dt.date(2025, 12, 25), "en") == "Christmas Day"
    )


def test_a_holiday_of_a_category_asked_for_is_named_in_the_customers_language() -> None:
    """Bavaria's Assumption Day is filed apart ('catholic'): a spec that asks for it hears it."""
    from eta.messages import holiday_name

    assumption = dt.date(2025, 8, 15)
    public = CalendarSpec(holidays=["DE-BY"])
    catholic = CalendarSpec(holidays=["DE-BY"], holiday_categories=["public", "catholic"])
    assert holiday_name(public, assumption, "de") is None
    assert holiday_name(catholic, assumption, "de") == "Mariä Himmelfahrt"


def test_agents_hear_durations_of_days_in_days_of_the_spec_clock() -> None:
    """A freight forwarder's agents read "in progress for 4,752.4 h" of a shipment 528 working
    days old: two days of the clock or more are said in its days."""
    reference = pd.DatetimeIndex([pd.Timestamp("2025-06-02T09:00", tz="UTC")])
    business = load_spec("tickets")  # working days of 8 hours
    wall = business.model_copy(update={"clock": "wall"})

    def said(code: str, spec, hours: float) -> str:
        return Speaker(language(code), spec, "UTC", reference).duration(hours)

    assert said("en", business, 15.5) == "15.5 h"
    assert said("en", business, 20) == "about 2.5 working days"
    assert said("en", business, 4752.4) == "about 594 working days"
    assert said("en", wall, 47.5) == "47.5 h"
    assert said("en", wall, 4752.4) == "about 198 days"
    # Under an hour, minutes: a grocery's agents read "0.8 h" and "0,8 h".
    assert said("en", wall, 0.8) == "48 min" and said("es", wall, 0.8) == "48 min"
    assert said("de", wall, 0.25) == "15 Min." and said("en", wall, 0.001) == "1 min"
    assert said("en", wall, 0.995) == "1 h" and said("en", wall, 0.0) == "0 min"
    # In days, a duration names its clock: not "about 20 working days (business hours)".
    agents = _two_parcels(
        "en",
        "2026-12-07T09:00",
        elapsed=(6.0, 60.0),  # the parcels' working days are 08:00-20:00
        **{k: ("2026-12-08T10:00",) * 2 for k in ("earliest", "likely", "promise", "follow_up")},
    )
    assert "In progress: 6 h (business hours)." in agents[0]
    assert "In progress: about 5 working days. " in agents[1]
    assert said("ru", wall, 4752.4) == "около 198 дней"


def test_a_drivers_small_value_keeps_its_first_digits() -> None:
    """A grocery's backlog in weeks of arrivals, 0.04, read "= 0 (+25%)"."""
    reference = pd.DatetimeIndex([pd.Timestamp("2025-06-02T09:00", tz="UTC")])
    speaker = Speaker(language("es"), load_spec("tickets"), "UTC", reference)
    facts = {"feature": "queue_open", "value": 0.043, "effect": 0.25}
    assert "queue_open = 0,043 (+25" in speaker._driver(facts, 0)[1]
    assert "queue_open = 12,5 (+25" in speaker._driver({**facts, "value": 12.5}, 0)[1]
    for value, said in ((0.05, "0,05"), (-0.05, "-0,05"), (0.12, "0,12"), (0.8, "0,8")):
        assert f"queue_open = {said} (" in speaker._driver({**facts, "value": value}, 0)[1]


def test_every_holiday_before_the_promise_is_said_by_its_date() -> None:
    """An incident promised "by Friday, October 17" was told "Friday is a public holiday
    (German Unity Day)", which was Friday, October 3; a window over Christmas and New Year
    named the first of its four holidays."""
    from eta.risks import Finding

    spec = load_spec("deliveries")  # holidays: DE
    reference = pd.DatetimeIndex([pd.Timestamp("2025-09-29T09:00", tz="UTC")])  # a Monday
    speaker = Speaker(language("en"), spec, "UTC", reference)

    def customer(*days: dt.date) -> str:
        facts = {"days": days, "names": ("x",) * len(days)}
        return speaker.note(Finding("holiday_in_window", "medium", facts), 0)["customer_text"]

    assert customer(dt.date(2025, 10, 3)) == (
        "Friday, October 3 is a public holiday (German Unity Day), so it may take the full time."
    )
    assert customer(dt.date(2025, 9, 30)).startswith("Tomorrow is a public holiday")
    assert customer(dt.date(2025, 12, 25), dt.date(2025, 12, 26), dt.date(2026, 1, 1)) == (
        "Thursday, December 25, 2025 (Christmas Day), Friday, December 26, 2025 (Second Day of "
        "Christmas), and Thursday, January 1, 2026 (New Year's Day) are public holidays, so it "
        "may take the full time."
    )  # one said with its year, all are


def test_holidays_three_or_more_in_a_row_are_said_as_one_span() -> None:
    """A Kathmandu desk's customers heard Dashain's days and Tihar's one by one in a sentence."""
    from eta.risks import Finding

    spec = load_spec("tickets").model_copy(
        update={"calendar": CalendarSpec(days=WEEKDAYS, holidays=("NP",))}
    )
    reference = pd.DatetimeIndex([pd.Timestamp("2025-10-15T09:00", tz="UTC")])
    speaker = Speaker(language("en"), spec, "UTC", reference)
    days = tuple(dt.date(2025, 10, d) for d in (20, 21, 22, 23, 24, 27))
    facts = {"days": days, "names": ("x",) * len(days)}
    said = speaker.note(Finding("holiday_in_window", "medium", facts), 0)["customer_text"]
    assert said == (
        "October 20\u2009–\u200924 (Laxmi Pooja, Gai Tihar, Gobardhan Pooja; Mha Pooja, Bhai "
        "Tika, Tihar Holiday) and Monday, October 27 (Chhath Parva) are public holidays, so it "
        "may take the full time."
    )


def test_the_first_of_a_month_is_the_premier_in_french() -> None:
    """ "le vendredi 1 janvier": French says "1er" for the first (CLDR has no ordinal day)."""
    french = language("fr-BE")
    assert french.date(dt.date(2027, 1, 1)) == "1er janvier"
    assert french.date(dt.date(2027, 1, 1), year=True) == "1er janvier 2027"
    assert french.date(dt.date(2027, 1, 11)) == "11 janvier"
    assert language("en").date(dt.date(2027, 1, 1)) == "January 1"
