"""Errors as RFC 9457 problem details: what went wrong and which field, never a stack trace.

Every error the service sends is ``application/problem+json`` with the request id in it, so a
caller can quote one id to the operator, who finds the full story (traceback included) in the log.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("eta.service")


class FieldError(BaseModel):
    """One bad input: the field as a path into the request body, and what is wrong with it."""

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus the request id and the fields at fault."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    request_id: str | None = None
    errors: list[FieldError] = []


class ProblemError(Exception):
    """Raised by route code to answer with a problem; ``errors`` names the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[FieldError] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.extra = status, detail, errors or [], extra


def detail_of(errors: list[FieldError]) -> str:
    """A problem's one-line detail: each field and what is wrong with it."""
    return "; ".join(f"{e.field}: {e.message}" for e in errors)


def problem_body(
    status: int,
    detail: str | None,
    request_id: str | None,
    errors: list[FieldError] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": request_id,
        "errors": [e.model_dump() for e in errors or []],
    }
    return body | extra


def problem_response(
    status: int,
    detail: str | None,
    request_id: str | None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status, detail, request_id, errors, **extra)
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'items', 3, 'started_at') -> 'items[3].started_at'."""
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header") and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def validation_errors(
    errors: list[dict[str, Any]], prefix: tuple[Any, ...] = ()
) -> list[FieldError]:
    """Pydantic's errors as fields and messages a person can act on."""
    return [_field_error(e, prefix) for e in errors]


def not_json(position: int, reason: str) -> FieldError:
    """The body is not JSON (a bare ``NaN`` included): where, and what the parser expected."""
    return FieldError(field="(body)", message=f"not valid JSON at character {position}: {reason}")


def _field_error(error: dict[str, Any], prefix: tuple[Any, ...]) -> FieldError:
    if error.get("type") == "json_invalid":  # FastAPI's: the location is a character offset
        return not_json(error["loc"][-1], (error.get("ctx") or {}).get("error", "?"))
    return FieldError(
        field=field_path((*prefix, *error["loc"])),
        message=str(error["msg"]).removeprefix("Value error, "),
    )


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def install(app: FastAPI) -> None:
    """Answer every error the framework or the routes raise as a problem."""
    from service.engine import EngineUnavailable

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status, exc.detail, request_id_of(request), exc.errors, **exc.extra
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code, detail, request_id_of(request), headers=exc.headers
        )

    @app.exception_handler(EngineUnavailable)
    async def _unavailable(request: Request, exc: EngineUnavailable) -> Response:
        return problem_response(503, "The quote engine is not running.", request_id_of(request))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(list(exc.errors()))
        detail = detail_of(errors[:3])
        return problem_response(422, detail, request_id_of(request), errors)
