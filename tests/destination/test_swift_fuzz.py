"""The embedded CD's Swift API under hostile input: a corpus of known-bad requests, then
Hypothesis drawing requests (methods, names, listing queries, metadata, bodies) against
a careful CD that knows a user and a device. No request may get a 5xx.

Derandomized in `make test`; random and time-boxed in `make fuzz` (tests/fuzzing.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bodyworn.destination.publish import publish_capabilities
from bodyworn.destination.store import ObjectStore
from bodyworn.destination.swift import SwiftAccount, SwiftApp
from bodyworn.domain.clock import ManualClock
from tests.fuzzing import Findings, fuzz_settings, out_of_time, rounds

ACCOUNT = "/v1/AUTH_bodyworn"
USER, SERIAL = "6f1c1f7e-0000-4000-8000-000000000001", "ACCC8E000001"
RECORDING = f"{USER}_{SERIAL}_20260301_083030"
GOOD_META = {
    "X-Container-Meta-Userid": USER,
    "X-Container-Meta-Bwcserialnumber": SERIAL,
    "X-Container-Meta-Triggerontime": "1772353830",
    "X-Container-Meta-Starttime": "1772353800",
    "X-Container-Meta-Stoptime": "1772354100",
}


@dataclass
class Cd:
    """A careful CD with a user, a device and a recording, and a token for it."""

    swift: SwiftApp
    loop: asyncio.AbstractEventLoop
    token: str

    def request(self, method: str, path: str, headers: dict[str, bytes], query: bytes,
                body: bytes) -> int:
        """Drive the ASGI app directly: any bytes in, any bytes out, just the status back
        (a test client would refuse to read back a header byte over 127)."""
        return self.loop.run_until_complete(asgi_status(self.swift.app, method, path, headers,
                                                        query, body))


async def asgi_status(app: Any, method: str, path: str, headers: dict[str, bytes],
                      query: bytes, body: bytes) -> int:
    raw_path = path.encode("latin-1")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        # As uvicorn decodes it: UTF-8, undecodable bytes replaced.
        "scheme": "http", "path": unquote(path),
        "raw_path": raw_path, "root_path": "", "query_string": query,
        "headers": [(b"host", b"cd.test"), (b"content-length", str(len(body)).encode())]
        + [(k.lower().encode("latin-1"), v) for k, v in headers.items()],
        "client": ("127.0.0.1", 1), "server": ("cd.test", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    try:
        await app(scope, receive, send)
    except Exception:  # an exception out of the app is what a server answers with 500
        return 500
    return statuses[0] if statuses else 0


@pytest.fixture(scope="module")
def cd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cd]:
    data = tmp_path_factory.mktemp("swift-fuzz")
    store = ObjectStore(data)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(publish_capabilities(store, "bodyworn",
                                                 {"Store": ["StoreRejectedContent"]}))
    swift = SwiftApp(store, [SwiftAccount("bw", "secret", "bodyworn")],
                     clock=ManualClock(datetime(2026, 3, 2, tzinfo=UTC)),
                     max_object_size=256 * 1024)
    token = swift.tokens.issue("bodyworn")
    cd = Cd(swift, loop, token)
    for where, name in (("Users", USER), ("Devices", SERIAL)):
        assert _send(cd, "PUT", f"{ACCOUNT}/{where}") in (201, 202)
        assert _send(cd, "PUT", f"{ACCOUNT}/{where}/{name}", body=b"{}") == 201
    assert _send(cd, "PUT", f"{ACCOUNT}/{RECORDING}", headers=GOOD_META) == 201
    try:
        yield cd
    finally:
        loop.close()


def _send(cd: Cd, method: str, path: str, *, headers: dict[str, str] | None = None,
          params: dict[str, str] | None = None, body: bytes = b"",
          token: str | None = "valid") -> int:
    sent: dict[str, str] = dict(headers or {})
    if token == "valid":
        sent["X-Auth-Token"] = cd.token
    elif token is not None:
        sent["X-Auth-Token"] = token
    # Header values go out as Latin-1 bytes, as a raw HTTP client would send them.
    raw = {k: v.encode("latin-1", "replace") for k, v in sent.items()}
    return cd.request(method, path, raw, urlencode(params or {}).encode(), body)


# --- the corpus: requests that once broke a Swift server, or could -----------------------

LONG = "a" * 300
CORPUS: list[tuple[str, str, str, dict[str, Any]]] = [
    # (name, method, path, extra) -> every one must be answered with a status below 500
    ("nul in container", "PUT", f"{ACCOUNT}/ab%00cd", {}),
    ("nul in object", "PUT", f"{ACCOUNT}/box/ab%00cd", {"body": b"x"}),
    ("256-byte container", "PUT", f"{ACCOUNT}/{'a' * 256}", {}),
    ("256-byte object", "PUT", f"{ACCOUNT}/box/{'a' * 256}", {"body": b"x"}),
    ("1025-byte object", "PUT", f"{ACCOUNT}/box/{'a' * 1025}", {"body": b"x"}),
    ("long multibyte container", "HEAD", f"{ACCOUNT}/{'%C3%A9' * 128}", {}),
    ("dot-dot container", "PUT", f"{ACCOUNT}/%2e%2e", {}),
    ("dot-dot object", "GET", f"{ACCOUNT}/box/%2e%2e%2f%2e%2e", {}),
    ("encoded slash container", "PUT", f"{ACCOUNT}/a%2fb", {}),
    ("bad utf-8 name", "PUT", f"{ACCOUNT}/%ff%fe", {}),
    ("lone surrogate", "PUT", f"{ACCOUNT}/%ed%a0%80", {}),
    ("account too long", "GET", f"/v1/AUTH_{'x' * 100}", {}),
    ("account with nul", "GET", "/v1/AUTH_a%00b", {}),
    ("listing limit huge", "GET", ACCOUNT, {"params": {"limit": "9" * 5000}}),
    ("listing limit negative", "GET", f"{ACCOUNT}/Users", {"params": {"limit": "-1"}}),
    ("listing limit unicode digits", "GET", ACCOUNT, {"params": {"limit": "²"}}),
    ("listing delimiter long", "GET", ACCOUNT, {"params": {"delimiter": "ab"}}),
    ("listing marker nul", "GET", f"{ACCOUNT}/Users", {"params": {"marker": "\x00"}}),
    ("format odd", "GET", ACCOUNT, {"params": {"format": "xml"}}),
    ("metadata key too long", "POST", f"{ACCOUNT}/box",
     {"headers": {f"X-Container-Meta-{LONG}": "v"}}),
    ("metadata value too long", "POST", f"{ACCOUNT}/box",
     {"headers": {"X-Container-Meta-Note": "v" * 300}}),
    ("too many metadata items", "POST", f"{ACCOUNT}/box",
     {"headers": {f"X-Container-Meta-K{i}": "v" for i in range(100)}}),
    ("epoch far future", "PUT", f"{ACCOUNT}/{RECORDING}",
     {"headers": {**GOOD_META, "X-Container-Meta-Starttime": "9" * 30}}),
    ("epoch unicode digits", "PUT", f"{ACCOUNT}/{RECORDING}",
     {"headers": {**GOOD_META, "X-Container-Meta-Stoptime": "%C2%B2"}}),
    ("iso year one with offset", "POST", f"{ACCOUNT}/{RECORDING}",
     {"headers": {"X-Container-Meta-Starttimeiso": "0001-01-01T00:00:00+01:00"}}),
    ("iso year 9999 with offset", "POST", f"{ACCOUNT}/{RECORDING}",
     {"headers": {"X-Container-Meta-Stoptimeiso": "9999-12-31T23:59:59-01:00"}}),
    ("unknown user", "PUT", f"{ACCOUNT}/x_{SERIAL}_20260301_083030",
     {"headers": {**GOOD_META, "X-Container-Meta-Userid": "x"}}),
    ("user with nul", "PUT", f"{ACCOUNT}/{RECORDING}",
     {"headers": {**GOOD_META, "X-Container-Meta-Userid": "a%00b"}}),
    ("etag mismatch", "PUT", f"{ACCOUNT}/{RECORDING}/clip.mkv",
     {"headers": {"Etag": "0" * 32}, "body": b"abc"}),
    ("etag garbage", "PUT", f"{ACCOUNT}/{RECORDING}/clip.mkv",
     {"headers": {"Etag": "\"" * 10}, "body": b"abc"}),
    ("object over the limit", "PUT", f"{ACCOUNT}/box/big", {"body": b"x" * (256 * 1024 + 1)}),
    ("range beyond the end", "GET", f"{ACCOUNT}/Users/{USER}",
     {"headers": {"Range": "bytes=99999999999999999999-"}}),
    ("range garbage", "GET", f"{ACCOUNT}/Users/{USER}", {"headers": {"Range": "bytes=-"}}),
    ("range many", "GET", f"{ACCOUNT}/Users/{USER}",
     {"headers": {"Range": "bytes=" + ",".join(f"{i}-{i}" for i in range(500))}}),
    ("post to a missing object", "POST", f"{ACCOUNT}/box/nothing", {}),
    ("delete", "DELETE", f"{ACCOUNT}/Users/{USER}", {}),
    ("copy", "COPY", f"{ACCOUNT}/Users/{USER}", {"headers": {"Destination": "/x/y"}}),
    ("no token", "GET", ACCOUNT, {"token": None}),
    ("forged token", "GET", ACCOUNT, {"token": "bw_" + "A" * 32}),
    ("token of nul", "GET", ACCOUNT, {"token": "\x00"}),
    ("auth without user", "GET", "/auth/v1.0", {"token": None}),
    ("auth with huge key", "GET", "/auth/v1.0",
     {"token": None, "headers": {"X-Auth-User": "bw", "X-Auth-Key": "k" * 8000}}),
]


@pytest.mark.parametrize(("method", "path", "extra"), [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])
def test_corpus_of_bad_requests_is_refused_cleanly(cd: Cd, method: str, path: str,
                                                   extra: dict[str, Any]) -> None:
    if path == f"{ACCOUNT}/box" or "/box/" in path:
        _send(cd, "PUT", f"{ACCOUNT}/box")
    status = _send(cd, method, path, **extra)
    assert status < 500, status


def test_the_corpus_refusals_are_the_right_ones(cd: Cd) -> None:
    _send(cd, "PUT", f"{ACCOUNT}/box")
    assert _send(cd, "PUT", f"{ACCOUNT}/ab%00cd") == 400
    assert _send(cd, "PUT", f"{ACCOUNT}/{'a' * 256}") == 400
    assert _send(cd, "PUT", f"{ACCOUNT}/box/{'a' * 1025}", body=b"x") == 400
    assert _send(cd, "PUT", f"{ACCOUNT}/box/big", body=b"x" * (256 * 1024 + 1)) == 413
    assert _send(cd, "PUT", f"{ACCOUNT}/{RECORDING}",
                 headers={**GOOD_META, "X-Container-Meta-Starttime": "9" * 30}) == 400
    assert _send(cd, "GET", ACCOUNT, token="bw_" + "A" * 32) == 401
    assert _send(cd, "DELETE", f"{ACCOUNT}/Users/{USER}") == 405


# --- Hypothesis: requests drawn at random --------------------------------------------------

NAME_ALPHABET = st.characters(codec="utf-8", exclude_categories=["Cs"])
names = st.one_of(
    st.sampled_from(["Users", "Devices", "System", "box", RECORDING, USER, SERIAL,
                     f"{RECORDING}_rejected", "Capabilities.json", ".", "..", "a/b"]),
    st.text(NAME_ALPHABET, min_size=1, max_size=40),
    st.text("a%0/.é", min_size=1, max_size=300),
    st.builds(lambda n: "x" * n, st.integers(250, 1030)),
)
META_KEYS = ["Userid", "Bwcserialnumber", "Triggerontime", "Starttime", "Stoptime",
             "Starttimeiso", "Stoptimeiso", "Triggerontimeiso", "Status", "Recordingid",
             "Gnss", "Startlocation", "Stoplocation", "Note"]
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
meta_values = st.one_of(
    header_text,
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["1772353800", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                     "2026-03-01T08:30:30Z", "Complete", "%00", "%ff", USER, SERIAL,
                     "+59.3293+018.0686+4.0+1772353800", "+59.3+018.0+4.0+" + "9" * 40]),
)


def _quoted(name: str, safe: str = "") -> str:
    # "%" stays as it is, so drawn escapes such as %00 reach the server undecoded.
    return quote(name, safe="%" + safe)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS",
                                   "PATCH"]))
    shape = draw(st.sampled_from(["auth", "account", "container", "object", "object",
                                  "other"]))
    if shape == "auth":
        path = draw(st.sampled_from(["/auth/v1.0", "/auth/v1", "/auth/v2"]))
    elif shape == "account":
        path = draw(st.sampled_from([ACCOUNT, "/v1/AUTH_other", "/v1/bodyworn", "/v1/"]))
    elif shape == "container":
        path = f"{ACCOUNT}/{_quoted(draw(names))}"
    elif shape == "object":
        path = f"{ACCOUNT}/{_quoted(draw(names))}/{_quoted(draw(names), '/')}"
    else:
        path = "/" + _quoted(draw(st.text(NAME_ALPHABET, max_size=40)), "/")
    kind = "Container" if shape == "container" else "Object"
    metadata = draw(st.dictionaries(
        st.one_of(st.sampled_from(META_KEYS), st.from_regex(r"\A[A-Za-z0-9-]{1,20}\Z")),
        meta_values, max_size=8))
    headers = {f"X-{kind}-Meta-{k}": v for k, v in metadata.items()}
    extra = draw(st.dictionaries(
        st.sampled_from(["Etag", "Range", "Content-Type", "X-Auth-User", "X-Auth-Key",
                         "Accept", "X-Object-Sha256", "If-None-Match", "Destination"]),
        header_text, max_size=3))
    params = draw(st.dictionaries(
        st.sampled_from(["limit", "marker", "end_marker", "prefix", "delimiter", "format",
                         "multipart-manifest", "symlink"]),
        st.one_of(header_text, st.integers(-(10**6), 10**30).map(str)), max_size=4))
    token = draw(st.sampled_from(["valid", "valid", "valid", None, "bw_forged"]))
    body = draw(st.one_of(st.just(b""), st.binary(max_size=512)))
    return {"method": method, "path": path, "headers": {**headers, **extra},
            "params": params, "body": body, "token": token}


@pytest.mark.fuzz
def test_no_request_makes_the_swift_api_fail(cd: Cd) -> None:
    findings = Findings("cd-swift")

    @fuzz_settings(300)
    @given(requests())
    @example({"method": "PUT", "path": f"{ACCOUNT}/ab%00cd", "headers": {}, "params": {},
              "body": b"", "token": "valid"})
    @example({"method": "GET", "path": f"{ACCOUNT}/{'é' * 128}", "headers": {}, "params": {},
              "body": b"", "token": "valid"})
    @example({"method": "PUT", "path": f"{ACCOUNT}/{RECORDING}", "params": {}, "body": b"",
              "token": "valid", "headers": {**GOOD_META, "X-Container-Meta-Starttime": "9" * 30}})
    def check(request: dict[str, Any]) -> None:
        if out_of_time():
            return
        findings.sent()
        status = _send(cd, request["method"], request["path"], headers=request["headers"],
                       params=request["params"], body=request["body"], token=request["token"])
        if status >= 500:
            findings.server_error(status, **request)

    rounds([check], findings)
