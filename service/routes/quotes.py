"""``POST /v1/quotes`` and ``POST /v1/quotes/batch``: promises for one item or up to 1,000."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from service.engine import ItemResult, Options
from service.problems import (
    FieldError,
    ProblemError,
    not_json,
    request_id_of,
    validation_errors,
)
from service.routes.common import JSON, ServiceDep, StrictJSONRoute, problems
from service.schemas import (
    MAX_BATCH,
    QuoteBatchRequest,
    QuoteBatchResponse,
    QuoteRequest,
    QuoteResponse,
)
from service.security import QuoteKey

router = APIRouter(prefix="/v1/quotes", tags=["quotes"], route_class=StrictJSONRoute)
_ITEMS = TypeAdapter(list[QuoteRequest])


@router.post(
    "",
    response_model=QuoteResponse,
    responses=problems(400, 401, 403, 413, 422, 503),
    summary="Quote one item",
)
async def quote(body: QuoteRequest, request: Request, _: QuoteKey, service: ServiceDep) -> JSON:
    """The likely time, the promise, the earliest time, when to follow up, and the risks worth
    mentioning, for a new item or (with an earlier `started_at`) one already in progress."""
    deployment = service.store.get(body.model)
    if deployment is None:
        raise _unknown_model(service, body.model, "model")
    [result] = await service.engine.quote(deployment, _options(body), [body])
    if isinstance(result, list):
        raise ProblemError(422, "; ".join(f"{e.field}: {e.message}" for e in result), result)
    result["request_id"] = request_id_of(request)
    return JSON(result)


def _documented(model: type[BaseModel]) -> dict:
    """``model``'s JSON schema for a body the route reads itself (to answer bad items one by
    one), with its nested models referring to the components FastAPI documents anyway: a
    reference to a component of its own name was left dangling, and ``/docs`` could not show
    the batch request."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # QuoteRequest: the single quote's body, a component already
    return schema


@router.post(
    "/batch",
    response_model=QuoteBatchResponse,
    responses=problems(400, 401, 403, 413, 422, 503),
    summary="Quote up to 1,000 items",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _documented(QuoteBatchRequest)}},
        }
    },
)
async def quote_batch(request: Request, _: QuoteKey, service: ServiceDep) -> JSON:
    """Quotes in the same order as the items; an item that cannot be quoted gets its own error
    (naming the field) and does not fail the rest."""
    raw = await _json(request)
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
        raise ProblemError(
            422,
            "items: a list of quote requests is required",
            [FieldError(field="items", message="a list of quote requests is required")],
        )
    extra = sorted(set(raw) - {"items"})
    if extra:
        raise ProblemError(
            422,
            f"{extra[0]}: unknown field",
            [FieldError(field=name, message="unknown field") for name in extra],
        )
    if not service.store.deployed:
        raise ProblemError(503, "No model is loaded yet; see GET /readyz.")
    n = len(raw["items"])
    if not 1 <= n <= MAX_BATCH:
        message = f"between 1 and {MAX_BATCH:,} items per call (got {n:,})"
        raise ProblemError(422, f"items: {message}", [FieldError(field="items", message=message)])
    results: list[ItemResult | None] = [None] * n
    items = _validate_each(raw["items"], results)
    jobs: dict[tuple[str, Options], list[int]] = {}
    for i, item in items.items():
        if service.store.get(item.model) is None:
            results[i] = [_unknown_model(service, item.model, f"items[{i}].model").errors[0]]
        else:
            jobs.setdefault((item.model, _options(item)), []).append(i)
    answers = await asyncio.gather(
        *(
            service.engine.quote(service.store.get(name), options, [items[i] for i in members])
            for (name, options), members in jobs.items()
        )
    )
    for members, answer in zip(jobs.values(), answers, strict=True):
        for i, result in zip(members, answer, strict=True):
            results[i] = _prefixed(result, i)
    out = [
        {"index": i, "quote": None, "error": _item_problem(r)}
        if isinstance(r, list)
        else {"index": i, "quote": r, "error": None}
        for i, r in enumerate(results)
    ]
    failed = sum(1 for r in results if isinstance(r, list))
    return JSON(
        {"request_id": request_id_of(request), "quoted": n - failed, "failed": failed, "items": out}
    )


async def _json(request: Request) -> object:
    try:
        return await request.json()  # strict (StrictJSONRoute)
    except json.JSONDecodeError as exc:
        error = not_json(exc.pos, exc.msg)
        raise ProblemError(422, f"{error.field}: {error.message}", [error]) from None


def _validate_each(raw_items: list, results: list) -> dict[int, QuoteRequest]:
    """All items at once when they are all valid (fast); else one by one, to blame each."""
    try:
        return dict(enumerate(_ITEMS.validate_python(raw_items)))
    except ValidationError:
        pass
    items = {}
    for i, raw in enumerate(raw_items):
        try:
            items[i] = QuoteRequest.model_validate(raw)
        except ValidationError as exc:
            results[i] = validation_errors(list(exc.errors()), ("items", i))
    return items


def _prefixed(result: ItemResult, i: int) -> ItemResult:
    if isinstance(result, list):
        return [FieldError(field=f"items[{i}].{e.field}", message=e.message) for e in result]
    return result


def _item_problem(errors: list[FieldError]) -> dict:
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return {"status": 422, "detail": detail, "errors": [e.model_dump() for e in errors]}


def _options(item: QuoteRequest) -> Options:
    return Options(item.confidence, item.locale, item.timezone)


def _unknown_model(service: ServiceDep, name: str, field: str) -> ProblemError:
    served = sorted(service.store.deployed)
    if not served:
        return ProblemError(503, "No model is loaded yet; see GET /readyz.")
    message = f"unknown model {name!r} (serving: {', '.join(served)})"
    return ProblemError(422, f"{field}: {message}", [FieldError(field=field, message=message)])
