"""The request path of the Content Destination API client: one session per CD.

Every request goes through `_request`, which authenticates on demand, re-authenticates
once on 401, maps statuses to the exceptions in `errors`, and retries busy/unreachable
answers with stamina, waiting as long as a `Retry-After` header asks (capped). The calls
of the API itself are `CDClient`'s (client.py).
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Self, TypeVar
from urllib.parse import quote

import httpx
import stamina
import structlog

from bodyworn.cdclient.body import FileBody, ObjectBody
from bodyworn.cdclient.capabilities import (
    Capabilities,
    CategoryList,
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
)
from bodyworn.cdclient.tls import pinned_ssl_context
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.evidence.crypto import CHUNK_BYTES, load_public_key
from bodyworn.evidence.metadata import (
    metadata_headers,
    parse_metadata,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

_RETRY_STATUSES = frozenset({408, 422, 429, 500, 502, 503, 504})


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


class CDTransport:
    """Session, retries, the error table and object building blocks (CDClient builds on it)."""

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
        on_answer: Callable[[int | None, str | None], None] | None = None,
    ) -> None:
        self.connection = connection
        # Told of every attempt: the HTTP status and the answer's Date header, or (None,
        # None) when no answer came. The controller counts failures and compares clocks.
        self._on_answer = on_answer
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
            event_hooks={"response": [self._answered]} if on_answer else None,
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

    async def __aenter__(self) -> Self:
        return self

    async def _answered(self, response: httpx.Response) -> None:
        self._tell(response.status_code, response.headers.get("date"))

    def _tell(self, status: int | None, date: str | None) -> None:
        if self._on_answer is not None:
            try:
                self._on_answer(status, date)
            except Exception:  # an observer must never break a request
                log.exception("cd.observer_failed")

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
                self._tell(None, None)
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
                self._tell(None, None)
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
            if body is not None and resp.status_code in ok and resp.status_code < 300:
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

    async def probe(self, container: str) -> None:
        """Ask the CD one cheap question (HEAD of `container`), once, not retried.

        Returns when its storage answers at all: a missing container (404) or a refused
        HEAD (403, 405) is an answer. Raises CDUnavailable when it is busy (5xx, 429) or
        does not answer, InsufficientStorage on 507, and what logging in raises.
        """
        try:
            await self._attempt("HEAD", _object_path(container), frozenset({200, 204}), {}, None)
        except _Retryable as exc:
            raise CDUnavailable(f"HEAD /{container}: {exc}", status=exc.status) from exc
        except (CDNotFound, CDForbidden, ContentRejected, CDProtocolError) as exc:
            if exc.url is None:
                raise  # logging in failed: not an answer of the storage
            log.debug("cd.probe_answered", container=container, status=exc.status)

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
