"""Message catalogs: every key in every language, translated from the current English text with
the same placeholders; every risk code has words; locales resolve or fall back to English."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from eta.localization import LANGUAGES, catalog, language, placeholders
from eta.messages import Speaker
from eta.risks import CODES
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
        ("de", "en", "ltr", "locale 'de' is not available; answered in English"),
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
