"""Request bodies: refused, when they must be, before they are read whole
or parsed.

`BodyGuard` (outermost of the app's middleware) looks at a request with a
body before any of it is read, then at each chunk as it arrives:

1. the caller: a bad token is a 401 at once; a request without a signed-in
   user's token may send ANON_MAX_BODY_BYTES (no endpoint takes more from
   anonymous callers), a signed-in one MAX_BODY_BYTES. A declared
   `Content-Length` over the caller's limit is refused before a byte is read
   (401 for an anonymous caller, who may only send small bodies; 413
   otherwise); a chunked body is counted as it streams and refused as soon
   as it passes the limit;
2. the process's budget: bodies over ANON_MAX_BODY_BYTES held at once (from
   their first byte until their answer) may add up to BODY_BYTES_IN_FLIGHT;
   one beyond it is a 503 with `Retry-After` (one alone always gets in);
3. the body's shape: its JSON arrays and objects are counted as it streams
   (`app.http.bodies.BodyShape`, C-speed byte operations) and a body holding
   more than its size allows is a 422 before the parser builds anything,
   usually long before it is read whole: 15 MiB of `[],` would take ~730 MB
   and ~2 s of the only event loop to parse.

Every refusal is an application/problem+json answer. A refusal mid-stream
replaces whatever the app answered to the failed read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.bodies import SHAPE_CHECKED, BodyShape, container_allowance, too_many_containers
from app.http.problems import (
    Busy,
    InvalidToken,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
)


class BodyBudget:
    """Bytes of big bodies this process holds at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int, already: int = 0) -> bool:
        """Hold `size` more bytes for a request that holds `already`, if the
        budget has room or no other request holds any."""
        if self.held > already and self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


class _Refused(Exception):
    pass


def shape_refusal(size: int) -> ProblemError:
    """The 422 for a body with too many containers, worded as the parser's
    own refusals are (`app.http.bodies.InvalidJson` through FastAPI)."""
    reason = too_many_containers(size)
    return ValidationFailed("the request does not match the schema").with_errors(
        [{"loc": ["body"], "msg": f"JSON decode error: {reason}", "type": "json_invalid"}]
    )


class BodyGuard:
    """See the module's docstring. `signed_in(scope)` says whether the
    request carries a signed-in user's valid token (raising the problem a
    bad token is): the HTTP kit knows no tokens."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        anonymous_max_bytes: int,
        bytes_in_flight: int,
        signed_in: Callable[[Scope], bool],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.anonymous_max_bytes = anonymous_max_bytes
        self.budget = BodyBudget(bytes_in_flight)
        self.signed_in = signed_in

    def _too_large(self, signed_in: bool) -> ProblemError:
        if not signed_in:
            return InvalidToken(
                f"a request body over {self.anonymous_max_bytes} bytes (ANON_MAX_BODY_BYTES)"
                " needs a signed-in user's bearer token"
            )
        return PayloadTooLarge(
            f"the request body is larger than {self.max_bytes} bytes (MAX_BODY_BYTES)"
        )

    def _busy(self) -> ProblemError:
        return Busy(
            "this process is reading as many big request bodies as it may"
            " (BODY_BYTES_IN_FLIGHT); retry shortly"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"transfer-encoding":
                chunked = True
        if not declared and not chunked:  # no body: nothing to guard
            await self.app(scope, receive, send)
            return
        try:
            signed_in = self.signed_in(scope)
        except ProblemError as problem:
            await problem.response()(scope, receive, send)
            return
        limit = self.max_bytes if signed_in else self.anonymous_max_bytes
        held = 0
        if declared is not None:
            if declared > limit:
                await self._too_large(signed_in).response()(scope, receive, send)
                return
            if declared > self.anonymous_max_bytes:
                if not self.budget.take(declared):
                    await self._busy().response()(scope, receive, send)
                    return
                held = declared
        shape = BodyShape(container_allowance(limit if declared is None else declared))
        received = 0
        refusal: ProblemError | None = None

        def refuse(problem: ProblemError) -> _Refused:
            nonlocal refusal
            refusal = problem
            return _Refused()

        async def guarded_receive() -> Message:
            nonlocal received, held
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise refuse(self._too_large(signed_in))
            if declared is None and received > self.anonymous_max_bytes:
                # A chunked body holds its bytes of the budget as they come.
                taken = received - held
                if not self.budget.take(taken, held):
                    raise refuse(self._busy())
                held += taken
            if not shape.feed(chunk):
                raise refuse(shape_refusal(received if declared is None else declared))
            if declared is not None and not message.get("more_body", False):
                # Counted against the allowance of its true size: the parse
                # need not count again. (A chunked body was held to its
                # limit's allowance while it streamed: the parse checks it.)
                scope.setdefault("state", {})[SHAPE_CHECKED] = True
            return message

        async def guarded_send(message: Message) -> None:
            # Once the body was refused, whatever the app answers to the failed
            # read (FastAPI turns it into a 400) is replaced by the refusal.
            if refusal is None:
                await send(message)

        try:
            with contextlib.suppress(_Refused):
                await self.app(scope, guarded_receive, guarded_send)
            if refusal is not None:
                await refusal.response()(scope, receive, send)
        finally:
            self.budget.give_back(held)
