"""Authentication as a FastAPI dependency: a route that takes a `Caller` runs only for a valid bearer key.

A key (`fincopilot/server/keys.py`) carries a role and a stable principal id; a missing, malformed, wrong or
revoked key is a 401 naming the Bearer scheme.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fincopilot.server.context import server_context
from fincopilot.server.errors import Unauthorized
from fincopilot.server.keys import ApiKey


def caller(request: Request) -> ApiKey:
    """The API key the request authenticates with."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized(
            "Missing API key: send `Authorization: Bearer <key>` "
            "(create one with `fincopilot keys create --role advisor`)"
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Malformed Authorization header: expected `Bearer <key>`")
    key = server_context(request).keys.verify(token)
    if key is None:
        raise Unauthorized("Incorrect or revoked API key")
    return key


Caller = Annotated[ApiKey, Depends(caller)]
