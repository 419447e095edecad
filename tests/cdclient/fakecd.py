"""A small in-memory Swift-subset server with fault injection, for the client's error paths.

It behaves like the reference CD where the client cares: tokens from /auth/v1.0, a
storage URL of its own shape, 404 for objects in missing containers, no ETag in PUT
answers, 422 when the request ETag does not match the body. Faults are answered before
anything else, in the order they were added.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import secrets
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]
    status: int
    body_md5: str | None = None


class FakeCD:
    """State and ASGI app of the fake content destination."""

    def __init__(self, *, user: str = "bw", key: str = "secret", prefix: str = "/v1.0/abc"):
        self.user, self.key, self.prefix = user, key, prefix
        self.reset()
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self.handle,
                    methods=["GET", "HEAD", "PUT", "POST", "DELETE"],
                )
            ]
        )

    def reset(self) -> None:
        self.tokens: set[str] = set()
        self.containers: dict[str, dict[str, str]] = {}
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.etag_override: dict[str, str] = {}
        # ETags to answer object PUTs with, per "<container>/<object>", one per PUT: the
        # body's md5 for "md5", anything else as given; none left means no ETag.
        self.put_etags: dict[str, list[str]] = {}
        self.auth_count = 0
        # Object PUTs matching `slow_puts` are held `slow_seconds` before they are answered;
        # `most_puts_at_once` is the largest number of object PUTs ever in flight together.
        self.slow_puts: re.Pattern[str] | None = None
        self.slow_seconds = 0.0
        self.puts_in_flight = 0
        self.most_puts_at_once = 0

    def fault(self, method: str, path: str, status: int, times: int = 1, **kw: object) -> None:
        self.faults.append(Fault(method, re.compile(path), status, times, **kw))  # type: ignore[arg-type]

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def put_system_object(self, name: str, body: bytes) -> None:
        self.containers.setdefault("System", {})
        self.objects[("System", name)] = (body, {})

    def requests(self, method: str | None = None) -> list[Logged]:
        return [r for r in self.log if method is None or r.method == method]

    async def handle(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = await request.body()
        slow = (request.method == "PUT" and self.slow_puts is not None
                and self.slow_puts.search(path) is not None)
        if slow:
            self.puts_in_flight += 1
            self.most_puts_at_once = max(self.most_puts_at_once, self.puts_in_flight)
            try:
                await asyncio.sleep(self.slow_seconds)
            finally:
                self.puts_in_flight -= 1
        resp = await self._dispatch(request.method, path, headers, body, request)
        self.log.append(
            Logged(
                request.method,
                path,
                headers,
                resp.status_code,
                hashlib.md5(body).hexdigest() if request.method == "PUT" else None,
            )
        )
        return resp

    async def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes, request: Request
    ) -> Response:
        for f in self.faults:
            if f.times > 0 and f.method == method and f.path.search(path):
                f.times -= 1
                if f.delay:
                    await asyncio.sleep(f.delay)
                return Response(status_code=f.status, headers=f.headers, content=b"fault")
        if path == "/auth/v1.0" and method == "GET":
            if headers.get("x-auth-user") != self.user or headers.get("x-auth-key") != self.key:
                return Response(status_code=401)
            self.auth_count += 1
            token = secrets.token_hex(8)
            self.tokens.add(token)
            base = f"{request.url.scheme}://{request.headers['host']}"
            return Response(
                status_code=200,
                headers={"X-Auth-Token": token, "X-Storage-Url": base + self.prefix},
            )
        if not path.startswith(self.prefix + "/"):
            return Response(status_code=404)
        if headers.get("x-auth-token") not in self.tokens:
            return Response(status_code=401)
        rest = path[len(self.prefix) + 1 :]
        container, _, obj = rest.partition("/")
        container, obj = unquote(container), unquote(obj)
        if obj:
            return self._object(method, container, obj, headers, body)
        return self._container(method, container, headers)

    @staticmethod
    def _meta(headers: dict[str, str], prefix: str) -> dict[str, str]:
        return {k[len(prefix) :]: unquote(v) for k, v in headers.items() if k.startswith(prefix)}

    def _container(self, method: str, name: str, headers: dict[str, str]) -> Response:
        meta = self._meta(headers, "x-container-meta-")
        if method == "PUT":
            existed = name in self.containers
            self.containers.setdefault(name, {}).update(meta)
            return Response(status_code=202 if existed else 201)
        if name not in self.containers:
            return Response(status_code=404)
        if method == "POST":
            self.containers[name].update(meta)
            return Response(status_code=204)
        if method == "HEAD":
            return Response(
                status_code=204,
                headers={f"X-Container-Meta-{k}": v for k, v in self.containers[name].items()},
            )
        return Response(status_code=400)

    def _object(
        self, method: str, container: str, name: str, headers: dict[str, str], body: bytes
    ) -> Response:
        if container not in self.containers:
            return Response(status_code=404)
        key = (container, name)
        meta = self._meta(headers, "x-object-meta-")
        if method == "PUT":
            sent = headers.get("etag")
            if sent is not None and sent.strip('"') != hashlib.md5(body).hexdigest():
                return Response(status_code=422)
            self.objects[key] = (body, meta)
            answers = self.put_etags.get(f"{container}/{name}")
            if answers:
                tag = answers.pop(0)
                tag = hashlib.md5(body).hexdigest() if tag == "md5" else tag
                return Response(status_code=201, headers={"Etag": f'"{tag}"'})
            return Response(status_code=201)
        if key not in self.objects:
            return Response(status_code=404)
        data, old_meta = self.objects[key]
        if method == "POST":
            self.objects[key] = (data, meta)
            return Response(status_code=202)
        out = {f"X-Object-Meta-{k}": v for k, v in old_meta.items()}
        out["Etag"] = self.etag_override.get(f"{container}/{name}", hashlib.md5(data).hexdigest())
        if method == "HEAD":
            return Response(status_code=200, headers=out)
        if method == "GET":
            return Response(status_code=200, headers=out, content=data)
        return Response(status_code=400)


class ServerThread:
    """Runs an ASGI app with uvicorn on a loopback port in a background thread."""

    def __init__(self, app: object, *, certfile: Path | None = None, keyfile: Path | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_level="warning",
            lifespan="off",
            # Idle connections stay open past any pause of a loaded machine: a client that
            # reuses one as the server drops it retries the request, and the dropped one's
            # handler may still log it after the test has moved on.
            timeout_keep_alive=120,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class ResetProxy:
    """TCP proxy that resets the first `resets` connections, then forwards to a port."""

    def __init__(self, target_port: int, resets: int = 1):
        self.resets = resets
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client: socket.socket = self.request
                if outer.resets > 0:
                    outer.resets -= 1
                    client.recv(1024)
                    # SO_LINGER 0 makes close() send RST: a reset, not a clean end.
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    client.close()
                    return
                upstream = socket.create_connection(("127.0.0.1", target_port))
                pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
                pump.start()
                _pump(client, upstream)
                pump.join(timeout=10)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ResetProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
