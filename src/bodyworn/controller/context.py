"""What every request of one controller process shares: settings, database, clock, templates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fastapi import Request
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bodyworn import webui
from bodyworn.controller import display
from bodyworn.controller.events import EventBus
from bodyworn.controller.health_state import HealthState
from bodyworn.controller.ports import (
    CameraOffload,
    CdClientFactory,
    DockEvents,
    DockLinkFactory,
    FirmwareInstaller,
    Mailer,
    NtpMeasurer,
    Services,
    WizardDrafts,
)
from bodyworn.controller.refusals import Refused
from bodyworn.controller.settings import ControllerSettings
from bodyworn.docklink.client import DockLinkClient
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.domain.throttle import GuessThrottle
from bodyworn.i18n.catalog import DEFAULT_LANGUAGE, translations
from bodyworn.store.spool import Spool

CONTROLLER_DIR = Path(__file__).parent
T = TypeVar("T")


def _template_dirs() -> list[str]:
    # Each domain folder keeps its own templates/; the manager's layout lives in web/, the
    # frame it shares with the evidence browser in webui/.
    found = [str(p) for p in sorted(CONTROLLER_DIR.glob("*/templates")) if p.is_dir()]
    return [*found, str(webui.TEMPLATE_DIR)]


# The language of the page being rendered, so that macros (which do not see the page's
# context) translate too. Set by render(); rendering happens inside TemplateResponse.
_page_language: ContextVar[str] = ContextVar("page_language", default=DEFAULT_LANGUAGE)
# The system's time zone, likewise, for the `local` filter.
_page_zone: ContextVar[str] = ContextVar("page_zone", default="UTC")


def page_gettext(message: str) -> str:
    """Translate into the language of the page being rendered."""
    return translations(_page_language.get()).gettext(message)


def page_ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, translated into the page's language (the
    caller formats the number in: ngettext("%(n)s user", "%(n)s users", n)|format(n=n))."""
    return translations(_page_language.get()).ngettext(singular, plural, n)


def field_label(field: str) -> str:
    """The translated label of a form field ("" for one without a label)."""
    return display.field_label(field, page_gettext)


def page_time(moment: datetime | None, seconds: bool = False, date: bool = True,
              zone: str | None = None) -> str:
    """A stored time in the system's zone (or `zone`), with the zone named (the `local`
    filter)."""
    return display.local_time(moment, zone or _page_zone.get(), seconds=seconds, date=date)


# The manager's main menu: (address, label, the paths that belong to it).
MAIN_NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/", "Dashboard", ()),
    ("/users", "Users", ("/users",)),
    ("/profiles", "Camera profiles", ("/profiles",)),
    ("/cameras", "Devices", ("/cameras", "/devices")),
    ("/docks", "Docking stations", ("/docks",)),
    ("/transfers", "Transfers", ("/transfers",)),
    ("/audit", "Audit log", ("/audit",)),
    ("/settings/password", "Settings", ("/settings",)),
    ("/support/system-report", "Support", ("/support",)),
)


def nav_current(here: str, href: str, prefixes: tuple[str, ...]) -> bool:
    """Whether the page at `here` belongs to the menu entry."""
    return here == href or any(here == p or here.startswith(p + "/") for p in prefixes)


def make_templates(names: dict[str, Any] | None = None) -> Jinja2Templates:
    """Jinja2 templates from every folder's templates/, autoescaped.

    `names`: more globals for every template (app.py gives the state vocabularies, so
    templates compare with CameraState.NEW rather than "new").
    """
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = page_gettext
    env.globals["ngettext"] = page_ngettext
    env.globals["field_label"] = field_label
    env.globals["main_nav"] = MAIN_NAV
    env.globals["nav_current"] = nav_current
    env.filters["local"] = page_time
    env.globals["size"] = display.size
    env.globals["duration"] = display.duration
    env.globals.update(names or {})
    return Jinja2Templates(env=env)


class SystemFacts(Protocol):
    """What the context takes over from the system's settings (setup's SystemSettings)."""

    language: str
    system_name: str
    timezone: str
    manual_offset_seconds: float


@dataclass
class ControllerContext:
    """Shared state of one controller process (kept on app.state.ctx).

    Built by app.build_context, which gives it the implementations of the interfaces in
    ports.py; create_app adds the offload engine and the docking orchestrator.
    """

    settings: ControllerSettings
    engine: Engine
    factory: sessionmaker[Session]
    clock: Clock
    templates: Jinja2Templates
    # Dock link clients that sign with the system identity (identity/service.py).
    docklinks: DockLinkFactory
    # Clients of the content destination the system is locked to (destinations/).
    cd_clients: CdClientFactory
    # The setup wizard's drafts (setup/wizard.py).
    wizard: WizardDrafts
    ntp: NtpMeasurer | None = None
    # Firmware checks and installs for setup (firmware/ Installer, given by app.py).
    firmware: FirmwareInstaller | None = None
    set_up: bool = False
    language: str = DEFAULT_LANGUAGE
    system_name: str = ""
    # The system's time zone (pages show times in it; storage and the API keep UTC).
    timezone: str = "UTC"
    # The system firmware installed (firmware/; app.py keeps it current), for the pages;
    # None while the system runs the firmware it shipped with (SHIPPED_VERSION).
    firmware_installed: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Named domain events (controller/events.py): services raise, features subscribe.
    events: EventBus = field(default_factory=EventBus)
    # Failed logins of names that have no account, counted like an account's.
    login_throttle: GuessThrottle = field(default_factory=GuessThrottle)
    # The offload engine (offload/engine.py), made by create_app unless a test gave one.
    offload: CameraOffload | None = None
    # The on-dock and undock work (docking/), made by create_app unless a test gave one.
    docking: DockEvents | None = None
    # E-mail for notifications (to come): None until there is a mailer.
    mailer: Mailer | None = None
    # The background services as one, for a restart (app.py's Workers; None in tests
    # that run no app).
    services: Services | None = None
    # Set when the controller shuts down: background threads (removal watches) stop.
    closing: threading.Event = field(default_factory=threading.Event)
    # What the background work found (CD, spool, disk), for the pages.
    health: HealthState = field(init=False)
    # Clips between camera and CD (<data>/spool).
    spool: Spool = field(init=False)

    def __post_init__(self) -> None:
        # Events a service `emit`s in a session of this factory reach subscribers on commit.
        self.events.bind(self.factory)
        self.health = HealthState(self.events, self.clock)
        self.spool = Spool(self.settings.data_dir / "spool")

    def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, clock, *args, **kwargs)` in one transaction, here.

        A refusal raised with `keep` commits what `fn` wrote (its audit entry) first.
        """
        with self.factory() as session:
            with session.begin():
                try:
                    return fn(session, self.clock, *args, **kwargs)
                except Refused as exc:
                    if not exc.keep:
                        raise
                    kept = exc
            raise kept

    async def transact(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`write` off the event loop (what routes call through web/routes.py)."""
        return await run_in_threadpool(self.write, fn, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, *args, **kwargs)` in a transaction that writes nothing."""

        def work() -> T:
            with self.factory() as session:
                return fn(session, *args, **kwargs)

        return await run_in_threadpool(work)

    def docklink(self, camera_url: str) -> DockLinkClient:
        """A dock link client that signs as this system (the caller closes it)."""
        return self.docklinks(camera_url)

    def apply_system(self, settings: SystemFacts) -> None:
        """Take over what setup decided: language, name, clock correction."""
        self.set_up = True
        self.language = settings.language
        self.system_name = settings.system_name
        self.timezone = settings.timezone
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
        "ngettext": tr.ngettext,
        "lang": lang,
        "csrf_token": getattr(request.state, "csrf_expected", ""),
        "account": getattr(request.state, "account", None),
        "system_name": ctx.system_name,
        "set_up": ctx.set_up,
        "timezone": ctx.timezone,
        "zone_label": display.zone_label(ctx.timezone, ctx.clock.now()),
    }
    full.update(context or {})
    token = _page_language.set(lang)
    zone = _page_zone.set(ctx.timezone)
    try:
        return ctx.templates.TemplateResponse(request, name, full, status_code=status_code)
    finally:
        _page_zone.reset(zone)
        _page_language.reset(token)
