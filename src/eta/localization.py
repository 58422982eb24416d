"""Languages: message catalogs, Babel formatting of dates, times and numbers, fallback to English.

One :class:`Language` per requested locale, built once and cached (catalogs are parsed and
Babel's locale data is loaded once per process; dates and times are formatted once per distinct
value), so quoting a single item in Persian costs what quoting it in English does.

Catalogs are gettext PO files in ``eta/locales/`` (``en.po``, ``bs.po``, ``ru.po``, ``fa.po``,
``pt.po`` for Brazilian Portuguese, ``es.po``, ``de.po``, ``fr.po``, ``nl.po``):
each entry's ``msgctxt`` is a stable key (``risk.holiday_in_window.customer``), its ``msgid`` the
English source text and its ``msgstr`` the translation (empty in ``en.po``). PO is what
translators' tools (Poedit, Weblate) read, and Babel parses it without a compile step. A test
checks that every language has every key, translated from the current English text, with the
same placeholders.

Where a language needs grammatical forms that CLDR does not carry (Russian and Bosnian inflect
weekdays after "on"), the catalog holds them (``grammar.weekday_on``); which CLDR date skeleton
reads best in running text is the catalog's choice too (``format.date``). Digits follow the
locale's default numbering system (Persian: ``۰۱۲۳۴۵۶۷۸۹``); Babel names the system but formats
dates with Latin digits, so digits are mapped here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from dataclasses import dataclass, field
from importlib import resources

from babel import Locale, UnknownLocaleError
from babel.dates import format_interval, format_skeleton, format_time
from babel.lists import format_list
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LANGUAGES = ("en", "bs", "ru", "fa", "pt", "es", "de", "fr", "nl")
"""Languages with a message catalog; any other locale is answered in English, with a note."""
FALLBACK = "en"
_DIGITS = {"arabext": "۰۱۲۳۴۵۶۷۸۹", "arab": "٠١٢٣٤٥٦٧٨٩"}
"""Digits of the non-Latin numbering systems of our languages (CLDR numberingSystems.xml)."""
_PLACEHOLDER = re.compile(r"{(\w+)(?:\[\d\])?}")
"""A placeholder, or one of its forms (``{part[1]}``: see :class:`eta.messages.Forms`)."""


@dataclass(frozen=True)
class Language:
    """Everything needed to speak one locale: its catalog, its Babel locale and its digits."""

    locale: str
    """The locale actually used ('en', 'bs_BA', 'fa'): what the caller asked for, or English."""
    note: str
    """Empty, or why the requested locale was not used."""
    babel: Locale
    catalog: dict[str, str]
    digits: dict[int, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        """The catalog language ('en', 'bs', 'ru', 'fa', 'pt', 'es', 'de', 'fr', 'nl')."""
        return self.babel.language

    @property
    def direction(self) -> str:
        """'rtl' for right-to-left scripts (Persian), else 'ltr'."""
        return "rtl" if self.babel.character_order == "right-to-left" else "ltr"

    def text(self, key: str, **params: object) -> str:
        """The catalog entry ``key`` with ``{placeholders}`` filled in, digits localized."""
        return self.localize_digits(self.catalog[key].format(**params))

    def localize_digits(self, text: str) -> str:
        return text.translate(self.digits) if self.digits else text

    @functools.cached_property
    def weekdays(self) -> tuple[str, ...]:
        """Weekday names, Monday first, as a day is named on its own ('Tuesday', 'вторник')."""
        names = self.babel.days["format"]["wide"]
        return tuple(names[i] for i in range(7))

    @functools.cached_property
    def weekdays_on(self) -> tuple[str, ...]:
        """Weekdays in the form used for "on that day" ('on Tuesday', 'во вторник')."""
        forms = tuple(self.catalog["grammar.weekday_on"].split("|"))
        if len(forms) != 7:
            raise ValueError(f"{self.code}: grammar.weekday_on needs 7 forms, got {len(forms)}")
        return forms

    def date(self, day: dt.date, *, year: bool = False) -> str:
        """Day and month as the catalog's CLDR skeleton says ('January 15', '15 января'), with
        ``year`` also the year ('January 15, 2030')."""
        skeleton = ("y" if year else "") + self.catalog["format.date"]
        said = _format_date(self.babel, skeleton, day)
        if self.code == "fr" and day.day == 1 and said.startswith("1 "):
            said = "1er" + said[1:]  # "le 1er janvier": CLDR has no ordinal day
        return self.localize_digits(said)

    def dates(self, first: dt.date, last: dt.date, *, year: bool = False) -> str:
        """A run of days as the locale says one ('December 28 – 31', '28.–31. Dezember')."""
        skeleton = ("y" if year else "") + self.catalog["format.date"]
        return self.localize_digits(format_interval(first, last, skeleton, locale=self.babel))

    def time(self, hour: int, minute: int) -> str:
        """Local time of day in the locale's short format ('5:00 PM', '17:00')."""
        return self.localize_digits(_format_time(self.babel, hour, minute))

    def number(self, value: float, pattern: str = "#,##0.#") -> str:
        return self.localize_digits(_format_number(self.babel, float(value), pattern, False))

    def percent(self, value: float, pattern: str = "#,##0%") -> str:
        return self.localize_digits(_format_number(self.babel, float(value), pattern, True))

    def join(self, items: list[str]) -> str:
        """'Saturday and Sunday', 'subota i nedjelja', 'شنبه و یکشنبه'."""
        return _format_list(self.babel, tuple(items)) if items else ""


@functools.lru_cache(maxsize=64)
def language(requested: str | None = None) -> Language:
    """The :class:`Language` for a locale ('bs', 'bs-BA', 'fa_IR'); None means English.

    Unknown locales, and known ones without a catalog, fall back to English and say so in
    :attr:`Language.note` (the dates are then English too, so a sentence never mixes two).
    """
    if requested is None or not str(requested).strip():
        return _build(FALLBACK, "")
    text = str(requested).strip().replace("-", "_")
    try:
        parsed = Locale.parse(text)
    except (UnknownLocaleError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.language not in LANGUAGES:
        note = f"locale '{requested}' is not available; answered in English"
        return _build(FALLBACK, note)
    name = parsed.language if parsed.territory is None else f"{parsed.language}_{parsed.territory}"
    return _build(name, "")


def catalog(code: str) -> dict[str, dict[str, str]]:
    """Parsed catalog of a language: key -> {'source': English text, 'text': translation}."""
    return _read_catalog(code)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _build(name: str, note: str) -> Language:
    babel_locale = Locale.parse(name)
    entries = _read_catalog(babel_locale.language)
    texts = {key: entry["text"] or entry["source"] for key, entry in entries.items()}
    system = babel_locale.default_numbering_system
    digits = _DIGITS.get(system, "")
    table = {ord(str(d)): digits[d] for d in range(10)} if digits else {}
    if digits:  # Babel's percent patterns keep the Latin sign; use the system's own
        table[ord("%")] = babel_locale.number_symbols[system].get("percentSign", "%")
    return Language(name, note, babel_locale, texts, table)


@functools.lru_cache(maxsize=8)
def _read_catalog(code: str) -> dict[str, dict[str, str]]:
    source = resources.files("eta").joinpath("locales", f"{code}.po")
    with source.open("rb") as handle:
        parsed = read_po(handle, locale=code)
    entries: dict[str, dict[str, str]] = {}
    for message in parsed:
        if not message.id or message.context is None:
            continue  # the header
        entries[message.context] = {"source": str(message.id), "text": str(message.string or "")}
    return entries


@functools.lru_cache(maxsize=4096)
def _format_date(locale: Locale, skeleton: str, day: dt.date) -> str:
    return format_skeleton(skeleton, day, locale=locale)


@functools.lru_cache(maxsize=1024)
def _format_list(locale: Locale, items: tuple[str, ...]) -> str:
    return format_list(list(items), locale=locale)


@functools.lru_cache(maxsize=8192)
def _format_number(locale: Locale, value: float, pattern: str, percent: bool) -> str:
    """Numbers in agent texts repeat a lot (counts, rounded effects): format each once.

    Babel rounds in the current decimal context, whose 28 digits a finite float can exceed (a
    long tail's ratio of 5e27 raised InvalidOperation): a float has at most 309 integer digits."""
    with decimal.localcontext(prec=400):
        if percent:
            return format_percent(value, pattern, locale=locale, numbering_system="default")
        return format_decimal(value, pattern, locale=locale, numbering_system="default")


@functools.lru_cache(maxsize=4096)
def _format_time(locale: Locale, hour: int, minute: int) -> str:
    return format_time(dt.time(hour, minute), "short", locale=locale)
