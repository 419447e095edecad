"""The evidence browser under `/browser/`: login, recordings, a recording page, playback.

Routes are thin: `recordings.EvidenceReader` reads, `playback.PlaybackCache` makes MP4s,
`browser_auth` checks the password and sessions. Every page but the login needs a
session; every POST carries a CSRF token; pages run no script at all, and the CSP says so.
"""

from __future__ import annotations

import secrets
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bodyworn import webui
from bodyworn.destination.browser_auth import (
    LOGIN_THRESHOLD,
    Sessions,
    same_secret,
    verify_browser_password,
)
from bodyworn.destination.export import Exporter, ExportRefused
from bodyworn.destination.playback import PlaybackCache, PlaybackError
from bodyworn.destination.recordings import EvidenceReader, Filters, ObjectRow
from bodyworn.destination.store import BadName, NotFound
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.domain.throttle import GuessThrottle
from bodyworn.evidence.crypto import EvidenceCryptoError
from bodyworn.store.files import make_dirs_durable

HERE = Path(__file__).parent
log = structlog.get_logger(__name__)
# Where the site mounts the browser; cookies are scoped to it.
BASE = "/browser"
SESSION_COOKIE = "bw_cd_session"
LOGIN_COOKIE = "bw_cd_login"
# The browser has one password, so one count of wrong guesses, whoever sends them.
THROTTLE_KEY = "browser-password"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Over HTTPS, browsers are told to come back only over HTTPS for a year.
HSTS = "max-age=31536000"
# The browser only takes small forms (login, logout).
MAX_BODY = 64 * 1024


class SecurityHeaders:
    """Adds the CSP and friends to every browser response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to one response."""

        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if https:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> Environment:
    # The browser's own pages, in the frame the manager uses too (webui/).
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"),
                             FileSystemLoader(webui.TEMPLATE_DIR)]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda s: quote(str(s), safe="")
    env.filters["qpath"] = lambda s: quote(str(s), safe="/")
    # Times in the zone the recording was made in (its TimeZone), with the zone named.
    env.filters["local"] = lambda moment, zone="UTC", seconds=True: webui.local_time(
        moment, zone, seconds=seconds)
    # A time the CD itself wrote (ISO 8601, UTC): said in UTC, named.
    env.filters["iso_utc"] = lambda text: webui.local_time(_iso(str(text)), "UTC", seconds=True)
    env.globals["size"] = webui.size
    env.globals["duration"] = webui.duration
    return env


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


class EvidenceBrowser:
    """The browser's routes over one account of the store; `app` is the ASGI app."""

    def __init__(
        self,
        reader: EvidenceReader,
        data_dir: Path,
        *,
        cache: PlaybackCache | None = None,
        clock: Clock | None = None,
        site: str = "bodyworn",
    ) -> None:
        self.reader = reader
        self.data_dir = data_dir
        self.cache = cache or PlaybackCache(data_dir / "browser-cache")
        self.clock = clock or SystemClock()
        self.exporter = Exporter(reader, data_dir, site, self.clock)
        self.sessions = Sessions(self.clock)
        # Wrong passwords lock the browser's one login (in memory, like the sessions).
        self.throttle = GuessThrottle()
        self.templates = Jinja2Templates(env=_environment())
        # Clips made playable ahead of Play, one at a time (each is a lock in the cache).
        self.preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-prepare")
        routes = [
            Route("/", self.index, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/rejected", self.rejected, methods=["GET"]),
            Route("/recordings/{container}", self.recording, methods=["GET"]),
            Route("/recordings/{container}/play/{name:path}", self.play, methods=["GET"]),
            Route("/export", self.export, methods=["POST"]),
            Route("/exports", self.exports, methods=["GET"]),
            Mount("/static", StaticFiles(directory=webui.STATIC_DIR), name="static"),
        ]
        self.app: ASGIApp = SecurityHeaders(Starlette(routes=routes, max_body_size=MAX_BODY))

    @property
    def private_key(self) -> rsa.RSAPrivateKey | None:
        """The CD's content key, when it has one."""
        return self.reader.private_key

    def _render(self, request: Request, name: str, status: int = 200, **ctx: object) -> Response:
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        ctx.setdefault("csrf", session.csrf if session else "")
        ctx.setdefault("logged_in", session is not None)
        ctx.setdefault("base", BASE)
        resp = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _login_redirect(self, request: Request) -> Response | None:
        if self.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
            return None
        return RedirectResponse(f"{BASE}/login", status_code=303)

    @staticmethod
    def _secure(request: Request) -> bool:
        return request.url.scheme == "https"

    async def login_page(self, request: Request, error: str = "", status: int = 200,
                         retry_after: int | None = None) -> Response:
        """The login form (a fresh double-submit token in a cookie and the form)."""
        token = secrets.token_urlsafe(24)
        resp = self._render(request, "login.html", status, login_token=token, error=error)
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        resp.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
            path=BASE,
        )
        return resp

    async def login(self, request: Request) -> Response:
        """Check the password; start a session."""
        form = await request.form()
        if not same_secret(str(form.get("login_token", "")), request.cookies.get(LOGIN_COOKIE)):
            return await self.login_page(request, "The form expired; try again.", 400)
        password = str(form.get("password", ""))
        # The guess counts as failed before it is checked, so a burst cannot slip past.
        wait = self.throttle.charge(THROTTLE_KEY, self.clock.now(), LOGIN_THRESHOLD)
        if wait is not None:
            seconds = int(wait.total_seconds()) + 1
            return await self.login_page(
                request, f"Too many failed attempts. Try again in {seconds} s.", 429, seconds)
        ok = await run_in_threadpool(verify_browser_password, self.data_dir, password)
        if not ok:
            return await self.login_page(request, "Wrong password.", 401)
        self.throttle.clear(THROTTLE_KEY)
        session = self.sessions.create()
        resp = RedirectResponse(f"{BASE}/", status_code=303)
        resp.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
            path=BASE,
        )
        resp.delete_cookie(LOGIN_COOKIE, path=BASE)
        return resp

    async def logout(self, request: Request) -> Response:
        """End the session (CSRF-checked)."""
        token = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(token)
        form = await request.form()
        if session is None or not same_secret(str(form.get("csrf", "")), session.csrf):
            return PlainTextResponse("Forbidden", status_code=403)
        self.sessions.drop(token)
        resp = RedirectResponse(f"{BASE}/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path=BASE)
        return resp

    async def index(self, request: Request) -> Response:
        """Recordings, filterable by user, camera and date."""
        if (redirect := self._login_redirect(request)) is not None:
            return redirect
        q = request.query_params
        filters = Filters(
            user=q.get("user", "").strip(),
            camera=q.get("camera", "").strip(),
            day_from=_day(q.get("from", "")),
            day_to=_day(q.get("to", "")),
        )
        bad_date = any(q.get(k) and _day(q.get(k, "")) is None for k in ("from", "to"))
        rows = await run_in_threadpool(self.reader.recordings, filters)
        return self._render(
            request,
            "recordings.html",
            rows=rows,
            filters=filters,
            query=dict(q),
            error="Dates are YYYY-MM-DD." if bad_date else "",
        )

    async def rejected(self, request: Request) -> Response:
        """The rejected-content list."""
        if (redirect := self._login_redirect(request)) is not None:
            return redirect
        rows = await run_in_threadpool(self.reader.rejected)
        return self._render(request, "rejected.html", rows=rows)

    async def recording(self, request: Request) -> Response:
        """One recording: metadata, objects with hashes, clips, track, bookmarks."""
        if (redirect := self._login_redirect(request)) is not None:
            return redirect
        container = request.path_params["container"]
        try:
            view = await run_in_threadpool(self.reader.recording, container)
        except NotFound:
            return self._render(request, "missing.html", 404, what=container)
        ready = {clip.name: self._prepare(container, clip) for clip in view.clips}
        return self._render(
            request, "recording.html", view=view, can_decrypt=self.private_key is not None,
            ready=ready,
        )

    def _prepare(self, container: str, clip: ObjectRow) -> bool:
        """Whether a clip plays at once; if not, start making it playable now, so the
        decryption and remux run while the page is read, not after Play."""
        if self.cache.ready(clip.sha256):
            return True
        if clip.encrypted and self.private_key is None:
            return False
        self.preparer.submit(self._warm, container, clip.name)
        return False

    def _warm(self, container: str, name: str) -> None:
        try:
            obj = self.reader.store.get_object(self.reader.account, container, name)
            key_file = self.reader.content_key_for(container, name)
            self.cache.playable(obj.path, obj.sha256, key_file, self.private_key)
        except (NotFound, PlaybackError, EvidenceCryptoError) as exc:
            log.info("clip not prepared", container=container, clip=name, error=str(exc))

    async def export(self, request: Request) -> Response:
        """One recording or a case of several as an evidence archive (CSRF-checked, logged)."""
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        form = await request.form()
        if session is None or not same_secret(str(form.get("csrf", "")), session.csrf):
            return PlainTextResponse("Forbidden", status_code=403)
        containers = [str(c) for c in form.getlist("container")]
        case = str(form.get("case", "")).strip()
        folder = self.data_dir / "exports-tmp"
        await run_in_threadpool(make_dirs_durable, folder)
        handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".zip", delete=False)  # noqa: SIM115
        path = Path(handle.name)
        source = request.client.host if request.client else ""
        try:
            with handle:
                result = await run_in_threadpool(
                    self.exporter.export, containers, handle, actor="evidence browser",
                    source=source, case=case)
        except ExportRefused as exc:
            path.unlink(missing_ok=True)
            return PlainTextResponse(str(exc), status_code=400)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        stem = case or (result.recordings[0] if len(result.recordings) == 1 else "case")
        filename = "evidence-" + "".join(
            c if c.isalnum() or c in "-_." else "_" for c in stem)[:80] + ".zip"
        return FileResponse(
            path, media_type="application/zip", filename=filename,
            headers={"Cache-Control": "no-store", "X-Export-Id": result.export_id},
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    async def exports(self, request: Request) -> Response:
        """The export log: who exported what, when, and the archive's manifest hash."""
        if (redirect := self._login_redirect(request)) is not None:
            return redirect
        entries = await run_in_threadpool(self.exporter.log.entries)
        problem = await run_in_threadpool(self.exporter.log.verify)
        return self._render(request, "exports.html", entries=list(reversed(entries)),
                            problem=problem)

    async def play(self, request: Request) -> Response:
        """A clip as MP4 (decrypted and remuxed on first view), with Range support."""
        if self.sessions.get(request.cookies.get(SESSION_COOKIE)) is None:
            return PlainTextResponse("Login required", status_code=401)
        container, name = request.path_params["container"], request.path_params["name"]
        try:
            if not self.reader.is_evidence(container):
                raise NotFound(container)
            obj = self.reader.store.get_object(self.reader.account, container, name)
            key_file = self.reader.content_key_for(container, name)
            mp4 = await run_in_threadpool(
                self.cache.playable, obj.path, obj.sha256, key_file, self.private_key
            )
        except (NotFound, BadName):
            return PlainTextResponse("Not Found", status_code=404)
        except (PlaybackError, EvidenceCryptoError) as exc:
            return PlainTextResponse(str(exc), status_code=422)
        resp = FileResponse(mp4, media_type="video/mp4")
        resp.headers["Cache-Control"] = "private, max-age=300"
        return resp
