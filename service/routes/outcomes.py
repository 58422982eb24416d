"""``POST /v1/outcomes``: finished and still-open items reported back, to keep promises honest.

Each report feeds the model's outcome feed (:class:`eta.feedback.OutcomeFeed`), which judges the
item's likely time and promise when they fall due and moves the model's online corrections: the
promises of that model and segment recalibrate as the world drifts, and its live on-time rate
(``GET /v1/models/{name}``, ``/metrics``) counts them. Reports are idempotent on the item id; a
finish that differs from the one first reported is refused for that item (``items[i].finished_at``),
not silently dropped: the promise was judged and counted by the first.
"""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter, Request

from service.engine import report_outcomes
from service.problems import FieldError, ProblemError, detail_of, request_id_of
from service.routes.batches import documented, read_batch
from service.routes.common import JSON, ServiceDep, StrictJSONRoute, problems
from service.schemas import OutcomeReport, OutcomeResponse
from service.security import OutcomesKey

router = APIRouter(prefix="/v1/outcomes", tags=["outcomes"], route_class=StrictJSONRoute)


@router.post(
    "",
    response_model=OutcomeResponse,
    responses=problems(400, 401, 403, 413, 422, 503),
    summary="Report outcomes",
    openapi_extra=documented(OutcomeReport),
)
async def report(request: Request, _: OutcomesKey, service: ServiceDep) -> JSON:
    """Items that finished (``finished_at``) or are still open (seen open at ``observed_at``,
    default now). An item that cannot be taken gets its own error and does not fail the rest."""
    body, positions, bad = await read_batch(request, OutcomeReport)
    now = pd.Timestamp.now(tz="UTC")
    errors = [_error(i, problem) for i, problem in bad.items()]
    items = dict(zip(positions, body.items, strict=True)) if body else {}
    # Without an offset, each model reads it in its own time zone, as it reads started_at.
    observed_at = (
        now if body is None or body.observed_at is None else pd.Timestamp(body.observed_at)
    )
    _refuse_a_future(observed_at, now)
    by_model: dict[str, list[int]] = {}
    for i, item in items.items():
        if service.store.get(item.model) is None:
            served = ", ".join(sorted(service.store.deployed))
            message = f"unknown model {item.model!r} (serving: {served})"
            errors.append(_error(i, [FieldError(field=f"items[{i}].model", message=message)]))
        else:
            by_model.setdefault(item.model, []).append(i)
    totals = {"accepted": 0, "duplicates": 0, "judged": 0}
    rates = {}
    for name, members in by_model.items():
        deployment = service.store.get(name)
        summary, item_errors = await service.engine.run(
            report_outcomes, deployment, [items[i] for i in members], observed_at, now
        )
        for key in totals:
            totals[key] += getattr(summary, key)
        for i, problem in zip(members, item_errors, strict=True):
            if problem:
                errors.append(
                    _error(
                        i,
                        [  # observed_at is the request's, said once for all its items
                            FieldError(field=_where(i, e.field), message=e.message) for e in problem
                        ],
                    )
                )
        rates[name] = deployment.model.online_.on_time_rate()
    errors.sort(key=lambda e: e["index"])
    return JSON(
        {
            "request_id": request_id_of(request),
            **totals,
            "failed": len(errors),
            "errors": errors,
            "on_time_rate": rates,
        }
    )


def _refuse_a_future(observed_at: pd.Timestamp, now: pd.Timestamp) -> None:
    """A look at open items in the future is the report's mistake, said once: it was said once
    per open item (200 times), and not at all when every item had finished. Without an offset
    each model reads it in its own zone, so only a time later than in any zone is refused here."""
    latest = now if observed_at.tzinfo else (now + pd.Timedelta(hours=14)).tz_localize(None)
    if observed_at > latest:
        error = FieldError(field="observed_at", message="is in the future")
        raise ProblemError(422, "observed_at: is in the future", [error])


def _error(index: int, errors: list[FieldError]) -> dict:
    detail = detail_of(errors)
    return {"index": index, "detail": detail, "errors": [e.model_dump() for e in errors]}


def _where(index: int, field: str) -> str:
    """Where an item's problem is in the request: its own field, or the request's observed_at."""
    return field if field == "observed_at" else f"items[{index}].{field}"
