"""What the routers share: the service handle, JSON responses, documented error statuses."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from service.problems import PROBLEM_JSON, FieldError, Problem, ProblemError


async def _service(request: Request) -> Any:
    return request.app.state.service  # async: a plain function would run in a worker thread


ServiceDep = Annotated[Any, Depends(_service)]


class JSON(Response):
    """orjson straight to bytes: the response models document the shape, tests check it, and
    the quote path skips a second validation of what it just built."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = orjson.loads(body)
            except orjson.JSONDecodeError:
                _require_utf8(body)  # the request cannot be read at all (400), not invalid (422)
                raise
        return self._json


def _require_utf8(body: bytes) -> None:
    """Refuse a body that is not UTF-8 text, saying where: "not valid JSON at character 12"
    sent a client whose JSON was fine, but encoded as Latin-1, looking for a JSON mistake."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            400,
            f"the body is not UTF-8 text (byte {body[exc.start]:#x} at offset {exc.start}); "
            "send JSON encoded as UTF-8",
        ) from None


class StrictJSONRoute(APIRoute):
    """Request bodies read as strict JSON, by orjson: Python's ``json`` module also reads a
    bare ``NaN`` or ``Infinity``, which JSON does not have, so one route quoted a weight of
    ``NaN`` as unknown while the batch route refused the same body. Now every route refuses it
    (422, "not valid JSON at character N": orjson's error is a ``json.JSONDecodeError``, which
    FastAPI turns into a validation problem, :func:`service.problems.not_json` its words)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            scope = request.scope
            if request.headers.get("content-type") is None:  # FastAPI would not read it as JSON
                scope = {**scope, "headers": [*scope["headers"], (b"content-type", _JSON)]}
            else:
                _require_json(request.headers["content-type"])
            return await handler(_StrictJSONRequest(scope, request.receive))

        return strict


_JSON = b"application/json"


def _require_json(content_type: str) -> None:
    """A body said to be something else is refused by its header, on every route alike: the
    batch route used to read JSON sent as text/plain while the others refused it with "Input
    should be a valid dictionary", which did not say why. No header at all reads as JSON (on
    every route: the single quote and outcomes routes said "Input should be a valid
    dictionary" to it)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise ProblemError(
            422,
            f"send the body as JSON with the header Content-Type: application/json (got {kind!r})",
            [FieldError(field="(headers).content-type", message=f"{kind!r} is not JSON")],
        )


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
