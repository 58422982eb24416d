"""The web pages: an agent console and a checkout widget demo, plain HTML + JS, no build step.

The pages are public; the API calls they make carry the key the user types in (or passes in the
URL fragment, which never reaches a server log). They load nothing from outside the service.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse

PAGES = Path(__file__).resolve().parent.parent / "pages"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(PAGES / name, media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/")
async def index() -> FileResponse:
    return _page("index.html")


@router.get("/console")
async def console() -> FileResponse:
    return _page("console.html")


@router.get("/checkout")
async def checkout() -> FileResponse:
    return _page("checkout.html")


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=PAGES / "static"), name="static")
