"""The Assistant app: the phone's service half (FastAPI) and the shell its browser runs.

The browser is the app's screen; this service is the rest of the app: it holds the device
key and the pairing, talks to the camera over the pinned TLS link, and serves the screen
what it may show. Every route but the shell's static files needs the screen's session
(given by the link `bodyworn assistant` prints); every change also needs the app's own
request header, which no other site's page can send. Evidence is answered `no-store`
and inline only; the service worker caches the shell alone.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from babel import Locale, UnknownLocaleError
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image, ImageDraw
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from bodyworn.assistant import strings
from bodyworn.assistant.camera import AppRefused, CameraService, describe
from bodyworn.assistant.device import DeviceStore
from bodyworn.assistant.media import PlaybackFiles
from bodyworn.i18n.catalog import DEFAULT_LANGUAGE, LANGUAGES, translations
from bodyworn.wireless import wire
from bodyworn.wireless.messages import RecordingSummary

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
COOKIE = "bwa_session"
LANGUAGE_COOKIE = "bwa_lang"
# The header every change carries: a page of another site cannot send it.
CHANGE_HEADER = "x-requested-with"
CHANGE_VALUE = "bodyworn-assistant"
# The manual: only the first 12 characters of the user ID are shown in the watermark.
WATERMARK_CHARS = 12
PUBLIC_PREFIXES = ("/static/", "/icons/")
PUBLIC = {"/open", "/manifest.webmanifest", "/sw.js", "/offline"}
MAX_CODE = 512
MAX_NOTES_BODY = 64 * 1024

CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "style-src 'self'; script-src 'self'; connect-src 'self'; worker-src 'self'; "
       "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@dataclass(frozen=True)
class AssistantSettings:
    """Where the app keeps its data, where the air is, where it listens."""

    data_dir: Path
    air_url: str
    host: str = "127.0.0.1"
    port: int = 8765


@dataclass
class AssistantContext:
    """What every request of the app shares."""

    settings: AssistantSettings
    store: DeviceStore
    service: CameraService
    playback: PlaybackFiles
    env: Environment
    launch_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def open_url(self, base: str) -> str:
        """The link that lets the phone's browser in (printed at start)."""
        return f"{base.rstrip('/')}/open?token={self.launch_token}"


def build_context(settings: AssistantSettings) -> AssistantContext:
    """The app's data directory (made private), device key, camera link and templates."""
    store = DeviceStore(settings.data_dir)
    store.device_key()
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    return AssistantContext(settings, store, CameraService(store, settings.air_url),
                            PlaybackFiles(store.data_dir / "playback"), env)


def language_of(request: Request) -> str:
    """The phone's language among those the app speaks (cookie, then Accept-Language)."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    wanted = []
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            wanted.append(tag.replace("_", "-"))
    try:
        found = Locale.negotiate(wanted, list(LANGUAGES), sep="-")
    except (UnknownLocaleError, ValueError):
        found = None
    return str(found.language) if found is not None else DEFAULT_LANGUAGE


def _gettext(request: Request) -> Callable[[str], str]:
    return translations(language_of(request)).gettext


def _refused(request: Request, exc: AppRefused) -> JSONResponse:
    return JSONResponse(describe(exc, _gettext(request)), status_code=exc.status,
                        headers={"Cache-Control": "no-store"})


def _no_store(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


@cache
def icon_png(size: int) -> bytes:
    """The app's icon: a camera lens on dark blue (drawn, so no binary ships)."""
    image = Image.new("RGBA", (size, size), (16, 22, 28, 255))
    draw = ImageDraw.Draw(image)
    pad = size // 6
    draw.rounded_rectangle((pad, pad * 2, size - pad, size - pad), radius=size // 10,
                           fill=(10, 90, 168, 255))
    r = size // 5
    c = size // 2
    draw.ellipse((c - r, c - r + pad // 2, c + r, c + r + pad // 2), fill=(16, 22, 28, 255))
    draw.ellipse((c - r // 2, c - r // 2 + pad // 2, c + r // 2, c + r // 2 + pad // 2),
                 fill=(220, 180, 40, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def recording_json(recording: RecordingSummary) -> dict[str, Any]:
    """A recording for the screen: its summary and where its clips play."""
    data = recording.to_json()
    for index, clip in enumerate(data["clips"]):
        clip["media"] = f"/media/recordings/{recording.id}/{index}"
    return data


def create_app(ctx: AssistantContext) -> FastAPI:
    """The ASGI app of the Assistant."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await ctx.service.aclose()

    app = FastAPI(lifespan=lifespan, title="bodyworn assistant", openapi_url=None,
                  docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                   ) -> Response:
        path = request.url.path
        public = path in PUBLIC or path.startswith(PUBLIC_PREFIXES)
        if not public:
            if not ctx.store.session_valid(request.cookies.get(COOKIE)):
                response = _locked(request, ctx)
                return _secure(request, response)
            if request.method not in ("GET", "HEAD") and (
                    request.headers.get(CHANGE_HEADER) != CHANGE_VALUE):
                return _secure(request, JSONResponse(
                    {"error": "missing request header", "reason": "forbidden"},
                    status_code=403))
        return _secure(request, await call_next(request))

    _shell_routes(app, ctx)
    _pairing_routes(app, ctx)
    _media_routes(app, ctx)
    return app


def _shell_routes(app: FastAPI, ctx: AssistantContext) -> None:
    """The printed link, the shell page, what makes it an installable app."""

    @app.get("/open")
    async def open_app(request: Request, token: str = "") -> Response:
        """The printed link: lets this browser in (a cookie), then shows the app."""
        if not token or not secrets.compare_digest(token, ctx.launch_token):
            return _locked(request, ctx)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, ctx.store.new_session(), max_age=30 * 86400,
                            httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @app.get("/")
    async def shell(request: Request) -> Response:
        """The app's one page; the script shows recordings, the player, live view, pairing."""
        gettext = _gettext(request)
        html = ctx.env.get_template("assistant/shell.html").render(
            _=gettext, lang=language_of(request), strings=strings.translated(gettext))
        response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, str(request.query_params["lang"]),
                                samesite="strict", httponly=True, path="/")
        return response

    @app.get("/offline")
    async def offline(request: Request) -> Response:
        """What the service worker shows when the app's service does not answer."""
        html = ctx.env.get_template("assistant/offline.html").render(
            _=_gettext(request), lang=language_of(request))
        return HTMLResponse(html)

    @app.get("/manifest.webmanifest")
    async def manifest(request: Request) -> Response:
        """The web app manifest (installable on the home screen)."""
        gettext = _gettext(request)
        data = {
            "name": gettext("Body Worn Assistant"), "short_name": gettext("Assistant"),
            "start_url": "/", "scope": "/", "display": "standalone",
            "background_color": "#10161c", "theme_color": "#10161c",
            "lang": language_of(request),
            "icons": [{"src": f"/icons/{n}.png", "sizes": f"{n}x{n}", "type": "image/png",
                       "purpose": "any"} for n in (192, 512)],
        }
        return Response(json.dumps(data), media_type="application/manifest+json")

    @app.get("/icons/{size}.png")
    async def icon(size: int) -> Response:
        """The app's icon in the sizes the manifest names."""
        if size not in (192, 512):
            return Response(status_code=404)
        return Response(icon_png(size), media_type="image/png",
                        headers={"Cache-Control": "max-age=86400"})

    @app.get("/sw.js")
    async def service_worker() -> Response:
        """The service worker, served from the root so that it covers the app."""
        return FileResponse(STATIC_DIR / "assistant" / "sw.js",
                            media_type="text/javascript",
                            headers={"Cache-Control": "no-cache"})


def state_json(ctx: AssistantContext, camera_ok: bool = True) -> dict[str, Any]:
    """The app's state for the script: paired or not, whose, the camera's status."""
    state = ctx.service.state()
    user = state.user_id or ""
    return {"paired": state.paired, "user_id": user,
            "watermark_id": user[:WATERMARK_CHARS], "code_scanned": state.code_scanned,
            "camera": state.camera.to_json() if state.camera and camera_ok else None,
            "max_notes": wire.MAX_NOTES}


def _pairing_routes(app: FastAPI, ctx: AssistantContext) -> None:
    """The API the script calls: state and pairing."""

    @app.get("/api/state")
    async def api_state(request: Request) -> Response:
        """Paired or not, whose, and the camera's status when it can be reached."""
        data = state_json(ctx)
        if data["paired"]:
            try:
                data["camera"] = (await ctx.service.status()).to_json()
            except AppRefused as exc:
                data["camera"] = None
                data["camera_problem"] = describe(exc, _gettext(request))
        return _no_store(data)

    @app.post("/api/pairing/code")
    async def api_code(request: Request) -> Response:
        """A scanned or pasted QR code."""
        body = await _json_body(request, MAX_CODE * 2)
        text = body.get("code") if isinstance(body, dict) else None
        if not isinstance(text, str) or len(text) > MAX_CODE:
            return _refused(request, AppRefused(422, "bad_code"))
        try:
            ctx.service.scan(text)
        except AppRefused as exc:
            return _refused(request, exc)
        return _no_store(state_json(ctx))

    @app.post("/api/pairing/pin")
    async def api_pin(request: Request) -> Response:
        """The PIN: completes the pairing on the camera."""
        body = await _json_body(request, 256)
        pin = body.get("pin") if isinstance(body, dict) else None
        if not isinstance(pin, str):
            return _refused(request, AppRefused(422, "bad_pin"))
        try:
            await ctx.service.enter_pin(pin)
        except AppRefused as exc:
            return _refused(request, exc)
        ctx.playback.wipe()
        return _no_store(state_json(ctx))

    @app.delete("/api/pairing")
    async def api_forget() -> Response:
        """Remove the pairing from this device (the first step of replacing it)."""
        await ctx.service.forget()
        ctx.playback.wipe()
        return _no_store(state_json(ctx))


def _media_routes(app: FastAPI, ctx: AssistantContext) -> None:
    """Recordings, annotations, clips and live video."""

    @app.get("/api/recordings")
    async def api_recordings(request: Request) -> Response:
        """The recordings on the camera (and the playable files of others go)."""
        try:
            found = await ctx.service.recordings()
            status = ctx.service.state().camera
        except AppRefused as exc:
            if exc.reason in ("docked", "no_access"):
                ctx.playback.wipe()  # the camera is being emptied: nothing of it stays
            return _refused(request, exc)
        if status is not None:
            ctx.playback.prune(status.serial, found)
        return _no_store([recording_json(r) for r in found])

    @app.put("/api/recordings/{recording_id}/annotation")
    async def api_annotate(request: Request, recording_id: str) -> Response:
        """Save a recording's category and notes on the camera."""
        body = await _json_body(request, MAX_NOTES_BODY)
        if not isinstance(body, dict):
            return _refused(request, AppRefused(422, "bad_category"))
        category, notes = body.get("category"), body.get("notes", "")
        if (category is not None and not isinstance(category, str)) or not isinstance(notes, str):
            return _refused(request, AppRefused(422, "bad_category"))
        try:
            done = await ctx.service.annotate(recording_id, category or None, notes)
        except AppRefused as exc:
            return _refused(request, exc)
        return _no_store(recording_json(done))

    @app.get("/media/recordings/{recording_id}/{index}")
    async def media_clip(request: Request, recording_id: str, index: int) -> Response:
        """A clip as MP4 for the player: inline, never stored by the browser."""
        try:
            status = ctx.service.state().camera or await ctx.service.status()
            path = await ctx.playback.playable(ctx.service, status.serial, recording_id, index)
        except AppRefused as exc:
            return _refused(request, exc)
        return FileResponse(path, media_type="video/mp4", headers={
            "Content-Disposition": "inline", "Cache-Control": "no-store"})

    @app.get("/media/live")
    async def media_live(request: Request) -> Response:
        """The camera's live picture (fragmented MP4), passed on as it arrives."""
        try:
            upstream = await ctx.service.live()
        except AppRefused as exc:
            return _refused(request, exc)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()

        codec = upstream.headers.get(wire.HEADER_CODEC, "avc1.42e01e")
        return StreamingResponse(relay(), media_type=wire.LIVE_CONTENT_TYPE, headers={
            "Content-Disposition": "inline", "Cache-Control": "no-store",
            wire.HEADER_CODEC: codec})



async def _json_body(request: Request, limit: int) -> Any:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            return None
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _locked(request: Request, ctx: AssistantContext) -> Response:
    """The answer without the screen's session: nothing of the app, how to get in."""
    if request.url.path.startswith(("/api/", "/media/")):
        return JSONResponse({"error": "open the link that bodyworn assistant printed",
                             "reason": "locked"}, status_code=401,
                            headers={"Cache-Control": "no-store"})
    gettext = _gettext(request)
    html = ctx.env.get_template("assistant/locked.html").render(
        _=gettext, lang=language_of(request))
    return HTMLResponse(html, status_code=401, headers={"Cache-Control": "no-store"})


def _secure(request: Request, response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=()")
    if request.url.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
