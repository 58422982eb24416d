"""Run the service with uvicorn (``eta serve``, and the end of ``eta demo``).

One process: the models, their outcome state and the hot swap live in it, and the engine answers
on one thread anyway (see :mod:`service.engine`). Run more processes behind a load balancer to
use more cores.
"""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn
from rich.console import Console

from eta.settings import Settings
from service.app import create_app
from service.security import SCOPES, new_key

DEFAULT_MODEL_DIR = Path("models")


def serve(settings: Settings, console: Console) -> None:
    """Serve until interrupted; without configured keys, make a one-time key with every scope."""
    if settings.model_dir is None and not settings.registry:
        settings = settings.model_copy(update={"model_dir": DEFAULT_MODEL_DIR})
    key = None
    if not settings.api_keys:
        key, entry = new_key("one-time", SCOPES)
        settings = settings.model_copy(update={"api_keys": (entry,)})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = create_app(settings)
    base = f"http://{_display_host(settings.host)}:{settings.port}"
    fragment = f"#key={key}" if key else ""
    sources = [str(settings.model_dir)] if settings.model_dir else []
    serving = ", ".join(sources + list(settings.registry))
    console.print(f"\n[bold]eta quote service[/] on {base} serving {serving}")
    if key:
        console.print(
            f"No ETA_API_KEYS configured: a one-time key with every scope (not stored): {key}",
            highlight=False,
        )
    console.print(f"  agent console    {base}/console{fragment}", highlight=False, soft_wrap=True)
    console.print(f"  checkout widget  {base}/checkout{fragment}", highlight=False, soft_wrap=True)
    console.print(f"  API docs         {base}/docs", highlight=False)
    console.print("  reload models    POST /v1/admin/reload, or kill -HUP <pid>; Ctrl-C stops\n")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def _display_host(host: str) -> str:
    return "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
