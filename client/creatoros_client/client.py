"""The low-level clients: `Client` (sync) and `AsyncClient`.

Both take the same arguments and expose the same resources. They differ
only in `_send` (one request with its retries) and `run` (driving a flow),
which must be written once per flavour because one blocks and the other
awaits; everything else (requests, retry policy, errors) is in `_core` and
`_ops`, shared.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from creatoros_client import models as m
from creatoros_client import resources
from creatoros_client._core import (
    TRANSPORT_ERRORS,
    Call,
    Consistency,
    Flow,
    RetryPolicy,
    TokenSource,
    build_request,
    current_token,
    outcome_value,
    single,
)

T = TypeVar("T")


def with_request_timeout(policy: RetryPolicy, seconds: float | None) -> RetryPolicy:
    """`policy` with one request's time limit set to `seconds` (None: as it
    is), and a retry budget that leaves room for at least one such request."""
    if seconds is None:
        return policy
    if seconds <= 0:
        raise ValueError(f"timeout must be positive seconds, not {seconds!r}")
    return replace(policy, timeout=seconds, budget=max(policy.budget, seconds))


class _Base:
    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = with_request_timeout(retry or RetryPolicy(), timeout)
        # The newest consistency token a write answered with (read-your-writes).
        self.consistency = Consistency()

    def bind_resources(self) -> None:
        """Make the resources, bound to this client's runner."""
        raise NotImplementedError

    def with_timeout(self, seconds: float) -> Self:
        """This client with another time limit per request, for the calls
        made through it (`api.with_timeout(5).projects.get(pid)`): same
        connection pool, token and read-your-writes state; this one unchanged."""
        clone = copy.copy(self)
        clone.retry = with_request_timeout(self.retry, seconds)
        clone.bind_resources()
        return clone


class Client(_Base):
    """Blocking client. `token` is a JWT or a callable returning a fresh one;
    `timeout` one request's limit in seconds (default `RetryPolicy.timeout`)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, token=token, retry=retry, timeout=timeout)
        self._http = http or httpx.Client(base_url=self.base_url)
        self.bind_resources()

    def bind_resources(self) -> None:
        self.projects = resources.Projects(self.call)
        self.contents = resources.Contents(self.call)
        self.trees = resources.Trees(self.call)
        self.frameworks = resources.Frameworks(self.call)
        self.audiences = resources.Audiences(self.call)
        self.market_research = resources.MarketResearch(self.call)
        self.tags = resources.Tags(self.call)
        self.search = resources.Search(self.call)
        # Issue 23: `api.revisions(project)`, `api.diff(…)`, `api.restore(…)`.
        self.revisions = resources.Revisions(self.call)
        self.diff = self.revisions.diff
        self.restore = self.revisions.restore
        self.minds = resources.Minds(self.call)

    def iter_projects(self, **filters: Any) -> Iterator[m.Project]:
        """Every project the caller may read (with `filters`), following cursors."""
        return self.projects.iterate(**filters)

    def iter_contents(self, **filters: Any) -> Iterator[m.Content]:
        """Every content the caller may read (`project_id=`, `status=`, …)."""
        return self.contents.iterate(**filters)

    def iter_search(self, q: str, **filters: Any) -> Iterator[m.SearchHit]:
        """Every search hit, best first."""
        return self.search.iterate(q, **filters)

    def _send(self, call: Call[T]) -> T:
        attempts = self.retry.start()
        while True:
            request = build_request(
                self._http, call, current_token(self.token), attempts, self.consistency
            )
            outcome: httpx.Response | Exception
            try:
                outcome = self._http.send(request)
            except TRANSPORT_ERRORS as exc:
                outcome = exc
            else:
                self.consistency.observe(outcome)
            wait = attempts.delay(call, outcome)
            if wait is None:
                return outcome_value(call, outcome)
            time.sleep(wait)

    def call(self, call: Call[T]) -> T:
        return self.run(single(call))

    def run(self, flow: Flow[T]) -> T:
        """Drive a multi-request flow; an error is thrown into it, so a flow
        may handle, say, a 404 itself."""
        try:
            call = next(flow)
            while True:
                try:
                    result: Any = self._send(call)
                except Exception as exc:
                    call = flow.throw(exc)
                else:
                    call = flow.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """The same, for asyncio: every resource method is awaited."""

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, token=token, retry=retry, timeout=timeout)
        self._http = http or httpx.AsyncClient(base_url=self.base_url)
        self.bind_resources()

    def bind_resources(self) -> None:
        self.projects = resources.AsyncProjects(self.call)
        self.contents = resources.AsyncContents(self.call)
        self.trees = resources.AsyncTrees(self.call)
        self.frameworks = resources.AsyncFrameworks(self.call)
        self.audiences = resources.AsyncAudiences(self.call)
        self.market_research = resources.AsyncMarketResearch(self.call)
        self.tags = resources.AsyncTags(self.call)
        self.search = resources.AsyncSearch(self.call)
        self.revisions = resources.AsyncRevisions(self.call)
        self.diff = self.revisions.diff
        self.restore = self.revisions.restore
        self.minds = resources.AsyncMinds(self.call)

    def iter_projects(self, **filters: Any) -> AsyncIterator[m.Project]:
        return self.projects.iterate(**filters)

    def iter_contents(self, **filters: Any) -> AsyncIterator[m.Content]:
        return self.contents.iterate(**filters)

    def iter_search(self, q: str, **filters: Any) -> AsyncIterator[m.SearchHit]:
        return self.search.iterate(q, **filters)

    async def _send(self, call: Call[T]) -> T:
        attempts = self.retry.start()
        while True:
            request = build_request(
                self._http, call, current_token(self.token), attempts, self.consistency
            )
            outcome: httpx.Response | Exception
            try:
                outcome = await self._http.send(request)
            except TRANSPORT_ERRORS as exc:
                outcome = exc
            else:
                self.consistency.observe(outcome)
            wait = attempts.delay(call, outcome)
            if wait is None:
                return outcome_value(call, outcome)
            await asyncio.sleep(wait)

    async def call(self, call: Call[T]) -> T:
        return await self.run(single(call))

    async def run(self, flow: Flow[T]) -> T:
        try:
            call = next(flow)
            while True:
                try:
                    result: Any = await self._send(call)
                except Exception as exc:
                    call = flow.throw(exc)
                else:
                    call = flow.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
