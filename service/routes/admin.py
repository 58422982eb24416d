"""``POST /v1/admin/reload``: swap in the models' current versions (SIGHUP does the same)."""

from __future__ import annotations

from fastapi import APIRouter

from service.problems import ProblemError
from service.routes.common import JSON, ServiceDep, problems
from service.schemas import ReloadResponse
from service.security import AdminKey

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses=problems(401, 403, 409),
    summary="Reload the models",
)
async def reload(_: AdminKey, service: ServiceDep) -> JSON:
    """Load every model whose files or registry version changed, check it on golden items, and
    swap it in atomically; requests in flight finish on the old one. A model that fails to load
    or to answer sensibly is refused (409) and the old one keeps serving."""
    results = [r.model_dump() for r in await service.reload()]
    refused = [r for r in results if r["outcome"] == "refused"]
    if refused:
        names = ", ".join(r["name"] for r in refused)
        raise ProblemError(
            409, f"refused: {names}; the previous versions keep serving", models=results
        )
    return JSON({"models": results})
