"""The conformance battery: drive every part of the CD API against a CD and judge each step.

Each check passes, fails (with the request that failed and the CD's answer), warns (the
CD works with this system but does less than it could: no ETag in its answers, so
stored objects are trusted on its 201 and marked unverified; a connection file the
spec would not accept as it is) or is skipped (the CD does not claim the capability,
or cannot be asked). It leaves test data behind on purpose: a conformance user,
camera, system object and recordings, all named so an integrator can find and delete
them.

Our RSA key policy differs from the reference server's: the content key must have at
least 2048 bits (the reference accepts 1024-bit keys, which can be factored). A
connection file with a shorter key is refused before the battery runs; the encryption
check says which size it used.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from bodyworn.cdclient.capabilities import (
    READ_CATEGORIES,
    STORE_BOOKMARKS,
    STORE_GNSS_TRACK,
    STORE_READ_SYSTEM_ID,
    STORE_REJECTED_CONTENT,
    Capabilities,
)
from bodyworn.cdclient.client import CDClient, DeliveryResult, RetryPolicy
from bodyworn.cdclient.config import CDConnection
from bodyworn.cdclient.errors import CDForbidden, CDProtocolError, ContentRejected
from bodyworn.cdclient.records import (
    Bookmark,
    CDDevice,
    CDUser,
    ClipFile,
    GnssPoint,
    RecordingUpload,
)
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.domain.connection_file import MIN_RSA_BITS
from bodyworn.evidence.crypto import load_public_key
from bodyworn.evidence.metadata import (
    Location,
    is_rejected_container,
    meta_get,
    parse_recording_container_name,
)

# What the reference server accepts, for the comparison the report makes.
REFERENCE_MIN_RSA_BITS = 1024

Status = Literal["pass", "warn", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: Status
    detail: str = ""


@dataclass
class ConformanceReport:
    """Every check in the order run."""

    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings do not fail the battery)."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def warnings(self) -> list[CheckResult]:
        """The checks that passed with a warning."""
        return [c for c in self.checks if c.status == "warn"]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary."""
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


class _Skip(Exception):
    pass


class _Warn(Exception):
    """The step worked, with a reservation (the message)."""


def tiny_clip(path: Path, container_type: str, frames: int = 10, size: int = 64) -> None:
    """Write a short real H.264 clip (MKV or MP4) for test recordings."""
    fmt = "matroska" if container_type == "mkv" else "mp4"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for i in range(frames):
            frame = av.VideoFrame(size, size, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 23) % 256]) * plane.buffer_size)
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _recording(
    folder: Path, user: str, serial: str, container_type: str, start: datetime, clips: int
) -> RecordingUpload:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(clips):
        path = folder / f"clip{i}.{container_type}"
        tiny_clip(path, container_type)
        c_start = start + timedelta(seconds=i)
        files.append(
            ClipFile(
                path,
                c_start,
                c_start + timedelta(seconds=1),
                start_location=Location(55.7184, 13.2212, 5.0, c_start),
            )
        )
    stop = start + timedelta(seconds=clips)
    return RecordingUpload(
        recording_id=str(uuid.uuid4().int % 100000),
        user_uuid=user,
        bwc_serial=serial,
        scu_serial="BWCONFSCU",
        bwc_model="bodyworn-sim",
        firmware_version="conformance",
        trigger_on="Button",
        trigger_off="Button",
        trigger_on_time=start,
        trigger_off_time=stop,
        start_time=start,
        stop_time=stop,
        clips=tuple(files),
        trigger_on_location=Location(55.7184, 13.2212, 5.0, start),
        gnss_track=tuple(
            GnssPoint(55.7184 + i / 10000, 13.2212 + i / 10000, start + timedelta(seconds=i))
            for i in range(clips + 1)
        ),
        bookmarks=(
            Bookmark(
                "1",
                start,
                note="Conformance note ✓ åäö",
                tags={"TriggerOn": "Button"},
                start=start,
                end=stop,
            ),
        ),
    )


async def run_conformance(
    connection: CDConnection,
    workdir: Path,
    *,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    on_clip_bytes: Callable[[int], None] | None = None,
    connection_warnings: Sequence[str] | None = None,
) -> ConformanceReport:
    """Run the whole battery against one CD; never raises for a CD's misbehaviour.

    `connection_warnings`: what parsing the connection file warned about; given (even
    empty), the report starts with a `connection-file` check that passes or warns.
    """
    clock = clock or SystemClock()
    report = ConformanceReport()
    if connection_warnings is not None:
        report.checks.append(
            CheckResult("connection-file", "warn", " ".join(connection_warnings))
            if connection_warnings
            else CheckResult("connection-file", "pass", "as the specification asks")
        )
    async with CDClient(
        connection, retry=retry, clock=clock, transport=transport, on_clip_bytes=on_clip_bytes
    ) as client:
        await _Battery(client, connection, workdir, clock, report).run()
    return report


class _Battery:
    """The checks in order, each recorded as pass, warn, fail or skip."""

    def __init__(self, client: CDClient, connection: CDConnection, workdir: Path,
                 clock: Clock, report: ConformanceReport) -> None:
        self.client = client
        self.connection = connection
        self.workdir = workdir
        self.report = report
        self.tag = tag = uuid.uuid4().hex[:8]
        self.user = CDUser(str(uuid.uuid4()), f"Conformance user {tag} ✓",
                           user_id=f"conf-{tag}")
        self.device = CDDevice(f"BWCONF{tag.upper()}", f"Conformance camera {tag}",
                               "bodyworn-sim")
        # An hour ago: inside any sane "not in the future" bound, and whole seconds.
        self.start = (clock.now() - timedelta(hours=1)).replace(microsecond=0)
        self.caps: Capabilities  # read once the login worked (run)
        self.delivered: DeliveryResult | None = None
        self.have_user = self.have_device = False

    async def run(self) -> None:
        """Every check; nothing after a failed login."""
        if not await self.check("auth", self.auth):
            return
        await self.check("capabilities", self.capabilities)
        self.caps = await self.client.capabilities()
        await self.check("categories", self.categories)
        await self.check("system-id", self.system_id)
        self.have_user = await self.check("users", self.users)
        self.have_device = await self.check("devices", self.devices)
        await self.check("recording", self.recording)
        await self.check("gnss-and-bookmarks", self.extras)
        await self.check("encryption", self.encryption)
        await self.check("complete", self.complete)
        await self.check("rejected-content", self.rejected)

    async def check(self, name: str, step: Callable[[], Awaitable[str]]) -> bool:
        """Run one check and record its result; False when it failed."""
        checks = self.report.checks
        try:
            detail = await step()
        except _Skip as exc:
            checks.append(CheckResult(name, "skip", str(exc)))
            return True
        except _Warn as exc:
            checks.append(CheckResult(name, "warn", str(exc)))
            return True
        except Exception as exc:  # the battery reports, it does not crash
            checks.append(CheckResult(name, "fail", f"{type(exc).__name__}: {exc}"))
            return False
        checks.append(CheckResult(name, "pass", detail))
        return True

    async def auth(self) -> str:
        await self.client.authenticate()
        return f"storage URL {self.client.storage_url}"

    async def capabilities(self) -> str:
        caps = await self.client.capabilities()
        if caps.problem and not caps.problem.startswith("missing"):
            raise CDProtocolError(f"System/Capabilities.json: {caps.problem}")
        if caps.full:
            return "FullStoreAndReadSupport: everything"
        return ", ".join(sorted(caps.enabled)) or "none published"

    async def categories(self) -> str:
        if not self.caps.supports(READ_CATEGORIES):
            raise _Skip("ReadCategories not supported; built-in defaults are used")
        found = await self.client.categories(refresh=True)
        if not found.from_cd and self.caps.full and found.problem == "missing or unreadable":
            # A plain object store with FullStoreAndReadSupport need not publish any.
            raise _Skip("no System/Categories.json; built-in defaults are used")
        if not found.from_cd:
            raise CDProtocolError(f"System/Categories.json: {found.problem}")
        return f"{len(found.categories)} categories"

    async def system_id(self) -> str:
        if not self.caps.supports(STORE_READ_SYSTEM_ID):
            raise _Skip("StoreReadSystemID not supported")
        system = f"bodyworn-conformance-{self.tag}"
        conn = f"conn-{self.tag}"
        await self.client.bind_system(system, conn, "Conformance", expect_existing=False)
        await self.client.bind_system(system, conn, "Conformance 2", expect_existing=True)
        return f"System/{system} written and read back"

    async def users(self) -> str:
        await self.client.put_user(self.user)
        await self.client.put_user(self.user, update=True)
        return f"Users/{self.user.uuid} created and updated"

    async def devices(self) -> str:
        await self.client.put_device(self.device)
        await self.client.put_device(self.device, update=True)
        return f"Devices/{self.device.serial} created and updated"

    async def recording(self) -> str:
        if not (self.have_user and self.have_device):
            raise _Skip("needs the user and device checks to pass")
        rec = _recording(
            self.workdir / f"rec-{self.tag}",
            self.user.uuid,
            self.device.serial,
            self.connection.container_type,
            self.start,
            2,
        )
        self.delivered = await self.client.deliver_recording(rec)
        if self.delivered.outcome == "rejected_content":
            raise ContentRejected(
                f"the CD refused a valid recording; it went to rejected content "
                f"{self.delivered.container}: {self.delivered.reason}"
            )
        if self.delivered.outcome != "delivered":
            raise ContentRejected(f"{self.delivered.outcome}: {self.delivered.reason}")
        parsed = parse_recording_container_name(self.delivered.container)
        if parsed is None or parsed.legacy:
            raise CDProtocolError(f"{self.delivered.container}: not a recording container name")
        done = f"{self.delivered.container}: {len(self.delivered.objects)} objects"
        if self.delivered.unverified:
            # The reference server answers 201 without an ETag: it works, but the
            # system cannot tell that the CD holds the bytes it sent.
            raise _Warn(
                f"{done}, {len(self.delivered.unverified)} of them answered without an ETag: "
                "their md5 was not confirmed by the CD (trusted on its 201, shown as "
                "unverified by the CD)"
            )
        return done

    def objects(self) -> tuple[str, ...]:
        if self.delivered is None:
            raise _Skip("no recording was delivered")
        if is_rejected_container(self.delivered.container):
            # A rejected-content container has no Status and holds no bookmarks.
            raise _Skip("the recording went to rejected content")
        return self.delivered.objects

    async def extras(self) -> str:
        names = self.objects()
        wanted = []
        if self.caps.supports(STORE_GNSS_TRACK):
            wanted.append(any(n.endswith("_gpstrail.json") for n in names))
        if self.caps.supports(STORE_BOOKMARKS):
            wanted.append(any(n.startswith("bookmark_") for n in names))
        if not wanted:
            raise _Skip("neither GNSS tracks nor bookmarks supported")
        if not all(wanted):
            raise CDProtocolError("a supported GNSS track or bookmark was not stored")
        return "GNSS track and/or bookmarks stored"

    async def encryption(self) -> str:
        if not self.connection.want_encryption:
            raise _Skip("WantEncryption is off")
        keys = [n for n in self.objects() if n.endswith(".key")]
        clips = [n for n in self.objects() if n.endswith("." + self.connection.container_type)]
        if len(keys) < len(clips) or not clips:
            raise CDProtocolError("not every clip has its .key object")
        assert self.connection.public_key_pem is not None
        bits = load_public_key(self.connection.public_key_pem).key_size
        policy = (
            f"content key RSA-{bits}: this system needs at least {MIN_RSA_BITS} bits, "
            f"where the reference server accepts {REFERENCE_MIN_RSA_BITS}"
        )
        if bits < MIN_RSA_BITS:
            raise CDProtocolError(policy)
        return f"{len(clips)} encrypted clips with key objects; {policy}"

    async def complete(self) -> str:
        self.objects()  # skips without a self.delivered recording container
        assert self.delivered is not None
        try:
            meta = await self.client.object_metadata(self.delivered.container)
        except (CDForbidden, ContentRejected, CDProtocolError) as exc:
            raise _Skip(f"the CD does not answer HEAD on containers: {exc}") from exc
        if meta is None or meta_get(meta, "Status") != "Complete":
            raise CDProtocolError(f"{self.delivered.container}: Status is not Complete")
        return "Status: Complete"

    async def rejected(self) -> str:
        if not self.caps.supports(STORE_REJECTED_CONTENT):
            raise _Skip("StoreRejectedContent not supported")
        stranger = str(uuid.uuid4())
        rec = _recording(
            self.workdir / f"rej-{self.tag}",
            stranger,
            self.device.serial,
            self.connection.container_type,
            self.start,
            1,
        )
        result = await self.client.deliver_recording(rec)
        if result.outcome == "delivered":
            raise _Skip("the CD accepted a recording for an unknown user (no 400 to test)")
        if result.outcome != "rejected_content":
            raise ContentRejected(f"rejected content was refused: {result.reason}")
        # No Status here (the spec leaves it out of rejected content): only the
        # container's own name and the one it was meant for are checked.
        try:
            meta = await self.client.object_metadata(result.container)
        except (CDForbidden, ContentRejected, CDProtocolError):
            return f"stored in {result.container} (the CD does not answer HEAD on it)"
        if meta is None:
            raise CDProtocolError(f"{result.container}: gone right after it was stored")
        if meta_get(meta, "ContainerName") != result.container:
            raise CDProtocolError(f"{result.container}: ContainerName is not its own name")
        if not meta_get(meta, "RejectedContentOriginalContainer"):
            raise CDProtocolError(f"{result.container}: no RejectedContentOriginalContainer")
        return f"stored in {result.container}"


def render_table(report: ConformanceReport) -> Table:
    """A rich table of every check: status, name, and why."""
    table = Table(title="Content destination conformance")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    colours = {"pass": "green", "warn": "dark_orange", "fail": "bold red", "skip": "yellow"}
    for c in report.checks:
        table.add_row(c.name, f"[{colours[c.status]}]{c.status}[/]", c.detail)
    return table


async def conformance_main(
    connection: CDConnection,
    *,
    as_json: bool,
    console: Console,
    workdir: Path,
    retry: RetryPolicy | None = None,
    connection_warnings: Sequence[str] | None = None,
) -> int:
    """Run the battery with a progress bar, print a table (or JSON); return the exit status.

    Warnings (`connection_warnings`, a CD without ETags) are reported; only failures
    make the status 1.
    """
    with Progress(
        TextColumn("uploading test clips"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("upload", total=None)
        report = await run_conformance(
            connection,
            workdir,
            retry=retry,
            on_clip_bytes=lambda n: progress.advance(task, n),
            connection_warnings=connection_warnings,
        )
    if as_json:
        console.print_json(json.dumps(report.to_json()))
    else:
        console.print(render_table(report))
    return 0 if report.ok else 1
