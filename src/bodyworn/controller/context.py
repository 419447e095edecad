"""What every request of one controller process shares: settings, database, clock, templates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bodyworn.controller.assignment.states import HolsterState
from bodyworn.controller.cameras.states import CameraState
from bodyworn.controller.events import EventBus
from bodyworn.controller.refusals import Refused
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup.service import NtpMeasurer
from bodyworn.docklink.client import DockLinkClient
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.domain.throttle import GuessThrottle
from bodyworn.i18n.catalog import DEFAULT_LANGUAGE, translations

CONTROLLER_DIR = Path(__file__).parent
T = TypeVar("T")


def _template_dirs() -> list[str]:
    # Each domain folder keeps its own templates/; the shared layout lives in web/.
    return [str(p) for p in sorted(CONTROLLER_DIR.glob("*/templates")) if p.is_dir()]


# The language of the page being rendered, so that macros (which do not see the page's
# context) translate too. Set by render(); rendering happens inside TemplateResponse.
_page_language: ContextVar[str] = ContextVar("page_language", default=DEFAULT_LANGUAGE)

# Form field -> the label shown next to it, for error summaries (translated on display).
FIELD_LABELS: dict[str, str] = {
    "mode": "System",
    "language": "Language",
    "root_password": "Password",
    "root_password_confirm": "Repeat password",
    "super_admin_passphrase": "Super admin passphrase",
    "super_admin_passphrase_confirm": "Repeat passphrase",
    "restore_key": "System restore key",
    "system_name": "System name",
    "listen_host": "Listening address",
    "listen_port": "Port",
    "timezone": "Time zone",
    "time_mode": "Time source",
    "ntp_server": "NTP server",
    "ntp_fallback_server": "Fallback NTP server",
    "manual_time": "Manual time",
    "cloud_location": "Cloud server location",
    "connection_file": "Connection file",
    "power_line_frequency": "Power line frequency",
    "camera_assignment": "Camera assignment",
}


def page_gettext(message: str) -> str:
    """Translate into the language of the page being rendered."""
    return translations(_page_language.get()).gettext(message)


def field_label(field: str) -> str:
    """The translated label of a form field (connection file fields keep their spec name)."""
    if field.startswith("connection_file."):
        return page_gettext("Connection file") + " " + field.split(".", 1)[1]
    return page_gettext(FIELD_LABELS.get(field, field))


def make_templates() -> Jinja2Templates:
    """Jinja2 templates from every folder's templates/, autoescaped."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = page_gettext
    env.globals["field_label"] = field_label
    # State vocabularies, so templates compare with CameraState.NEW rather than "new".
    env.globals["CameraState"] = CameraState
    env.globals["HolsterState"] = HolsterState
    return Jinja2Templates(env=env)


@dataclass
class ControllerContext:
    """Shared state of one controller process (kept on app.state.ctx)."""

    settings: ControllerSettings
    engine: Engine
    factory: sessionmaker[Session]
    clock: Clock
    templates: Jinja2Templates
    ntp: NtpMeasurer | None = None
    set_up: bool = False
    language: str = DEFAULT_LANGUAGE
    system_name: str = ""
    wizard: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Named domain events (controller/events.py): services raise, features subscribe.
    events: EventBus = field(default_factory=EventBus)
    # Called (in a worker thread) with (camera serial, dock link client) each time an added
    # camera docks, after docks/ has recorded it; offload/ registers the on-dock work here.
    dock_listeners: list[Callable[[str, DockLinkClient], None]] = field(default_factory=list)
    # Failed logins of names that have no account, counted like an account's.
    login_throttle: GuessThrottle = field(default_factory=GuessThrottle)
    # The offload engine (offload.engine.OffloadEngine), made by create_app unless a test
    # put its own here; its `cd_storage_full` is the CD-health flag until health/ has one.
    offload: Any = None

    def __post_init__(self) -> None:
        # Events a service `emit`s in a session of this factory reach subscribers on commit.
        self.events.bind(self.factory)

    async def transact(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, clock, *args, **kwargs)` in one transaction, off the event loop.

        A refusal raised with `keep` commits what `fn` wrote (its audit entry) first.
        """

        def work() -> T:
            with self.factory() as session:
                with session.begin():
                    try:
                        return fn(session, self.clock, *args, **kwargs)
                    except Refused as exc:
                        if not exc.keep:
                            raise
                        kept = exc
                raise kept

        return await run_in_threadpool(work)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, *args, **kwargs)` in a transaction that writes nothing."""

        def work() -> T:
            with self.factory() as session:
                return fn(session, *args, **kwargs)

        return await run_in_threadpool(work)

    def docklink(self, camera_url: str) -> DockLinkClient:
        """A dock link client that signs as this system (the caller closes it)."""
        from bodyworn.controller.identity.service import signing_identity

        with self.factory() as session:
            identity = signing_identity(session)
        return DockLinkClient(camera_url, identity, clock=self.clock)

    def apply_system(self, settings: Any) -> None:
        """Take over what setup decided: language, name, clock correction."""
        self.set_up = True
        self.language = settings.language
        self.system_name = settings.system_name
        self.apply_offset(settings.manual_offset_seconds)

    def apply_offset(self, seconds: float) -> None:
        """Correct the system clock (a clock injected by tests keeps its own time)."""
        if isinstance(self.clock, SystemClock):
            self.clock.set_offset(timedelta(seconds=seconds))

    @property
    def idle_timeout(self) -> timedelta:
        """How long a manager session may stay unused."""
        return timedelta(minutes=self.settings.session_idle_minutes)

    @property
    def data_dir(self) -> Path:
        """The controller's data directory."""
        return self.settings.data_dir


def ctx_of(request: Request) -> ControllerContext:
    """The controller context of the app serving a request."""
    ctx: ControllerContext = request.app.state.ctx
    return ctx


def source_of(request: Request) -> str:
    """The client address, for the audit log."""
    return request.client.host if request.client else ""


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    language: str | None = None,
) -> Response:
    """Render a manager page with the shared context (gettext, CSRF token, account)."""
    ctx = ctx_of(request)
    lang = language or getattr(request.state, "language", None) or ctx.language
    tr = translations(lang)
    full: dict[str, Any] = {
        "_": tr.gettext,
        "lang": lang,
        "csrf_token": getattr(request.state, "csrf_expected", ""),
        "account": getattr(request.state, "account", None),
        "system_name": ctx.system_name,
        "set_up": ctx.set_up,
    }
    full.update(context or {})
    token = _page_language.set(lang)
    try:
        return ctx.templates.TemplateResponse(request, name, full, status_code=status_code)
    finally:
        _page_language.reset(token)
