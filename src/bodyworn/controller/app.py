"""Builds the controller's ASGI app: the gate, each folder's pages and API, static files."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from bodyworn import __version__, webui
from bodyworn.controller.accounts import api as accounts_api
from bodyworn.controller.accounts import pages as accounts_pages
from bodyworn.controller.accounts.guard import AuthGate, csrf_guard
from bodyworn.controller.assignment import api as assignment_api
from bodyworn.controller.assignment import pages as assignment_pages
from bodyworn.controller.assignment.service import expire_windows
from bodyworn.controller.assignment.states import HolsterState
from bodyworn.controller.assistant_pairing import api as assistant_api
from bodyworn.controller.assistant_pairing import pages as assistant_pages
from bodyworn.controller.audit import api as audit_api
from bodyworn.controller.audit import pages as audit_pages
from bodyworn.controller.backup import api as backup_api
from bodyworn.controller.backup import pages as backup_pages
from bodyworn.controller.backup.service import run_if_due
from bodyworn.controller.cameras import api as cameras_api
from bodyworn.controller.cameras import pages as cameras_pages
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.certificates import api as certificates_api
from bodyworn.controller.certificates import pages as certificates_pages
from bodyworn.controller.certificates.service import ensure_default
from bodyworn.controller.clock.ntp import measure_offset
from bodyworn.controller.context import ControllerContext, make_templates, render
from bodyworn.controller.destinations import api as destination_api
from bodyworn.controller.destinations import pages as destination_pages
from bodyworn.controller.destinations.service import ConnectionFileClients, current_file
from bodyworn.controller.docking.orchestrator import Docking
from bodyworn.controller.docks import api as docks_api
from bodyworn.controller.docks import pages as docks_pages
from bodyworn.controller.docks import service as docks_service
from bodyworn.controller.docks.service import ensure_token
from bodyworn.controller.events import FirmwareInstalled, SettingsChanged
from bodyworn.controller.firmware import api as firmware_api
from bodyworn.controller.firmware import pages as firmware_pages
from bodyworn.controller.firmware import service as firmware
from bodyworn.controller.health import api as health_api
from bodyworn.controller.health import pages as health_pages
from bodyworn.controller.identity import service as identity
from bodyworn.controller.identity.service import SigningDockLinks
from bodyworn.controller.integrity import api as integrity_api
from bodyworn.controller.loops import Repeating
from bodyworn.controller.metrics import api as metrics_api
from bodyworn.controller.metrics import service as metrics_service
from bodyworn.controller.metrics.collector import Metrics
from bodyworn.controller.notifications import api as notifications_api
from bodyworn.controller.notifications import pages as notifications_pages
from bodyworn.controller.notifications.sender import Notifier
from bodyworn.controller.offload import api as offload_api
from bodyworn.controller.offload import pages as offload_pages
from bodyworn.controller.offload.base import OffloadConfig
from bodyworn.controller.offload.engine import OffloadEngine
from bodyworn.controller.ports import CameraOffload, NtpMeasurer
from bodyworn.controller.profiles import api as profiles_api
from bodyworn.controller.profiles import pages as profiles_pages
from bodyworn.controller.refusals import Refused
from bodyworn.controller.reset import api as reset_api
from bodyworn.controller.reset import pages as reset_pages
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import pages as setup_pages
from bodyworn.controller.setup.wizard import DraftStore
from bodyworn.controller.support import api as support_api
from bodyworn.controller.support import pages as support_pages
from bodyworn.controller.system import api as system_api
from bodyworn.controller.system import pages as system_pages
from bodyworn.controller.system import service as system
from bodyworn.controller.system.timekeeping import remeasure
from bodyworn.controller.tokens import api as tokens_api
from bodyworn.controller.tokens import pages as tokens_pages
from bodyworn.controller.users import api as users_api
from bodyworn.controller.users import pages as users_pages
from bodyworn.controller.web.bodies import (
    MAX_BODY_BYTES,
    DeclaredSizes,
    StrictJsonBodies,
    upload_limits,
)
from bodyworn.controller.web.routes import answer_refusal
from bodyworn.controller.workers import Service, Workers
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.store.db import make_engine, session_factory, upgrade
from bodyworn.store.private import secure_data_dir
from bodyworn.store.secrets import SecretsUnavailable, load_or_create_key

log = structlog.get_logger(__name__)
# State vocabularies for templates (they compare with CameraState.NEW rather than "new").
TEMPLATE_NAMES = {"CameraState": CameraState, "HolsterState": HolsterState}
# How often (real seconds) self-assign windows are checked: a window lapses 15 s after
# its tap, on the controller's clock, whether or not anyone looks.
WINDOW_CHECK_S = 1.0
# How often (real seconds) the system backup's schedule is looked at.
BACKUP_CHECK_S = 60.0


def default_ntp() -> NtpMeasurer:
    """The real NTP measurement (UDP port 123)."""

    def measure(server: str, fallback: str | None) -> float:
        return measure_offset(server, fallback).offset_seconds

    return measure


# Each folder: its pages (pages.py), then its JSON API and machine routes (api.py).
ROUTERS = (
    setup_pages.router,
    accounts_pages.router,
    accounts_api.router,
    system_pages.router,
    system_api.router,
    audit_pages.router,
    audit_api.router,
    destination_pages.router,
    destination_api.router,
    profiles_pages.router,
    profiles_api.router,
    users_pages.router,
    users_api.router,
    offload_pages.router,
    offload_api.router,
    health_pages.router,
    health_api.router,
    integrity_api.router,
    docks_pages.router,
    docks_api.machine,
    docks_api.router,
    cameras_pages.router,
    cameras_api.router,
    assignment_pages.router,
    assignment_api.machine,
    assignment_api.router,
    notifications_pages.router,
    notifications_api.router,
    tokens_pages.router,
    tokens_api.router,
    metrics_api.router,
    certificates_pages.router,
    certificates_api.router,
    assistant_pages.router,
    assistant_api.router,
    backup_pages.router,
    backup_api.router,
    reset_pages.router,
    reset_api.router,
    firmware_pages.router,
    firmware_api.router,
    support_pages.router,
    support_api.router,
)


async def http_error(request: Request, exc: Exception) -> Response:
    """An HTTP error: JSON for the API and non-browsers, the error page for browsers."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    ):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
    return render(request, "error.html", {"status_code": exc.status_code,
                                          "message": exc.detail}, exc.status_code)


async def favicon(request: Request) -> Response:
    """The icon browsers ask for by themselves (the pages name the SVG one)."""
    return Response(webui.favicon_ico(), media_type="image/x-icon",
                    headers={"Cache-Control": "public, max-age=86400"})


async def invalid(request: Request, exc: Exception) -> Response:
    """A request the route's types refuse: 422 naming each field."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
              for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                           ) -> Response:
    """The headers every answer carries (no sniffing, no framing, a strict CSP, HSTS)."""
    response = await call_next(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
    )
    if request.url.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.url.path.startswith("/static/"):
        # Pages and API answers show evidence metadata and users: never kept in a cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def build_context(
    settings: ControllerSettings, clock: Clock | None = None, ntp: NtpMeasurer | None = None
) -> ControllerContext:
    """Make the data directory private (or refuse it), open (and migrate) the database with
    its secrets key, give the context the implementations of its interfaces (ports.py),
    and load what setup decided, if it has run."""
    secure_data_dir(settings.data_dir)
    box, made_now = load_or_create_key(settings.secrets_key_path)
    ensure_token(settings.data_dir)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine, backup_dir=settings.data_dir / "backups", secrets=box)
        factory = session_factory(engine, secrets=box)
        check_secrets(factory, settings.secrets_key_path if made_now else None)
    except SecretsUnavailable:
        engine.dispose()
        if made_now:  # so that a later start does not take it for the lost one
            settings.secrets_key_path.unlink(missing_ok=True)
        raise
    clock = clock or SystemClock()
    cd_clients = ConnectionFileClients(factory, clock)
    ctx = ControllerContext(
        settings=settings,
        engine=engine,
        factory=factory,
        clock=clock,
        templates=make_templates(TEMPLATE_NAMES),
        docklinks=SigningDockLinks(factory, clock),
        cd_clients=cd_clients,
        wizard=DraftStore(clock),
        ntp=ntp,
        firmware=firmware.Installer(settings),
    )
    # Every answer of the CD tells its clock (the dashboard compares it with ours).
    cd_clients.on_answer = ctx.health.cd_answered
    with ctx.factory() as session, session.begin():
        # The certificate the manager is served with (older versions kept it as files).
        ensure_default(session, ctx.clock, settings.data_dir / "tls")
    ctx.events.subscribe(SettingsChanged, partial(_take_over_settings, ctx))
    ctx.events.subscribe(FirmwareInstalled, partial(_take_over_firmware, ctx))
    with ctx.factory() as session:
        row = system.settings_if_set_up(session)
        if row is not None:
            ctx.apply_system(row)
        install = firmware.installed(session)
        ctx.firmware_installed = install.version if install is not None else None
    return ctx


def check_secrets(factory: sessionmaker[Session], made_now: Path | None) -> None:
    """Refuse to go on when the stored secrets do not open with the key at hand
    (`made_now`: the key file, when it was made by this start)."""
    try:
        with factory() as session:
            identity.check_sealed(session)
            with contextlib.suppress(LookupError):
                current_file(session)
    except SecretsUnavailable as exc:
        if made_now is None:
            raise
        raise SecretsUnavailable(
            f"There was no secrets key at {made_now}, but the database holds secrets sealed "
            "with one. Put the original key file back (a copy of the data directory has it). "
            "Without it, set a new data directory up from the System restore key.") from exc


def _take_over_firmware(ctx: ControllerContext, event: FirmwareInstalled) -> None:
    """Pages show the firmware in force from memory."""
    ctx.firmware_installed = event.version


def _take_over_settings(ctx: ControllerContext, event: SettingsChanged) -> None:
    """What pages show from memory follows a change of the settings (name, language, zone)."""
    if not event.keys & {"system_name", "language", "timezone"}:
        return
    with ctx.factory() as session:
        row = system.settings_if_set_up(session)
    if row is not None:
        ctx.system_name, ctx.language, ctx.timezone = row.system_name, row.language, row.timezone


class _Listening:
    """The notifier as a restartable service: a restart keeps its subscriptions, so a
    critical event published meanwhile is kept for the loop."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def start(self) -> None:
        self.notifier.start()

    async def stop(self) -> None:
        await self.notifier.stop(keep_listening=True)


def _workers(ctx: ControllerContext, offload: CameraOffload,
             loops: list[tuple[str, Service]], backups: Service) -> Workers:
    """The background services as one (ctx.services): the offload engine, the loops, and
    the backup schedule unless a test drives the engine by hand."""
    services: list[tuple[str, Service]] = [("offload", offload), *loops]
    if offload.autostart:
        services.append(("system-backup", backups))
    workers = Workers(ctx, services)
    ctx.services = workers
    return workers


def _guard_and_route(app: FastAPI) -> None:
    """The middleware (the innermost first), the static files, the routers and the
    answers to errors."""
    # Added first, so it runs after the gate: only requests let through are parsed.
    app.add_middleware(StrictJsonBodies)
    app.add_middleware(AuthGate)
    # Outside the gate: a body declared too large is refused before anything looks at it
    # (against the upload routes' own limits, known once the routers are in).
    limits: dict[tuple[str, str], int] = {}
    app.add_middleware(DeclaredSizes, limits=limits)
    app.mount("/static", StaticFiles(directory=webui.STATIC_DIR), name="static")
    # A plain route: it takes no body, so it declares no body limit of its own.
    app.add_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    for router in ROUTERS:
        app.include_router(router)
    limits.update(upload_limits(app.routes))
    app.add_exception_handler(Refused, answer_refusal)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.middleware("http")(security_headers)


def create_app(ctx: ControllerContext) -> FastAPI:
    """The ASGI app for one controller.

    The offload engine and the docking orchestrator are made here unless a test gave its
    own (a Docking without offload: dock events about the registry only).
    """
    if ctx.offload is None:
        ctx.offload = OffloadEngine(ctx, config=OffloadConfig.from_settings(ctx.settings),
                                    before_prune=metrics_service.retire)
    offload = ctx.offload
    if ctx.docking is None:
        ctx.docking = Docking(ctx, offload)
    windows = Repeating("self-assign-windows", WINDOW_CHECK_S, partial(expire_windows, ctx))
    backups = Repeating("system-backup", BACKUP_CHECK_S, partial(run_if_due, ctx))
    stations = Repeating("station-checks", docks_service.STATION_CHECK_S,
                         partial(docks_service.check_stations, ctx))
    # NTP measured again on a schedule (and once at the start).
    time_loop = Repeating("ntp", ctx.settings.ntp_interval_s, partial(remeasure, ctx))
    # Subscribed now, so critical events published before the loop starts are kept.
    notifier = Notifier(ctx)
    notifier.subscribe()
    metrics = Metrics(ctx)
    metrics.subscribe()

    workers = _workers(ctx, offload, [
        ("notifications", _Listening(notifier)), ("self-assign-windows", windows),
        ("station-checks", stations), ("ntp", time_loop)], backups)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Background loops live as long as the server: started here, stopped cleanly.
        workers.start()
        if offload.autostart:
            # Cameras left docked while the controller was down carry on where they were.
            workers.resync()
        try:
            yield
        finally:
            await workers.stop()
            notifier.unsubscribe()

    app = FastAPI(
        lifespan=lifespan,
        title="bodyworn controller",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        # No Swagger page: it needs a script bundle from a CDN our CSP blocks (a blank
        # page), and vendoring a megabyte of third-party script into the manager's origin
        # is more to trust than the JSON document needs; any OpenAPI viewer reads that.
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_guard)],
        # Every route, anonymous or not; the file uploads raise it for themselves only.
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.ctx = ctx
    app.state.notifier = notifier
    app.state.metrics = metrics
    # The TLS context switch the server listens with (server.py sets it; None over HTTP).
    app.state.tls = None
    app.state.windows = windows
    app.state.backups = backups
    app.state.workers = workers
    _guard_and_route(app)
    return app
