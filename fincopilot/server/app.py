"""The FastAPI app: OpenAI-compatible `/v1` endpoints, the page and its JSON/SSE API, threads and review.

    app = create_app()                       # the `fincopilot-advisor` graph on the real CopilotRunner
    app = create_app(runners={"fincopilot-advisor": runner})   # tests, custom graphs

The routes live by area (`openai_api`, `page`, `threads`); they share one `ServerContext` (`context`), take
the caller through the `Caller` dependency (`auth`), read bodies one way (`bodies`), show runs through the
release policy (`fincopilot.graphs.release`), and every error is answered from one table (`errors`).
Details in docs/interfaces.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from fincopilot import __version__
from fincopilot.server import errors, openai_api, page, threads
from fincopilot.server.auth import caller
from fincopilot.server.bodies import DEFAULT_MODEL
from fincopilot.server.context import RunnerLike, ServerContext
from fincopilot.server.keys import KeyStore
from fincopilot.state.threads import ThreadIndex

__all__ = ["DEFAULT_MODEL", "create_app"]


def create_app(
    runners: Mapping[str, RunnerLike] | None = None,
    *,
    keys: KeyStore | None = None,
    index: ThreadIndex | None = None,
    max_workers: int = 32,
) -> FastAPI:
    """Build the server. Without `runners`, `fincopilot-advisor` is the real CopilotRunner (built lazily)."""
    ctx = ServerContext.build(runners, keys, index, max_workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.service.start_reaper()  # continue runs whose replica died
        yield
        ctx.shutdown()

    # No public /docs or /openapi.json: the schema maps the attack surface, so it is served only with a key.
    app = FastAPI(
        title="FinCopilot",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)
    for router in (page.router, openai_api.router, threads.router):
        app.include_router(router)
    app.add_api_route("/openapi.json", _openapi_schema, methods=["GET"], include_in_schema=False)
    app.add_api_route("/healthz", _healthz, methods=["GET"], include_in_schema=False)
    return app


async def _openapi_schema(request: Request) -> dict[str, Any]:
    caller(request)  # 401 without a valid key
    return request.app.openapi()


async def _healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
