"""``/healthz`` (the process answers), ``/readyz`` (a model answers), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import Response

from service.engine import Options
from service.problems import ProblemError
from service.routes.common import JSON, ServiceDep, problems
from service.schemas import Health, QuoteRequest, Ready

router = APIRouter(tags=["health"])
READY_TIMEOUT = 2.0


@router.get("/healthz", response_model=Health, responses=problems(), summary="The process is alive")
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz", response_model=Ready, responses=problems(503), summary="Ready to quote")
async def readyz(service: ServiceDep) -> JSON:
    """Ready when a model is loaded and the engine quotes an item with it within two seconds."""
    deployed = service.store.deployed
    if not deployed:
        raise ProblemError(503, "no model is loaded")
    name, deployment = next(iter(deployed.items()))
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            [answer] = await service.engine.quote(
                deployment, Options(None, None, None), [QuoteRequest(model=name)]
            )
    except TimeoutError:
        raise ProblemError(503, f"the engine did not answer within {READY_TIMEOUT:g} s") from None
    if isinstance(answer, list):
        raise ProblemError(503, f"model {name!r} did not quote a probe item: {answer[0].message}")
    return JSON({"status": "ready", "models": sorted(deployed)})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **problems()},
)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")
