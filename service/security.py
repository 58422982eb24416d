"""API keys with scopes: who may quote, report outcomes, or change the models being served.

Keys are configured as SHA-256 digests (``ETA_API_KEYS``), never in the clear: a leaked config
file does not leak a key. SHA-256 without salt or stretching is the right tool here and would be
the wrong one for passwords: keys are 32 random bytes, so there is nothing to guess, and checking
one costs a microsecond on the quote path instead of the tens of milliseconds of a password hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from eta.settings import ApiKey, Scope
from service.problems import ProblemError

API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key; each key has scopes: quote, outcomes, admin.",
)
SCOPES: tuple[Scope, ...] = ("quote", "outcomes", "admin")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(name: str, scopes: Iterable[Scope]) -> tuple[str, ApiKey]:
    """A fresh random key and its configuration entry (which holds only the digest)."""
    key = "eta_" + secrets.token_urlsafe(32)
    return key, ApiKey(name=name, sha256=hash_key(key), scopes=tuple(scopes))


class Keyring:
    """The configured keys, looked up by digest in constant time."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys = tuple(keys)

    def find(self, presented: str | None) -> ApiKey | None:
        if not presented:
            return None
        digest = hash_key(presented)
        found = None
        for key in self.keys:  # compare with every key: the time says nothing about which
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return found


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that lets a request through only with a key holding ``scope``.

    Dependencies here are ``async`` although they never wait: FastAPI runs a plain function
    in a worker thread, and two thread hops per request cost more than the key check."""

    async def check(
        request: Request, presented: Annotated[str | None, Security(API_KEY)]
    ) -> ApiKey:
        key = request.app.state.service.keyring.find(presented)
        if key is None:
            raise ProblemError(401, "Send a valid API key in the X-API-Key header.")
        if scope not in key.scopes:
            raise ProblemError(403, f"This API key may not do this (it needs the '{scope}' scope).")
        return key

    return check


QuoteKey = Annotated[ApiKey, Depends(require("quote"))]
OutcomesKey = Annotated[ApiKey, Depends(require("outcomes"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]


async def any_key(request: Request, presented: Annotated[str | None, Security(API_KEY)]) -> ApiKey:
    key = request.app.state.service.keyring.find(presented)
    if key is None:
        raise ProblemError(401, "Send a valid API key in the X-API-Key header.")
    return key


AnyKey = Annotated[ApiKey, Depends(any_key)]
