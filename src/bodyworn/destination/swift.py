"""The embedded CD's Swift subset as an ASGI app: auth, containers, objects, listings.

It answers like OpenStack Swift where clients notice: `/auth/v1.0` hands out a token
and a `/v1/AUTH_<account>` storage URL; container PUT/POST merge metadata (an empty
value deletes a key), object POST replaces all of it; object PUT checks the request
ETag (422 on mismatch); GET/HEAD return `Etag` = md5 of the body and honour `Range`.
Listings page like Swift's (`prefix`, `marker`, `end_marker`, `limit`, `delimiter`; plain
text or `?format=json`), which is what `swift list` and rclone loop on. Metadata values
are stored exactly as sent (still URL-encoded) and returned as such. With `careful` (the
default) the EMS checks of `ems.py` apply: container PUT and POST are checked on the
merged metadata, object PUT and POST on their recording container's stored metadata,
rejected-content containers need `StoreRejectedContent` published, and a recording
whose Status is Complete is final (403 to any change). DELETE is refused (405):
evidence is not removed through the API.

For tests only, `FaultRule`s make it misbehave on purpose (error statuses, dropped
connections, slow answers, tokens expiring), and `requests` counts what reached it.

`CDMode.REFERENCE` makes it answer like the reference server of the CD API (the Go
example in AxisCommunications/body-worn-integration-api, as its README and behaviour
describe it; none of its code): no ETag in PUT or HEAD answers and none checked, tokens
for 15 minutes, GET only for `System/Capabilities.json` and `System/Categories.json`
(403 otherwise, listings included), object names without '/', no EMS checks (no 400
for unknown users). Containers are required before objects in both modes, as in Swift.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import structlog
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bodyworn.destination.ems import (
    is_recording_container,
    recording_problem,
    rejected_content_allowed,
)
from bodyworn.destination.store import NotFound, ObjectStore, StoreError, merge_metadata
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.evidence.anchors import parse_anchor_name
from bodyworn.evidence.metadata import header_case, is_rejected_container

CONTAINER_META = "x-container-meta-"
OBJECT_META = "x-object-meta-"
# Swift's default constraints (swift.conf [swift-constraints]).
MAX_META_NAME = 128
MAX_META_VALUE = 256
MAX_META_COUNT = 90
MAX_META_OVERALL = 4096

COMPLETE_IS_FINAL = "the recording is Complete; its evidence is not changed any more"
ANCHOR_IS_FINAL = "an audit anchor is kept as it was first written"
MAX_ANCHOR_BYTES = 16 * 1024 * 1024
# Swift's container_listing_limit / account_listing_limit.
LISTING_LIMIT = 10_000
# Swift's max_file_size: the largest object one PUT may store (5 GiB); bodies of every
# other request (which this API never reads) are held to MAX_OTHER_BODY.
DEFAULT_MAX_OBJECT_SIZE = 5 * 1024**3
MAX_OTHER_BODY = 1024 * 1024

_ACCOUNT = re.compile(r"^AUTH_([A-Za-z0-9_-]{1,64})$")

log = structlog.get_logger(__name__)


class CDMode(StrEnum):
    """Whose answers the embedded CD imitates."""

    # OpenStack Swift's (ETags, listings, hour-long tokens), plus the careful-EMS checks.
    SWIFT = "swift"
    # The CD API's reference server: see the module docstring.
    REFERENCE = "reference"


@dataclass(frozen=True)
class Behaviour:
    """What differs between the modes."""

    # Etag (the md5) in PUT and HEAD answers, and a request ETag checked (422).
    etags: bool
    token_ttl: timedelta
    # The careful-EMS checks of ems.py and Complete as final.
    careful: bool
    # The only `<container>/<object>` paths GET may read (403 for the rest, listings
    # included); None: everything, as Swift.
    readable: frozenset[str] | None
    # Object names may hold '/' (Swift's pseudo folders); else 400.
    nested_names: bool


BEHAVIOURS: dict[CDMode, Behaviour] = {
    CDMode.SWIFT: Behaviour(
        etags=True, token_ttl=timedelta(hours=1), careful=True, readable=None, nested_names=True
    ),
    CDMode.REFERENCE: Behaviour(
        etags=False,
        token_ttl=timedelta(minutes=15),
        careful=False,
        readable=frozenset({"System/Capabilities.json", "System/Categories.json"}),
        nested_names=False,
    ),
}

FORBIDDEN = "Forbidden"


class BadListing(ValueError):
    """A listing query Swift would answer 412 to."""


@dataclass(frozen=True)
class ListingQuery:
    """Swift's listing parameters."""

    prefix: str = ""
    marker: str = ""
    end_marker: str = ""
    limit: int = LISTING_LIMIT
    delimiter: str = ""

    @classmethod
    def from_request(cls, request: Request) -> ListingQuery:
        """Read the query string; raises BadListing on a bad limit or delimiter."""
        q = request.query_params
        raw_limit = q.get("limit", "")
        try:
            limit = int(raw_limit) if raw_limit else LISTING_LIMIT
        except ValueError as exc:
            raise BadListing("limit is not a number") from exc
        if not 0 <= limit <= LISTING_LIMIT:
            raise BadListing(f"limit must be 0..{LISTING_LIMIT}")
        delimiter = q.get("delimiter", "")
        if len(delimiter) > 1:
            raise BadListing("delimiter must be one character")
        return cls(
            prefix=q.get("prefix", ""),
            marker=q.get("marker", ""),
            end_marker=q.get("end_marker", ""),
            limit=limit,
            delimiter=delimiter,
        )


def page_names(names: Sequence[str], query: ListingQuery) -> list[tuple[str, bool]]:
    """One listing page of sorted `names`: (name, is_subdir) pairs, as Swift pages them."""
    out: list[tuple[str, bool]] = []
    seen_subdir = ""
    for name in names:
        if len(out) >= query.limit:
            break
        if name <= query.marker or (query.end_marker and name >= query.end_marker):
            continue
        if not name.startswith(query.prefix):
            continue
        if query.delimiter:
            cut = name.find(query.delimiter, len(query.prefix))
            if cut >= 0:
                subdir = name[: cut + 1]
                # A page that ended on a subdir resumes with marker = that subdir.
                if subdir != seen_subdir and subdir > query.marker:
                    out.append((subdir, True))
                seen_subdir = subdir
                continue
        out.append((name, False))
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _x_timestamp(ts: float) -> str:
    return f"{ts:016.5f}"


def _wants_json(request: Request) -> bool:
    fmt = request.query_params.get("format", "")
    if fmt:
        return fmt == "json"
    return "application/json" in request.headers.get("accept", "")


class TransIdMiddleware:
    """Adds Swift's X-Trans-Id (and X-Openstack-Request-Id) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the response of one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trans_id = f"tx{uuid.uuid4().hex[:21]}-{int(time.time()):010x}"

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-trans-id", trans_id.encode()))
                headers.append((b"x-openstack-request-id", trans_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)


@dataclass(frozen=True)
class SwiftAccount:
    """One login of the embedded CD: X-Auth-User / X-Auth-Key and the account it opens."""

    user: str
    key: str = field(repr=False)
    account: str


class TokenBook:
    """Issued tokens and when they expire (by the injected clock)."""

    def __init__(self, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self.ttl = ttl
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def issue(self, account: str) -> str:
        """A fresh token for `account`, valid for `ttl`."""
        token = "bw_" + secrets.token_urlsafe(24)
        now = self._clock.now()
        with self._lock:
            # Expired tokens are dropped on each login, so the book stays small.
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (account, now + self.ttl)
        return token

    def account_of(self, token: str | None) -> str | None:
        """The account a valid token opens, or None when unknown or expired."""
        if not token:
            return None
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found[1] <= self._clock.now():
            return None
        return found[0]

    def revoke_all(self) -> int:
        """Make every token issued so far invalid now; returns how many there were."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
        return count


class FaultKind(StrEnum):
    """What a test-only fault rule does to the requests it matches."""

    # Answer `status` (with Retry-After when the rule has one); nothing is carried out.
    STATUS = "status"
    # Drop the connection before carrying out or answering anything: the client sees a
    # transport error (the server closed, or reset, the connection), never a status.
    RESET = "reset"
    # Carry the request out, then drop the connection in the middle of the answer: half
    # the body its Content-Length promised, or nothing at all when it has no body. The
    # client cannot tell that the request took effect.
    CUT = "cut"
    # Sit on the request for `delay` seconds, then carry it out as usual; when the client
    # gives up and hangs up first, nothing is carried out.
    SLOW = "slow"
    # Every token issued so far stops being valid, then the request goes on as usual
    # (so a storage request carrying one of them is answered 401).
    EXPIRE_TOKENS = "expire-tokens"


@dataclass
class FaultRule:
    """Test-only fault injection for requests whose path starts with `prefix`.

    `prefix` is matched against `auth` for the auth endpoint and `<container>/<object>`
    for storage requests (`""` for the account); `methods` None means any method,
    `times` None means every time. `kind` says what happens (`FaultKind`); `status` and
    `retry_after` are for `STATUS`, `delay` (seconds) for `SLOW`. RESET and CUT need a
    real connection (the CD served by uvicorn): in-process there is none to drop.
    """

    status: int
    prefix: str
    methods: frozenset[str] | None = None
    times: int | None = None
    retry_after: int | None = None
    kind: FaultKind = FaultKind.STATUS
    delay: float = 0.0
    # How many requests this rule has answered so far.
    hits: int = field(default=0, compare=False)

    @classmethod
    def reset(cls, prefix: str, *, methods: frozenset[str] | None = None,
              times: int | None = None) -> FaultRule:
        """Drop the connection before the request is carried out."""
        return cls(0, prefix, methods, times, kind=FaultKind.RESET)

    @classmethod
    def cut(cls, prefix: str, *, methods: frozenset[str] | None = None,
            times: int | None = None) -> FaultRule:
        """Carry the request out, then drop the connection mid-answer."""
        return cls(0, prefix, methods, times, kind=FaultKind.CUT)

    @classmethod
    def slow(cls, prefix: str, seconds: float, *, methods: frozenset[str] | None = None,
             times: int | None = None) -> FaultRule:
        """Wait `seconds` before carrying the request out."""
        return cls(0, prefix, methods, times, kind=FaultKind.SLOW, delay=seconds)

    @classmethod
    def expire_tokens(cls, prefix: str, *, methods: frozenset[str] | None = None,
                      times: int | None = None) -> FaultRule:
        """Invalidate every token issued so far when a matching request arrives."""
        return cls(0, prefix, methods, times, kind=FaultKind.EXPIRE_TOKENS)

    def take(self, method: str, path: str) -> bool:
        """True (and count one use) when this rule answers the request."""
        if not path.startswith(self.prefix):
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.times is not None:
            if self.times <= 0:
                return False
            self.times -= 1
        self.hits += 1
        return True


@dataclass(frozen=True)
class RequestCount:
    """How many requests had reached the Swift API at one moment."""

    total: int = 0
    by_method: Mapping[str, int] = field(default_factory=dict)
    logins: int = 0

    def since(self, earlier: RequestCount) -> RequestCount:
        """The requests that arrived after `earlier` was taken."""
        methods = {m: n - earlier.by_method.get(m, 0) for m, n in self.by_method.items()}
        return RequestCount(self.total - earlier.total,
                            {m: n for m, n in methods.items() if n},
                            self.logins - earlier.logins)


class RequestCounter:
    """Counts requests reaching the Swift API (per method, logins) and those still open.

    For tests that bound how hard a client hits the CD; a request is counted when it
    arrives, whatever its answer (faults included).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method: Counter[str] = Counter()
        self._logins = 0
        self._open = 0

    def arrived(self, method: str, *, login: bool) -> None:
        """Note one request coming in."""
        with self._lock:
            self._by_method[method] += 1
            self._logins += login
            self._open += 1

    def finished(self) -> None:
        """Note one request done with (answered, dropped or abandoned)."""
        with self._lock:
            self._open -= 1

    def snapshot(self) -> RequestCount:
        """The counts now."""
        with self._lock:
            return RequestCount(sum(self._by_method.values()), dict(self._by_method),
                                self._logins)

    @property
    def total(self) -> int:
        """Requests so far."""
        return self.snapshot().total

    @property
    def in_flight(self) -> int:
        """Requests arrived but not finished yet."""
        with self._lock:
            return self._open


def _fault_path(path: str) -> str | None:
    """What fault prefixes are matched against: `auth`, `<container>/<object>`, or None."""
    if path in ("/auth/v1.0", "/auth/v1"):
        return "auth"
    parts = path.split("/", 3)
    if len(parts) < 3 or parts[0] or parts[1] != "v1" or not parts[2]:
        return None
    return parts[3] if len(parts) == 4 else ""


async def _drop_connection(receive: Receive) -> None:
    """Abort the request's TCP connection (uvicorn's), then wait until the server sees it."""
    # uvicorn hands the app a bound method of its per-request cycle, which holds the
    # connection's transport; ASGI itself has no way to say "drop this connection".
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise RuntimeError("a reset or cut fault needs a connection served by uvicorn")
    transport.abort()
    # Once uvicorn notices the loss it neither answers 500 nor writes to the dead socket.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            while (await receive())["type"] != "http.disconnect":
                pass


def _content_length(start: Message) -> int:
    for name, value in start.get("headers", []):
        if bytes(name).lower() == b"content-length":
            return int(value)
    return 0


class MetadataRejected(StoreError):
    """Metadata over Swift's limits."""

    status = 400


def _metadata(request: Request, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            key = header_case(name[len(prefix) :])
            if len(key) > MAX_META_NAME or len(value) > MAX_META_VALUE:
                raise MetadataRejected(f"metadata {key} too long")
            found[key] = value
    if len(found) > MAX_META_COUNT:
        raise MetadataRejected("too many metadata items")
    if sum(len(k) + len(v) for k, v in found.items()) > MAX_META_OVERALL:
        raise MetadataRejected("metadata too large overall")
    return found


def _meta_headers(prefix: str, metadata: Mapping[str, str]) -> dict[str, str]:
    return {header_case(prefix + key): value for key, value in metadata.items()}


class SwiftApp:
    """Routes and handlers of the Swift subset; `app` is the ASGI application."""

    def __init__(
        self,
        store: ObjectStore,
        accounts: Sequence[SwiftAccount],
        *,
        clock: Clock | None = None,
        token_ttl: timedelta | None = None,
        careful: bool | None = None,
        faults: Sequence[FaultRule] = (),
        mode: CDMode = CDMode.SWIFT,
        max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
    ) -> None:
        # `token_ttl` and `careful` override what `mode` sets.
        if max_object_size < 0:
            raise ValueError("the largest object size cannot be negative")
        self.store = store
        self.max_object_size = max_object_size
        self.accounts = {a.user: a for a in accounts}
        self.clock = clock or SystemClock()
        self.mode = mode
        self.behaviour = BEHAVIOURS[mode]
        self.tokens = TokenBook(self.clock, token_ttl or self.behaviour.token_ttl)
        self.careful = self.behaviour.careful if careful is None else careful
        self.faults = list(faults)
        self.requests = RequestCounter()
        self.routes = Starlette(
            routes=[
                Route("/auth/v1.0", self.auth, methods=["GET"]),
                Route("/auth/v1", self.auth, methods=["GET"]),
                Route("/v1/{account}", self.account, methods=["GET", "HEAD"]),
                Route(
                    "/v1/{account}/{container}",
                    self.container,
                    methods=["GET", "HEAD", "PUT", "POST"],
                ),
                Route(
                    "/v1/{account}/{container}/{name:path}",
                    self.object,
                    methods=["GET", "HEAD", "PUT", "POST"],
                    # An object PUT streams to disk; the count stops it at the limit (413).
                    max_body_size=max_object_size,
                ),
            ],
            max_body_size=MAX_OTHER_BODY,
        )
        self.app: ASGIApp = TransIdMiddleware(self._counted)

    def expire_tokens(self) -> int:
        """Test aid: every token issued so far stops being valid now (the next use: 401)."""
        count = self.tokens.revoke_all()
        log.warning("tokens expired", count=count)
        return count

    def _fault(self, method: str, path: str) -> FaultRule | None:
        # A copy: a test may change the rules while the server thread looks at them.
        for rule in list(self.faults):
            if rule.take(method, path):
                return rule
        return None

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request, apply a matching fault rule, else route it."""
        if scope["type"] != "http":
            await self.routes(scope, receive, send)
            return
        method = str(scope["method"])
        path = _fault_path(str(scope["path"]))
        self.requests.arrived(method, login=path == "auth")
        try:
            rule = self._fault(method, path) if path is not None else None
            if rule is None:
                await self.routes(scope, receive, send)
                return
            log.warning("fault injected", kind=str(rule.kind), method=method, path=path)
            await self._inject(rule, scope, receive, send)
        finally:
            self.requests.finished()

    async def _inject(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.kind is FaultKind.STATUS:
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
            answer = PlainTextResponse("injected fault", status_code=rule.status, headers=headers)
            await answer(scope, receive, send)
        elif rule.kind is FaultKind.EXPIRE_TOKENS:
            self.expire_tokens()
            await self.routes(scope, receive, send)
        elif rule.kind is FaultKind.SLOW:
            await self._slow(rule.delay, scope, receive, send)
        elif rule.kind is FaultKind.RESET:
            await _drop_connection(receive)
        else:
            await self._cut(scope, receive, send)

    async def _slow(self, delay: float, scope: Scope, receive: Receive, send: Send) -> None:
        # Take the request body in first (a busy server's socket buffers would too), then
        # sit on it, watching for the client to hang up.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        watch = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({watch}, timeout=delay)
        if done:
            log.info("slow fault: the client hung up first", path=scope["path"])
            return
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        replay: list[Message] = [
            {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        ]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.routes(scope, replayed, send)

    async def _cut(self, scope: Scope, receive: Receive, send: Send) -> None:
        left: list[int] = []  # body bytes still to pass on; empty: pass nothing on

        async def cutting(message: Message) -> None:
            if message["type"] == "http.response.start":
                length = _content_length(message)
                if scope["method"] != "HEAD" and length:
                    left.append(length // 2)
                    await send(message)
            elif message["type"] == "http.response.body" and left and left[0] > 0:
                part = bytes(message.get("body", b""))[: left[0]]
                left[0] -= len(part)
                await send({"type": "http.response.body", "body": part, "more_body": True})

        await self.routes(scope, receive, cutting)
        await _drop_connection(receive)

    async def auth(self, request: Request) -> Response:
        """Swift v1.0 auth: X-Auth-User / X-Auth-Key for a token and storage URL."""
        user = request.headers.get("x-auth-user", "")
        key = request.headers.get("x-auth-key", "")
        found = self.accounts.get(user)
        # Compare even for unknown users so timing does not reveal which users exist.
        expected = found.key if found else secrets.token_hex(16)
        if not hmac.compare_digest(key.encode(), expected.encode()) or found is None:
            return PlainTextResponse("Unauthorized", status_code=401)
        token = self.tokens.issue(found.account)
        storage = str(request.base_url).rstrip("/") + f"/v1/AUTH_{found.account}"
        ttl = int(self.tokens.ttl.total_seconds())
        return Response(
            status_code=200,
            headers={
                "X-Auth-Token": token,
                "X-Storage-Token": token,
                "X-Storage-Url": storage,
                "X-Auth-Token-Expires": str(ttl),
            },
        )

    def _account_for(self, request: Request) -> str | Response:
        m = _ACCOUNT.match(request.path_params["account"])
        if not m:
            return PlainTextResponse("Not Found", status_code=404)
        if self.tokens.account_of(request.headers.get("x-auth-token")) != m.group(1):
            return PlainTextResponse("Unauthorized", status_code=401)
        return m.group(1)

    @staticmethod
    def _error(exc: StoreError) -> Response:
        return PlainTextResponse(str(exc) or type(exc).__name__, status_code=exc.status)

    @staticmethod
    def _listing(
        request: Request,
        entries: list[tuple[str, bool]],
        doc_of: Callable[[str], dict[str, object]],
        headers: Mapping[str, str],
    ) -> Response:
        if _wants_json(request):
            docs = [{"subdir": n} if sub else doc_of(n) for n, sub in entries]
            return Response(
                json.dumps(docs, ensure_ascii=False),
                media_type="application/json; charset=utf-8",
                headers=dict(headers),
            )
        if not entries:
            return Response(status_code=204, headers=dict(headers))
        return PlainTextResponse("".join(n + "\n" for n, _ in entries), headers=dict(headers))

    async def account(self, request: Request) -> Response:
        """Account GET/HEAD: usage headers and the container listing."""
        account = self._account_for(request)
        if isinstance(account, Response):
            return account
        if self.behaviour.readable is not None:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        try:
            query = ListingQuery.from_request(request)
        except BadListing as exc:
            return PlainTextResponse(str(exc), status_code=412)
        names = self.store.list_containers(account)
        infos = {n: self.store.container_info(account, n) for n in names}
        headers = {
            "X-Account-Container-Count": str(len(infos)),
            "X-Account-Object-Count": str(sum(i.object_count for i in infos.values())),
            "X-Account-Bytes-Used": str(sum(i.bytes_used for i in infos.values())),
            "X-Timestamp": _x_timestamp(min((i.created for i in infos.values()), default=0.0)),
        }
        if request.method == "HEAD":
            return Response(status_code=204, headers=headers)

        def doc(name: str) -> dict[str, object]:
            i = infos[name]
            return {
                "name": name,
                "count": i.object_count,
                "bytes": i.bytes_used,
                "last_modified": _iso(i.last_modified),
            }

        return self._listing(request, page_names(sorted(infos), query), doc, headers)

    def _container_problem(
        self, account: str, name: str, new_meta: Mapping[str, str], exists: bool
    ) -> str | None:
        """Why a careful EMS refuses this container PUT/POST, or None."""
        if is_rejected_container(name):
            if exists or rejected_content_allowed(self.store, account):
                return None
            return "this content destination does not store rejected content"
        old = self.store.container_metadata(account, name) if exists else {}
        merged = merge_metadata(old, new_meta)
        if not is_recording_container(name, merged):
            return None
        return recording_problem(self.store, account, name, merged, self.clock.now())

    @staticmethod
    def _is_complete(meta: Mapping[str, str]) -> bool:
        return any(k.lower() == "status" and v == "Complete" for k, v in meta.items())

    def _object_problem(self, account: str, container: str) -> str | None:
        """Why a careful EMS refuses objects in this container, or None."""
        try:
            meta = self.store.container_metadata(account, container)
        except NotFound:
            return None  # the store answers 404
        if not is_recording_container(container, meta):
            return None
        problem = recording_problem(self.store, account, container, meta, self.clock.now())
        return f"recording container is not acceptable: {problem}" if problem else None

    def _object_locked(self, account: str, container: str) -> bool:
        """True when objects of this container are final (its recording is Complete)."""
        try:
            meta = self.store.container_metadata(account, container)
        except NotFound:
            return False
        return is_recording_container(container, meta) and self._is_complete(meta)

    async def container(self, request: Request) -> Response:
        """Container PUT (create/merge), POST (merge), HEAD (metadata), GET (listing)."""
        account = self._account_for(request)
        if isinstance(account, Response):
            return account
        name = request.path_params["container"]
        try:
            if request.method in ("PUT", "POST"):
                meta = _metadata(request, CONTAINER_META)
                exists = self.store.container_exists(account, name)
                if request.method == "POST" and not exists:
                    raise NotFound(f"no container {name!r}")
                if self.careful and exists:
                    old = self.store.container_metadata(account, name)
                    # The spec: after Complete the system never writes again, so a change
                    # now is tampering; an identical re-send (a retried POST) is harmless.
                    if self._is_complete(old) and merge_metadata(old, meta) != old:
                        return PlainTextResponse(COMPLETE_IS_FINAL, status_code=403)
                if self.careful:
                    problem = self._container_problem(account, name, meta, exists)
                    if problem:
                        return PlainTextResponse(problem, status_code=400)
                if request.method == "POST":
                    self.store.post_container(account, name, meta)
                    return Response(status_code=204)
                created = self.store.put_container(account, name, meta)
                return Response(status_code=201 if created else 202)
            if self.behaviour.readable is not None:
                # Not a listing server: HEAD answers the metadata alone, GET is refused.
                if request.method == "GET":
                    return PlainTextResponse(FORBIDDEN, status_code=403)
                meta = self.store.container_metadata(account, name)
                return Response(status_code=200, headers=_meta_headers(CONTAINER_META, meta))
            query = ListingQuery.from_request(request)
            info = self.store.container_info(account, name)
            headers = _meta_headers(CONTAINER_META, info.metadata)
            headers["X-Container-Object-Count"] = str(info.object_count)
            headers["X-Container-Bytes-Used"] = str(info.bytes_used)
            headers["X-Timestamp"] = _x_timestamp(info.created)
            if request.method == "HEAD":
                return Response(status_code=204, headers=headers)
            objects = {o.name: o for o in self.store.list_objects(account, name)}

            def doc(obj_name: str) -> dict[str, object]:
                o = objects[obj_name]
                return {
                    "name": o.name,
                    "bytes": o.size,
                    "hash": o.md5,
                    "last_modified": _iso(o.timestamp),
                    "content_type": o.content_type,
                }

            return self._listing(request, page_names(sorted(objects), query), doc, headers)
        except BadListing as exc:
            return PlainTextResponse(str(exc), status_code=412)
        except StoreError as exc:
            return self._error(exc)

    async def _put_refusal(
        self, account: str, container: str, name: str, request: Request
    ) -> Response | None:
        """412 for `If-None-Match: *` on an existing object (Swift's create-only PUT); 409
        for a changed audit anchor (careful mode: kept as first written)."""
        try:
            held = self.store.get_object(account, container, name)
        except NotFound:
            return None
        if self.mode is CDMode.SWIFT and request.headers.get("if-none-match", "").strip() == "*":
            return PlainTextResponse("Precondition Failed", status_code=412)
        if self.careful and container == "System" and parse_anchor_name(name) is not None:
            body = await request.body()
            if held.size > MAX_ANCHOR_BYTES or body != held.path.read_bytes():
                return PlainTextResponse(ANCHOR_IS_FINAL, status_code=409)
        return None

    async def object(self, request: Request) -> Response:
        """Object PUT (ETag checked), POST (replace metadata), HEAD and GET (with Range)."""
        account = self._account_for(request)
        if isinstance(account, Response):
            return account
        container, name = request.path_params["container"], request.path_params["name"]
        quiet = not self.behaviour.etags
        if request.method in ("PUT", "POST") and not self.behaviour.nested_names and "/" in name:
            return PlainTextResponse("object names may not hold '/'", status_code=400)
        path = f"{container}/{name}"
        readable = self.behaviour.readable
        if request.method == "GET" and readable is not None and path not in readable:
            return PlainTextResponse(FORBIDDEN, status_code=403)
        try:
            if request.method in ("PUT", "POST") and self.careful:
                if self._object_locked(account, container):
                    return PlainTextResponse(COMPLETE_IS_FINAL, status_code=403)
                problem = self._object_problem(account, container)
                if problem:
                    return PlainTextResponse(problem, status_code=400)
            if request.method == "PUT":
                refusal = await self._put_refusal(account, container, name, request)
                if refusal is not None:
                    return refusal
                stored = await self.store.put_object(
                    account,
                    container,
                    name,
                    request.stream(),
                    metadata=_metadata(request, OBJECT_META),
                    content_type=request.headers.get("content-type", "application/octet-stream"),
                    expect_md5=None if quiet else request.headers.get("etag"),
                )
                if quiet:
                    return Response(status_code=201)
                return Response(
                    status_code=201,
                    headers={"Etag": stored.md5, "X-Timestamp": _x_timestamp(stored.timestamp)},
                )
            if request.method == "POST":
                self.store.post_object(account, container, name, _metadata(request, OBJECT_META))
                return Response(status_code=202)
            obj = self.store.get_object(account, container, name)
        except ClientDisconnect:
            # The store already removed the partial file; the client will retry or not.
            log.info("upload interrupted", account=account, container=container, object=name)
            return Response(status_code=499)
        except StoreError as exc:
            return self._error(exc)
        headers = _meta_headers(OBJECT_META, obj.metadata)
        if quiet and request.method == "HEAD":
            return Response(status_code=200, headers=headers)
        headers["Etag"] = obj.md5
        headers["X-Object-Sha256"] = obj.sha256
        headers["X-Timestamp"] = _x_timestamp(obj.timestamp)
        return FileResponse(obj.path, headers=headers, media_type=obj.content_type)
