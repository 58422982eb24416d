"""The API's request and response bodies: the public shape of a quote.

Field names are the engine's column names (``promise_at``, ``follow_up_at``, ``risk_notes``), so a
quote reads the same from ``eta quote`` and from the API. Times are ISO-8601 instants in UTC;
``timezone`` says where the customer is, for display.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from eta.spec import MAX_CONFIDENCE, iana_zone
from service.problems import FieldError

MAX_BATCH = 1000
"""Items per batch call: every shipping option of a big cart, or a page of an agent's queue."""


def _one_feature_value(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One message for a value that is none of the kinds, instead of one per kind tried
    (``features.weight_g.str: ...; features.weight_g.float: ...``)."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError("not text, a number, true/false or null") from None


FeatureValue = Annotated[str | float | bool | None, WrapValidator(_one_feature_value)]
"""A feature's value as JSON has it. A boolean stays a boolean (pydantic would read ``true`` as
the number 1): a categorical feature reads it as the text 'true'/'false', as a CSV cell holds
it; a numeric one refuses it (:mod:`service.engine`), since a yes is not a weight."""


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("not a number (true/false is a yes or no)")
    return value


Number = BeforeValidator(_not_a_boolean)
"""For a number field: pydantic reads JSON ``true`` as 1, so ``elapsed_hours: true`` would be
one hour spent."""

EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START = datetime(2100, 1, 1, tzinfo=UTC)
"""Instants outside these are typos (and beyond what calendars and timestamps handle)."""


def _plausible(value: datetime) -> datetime:
    instant = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST_START <= instant < LATEST_START:
        raise ValueError(f"must be between {EARLIEST_START:%Y-%m-%d} and {LATEST_START:%Y-%m-%d}")
    return value


def _not_unix_seconds(value: object) -> object:
    """pydantic reads a number (or a string of digits) as Unix seconds: 1700000000 was taken
    for 2023-11-14 without a word, where a client meant something else or a typo."""
    digits = isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit()
    if (isinstance(value, int | float) and not isinstance(value, bool)) or digits:
        raise ValueError(
            f"{value!r} is a number, not an ISO-8601 time: write it like 2026-12-06T14:00:00+01:00"
        )
    return value


_OFFSET = re.compile(r"[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?([+-])(\d\d):?(\d\d)$")


def _offset_in_range(value: object) -> object:
    """An offset of a day or more got pydantic's "unexpected extra characters at the end of
    the input", which sends a client looking at the wrong end of the time."""
    found = _OFFSET.search(value.strip()) if isinstance(value, str) else None
    if found and (int(found[2]) >= 24 or int(found[3]) >= 60):
        raise ValueError(
            f"its UTC offset {found[1]}{found[2]}:{found[3]} is not one: an offset is less than "
            "24 hours, such as +01:00 or -05:00"
        )
    return value


Instant = Annotated[
    datetime,
    BeforeValidator(_offset_in_range),
    BeforeValidator(_not_unix_seconds),
    AfterValidator(_plausible),
]
"""An ISO-8601 instant between 2000 and 2100; without an offset, the model's local time."""


def _date_only(value: Any) -> Any:
    """A date written alone ('2026-01-08') stays a date: a promise to a date holds to its end,
    and a finish on a date is the end of it as a history's is, where pydantic would read its
    midnight (an order promised for Thursday was apologised for on Thursday morning)."""
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    return value


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
DateOrInstant = Annotated[
    Annotated[date, Strict()] | Instant,
    Field(union_mode="left_to_right"),
    BeforeValidator(_date_only),
]
"""A promise given or a finish: a date (kept as one) or an instant (:data:`Instant`)."""


def _id_text(value: Any) -> Any:
    """A whole number as its digits: an order number is often one in JSON (a tester's shop sent
    ``"id": 123`` and was refused "Input should be a valid string")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ItemId = Annotated[str, BeforeValidator(_id_text), Field(max_length=200)]
"""An item's id: text, or a whole number read as its digits."""


class _Schema(BaseModel):
    """Attribute docstrings become field descriptions in the OpenAPI docs."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class QuoteRequest(_Schema):
    """One item to quote: a new one (no start, or a start in the future), or one in progress."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: Annotated[str, Field(min_length=1, max_length=100, examples=["deliveries"])]
    """The model to quote with (``GET /v1/models`` lists them)."""
    id: ItemId | None = None
    """Your id for the item (ticket or order number), echoed in the quote as text."""
    features: Annotated[
        dict[str, FeatureValue],
        Field(max_length=100, examples=[{"service": "standard", "carrier": "DHL"}]),
    ] = {}
    """The model's features by name; a missing feature counts as unknown."""
    started_at: Instant | None = None
    """When the item started (ISO-8601; without an offset it is the model's local time), between
    2000 and 2100. Omitted: now. An earlier start re-quotes an item in progress from the time it
    has taken."""
    elapsed_hours: Annotated[float, Field(ge=0, le=100_000), Number] | None = None
    """Clock hours already spent on the item (overrides what ``started_at`` implies)."""
    promised_at: DateOrInstant | None = None
    """For an item in progress: the promise the customer was given, an instant or a date (the
    end of that date, as a delivery window's ``window_end`` is). Past it, the customer hears an
    apology for the broken promise; without it, only that it takes longer than usual."""
    confidence: Annotated[float, Field(gt=0.5, le=MAX_CONFIDENCE), Number] | None = None
    """Promise level (default: the model's, usually 0.9)."""
    locale: Annotated[str | None, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,4}$")] = (
        None
    )
    """The customer's language for messages, e.g. ``es-ES`` (default: the model's). One
    without a catalog (``it-IT``) is answered in English, and ``locale_note`` says so: a
    checkout page should still show a window, not an error."""
    timezone: Annotated[str | None, Field(max_length=64)] = None
    """The customer's IANA time zone for messages, e.g. ``Europe/Berlin``."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return value if value is None else iana_zone(value, "Europe/Berlin")


class QuoteBatchRequest(_Schema):
    """Up to 1,000 items, answered in the same order; a bad item gets its own error."""

    items: Annotated[list[QuoteRequest], Field(min_length=1, max_length=MAX_BATCH)]


class RiskNote(_Schema):
    model_config = ConfigDict(use_attribute_docstrings=True)

    code: str
    severity: str
    customer_text: str
    """What a customer may be told; empty for a note meant for agents only."""
    agent_text: str


class Quote(_Schema):
    """A promise and what to say about it."""

    id: str | None
    model: str
    model_version: str
    likely_at: datetime
    """Most likely finish (the median)."""
    promise_at: datetime
    """The promise: finished by then with probability ``confidence``."""
    earliest_at: datetime
    follow_up_at: datetime
    """When to get back to the customer if the item is not done."""
    window_start: str | None = None
    window_end: str | None = None
    """The window to show, in the customer's time zone: ISO local dates when promises are
    rounded to a date (a checkout's 'arrives Tue 3 - Thu 5'), else ISO local instants with
    their offset."""
    confidence: float
    segment: str | None = None
    likely_hours: float | None = None
    promise_hours: float | None = None
    elapsed_hours: float | None = None
    """Clock hours already spent when quoted (null for a new item)."""
    risk_codes: list[str]
    risk_notes: list[RiskNote] = []
    escalate: bool | None = None
    customer_message: str
    agent_summary: str | None = None
    follow_up_message: str | None = None
    locale: str | None = None
    locale_note: str | None = None
    text_direction: Literal["ltr", "rtl"] | None = None
    timezone: str | None = None


class QuoteResponse(Quote):
    request_id: str


class ItemProblem(_Schema):
    """Why one item of a batch got no quote."""

    status: int
    detail: str
    errors: list[FieldError]


class BatchItem(_Schema):
    index: int
    quote: Quote | None
    error: ItemProblem | None


class QuoteBatchResponse(_Schema):
    request_id: str
    quoted: int
    failed: int
    items: list[BatchItem]


class FeatureInfo(_Schema):
    name: str
    kind: Literal["categorical", "numeric"]
    values: list[str]
    """Known categories (an unseen one is allowed, and treated as unknown)."""
    phrases: dict[str, str]
    """The words customers are told for this feature, per language; none: never named to them."""


class SegmentRate(_Schema):
    on_time_rate: float
    judged: int


class ModelInfo(_Schema):
    name: str
    version: str
    source: str
    loaded_at: datetime
    kind: str
    timezone: str
    clock: str
    confidence: float
    start: str
    id: str | None
    features: list[FeatureInfo]
    segments: list[str]
    eta_version: str | None
    as_of: str | None
    training_window: list[str]
    rows: int | None
    open_share: float | None
    backtest: dict[str, float | str | None]
    """Metrics of the backtest that vetted this model, when its source recorded them."""
    live: dict[str, SegmentRate]
    """On-time rate of promises judged from outcomes since deployment, by calibration segment
    ('*': all; 'ahead|...': items that started after the model's record of recent history ended,
    which is every new item a deployed model quotes)."""


class ModelList(_Schema):
    models: list[ModelInfo]


class ReloadedModel(_Schema):
    name: str
    outcome: Literal["loaded", "unchanged", "refused", "removed"]
    version: str | None
    reason: str | None = None


class ReloadResponse(_Schema):
    models: list[ReloadedModel]


class Health(_Schema):
    status: Literal["ok"]


class Ready(_Schema):
    status: Literal["ready"]
    models: list[str]


class OutcomeItem(_Schema):
    """One item's outcome: finished (``finished_at``) or still open when ``observed_at``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: Annotated[str, Field(min_length=1, max_length=100)]
    """The model that quoted the item (a name ``GET /v1/models`` lists)."""
    id: Annotated[ItemId, Field(min_length=1)]
    """The item's id: reports are idempotent on it (a repeat with nothing new changes nothing,
    and counts as a duplicate)."""
    features: Annotated[dict[str, FeatureValue], Field(max_length=100)] = {}
    """The features it was quoted with."""
    started_at: Instant
    """When it started, as quoted (without an offset: the model's local time)."""
    finished_at: DateOrInstant | None = None
    """When it finished (a date alone: by the end of that date); null while it is still open.
    Once reported, a finish stands: another one for the same id (or the item reported open
    after it) is refused as this item's error, naming the finish first reported; its promise
    was judged by that one."""


class OutcomeReport(_Schema):
    """Outcomes of up to 1,000 items; open ones count as seen open at ``observed_at``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    items: Annotated[list[OutcomeItem], Field(min_length=1, max_length=MAX_BATCH)]
    observed_at: Instant | None = None
    """When the open items were last seen open (default: now)."""


class OutcomeError(_Schema):
    index: int
    detail: str
    errors: list[FieldError]


class OutcomeResponse(_Schema):
    request_id: str
    accepted: int
    """Items whose news was new."""
    duplicates: int
    """Items reported before with nothing new (the same finish, or seen open before it)."""
    judged: int
    """Likely-time and promise checkpoints judged while handling the report."""
    failed: int
    errors: list[OutcomeError]
    """Items that could not be taken, and why."""
    on_time_rate: dict[str, dict[str, float]]
    """Live on-time rate per model and segment ('*': the whole model) after the report."""
