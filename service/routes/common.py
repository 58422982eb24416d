"""What the routers share: the service handle, JSON responses, documented error statuses."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from service.problems import PROBLEM_JSON, Problem


async def _service(request: Request) -> Any:
    return request.app.state.service  # async: a plain function would run in a worker thread


ServiceDep = Annotated[Any, Depends(_service)]


class JSON(Response):
    """orjson straight to bytes: the response models document the shape, tests check it, and
    the quote path skips a second validation of what it just built."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


_MEANINGS = {
    400: "The request could not be read (a bad Content-Length, or a body not UTF-8 text).",
    401: "No API key, or an unknown one.",
    403: "The API key lacks the scope this needs.",
    404: "No such resource.",
    409: "A model was refused; the others were reloaded and the old one keeps serving.",
    413: "The request body is larger than the service accepts.",
    422: "The request is invalid; `errors` names each field at fault.",
    503: "No model is loaded, or the engine is not answering.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route may send; any request may be
    malformed (400), whatever the route."""
    return {
        status: {
            "description": _MEANINGS[status],
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted({400, *statuses})
    }
