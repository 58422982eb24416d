"""Build the app: settings in, routes, middleware, error handling and lifecycle wired together.

The models are loaded before the app takes requests and reloaded on ``POST /v1/admin/reload`` or
on SIGHUP; both run the same reload off the request path (see :mod:`service.store`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pandas as pd
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware import Middleware

from eta import __version__
from eta.settings import Settings, get_settings
from service import problems
from service.engine import Engine, advance_outcomes
from service.metrics import Metrics
from service.middleware import BodyLimit, RequestContext
from service.routes import admin, health, models, outcomes, pages, quotes
from service.schemas import ReloadedModel
from service.security import Keyring
from service.sources import sources_from
from service.store import Deployment, ModelStore

log = logging.getLogger("eta.service")
JUDGE_EVERY = 30.0
"""Seconds between looks for likely times and promises that have fallen due."""


@dataclass
class Service:
    """Everything a request may need, in one place on ``app.state.service``."""

    settings: Settings
    keyring: Keyring
    store: ModelStore
    metrics: Metrics
    engine: Engine

    async def reload(self) -> list[ReloadedModel]:
        """Reload off the event loop and the engine thread: quotes keep flowing meanwhile."""
        results = await asyncio.to_thread(self.store.reload)
        for result in results:
            self.metrics.reloads.labels(result.name, result.outcome).inc()
        return results

    def live(self) -> Iterator[tuple[str, str, dict[str, tuple[int, int]]]]:
        """Each served model's version and its (kept, judged) outcomes per segment."""
        for name, deployment in self.store.deployed.items():
            outcomes = deployment.model.online_.outcomes
            yield name, deployment.version, {s: (k, n) for s, (k, n) in outcomes.items() if n}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    sources = sources_from(
        settings.model_dir, settings.registry, settings.state_dir, settings.tracking_uri
    )
    store = ModelStore(sources, settings.state_dir)
    service: Service

    def on_call(deployment: Deployment, quoted: int, failed: int) -> None:
        service.metrics.engine_calls.observe(quoted + failed)
        service.metrics.quotes.labels(deployment.name, deployment.version).inc(quoted)
        if failed:
            service.metrics.item_errors.labels(deployment.name).inc(failed)

    metrics = Metrics(lambda: service.live())
    service = Service(settings, Keyring(settings.api_keys), store, metrics, Engine(on_call))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.engine.start()
        for result in await service.reload():
            if result.outcome == "refused":
                log.error("not serving %s: %s", result.name, result.reason)
        _reload_on_sighup(service)
        judging = asyncio.create_task(_judge_when_due(service))
        yield
        judging.cancel()
        await asyncio.gather(judging, return_exceptions=True)
        await _save_outcomes(service)
        await service.engine.stop()

    # The API docs' scripts ship with the package: the service works without the internet.
    app = FastAPIOffline(
        title="eta quote service",
        version=__version__,
        description=(
            "Realistic, padded ETAs: the likely time, a promise that holds at its confidence "
            "level, when to follow up, and the risks worth mentioning. Send an API key in the "
            "`X-API-Key` header; errors are RFC 9457 problem details."
        ),
        lifespan=lifespan,
        middleware=[
            Middleware(RequestContext, observe=metrics.observe_request),
            Middleware(BodyLimit, limit=settings.max_body_bytes),
        ],
    )
    app.state.service = service
    problems.install(app)
    routers = (quotes, outcomes, models, admin, health, pages)
    for router in (module.router for module in routers):
        app.include_router(router)
    pages.mount(app)
    return app


async def _judge_when_due(service: Service, every: float = JUDGE_EVERY) -> None:
    """Promises fall due between reports too: judge them as their time passes, and keep what
    outcomes taught each model (:meth:`Deployment.save_outcomes`)."""
    while True:
        await asyncio.sleep(every)
        now = pd.Timestamp.now(tz="UTC")
        for deployment in list(service.store.deployed.values()):
            try:
                await service.engine.run(advance_outcomes, deployment, now)
            except Exception:
                log.exception("judging due outcomes of %s failed", deployment.name)
        await _save_outcomes(service)


async def _save_outcomes(service: Service) -> None:
    for deployment in list(service.store.deployed.values()):
        try:
            await service.engine.run(deployment.save_outcomes)
        except Exception:  # a full disk must not stop the judging
            log.exception("saving the outcome state of %s failed", deployment.name)


def _reload_on_sighup(service: Service) -> None:
    """SIGHUP reloads the models, as daemons do; only possible in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(service.reload()))
    except (NotImplementedError, RuntimeError, ValueError):  # not on this platform or loop
        log.warning("SIGHUP reload is not available here; use POST /v1/admin/reload")
