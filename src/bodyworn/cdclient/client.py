"""The async client of the Content Destination API (a subset of OpenStack Swift).

One `CDClient` per content destination. Every request goes through `_request`, which
authenticates on demand, re-authenticates once on 401, maps statuses to the
exceptions in `errors`, and retries busy/unreachable answers with stamina, waiting as
long as a `Retry-After` header asks (capped).
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar
from urllib.parse import quote

import httpx
import stamina
import structlog

from bodyworn.cdclient.body import BytesBody, EncryptedBody, FileBody, ObjectBody
from bodyworn.cdclient.capabilities import (
    DEFAULT_CATEGORIES,
    READ_CATEGORIES,
    STORE_BOOKMARKS,
    STORE_GNSS_TRACK,
    STORE_READ_SYSTEM_ID,
    STORE_REJECTED_CONTENT,
    STORE_USER_ID_KEY,
    Capabilities,
    CategoriesError,
    CategoryList,
    parse_capabilities,
    parse_categories,
)
from bodyworn.cdclient.config import CDConnection
from bodyworn.cdclient.errors import (
    CDAuthError,
    CDError,
    CDForbidden,
    CDNotFound,
    CDProtocolError,
    CDTLSError,
    CDUnavailable,
    ContentRejected,
    InsufficientStorage,
    LicenceError,
    SystemBindingError,
)
from bodyworn.cdclient.records import (
    CDDevice,
    CDUser,
    ClipFile,
    RecordingUpload,
    bookmark_metadata,
    clip_metadata,
    device_metadata,
    gnss_body,
    gnss_metadata,
    key_metadata,
    recording_metadata,
    user_metadata,
)
from bodyworn.cdclient.tls import pinned_ssl_context
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.evidence.crypto import CHUNK_BYTES, load_public_key, new_object_encryption
from bodyworn.evidence.metadata import (
    bookmark_object_name,
    clip_object_name,
    gnss_object_name,
    key_object_name,
    meta_get,
    metadata_headers,
    parse_metadata,
    recording_container_name,
    rejected_container_name,
    rfc3339,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

SYSTEM = "System"
USERS = "Users"
DEVICES = "Devices"
# Older copies of the spec named it Capability.json in places; since v1.6.9 the spec,
# its tree and the reference server all say Capabilities.json, the only name read (the
# reference server answers 403 to a GET of any other System object).
CAPABILITIES_OBJECT = "Capabilities.json"
CATEGORIES_OBJECT = "Categories.json"

CAPABILITIES_MAX_AGE = timedelta(hours=1)
CATEGORIES_MAX_AGE = timedelta(days=1)

_RETRY_STATUSES = frozenset({408, 422, 429, 500, 502, 503, 504})
_CLIP_CONTENT_TYPES = {"mkv": "video/x-matroska", "mp4": "video/mp4"}


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a busy or unreachable CD (seconds)."""

    attempts: int = 8
    timeout: float = 900.0
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    retry_after_max: float = 120.0


@dataclass(frozen=True)
class Stored:
    """One object the CD answered 201 to: the md5 sent, and whether the CD confirmed it.

    `confirmed`: the CD's own ETag for the object (in the PUT answer, or a HEAD later)
    is that md5. A CD that answers without an ETag (the reference server never sends
    one) is trusted on its 201, and the object counts as unverified by the CD.
    """

    md5: str
    confirmed: bool


@dataclass(frozen=True)
class DeliveryResult:
    """Where a recording ended up and which objects were stored there."""

    outcome: Literal["delivered", "rejected_content", "not_transferred"]
    container: str
    objects: tuple[str, ...] = ()
    reason: str | None = None
    # Per clip file name (`ClipFile.path.name`), for the clips stored or checked by this
    # delivery: True when the CD confirmed every object of the clip by its ETag, False
    # when it stored them without saying (trusted on its 201: "unverified by the CD").
    verified: Mapping[str, bool] = field(default_factory=dict)
    # Objects of this delivery the CD did not confirm by an ETag.
    unverified: tuple[str, ...] = ()


class _Retryable(Exception):
    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _cert_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return True
        cur = cur.__cause__ or cur.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _etag(resp: httpx.Response | None) -> str | None:
    """The md5 a response's ETag names (quotes and case dropped), None without one."""
    if resp is None:
        return None
    value = resp.headers.get("Etag", "").strip()
    if not value or value.startswith("W/"):
        return None
    return value.strip('"').lower() or None


def _object_path(container: str, name: str | None = None) -> str:
    path = quote(container, safe="")
    return path if name is None else f"{path}/{quote(name, safe='/')}"


class CDClient:
    """Talks to one content destination; use as an async context manager."""

    def __init__(
        self,
        connection: CDConnection,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        chunk_bytes: int = CHUNK_BYTES,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_clip_bytes: Callable[[int], None] | None = None,
        clip_uploads: int = 3,
    ) -> None:
        self.connection = connection
        # Clips of one recording sent at once (a CD is many disks behind one endpoint).
        self._clip_uploads = max(1, clip_uploads)
        # Called with each chunk's size as clip bytes are sent (progress bars); a retried
        # upload reports its bytes again.
        self._on_clip_bytes = on_clip_bytes
        self.retry = retry or RetryPolicy()
        self._chunk_bytes = chunk_bytes
        self._clock: Clock = clock or SystemClock()
        verify: ssl.SSLContext | bool = (
            pinned_ssl_context(connection.certificates) if connection.certificates else True
        )
        self._http = httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )
        self._public_key = (
            load_public_key(connection.public_key_pem)
            if connection.want_encryption and connection.public_key_pem
            else None
        )
        self._token: str | None = None
        self._storage_url: str | None = None
        self._auth_lock = asyncio.Lock()
        self._caps: Capabilities | None = None
        self._caps_at: datetime | None = None
        self._categories: CategoryList | None = None
        self._categories_at: datetime | None = None
        self._containers: set[str] = set()
        # (container, object, md5) stored ahead by `store_clip` whose PUT answer confirmed
        # the md5, for the check before Complete when a HEAD then carries no ETag.
        self._confirmed: set[tuple[str, str, str]] = set()
        # Rejected-content container per recording container (named after the decision
        # time), so a repeated delivery in this process finishes the same one.
        self._rejected: dict[str, tuple[datetime, str]] = {}

    async def __aenter__(self) -> CDClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    @property
    def storage_url(self) -> str | None:
        """The X-Storage-Url of the current token, as the CD sent it."""
        return self._storage_url

    # --- authentication ---------------------------------------------------------------

    async def authenticate(self) -> None:
        """Get a fresh token now (normally done on demand)."""
        self._token = None
        await self._retrying("auth", self._session)

    async def _session(self) -> tuple[str, str]:
        async with self._auth_lock:
            if self._token is None or self._storage_url is None:
                await self._login()
            assert self._token is not None and self._storage_url is not None
            return self._token, self._storage_url

    async def _login(self) -> None:
        conn = self.connection
        problems: list[str] = []
        transient = False
        # The soonest any busy auth endpoint said to come back (Retry-After), if one did.
        retry_after: float | None = None
        for uri in conn.uris:
            try:
                resp = await self._http.get(
                    uri, headers={"X-Auth-User": conn.user, "X-Auth-Key": conn.key}
                )
            except httpx.HTTPError as exc:
                if _cert_failure(exc):
                    raise CDTLSError(f"{uri}: certificate not trusted: {exc}", url=uri) from exc
                problems.append(f"{uri}: {exc!r}")
                transient = True
                continue
            status = resp.status_code
            if status in (401, 403):
                problems.append(f"{uri}: credentials refused ({status})")
                continue
            if not 200 <= status < 300:
                problems.append(f"{uri}: HTTP {status}")
                if status >= 500 or status == 429:
                    transient = True
                    wait = parse_retry_after(resp.headers.get("Retry-After"), self._clock.now())
                    if wait is not None:
                        retry_after = wait if retry_after is None else min(retry_after, wait)
                continue
            token = resp.headers.get("X-Auth-Token")
            storage = resp.headers.get("X-Storage-Url")
            if not token or not storage:
                problems.append(f"{uri}: no X-Auth-Token or X-Storage-Url in the answer")
                continue
            if not conn.storage_url_allowed(uri, storage):
                # A token must never travel with less protection than the login had.
                problems.append(f"{uri}: storage URL {storage!r} would downgrade to http")
                continue
            self._token, self._storage_url = token, storage
            log.debug("cd.authenticated", uri=uri, storage_url=storage)
            return
        message = "authentication failed: " + "; ".join(problems)
        if transient:
            raise _Retryable(message, retry_after=retry_after)
        if all("credentials refused" in p for p in problems):
            raise CDAuthError(message, status=401)
        raise CDProtocolError(message)

    def _forget_token(self, token: str | None) -> None:
        if token is not None and self._token == token:
            self._token = None

    # --- the one request path -------------------------------------------------------------

    def _backoff(self, exc: Exception) -> bool | float:
        if not isinstance(exc, _Retryable):
            return False
        if exc.retry_after is not None:
            return min(exc.retry_after, self.retry.retry_after_max)
        return True

    async def _request(
        self,
        method: str,
        path: str,
        *,
        ok: frozenset[int],
        headers: Mapping[str, str] | None = None,
        body: ObjectBody | None = None,
    ) -> httpx.Response:
        return await self._retrying(
            f"{method} /{path}", lambda: self._attempt(method, path, ok, headers or {}, body)
        )

    async def _retrying(self, what: str, once: Callable[[], Awaitable[T]]) -> T:
        policy = self.retry
        try:
            async for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    return await once()
        except _Retryable as exc:
            raise CDUnavailable(f"{what}: gave up after retries: {exc}", status=exc.status) from exc
        raise AssertionError("retry loop ended without a result")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        ok: frozenset[int],
        headers: Mapping[str, str],
        body: ObjectBody | None,
    ) -> httpx.Response:
        for renewed in (False, True):
            token, storage = await self._session()
            url = f"{storage.rstrip('/')}/{path}"
            send = dict(headers)
            send["X-Auth-Token"] = token
            if body is not None:
                send["Content-Length"] = str(body.size)
                send["ETag"] = await body.md5()
            try:
                resp = await self._http.request(
                    method, url, headers=send, content=body.stream() if body else None
                )
            except httpx.HTTPError as exc:
                if _cert_failure(exc):
                    raise CDTLSError(f"{url}: certificate not trusted: {exc}", url=url) from exc
                # A connection that broke mid-request may have been a rejected token the
                # server stopped reading for; a fresh login costs one small request.
                self._forget_token(token)
                raise _Retryable(f"{method} {url}: {exc!r}") from exc
            if resp.status_code == 422 and isinstance(body, FileBody) and body.md5_given:
                # The bytes did not match the md5 we sent, which came from the camera: the
                # retry sends our own, taken over the file (its sha256 was checked at ingest).
                given = await body.md5()
                body.forget_md5()
                log.warning("cd.md5_mismatch", url=url, given=given, actual=await body.md5())
            if resp.status_code == 401 and not renewed:
                log.info("cd.reauthenticate", url=url)
                self._forget_token(token)
                continue
            if body is not None and resp.status_code in ok:
                self._check_answered_etag(url, resp, send["ETag"], body)
            return self._check(method, url, resp, ok)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _check_answered_etag(
        url: str, resp: httpx.Response, sent: str, body: ObjectBody
    ) -> None:
        """A stored object whose ETag in the answer is not the md5 sent is sent again."""
        answered = _etag(resp)
        if answered is None or answered == sent:
            return
        if isinstance(body, FileBody) and body.md5_given:
            # The md5 came from the camera; the CD stored the bytes without checking it
            # (Swift would have answered 422): the retry sends our own, as for a 422.
            body.forget_md5()
        log.warning("cd.etag_mismatch", url=url, sent=sent, answered=answered)
        raise _Retryable(f"PUT {url}: the CD's ETag {answered} is not the md5 sent ({sent})")

    def _check(
        self, method: str, url: str, resp: httpx.Response, ok: frozenset[int]
    ) -> httpx.Response:
        status = resp.status_code
        if status in ok:
            return resp
        what = f"{method} {url}: HTTP {status}"
        detail = resp.text[:200].strip() if resp.content else ""
        if detail:
            what = f"{what}: {detail}"
        if status in _RETRY_STATUSES:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._clock.now())
            log.info("cd.retry", url=url, status=status, retry_after=retry_after)
            raise _Retryable(what, retry_after=retry_after, status=status)
        errors: dict[int, type[CDError]] = {
            400: ContentRejected,
            401: CDAuthError,
            402: LicenceError,
            403: CDForbidden,
            404: CDNotFound,
            507: InsufficientStorage,
        }
        raise errors.get(status, CDProtocolError)(what, status=status, url=url)

    # --- building blocks ------------------------------------------------------------------

    async def _ensure_container(
        self, name: str, metadata: Mapping[str, str | None] | None = None
    ) -> None:
        if metadata is None and name in self._containers:
            return
        await self._request(
            "PUT",
            _object_path(name),
            ok=frozenset({201, 202, 204}),
            headers=metadata_headers("container", metadata or {}),
        )
        if metadata is None:
            self._containers.add(name)

    async def _put_object(
        self,
        container: str,
        name: str,
        body: ObjectBody,
        metadata: Mapping[str, str | None],
        content_type: str,
    ) -> Stored:
        """PUT one object: the md5 it was sent with, and whether the CD's ETag confirmed it."""
        headers = metadata_headers("object", metadata)
        headers["Content-Type"] = content_type
        path = _object_path(container, name)
        try:
            resp = await self._request(
                "PUT", path, ok=frozenset({201}), headers=headers, body=body
            )
        except CDNotFound:
            if container not in self._containers:
                raise
            # Our note that the container exists is stale (deleted at the CD): make it again.
            self._containers.discard(container)
            await self._ensure_container(container)
            resp = await self._request(
                "PUT", path, ok=frozenset({201}), headers=headers, body=body
            )
        md5 = await body.md5()
        # A different ETag was sent again by `_attempt`; here it is the md5 or absent.
        return Stored(md5, confirmed=_etag(resp) == md5)

    async def _holds(self, container: str, sums: Mapping[str, str]) -> dict[str, Stored] | None:
        """The objects in `sums` ({name: md5}, each answered 201 before) as the CD holds them.

        None when one must be sent again: missing, or listed with another ETag. An object
        the CD answers without an ETag, or whose HEAD it does not answer (the spec's table
        of endpoints has no HEAD), is trusted on the 201 its PUT got: bytes are never sent
        twice only because a server does not say.
        """
        found: dict[str, Stored] = {}
        for name, md5 in sums.items():
            resp: httpx.Response | None
            try:
                resp = await self._request(
                    "HEAD", _object_path(container, name), ok=frozenset({200, 204})
                )
            except CDNotFound:
                return None
            except (CDForbidden, ContentRejected, CDProtocolError):
                resp = None
            etag = _etag(resp)
            if etag is not None and etag != md5:
                return None
            confirmed = etag == md5 or (container, name, md5) in self._confirmed
            found[name] = Stored(md5, confirmed)
        return found

    async def _get_small(self, container: str, name: str) -> httpx.Response | None:
        """GET an object, or None when it is missing or not ours to read."""
        try:
            return await self._request("GET", _object_path(container, name), ok=frozenset({200}))
        except (CDNotFound, CDForbidden, ContentRejected, CDProtocolError) as exc:
            log.info("cd.object_unreadable", object=f"{container}/{name}", error=str(exc))
            return None

    async def object_metadata(
        self, container: str, name: str | None = None
    ) -> dict[str, str] | None:
        """HEAD a container or object and return its decoded metadata, None when missing."""
        try:
            resp = await self._request(
                "HEAD", _object_path(container, name), ok=frozenset({200, 204})
            )
        except CDNotFound:
            return None
        kind: Literal["container", "object"] = "container" if name is None else "object"
        return parse_metadata(kind, resp.headers.multi_items())

    # --- capabilities and categories ------------------------------------------------------

    async def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Read System/Capabilities.json (cached); corrupt or missing means nothing."""
        if self.connection.full_store_and_read:
            return Capabilities.everything()
        now = self._clock.now()
        if (
            self._caps is not None
            and self._caps_at is not None
            and not refresh
            and now - self._caps_at < CAPABILITIES_MAX_AGE
        ):
            return self._caps
        try:
            resp = await self._request(
                "GET", _object_path(SYSTEM, CAPABILITIES_OBJECT), ok=frozenset({200})
            )
        except CDNotFound:
            caps = Capabilities.nothing(f"missing: no {SYSTEM}/{CAPABILITIES_OBJECT}")
        except (CDForbidden, ContentRejected, CDProtocolError) as exc:
            caps = Capabilities.nothing(f"unreadable: {exc}")
        else:
            caps = parse_capabilities(resp.content, resp.headers.get("Etag"))
        if caps.problem:
            log.info("cd.capabilities_unusable", problem=caps.problem)
        self._caps, self._caps_at = caps, now
        return caps

    async def categories(self, *, refresh: bool = False) -> CategoryList:
        """The CD's categories (ReadCategories; re-read daily or on `refresh`), else defaults."""
        now = self._clock.now()
        if (
            self._categories is not None
            and self._categories_at is not None
            and not refresh
            and now - self._categories_at < CATEGORIES_MAX_AGE
        ):
            return self._categories
        self._categories = await self._read_categories(refresh)
        self._categories_at = now
        return self._categories

    async def _read_categories(self, refresh: bool) -> CategoryList:
        caps = await self.capabilities(refresh=refresh)
        if not caps.supports(READ_CATEGORIES):
            return CategoryList(DEFAULT_CATEGORIES, from_cd=False)
        resp = await self._get_small(SYSTEM, CATEGORIES_OBJECT)
        if resp is None:
            return CategoryList(DEFAULT_CATEGORIES, from_cd=False, problem="missing or unreadable")
        try:
            found = parse_categories(resp.content, resp.headers.get("Etag"))
        except CategoriesError as exc:
            return CategoryList(DEFAULT_CATEGORIES, from_cd=False, problem=str(exc))
        return CategoryList(found, from_cd=True)

    # --- system, users, devices ------------------------------------------------------------

    async def bind_system(
        self, system_id: str, connection_id: str, system_name: str, *, expect_existing: bool
    ) -> bool:
        """Write or check System/<SystemID>; False when the CD lacks StoreReadSystemID."""
        # Refused (SystemBindingError) when the CD holds this system under another
        # ConnectionId, or, with `expect_existing`, has no record of it at all: in both
        # cases it is not the CD this system was bound to.
        if not (await self.capabilities()).supports(STORE_READ_SYSTEM_ID):
            return False
        await self._ensure_container(SYSTEM)
        meta = {"ConnectionId": connection_id, "SystemName": system_name}
        found = await self.object_metadata(SYSTEM, system_id)
        if found is None:
            if expect_existing:
                raise SystemBindingError(
                    f"the CD has no System/{system_id}: it is not the CD this system is bound to"
                )
            await self._put_object(
                SYSTEM, system_id, BytesBody(b""), meta, "application/octet-stream"
            )
            found = await self.object_metadata(SYSTEM, system_id)
            if found is None or meta_get(found, "ConnectionId") != connection_id:
                raise SystemBindingError("System object did not read back as written")
            return True
        bound = meta_get(found, "ConnectionId")
        if bound != connection_id:
            raise SystemBindingError(
                f"the CD binds this system to connection {bound!r}, not {connection_id!r}"
            )
        if meta_get(found, "SystemName") != system_name:
            await self._request(
                "POST",
                _object_path(SYSTEM, system_id),
                ok=frozenset({202, 204}),
                headers=metadata_headers("object", meta),
            )
        return True

    async def _store_record(
        self, container: str, name: str, meta: Mapping[str, str | None], update: bool
    ) -> None:
        await self._ensure_container(container)
        if update:
            try:
                await self._request(
                    "POST",
                    _object_path(container, name),
                    ok=frozenset({202, 204}),
                    headers=metadata_headers("object", meta),
                )
                return
            except CDNotFound:
                pass
        await self._put_object(container, name, BytesBody(b""), meta, "application/octet-stream")

    async def put_user(self, user: CDUser, *, update: bool = False) -> None:
        """Create (PUT) or update (POST, PUT if missing) Users/<uuid>; 402 raises LicenceError."""
        caps = await self.capabilities()
        meta = user_metadata(user, caps.supports(STORE_USER_ID_KEY))
        await self._store_record(USERS, user.uuid, meta, update)

    async def put_device(self, device: CDDevice, *, update: bool = False) -> None:
        """Create or update Devices/<serial>; 402 raises LicenceError."""
        await self._store_record(DEVICES, device.serial, device_metadata(device), update)

    # --- recordings ---------------------------------------------------------------------------

    async def store_clip(self, rec: RecordingUpload, clip: ClipFile) -> dict[str, str]:
        """Store one clip of a recording ahead of the rest of it: {object name: md5}.

        For a recording still arriving: its container is made (`Transferring`) and the clip
        stored now, so `deliver_recording(rec, early=...)` later checks these objects with
        a HEAD instead of sending them again. Nothing is written into a Complete container.
        """
        name = recording_container_name(rec.user_uuid, rec.bwc_serial, rec.trigger_on_time)
        existing = await self.object_metadata(name)
        if existing is not None and meta_get(existing, "Status") == "Complete":
            return {}
        if existing is None:
            await self._ensure_container(name, recording_metadata(rec, name, "Transferring"))
        sent = await self._put_clip(name, rec, clip)
        self._confirmed.update((name, obj, st.md5) for obj, st in sent if st.confirmed)
        return {obj: st.md5 for obj, st in sent}

    async def deliver_recording(
        self, rec: RecordingUpload, *, early: Mapping[str, str] | None = None
    ) -> DeliveryResult:
        """Store a whole recording and mark it Complete; a 400 routes it per capabilities.

        `early`: objects `store_clip` already stored ({name: md5}); each is checked at the
        CD (present, and the same ETag when the CD gives one) and only sent again when it
        is not there as it was.
        """
        # Safe to call again after a crash: objects are overwritten, and a container that
        # is already Complete is left alone (the controller never touches it again).
        if not rec.clips:
            raise ValueError("a recording has at least one clip")
        caps = await self.capabilities()
        name = recording_container_name(rec.user_uuid, rec.bwc_serial, rec.trigger_on_time)
        try:
            existing = await self.object_metadata(name)
        except (CDForbidden, ContentRejected, CDProtocolError):
            # A CD that will not answer HEAD on a container just gets the full delivery.
            existing = None
        if existing is not None and meta_get(existing, "Status") == "Complete":
            return DeliveryResult("delivered", name, reason="already Complete at the CD")
        try:
            stored, verified = await self._store_recording(
                name, recording_metadata(rec, name, "Transferring"), rec, caps, early or {}
            )
            await self._request(
                "POST",
                _object_path(name),
                ok=frozenset({202, 204}),
                headers=metadata_headers("container", recording_metadata(rec, name, "Complete")),
            )
        except ContentRejected as exc:
            result = await self._reject(rec, name, caps, str(exc))
        else:
            result = _result("delivered", name, stored, verified)
        self._confirmed = {c for c in self._confirmed if c[0] != name}
        return result

    async def _reject(
        self, rec: RecordingUpload, name: str, caps: Capabilities, reason: str
    ) -> DeliveryResult:
        if not caps.supports(STORE_REJECTED_CONTENT):
            return DeliveryResult("not_transferred", name, reason=reason)
        decided = self._rejected.get(name)
        if decided is None:
            # Named after the decision to reject (now), with an ID made for this upload.
            decided = (self._clock.now(), str(uuid.uuid4()))
            self._rejected[name] = decided
        when, unique = decided
        rejected = rejected_container_name(when, unique)
        # Everything the recording container carries except Status; ContainerName is the
        # rejected-content container's own name.
        meta = recording_metadata(rec, rejected, None)
        meta["RejectedContentOriginalContainer"] = name
        meta["RejectedContentTime"] = rfc3339(when)
        meta["RejectedContentReason"] = reason
        try:
            stored, verified = await self._store_recording(
                rejected, meta, rec, caps, rejected_from=name
            )
        except ContentRejected as exc:
            self._rejected.pop(name, None)
            return DeliveryResult(
                "not_transferred", name, reason=f"{reason}; rejected content refused too: {exc}"
            )
        self._rejected.pop(name, None)
        return _result("rejected_content", rejected, stored, verified, reason)

    async def _store_recording(
        self,
        container: str,
        meta: Mapping[str, str | None],
        rec: RecordingUpload,
        caps: Capabilities,
        early: Mapping[str, str] | None = None,
        *,
        rejected_from: str | None = None,
    ) -> tuple[list[tuple[str, Stored]], dict[str, bool]]:
        """Store the objects of a recording: [(name, Stored)] and {clip file: verified}.

        `rejected_from`: the recording container a rejected-content container stands in
        for; its objects say so, and it holds clips, keys and the GNSS track only (the
        spec's rejected objects), no bookmarks.
        """
        await self._ensure_container(container, meta)
        ctype = self.connection.container_type
        slots = asyncio.Semaphore(self._clip_uploads)
        early = early or {}
        extra: dict[str, str | None] = (
            {"RejectedContentOriginalContainer": rejected_from} if rejected_from else {}
        )

        async def put_clip(clip: ClipFile) -> list[tuple[str, Stored]]:
            obj = clip_object_name(clip.start, rec.recording_id, ctype)
            names = [key_object_name(obj), obj] if self._public_key is not None else [obj]
            async with slots:
                if all(n in early for n in names):
                    held = await self._holds(container, {n: early[n] for n in names})
                    if held is not None:
                        return [(n, held[n]) for n in names]
                return await self._put_clip(container, rec, clip, extra)

        try:
            # The first failure cancels the other uploads of the recording.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(put_clip(clip)) for clip in rec.clips]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        stored = [pair for task in tasks for pair in task.result()]
        verified = {
            clip.path.name: all(st.confirmed for _, st in task.result())
            for clip, task in zip(rec.clips, tasks, strict=True)
        }
        if rec.gnss_track and caps.supports(STORE_GNSS_TRACK):
            obj = gnss_object_name(rec.start_time, rec.recording_id, rec.bwc_serial)
            stored += await self._put_content(
                container,
                obj,
                BytesBody(gnss_body(rec)),
                {**gnss_metadata(), **extra},
                "application/json",
                rec.start_time,
                extra,
            )
        if caps.supports(STORE_BOOKMARKS) and rejected_from is None:
            for bm in rec.bookmarks:
                obj = bookmark_object_name(bm.timestamp, bm.bookmark_id)
                put = await self._put_object(
                    container,
                    obj,
                    BytesBody(bm.note.encode("utf-8")),
                    bookmark_metadata(bm, rec),
                    "text/plain; charset=utf-8",
                )
                stored.append((obj, put))
        return stored, verified

    async def _put_clip(
        self,
        container: str,
        rec: RecordingUpload,
        clip: ClipFile,
        extra: Mapping[str, str | None] | None = None,
    ) -> list[tuple[str, Stored]]:
        ctype = self.connection.container_type
        body = FileBody(clip.path, self._chunk_bytes, md5=clip.md5, on_chunk=self._on_clip_bytes)
        return await self._put_content(
            container,
            clip_object_name(clip.start, rec.recording_id, ctype),
            body,
            {**clip_metadata(clip, ctype), **(extra or {})},
            _CLIP_CONTENT_TYPES[ctype],
            clip.start,
            extra,
        )

    async def _put_content(
        self,
        container: str,
        obj: str,
        plain: FileBody | BytesBody,
        meta: Mapping[str, str | None],
        content_type: str,
        start: datetime,
        extra: Mapping[str, str | None] | None = None,
    ) -> list[tuple[str, Stored]]:
        """PUT a clip or GNSS object, encrypted with its `.key` object when asked.

        [(object name, Stored)], the key object first. `extra` is added to the key
        object's metadata too.
        """
        if self._public_key is None:
            return [(obj, await self._put_object(container, obj, plain, meta, content_type))]
        enc = new_object_encryption(self._public_key, self.connection.public_key_id or "")
        key_name = key_object_name(obj)
        # Key first: a CD that processes a clip as soon as it lands finds its key there.
        key_put = await self._put_object(
            container,
            key_name,
            BytesBody(enc.key_file.to_bytes()),
            {**key_metadata(start), **(extra or {})},
            "application/json",
        )
        obj_put = await self._put_object(
            container, obj, EncryptedBody(plain, enc.content_key), meta, "application/octet-stream"
        )
        return [(key_name, key_put), (obj, obj_put)]


def _result(
    outcome: Literal["delivered", "rejected_content"],
    container: str,
    stored: list[tuple[str, Stored]],
    verified: Mapping[str, bool],
    reason: str | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        outcome,
        container,
        tuple(name for name, _ in stored),
        reason,
        verified=dict(verified),
        unverified=tuple(name for name, st in stored if not st.confirmed),
    )
