"""Pure ASGI middleware: a request id and a latency sample for every request, a body size limit.

Pure ASGI rather than ``BaseHTTPMiddleware``: it costs microseconds instead of a task per request,
which matters when a quote itself is a few milliseconds.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.problems import problem_response

log = logging.getLogger("eta.service")
REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContext:
    """Give each request an id (the caller's ``X-Request-ID`` when it is sane), echo it in the
    response headers, time the request (``Server-Timing`` header and the latency histogram), and
    turn anything unexpected into a 500 problem that carries the id instead of a stack trace (the
    traceback goes to the log under the same id)."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int, float], None]) -> None:
        self.app, self.observe = app, observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                took = f"app;dur={(time.perf_counter() - began) * 1000:.2f}"
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    (b"server-timing", took.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s failed", request_id)
            if started:
                raise
            status = 500
            response = problem_response(
                500, "The service failed to answer; the error is logged.", request_id
            )
            await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "(unmatched)"
            self.observe(scope["method"], path, status, time.perf_counter() - began)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit:,} bytes")


class BodyLimit:
    """413 for bodies over ``limit`` bytes: from ``Content-Length`` before anything is read, and
    while reading for bodies sent without one (chunked)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            detail = (
                f"request bodies are limited to {self.limit:,} bytes"
                if length.isdigit()
                else "Content-Length is not a number"
            )
            status = 413 if length.isdigit() else 400
            response = problem_response(status, detail, scope.get("state", {}).get("request_id"))
            await response(scope, receive, send)
            return
        received = 0

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, receive_with_limit, send)
