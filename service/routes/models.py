"""``GET /v1/models`` and ``GET /v1/models/{name}``: what is served and how it does."""

from __future__ import annotations

from fastapi import APIRouter

from service.problems import ProblemError
from service.routes.common import JSON, ServiceDep, problems
from service.schemas import ModelInfo, ModelList
from service.security import AnyKey
from service.store import Deployment

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get("", response_model=ModelList, responses=problems(401), summary="The models served")
async def list_models(_: AnyKey, service: ServiceDep) -> JSON:
    return JSON({"models": [describe(d) for d in service.store.deployed.values()]})


@router.get("/{name}", response_model=ModelInfo, responses=problems(401, 404), summary="One model")
async def get_model(name: str, _: AnyKey, service: ServiceDep) -> JSON:
    """Version, training window, backtest metrics, features (for forms) and the live on-time
    rate per segment since deployment."""
    deployment = service.store.get(name)
    if deployment is None:
        raise ProblemError(404, f"no model named {name!r} is served")
    return JSON(describe(deployment))


def describe(deployment: Deployment) -> dict:
    model = deployment.model
    spec = model.spec
    info = model.info_
    online = model.online_
    features = [
        {
            "name": column,
            "kind": kind,
            "values": list(model.categories_.get(column, [])),
            "phrases": _phrases(spec.features.phrases.get(column)),
        }
        for kind, columns in (
            ("categorical", spec.features.categorical),
            ("numeric", spec.features.numeric),
        )
        for column in columns
    ]
    return ModelInfo(
        name=deployment.name,
        version=deployment.version,
        source=deployment.source,
        loaded_at=deployment.loaded_at,
        kind=spec.kind,
        timezone=spec.timezone,
        clock=spec.clock,
        confidence=spec.confidence,
        start=spec.start,
        id=spec.id,
        features=features,
        segments=list(spec.segments),
        eta_version=info.get("eta_version"),
        as_of=info.get("as_of"),
        training_window=list(info.get("training_window") or []),
        rows=info.get("rows"),
        open_share=info.get("open_share"),
        backtest=deployment.backtest,
        live={
            segment: {"on_time_rate": kept / judged, "judged": judged}
            for segment, (kept, judged) in online.outcomes.items()
            if judged
        },
    ).model_dump(mode="json")


def _phrases(words: str | dict[str, str] | None) -> dict[str, str]:
    """A spec's phrase per language (a plain string is English)."""
    if words is None:
        return {}
    return {"en": words} if isinstance(words, str) else dict(words)
