"""Batch bodies read item by item: a bad item gets its own error and does not fail the rest.

FastAPI validates a body as a whole, so one unreadable ``started_at`` among a thousand outcomes
refused the report (a tester's feed lost 999 good outcomes to one typo). The batch routes read
their body themselves: the envelope (the list, its length, the other fields) is checked as a
whole, the items one by one.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, TypeVar, get_args

from fastapi import Request
from pydantic import BaseModel, ValidationError

from service.problems import FieldError, ProblemError, detail_of, not_json, validation_errors
from service.schemas import MAX_BATCH

Batch = TypeVar("Batch", bound=BaseModel)


def documented(batch: type[BaseModel]) -> dict:
    """The route's ``openapi_extra`` for a body it reads itself: ``batch``'s JSON schema with its
    nested models written out in place. FastAPI documents only the models its routes take, so a
    reference to a nested model's component was left dangling and ``/docs`` could not show the
    request."""
    schema = batch.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    body = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": body}}


async def read_batch(
    request: Request, batch: type[Batch]
) -> tuple[Batch | None, list[int], dict[int, list[FieldError]]]:
    """The request's body as ``batch`` holding its valid items only, those items' positions in
    the request, and each bad item's errors by position (``None`` when no item is valid).

    A body whose envelope is wrong (no list of items, too many, an unknown or bad field) is
    refused as a whole (:class:`ProblemError`, 422)."""
    raw = await _json(request)
    extra = sorted(set(raw) - set(batch.model_fields)) if isinstance(raw, dict) else []
    if extra:  # first: {"item": [...]} was told a list of items is required, not why
        errors = [FieldError(field=name, message=_unknown(name, batch)) for name in extra]
        raise ProblemError(422, f"{extra[0]}: {errors[0].message}", errors)
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
        message = f"a list of {_item_model(batch).__name__} objects is required"
        raise ProblemError(422, f"items: {message}", [FieldError(field="items", message=message)])
    n = len(raw["items"])
    if not 1 <= n <= MAX_BATCH:
        message = f"between 1 and {MAX_BATCH:,} items per call (got {n:,})"
        raise ProblemError(422, f"items: {message}", [FieldError(field="items", message=message)])
    try:
        return batch.model_validate(raw), list(range(n)), {}  # all valid: the fast path
    except ValidationError as exc:
        failures = list(exc.errors())
    envelope = [e for e in failures if not _in_an_item(e)]
    if envelope:
        errors = validation_errors(envelope)
        raise ProblemError(422, detail_of(errors), errors)
    bad: dict[int, list[FieldError]] = {}
    for error in failures:
        bad.setdefault(error["loc"][1], []).extend(validation_errors([error]))
    good = [i for i in range(n) if i not in bad]
    if not good:
        return None, [], bad
    valid = batch.model_validate({**raw, "items": [raw["items"][i] for i in good]})
    return valid, good, bad


def _unknown(name: str, batch: type[BaseModel]) -> str:
    near = difflib.get_close_matches(name, list(batch.model_fields), n=1)
    return f"unknown field; did you mean {near[0]!r}?" if near else "unknown field"


def _in_an_item(error: Any) -> bool:
    loc = error["loc"]
    return len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int)


def _item_model(batch: type[BaseModel]) -> type[BaseModel]:
    return get_args(batch.model_fields["items"].annotation)[0]  # list[Item]


async def _json(request: Request) -> object:
    try:
        return await request.json()  # strict (StrictJSONRoute)
    except json.JSONDecodeError as exc:
        error = not_json(exc.pos, exc.msg)
        raise ProblemError(422, f"{error.field}: {error.message}", [error]) from None
