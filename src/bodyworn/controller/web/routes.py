"""How routes call services: one transaction per call off the event loop, refusals as 4xx.

A route does three things: read the request, call a service through `run(request)`, and
shape the answer. It holds no queries and opens no sessions of its own.

    view = await run(request, f"no camera {serial}").call(service.add, serial, **who(request))
    rows = await run(request).read(service.list_cameras, state)
    await run(request).write(service.rename, name, **who(request))

`write` runs `fn(session, clock, …)` in one transaction (`ControllerContext.transact`),
`read` runs `fn(session, …)` in one that writes nothing, and `call` runs `fn(ctx, …)` for
the services that talk to a camera between their own transactions. A `Refused` the
route does not catch is answered by `answer_refusal` (installed by app.py): JSON under
/api/ and on the machine routes, the error page elsewhere. When `missing` is given, a
LookupError from the service becomes `NotFound(missing)`, a 404 answered the same way.
A page that re-renders its form catches the service's refusal itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypedDict, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of
from bodyworn.controller.refusals import NotFound, Refused
from bodyworn.docklink import wire
from bodyworn.domain.clock import Clock

# Machines (docking stations, the dock RFID reader) carry the dock port token instead of a
# session; their routes check it themselves (accounts/guard.py lets them through).
MACHINE = {("POST", wire.EVENTS_PATH), ("POST", wire.TAPS_PATH)}
P = ParamSpec("P")
T = TypeVar("T")


class Who(TypedDict):
    """Who asked for a change, for the audit log."""

    actor: str
    source: str


def actor_of(request: Request) -> str:
    """The logged-in account's user name."""
    return str(request.state.account.username)


def who(request: Request) -> Who:
    """`actor=` and `source=` for a service call that audits."""
    return Who(actor=actor_of(request), source=source_of(request))


class Runner:
    """Runs services for one request (see the module's doc)."""

    def __init__(self, request: Request, missing: str | None = None) -> None:
        self.ctx = ctx_of(request)
        self.missing = missing

    async def write(self, fn: Callable[Concatenate[Session, Clock, P], T], *args: P.args,
                    **kwargs: P.kwargs) -> T:
        """`fn(session, clock, *args, **kwargs)` in one transaction."""
        return await self._mapped(self.ctx.transact(fn, *args, **kwargs))

    async def read(self, fn: Callable[Concatenate[Session, P], T], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        """`fn(session, *args, **kwargs)` in a transaction that writes nothing."""
        return await self._mapped(self.ctx.read(fn, *args, **kwargs))

    async def call(self, fn: Callable[Concatenate[ControllerContext, P], T], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        """`fn(ctx, *args, **kwargs)` in a worker thread (it opens its own transactions)."""
        return await self._mapped(run_in_threadpool(fn, self.ctx, *args, **kwargs))

    async def _mapped(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except Refused:
            raise
        except LookupError as exc:
            if self.missing is None:
                raise
            raise NotFound(self.missing) from exc


def run(request: Request, missing: str | None = None) -> Runner:
    """A runner for this request; `missing` is the 404's text when a row is not there."""
    return Runner(request, missing)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read no further than the first chunk past `limit` bytes."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            break
    return raw


def secret_download(name: str, data: bytes) -> Response:
    """A JSON file (a System restore key) as a download that no cache keeps."""
    return Response(data, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
    })


def answers_json(request: Request) -> bool:
    """API and machine routes answer JSON; pages answer HTML."""
    return request.url.path.startswith("/api/") or (request.method, request.url.path) in MACHINE


async def answer_refusal(request: Request, exc: Exception) -> Response:
    """The app's answer to a refusal no route caught."""
    assert isinstance(exc, Refused)
    if answers_json(request):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())
    return render(request, "error.html", {"status_code": exc.status, "message": exc.message},
                  exc.status)
