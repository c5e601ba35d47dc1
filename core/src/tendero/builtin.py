"""The ``core`` plugin: Tendero's own hook implementations, registered like any other."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from tendero import hookimpl

EXPIRY_TASK = web.AppKey("tendero.expiry_task", asyncio.Task)
EXPIRY_INTERVAL_SECONDS = 300


@hookimpl
def search_products(query: str, limit: int, catalog: Any) -> Any:
    """The built-in fuzzy search (typos, accents, singular/plural, es/en forms)."""
    return catalog.fuzzy_search(query, limit=limit)


@hookimpl
def agent_graph(context: Any) -> Any:
    """The built-in one-node agent graph (:mod:`tendero.agent.graph`)."""
    from tendero.agent.graph import build_graph

    return build_graph(context.checkpointer)


@hookimpl
def startup(app: web.Application) -> None:
    """Start the unpaid-order expiry job (cancel and return stock)."""
    from tendero.app import DATABASE, PLUGINS
    from tendero.orders.service import run_expiry_job
    from tendero.store.service import get_published

    app[EXPIRY_TASK] = asyncio.create_task(
        run_expiry_job(app[DATABASE], get_published, EXPIRY_INTERVAL_SECONDS, app[PLUGINS]),
        name="tendero-unpaid-order-expiry",
    )


@hookimpl
async def shutdown(app: web.Application) -> None:
    task = app.get(EXPIRY_TASK)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
