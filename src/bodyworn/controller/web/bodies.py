"""Request bodies: one size limit in front of every route, and JSON read strictly.

The app's limit (`MAX_BODY_BYTES`) covers every route, logged in or not: the body is
counted as it streams in, so an oversized one is refused with 413 after at most the limit
has been read. The few routes that take a file set a limit of their own where they are
declared, sized for that file (`upload_limits` finds them); nothing else may. A body
whose Content-Length is over the limit is refused by `DeclaredSizes` before the gate or
any route sees the request: a route that never reads its body (a logout, a DELETE) must
not act and then answer 413.

JSON bodies are checked by `StrictJsonBodies` before any route reads them: a key given
twice, NaN, or nesting deeper than `strict_json.MAX_DEPTH` is refused with 400 and a
sentence, so what FastAPI (or a machine route) parses next is plain, shallow JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bodyworn.domain.strict_json import JsonRefused, loads

# JSON and form bodies: the largest the manager sends is a connection file (64 KiB) in
# a form; a megabyte leaves room without letting anyone make the server hold much.
MAX_BODY_BYTES = 1024 * 1024
_CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


def is_json(content_type: str) -> bool:
    """True for application/json and application/<anything>+json."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


def upload_limits(routes: Iterable[Any], prefix: str = "") -> dict[tuple[str, str], int]:
    """Every route that takes a file, with the limit it set for itself: (method, path) ->
    bytes. A route sets one with `max_body_size=` where it is declared, sized for its file."""
    found: dict[tuple[str, str], int] = {}
    for route in routes:
        if isinstance(route, Mount):
            continue
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps an included router as a wrapper
            found |= upload_limits(included.routes, prefix + route.include_context.prefix)
        elif getattr(route, "max_body_size", None) is not None:
            for method in route.methods or ():
                found[(method, prefix + route.path)] = route.max_body_size
    return found


def body_limit(limits: Mapping[tuple[str, str], int], method: str, path: str) -> int:
    """The most bytes a request body to this route may have."""
    return limits.get((method, path), MAX_BODY_BYTES)


class DeclaredSizes:
    """Refuses (413) a request whose Content-Length is over its route's limit, at once.

    `limits` are the upload routes' own (`upload_limits`); it may be filled after the
    middleware is added, once the routers are in.
    """

    def __init__(self, app: ASGIApp, limits: Mapping[tuple[str, str], int]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 without reading the body, or hand the request on untouched."""
        if scope["type"] == "http":
            declared = Headers(scope=scope).get("content-length", "").strip()
            # Not a number: uvicorn and h11 refuse it before it gets here; left to them.
            if (declared.isascii() and declared.isdigit()
                    and (len(declared) > 18 or int(declared)
                         > body_limit(self.limits, scope["method"], scope["path"]))):
                await _answer(send, 413, "the request body is larger than this route takes")
                return
        await self.app(scope, receive, send)


class StrictJsonBodies:
    """Refuses (400) a JSON request body that is not strict JSON; passes everything else.

    Sits inside the app's body limit, so the body it reads is bounded by it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one request's JSON body, then hand the request on with the body replayed."""
        if (scope["type"] != "http" or scope["method"] not in _CHANGES
                or not is_json(Headers(scope=scope).get("content-type", ""))):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body:
            try:
                loads(body)
            except JsonRefused as exc:
                await _refuse(send, str(exc))
                return
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)


async def _refuse(send: Send, why: str) -> None:
    await _answer(send, 400, f"the request body is not acceptable JSON: {why}")


async def _answer(send: Send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
    ]})
    await send({"type": "http.response.body", "body": payload})
