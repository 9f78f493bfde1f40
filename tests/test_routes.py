"""Every route's dependencies are coroutines: FastAPI runs a plain `def`
dependency in a worker thread, a hop that costs about 80 µs of CPU and a
wake-up of the event loop per request (seen: one per tree read, from its
query-parameter dependency), for functions that do no blocking work."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.health import router as health_router
from app.main import API_ROUTERS

pytestmark = pytest.mark.pure


def dependencies(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependencies(sub)


def runs_on_the_loop(call: Any) -> bool:
    """An async function or async generator, or an instance whose class's
    __call__ is one (FastAPI's security classes). A class is called in a
    thread (FastAPI builds it there)."""
    if inspect.isclass(call):
        return False
    method = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    return inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


def test_no_route_runs_a_dependency_in_a_worker_thread() -> None:
    routes = [r for router in (health_router, *API_ROUTERS) for r in router.routes]
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api_routes) > 40
    threaded = {
        f"{getattr(call, '__qualname__', call)} ({route.path})"
        for route in api_routes
        for call in [route.endpoint, *dependencies(route.dependant)]
        if not runs_on_the_loop(call)
    }
    assert not threaded, sorted(threaded)
