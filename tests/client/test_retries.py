"""Errors and retries: which requests are repeated, how long it waits, what is raised.

The transport is httpx's MockTransport (no server needed to answer 503s on
cue); the live-server tests cover the real API."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from creatoros_client import ApiError, ApiUnreachable, Client, RetryPolicy
from creatoros_client._core import Attempts, Call, nothing, retry_after

FAST = RetryPolicy(attempts=4, budget=5.0, base=0.01, cap=0.05)
PROBLEM = {"type": "https://creatoros.dev/problems/not-found", "title": "Not Found",
           "status": 404, "detail": "project x does not exist"}  # fmt: skip


def client_answering(answers: list[httpx.Response | Exception], seen: list[httpx.Request],
                     **kwargs: object) -> Client:  # fmt: skip
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://api")
    return Client("http://api", http=http, **kwargs)  # type: ignore[arg-type]


def test_503_then_200_is_retried_honouring_retry_after() -> None:
    seen: list[httpx.Request] = []
    api = client_answering(
        [httpx.Response(503, headers={"Retry-After": "0.2"}), httpx.Response(204)],
        seen, retry=FAST,
    )  # fmt: skip
    started = time.monotonic()
    api.projects.delete("x")
    assert len(seen) == 2
    assert time.monotonic() - started >= 0.2


def test_a_post_without_a_key_is_never_repeated() -> None:
    seen: list[httpx.Request] = []
    api = client_answering([httpx.Response(503)], seen, retry=FAST)
    with pytest.raises(ApiError) as failed:
        api.call(Call("POST", "/v1/contents/x/anything", nothing))
    assert failed.value.status == 503 and failed.value.transient
    assert len(seen) == 1


def test_creating_posts_carry_a_key_and_are_repeated_with_it() -> None:
    seen: list[httpx.Request] = []
    created = {"id": "6f1c1d9e-58a4-4c55-9f5b-2f0e6f7e9a10",
               "project_id": "6f1c1d9e-58a4-4c55-9f5b-2f0e6f7e9a11",
               "research_type": "other", "title": None, "report_data": {}, "body": None,
               "competitors_count": None, "created_at": "2026-01-01T00:00:00Z",
               "updated_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    api = client_answering(
        [httpx.ConnectError("refused"), httpx.Response(502), httpx.Response(201, json=created)],
        seen, retry=FAST,
    )  # fmt: skip
    api.market_research.create({"research_type": "other", "report_data": {}}, project_id="p")
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1


def test_a_4xx_raises_at_once_with_the_problem() -> None:
    seen: list[httpx.Request] = []
    api = client_answering([httpx.Response(404, json=PROBLEM)], seen, retry=FAST)
    with pytest.raises(ApiError) as failed:
        api.projects.get("x")
    assert failed.value.status == 404 and not failed.value.transient
    assert failed.value.problem.detail == "project x does not exist"
    assert len(seen) == 1


def test_unreachable_gives_up_within_the_budget() -> None:
    seen: list[httpx.Request] = []
    policy = RetryPolicy(attempts=100, budget=0.5, base=0.05, cap=0.1)
    api = client_answering([httpx.ConnectError("refused")], seen, retry=policy)
    started = time.monotonic()
    with pytest.raises(ApiUnreachable):
        api.projects.get("x")
    assert time.monotonic() - started < 0.5 + 0.2
    assert 2 <= len(seen) < 100


def test_429_waits_for_retry_after_but_not_past_the_budget() -> None:
    seen: list[httpx.Request] = []
    policy = RetryPolicy(budget=1.0)
    api = client_answering([httpx.Response(429, headers={"Retry-After": "30"})], seen,
                           retry=policy)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ApiError) as failed:
        api.projects.get("x")
    assert failed.value.status == 429 and time.monotonic() - started < 1
    assert len(seen) == 1


def test_a_token_callable_is_asked_on_every_request() -> None:
    seen: list[httpx.Request] = []
    tokens = iter(["one", "two"])
    fresh: Callable[[], str] = lambda: next(tokens)  # noqa: E731
    api = client_answering([httpx.Response(503), httpx.Response(204)], seen, retry=FAST,
                           token=fresh)  # fmt: skip
    api.projects.delete("x")
    assert [r.headers["Authorization"] for r in seen] == ["Bearer one", "Bearer two"]


def test_retry_after_as_an_http_date() -> None:
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 10))
    wait = retry_after(httpx.Response(503, headers={"Retry-After": future}))
    assert wait is not None and 8 <= wait <= 10
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None


def test_backoff_grows_and_is_jittered() -> None:
    attempts = Attempts(RetryPolicy(attempts=10, budget=100, base=1, cap=8), time.monotonic())
    call = Call("GET", "/", nothing)
    waits = [attempts.delay(call, httpx.ConnectError("x")) for _ in range(6)]
    assert all(w is not None for w in waits)
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))  # type: ignore[operator]


def test_timeout_per_client_and_per_call() -> None:
    """`timeout=` is one request's limit (seconds), for the client or, through
    `with_timeout`, for the calls made through the view it returns."""
    seen: list[httpx.Request] = []

    def read_timeout(api: Client) -> float:
        api.projects.delete("x")
        return float(seen[-1].extensions["timeout"]["read"])

    default = client_answering([httpx.Response(204)], seen)
    # 30 s, clipped to what is left of the 20 s budget
    assert read_timeout(default) == pytest.approx(RetryPolicy().budget, abs=1)
    api = client_answering([httpx.Response(204)], seen, timeout=3.0)
    assert read_timeout(api) == 3.0
    assert read_timeout(api.with_timeout(0.5)) == 0.5
    assert read_timeout(api) == 3.0, "the client itself keeps its own"
    slow = client_answering([httpx.Response(204)], seen, timeout=60.0)
    assert read_timeout(slow) == pytest.approx(60, abs=1), "the budget makes room for it"
    with pytest.raises(ValueError, match="timeout"):
        Client("http://api", timeout=0)
