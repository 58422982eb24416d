"""``POST /v1/quotes`` and ``POST /v1/quotes/batch``: promises for one item or up to 1,000."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from service.engine import ItemResult, Options
from service.problems import FieldError, ProblemError, detail_of, request_id_of
from service.routes.batches import documented, read_batch
from service.routes.common import JSON, ServiceDep, StrictJSONRoute, problems
from service.schemas import (
    QuoteBatchRequest,
    QuoteBatchResponse,
    QuoteRequest,
    QuoteResponse,
)
from service.security import QuoteKey

router = APIRouter(prefix="/v1/quotes", tags=["quotes"], route_class=StrictJSONRoute)


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
        raise ProblemError(422, detail_of(result), result)
    result["request_id"] = request_id_of(request)
    return JSON(result)


@router.post(
    "/batch",
    response_model=QuoteBatchResponse,
    responses=problems(400, 401, 403, 413, 422, 503),
    summary="Quote up to 1,000 items",
    openapi_extra=documented(QuoteBatchRequest),
)
async def quote_batch(request: Request, _: QuoteKey, service: ServiceDep) -> JSON:
    """Quotes in the same order as the items; an item that cannot be quoted gets its own error
    (naming the field) and does not fail the rest."""
    batch, positions, bad = await read_batch(request, QuoteBatchRequest)
    if not service.store.deployed:
        raise ProblemError(503, "No model is loaded yet; see GET /readyz.")
    n = len(positions) + len(bad)
    results: list[ItemResult | None] = [bad.get(i) for i in range(n)]
    items = dict(zip(positions, batch.items, strict=True)) if batch else {}
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


def _prefixed(result: ItemResult, i: int) -> ItemResult:
    if isinstance(result, list):
        return [FieldError(field=f"items[{i}].{e.field}", message=e.message) for e in result]
    return result


def _item_problem(errors: list[FieldError]) -> dict:
    detail = detail_of(errors)
    return {"status": 422, "detail": detail, "errors": [e.model_dump() for e in errors]}


def _options(item: QuoteRequest) -> Options:
    return Options(item.confidence, item.locale, item.timezone)


def _unknown_model(service: ServiceDep, name: str, field: str) -> ProblemError:
    served = sorted(service.store.deployed)
    if not served:
        return ProblemError(503, "No model is loaded yet; see GET /readyz.")
    message = f"unknown model {name!r} (serving: {', '.join(served)})"
    return ProblemError(422, f"{field}: {message}", [FieldError(field=field, message=message)])
