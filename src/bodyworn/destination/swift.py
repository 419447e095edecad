"""The embedded CD's Swift subset as an ASGI app: auth, containers, objects, listings.

It answers like OpenStack Swift where clients notice: `/auth/v1.0` hands out a token
and a `/v1/AUTH_<account>` storage URL; container PUT/POST merge metadata (an empty
value deletes a key), object POST replaces all of it; object PUT checks the request
ETag (422 on mismatch); GET/HEAD return `Etag` = md5 of the body and honour `Range`.
Metadata values are stored exactly as sent (still URL-encoded) and returned as such.
With `careful` (the default) a recording container that fails the EMS checks of
`ems.py` is answered 400 with the reason.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from bodyworn.destination.ems import is_recording_container, recording_problem
from bodyworn.destination.store import ObjectStore, StoreError
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.evidence.metadata import header_case

CONTAINER_META = "x-container-meta-"
OBJECT_META = "x-object-meta-"
# Swift's default constraints (swift.conf [swift-constraints]).
MAX_META_NAME = 128
MAX_META_VALUE = 256
MAX_META_COUNT = 90
MAX_META_OVERALL = 4096

_ACCOUNT = re.compile(r"^AUTH_([A-Za-z0-9_-]{1,64})$")


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


@dataclass
class FaultRule:
    """Test-only fault injection: answer `status` to requests whose path starts with `prefix`.

    `prefix` is matched against `auth` for the auth endpoint and `<container>/<object>`
    for storage requests; `times` None means every time.
    """

    status: int
    prefix: str
    methods: frozenset[str] | None = None
    times: int | None = None
    retry_after: int | None = None

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
        return True


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
        token_ttl: timedelta = timedelta(hours=1),
        careful: bool = True,
        faults: Sequence[FaultRule] = (),
    ) -> None:
        self.store = store
        self.accounts = {a.user: a for a in accounts}
        self.clock = clock or SystemClock()
        self.tokens = TokenBook(self.clock, token_ttl)
        self.careful = careful
        self.faults = list(faults)
        self.app = Starlette(
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
                ),
            ]
        )

    def _fault(self, method: str, path: str) -> Response | None:
        for rule in self.faults:
            if rule.take(method, path):
                headers = (
                    {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
                )
                return PlainTextResponse("injected fault", status_code=rule.status, headers=headers)
        return None

    async def auth(self, request: Request) -> Response:
        """Swift v1.0 auth: X-Auth-User / X-Auth-Key for a token and storage URL."""
        if (fault := self._fault("GET", "auth")) is not None:
            return fault
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
        path = request.path_params.get("container", "")
        if "name" in request.path_params:
            path = f"{path}/{request.path_params['name']}"
        if (fault := self._fault(request.method, path)) is not None:
            return fault
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
    def _listing(request: Request, names: list[str], docs: list[dict[str, object]]) -> Response:
        if request.query_params.get("format") == "json":
            return Response(json.dumps(docs), media_type="application/json; charset=utf-8")
        if not names:
            return Response(status_code=204)
        return PlainTextResponse("".join(n + "\n" for n in names))

    async def account(self, request: Request) -> Response:
        """Account GET/HEAD: the container listing."""
        account = self._account_for(request)
        if isinstance(account, Response):
            return account
        names = self.store.list_containers(account)
        headers = {"X-Account-Container-Count": str(len(names))}
        if request.method == "HEAD":
            return Response(status_code=204, headers=headers)
        resp = self._listing(request, names, [{"name": n} for n in names])
        resp.headers.update(headers)
        return resp

    async def container(self, request: Request) -> Response:
        """Container PUT (create/merge), POST (merge), HEAD (metadata), GET (listing)."""
        account = self._account_for(request)
        if isinstance(account, Response):
            return account
        name = request.path_params["container"]
        try:
            if request.method == "PUT":
                meta = _metadata(request, CONTAINER_META)
                if self.careful and is_recording_container(name):
                    problem = recording_problem(self.store, account, name, meta, self.clock.now())
                    if problem:
                        return PlainTextResponse(problem, status_code=400)
                created = self.store.put_container(account, name, meta)
                return Response(status_code=201 if created else 202)
            if request.method == "POST":
                self.store.post_container(account, name, _metadata(request, CONTAINER_META))
                return Response(status_code=204)
            meta = self.store.container_metadata(account, name)
            objects = self.store.list_objects(account, name)
            headers = _meta_headers(CONTAINER_META, meta)
            headers["X-Container-Object-Count"] = str(len(objects))
            headers["X-Container-Bytes-Used"] = str(sum(o.size for o in objects))
            if request.method == "HEAD":
                return Response(status_code=204, headers=headers)
            docs: list[dict[str, object]] = [
                {"name": o.name, "bytes": o.size, "hash": o.md5, "content_type": o.content_type}
                for o in objects
            ]
            resp = self._listing(request, [o.name for o in objects], docs)
            resp.headers.update(headers)
            return resp
        except StoreError as exc:
            return self._error(exc)

    async def object(self, request: Request) -> Response:
        """Object PUT (ETag checked), POST (replace metadata), HEAD and GET (with Range)."""
        account = self._account_for(request)
        if isinstance(account, Response):
            return account
        container, name = request.path_params["container"], request.path_params["name"]
        try:
            if request.method == "PUT":
                stored = await self.store.put_object(
                    account,
                    container,
                    name,
                    request.stream(),
                    metadata=_metadata(request, OBJECT_META),
                    content_type=request.headers.get("content-type", "application/octet-stream"),
                    expect_md5=request.headers.get("etag"),
                )
                return Response(status_code=201, headers={"Etag": stored.md5})
            if request.method == "POST":
                self.store.post_object(account, container, name, _metadata(request, OBJECT_META))
                return Response(status_code=202)
            obj = self.store.get_object(account, container, name)
        except StoreError as exc:
            return self._error(exc)
        headers = _meta_headers(OBJECT_META, obj.metadata)
        headers["Etag"] = obj.md5
        headers["X-Object-Sha256"] = obj.sha256
        return FileResponse(obj.path, headers=headers, media_type=obj.content_type)
