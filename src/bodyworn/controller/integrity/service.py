"""Evidence integrity, as the rest of the controller calls it.

- **Binding** (`ensure_bound`, `recheck_binding`): the system writes, then checks,
  `System/<SystemID>` at its content destination with its ConnectionId and SystemName
  (and its identity certificate as the object's body) wherever the CD publishes
  StoreReadSystemID. A CD that holds this system under another ConnectionId is refused:
  the deliver loop sends it nothing, and the dashboard says why (`issues`).
- **Camera certificates** (`enrol_camera`): an added camera's device key is certified by
  the system identity, so what the camera signs can be traced to this system.
- **Custody** (`audit_received`, `audit_delivered`): the audit log notes each recording
  taken whole from a camera (with its clips' sha256) and where the CD put it.
- **Audit anchors** (`anchor_if_due`, `verify_anchors`): the log's hashes, signed by the
  system identity, written to the CD and never overwritten there.

The deliver loop (offload/engine.py) calls `ensure_bound` before each pass and
`anchor_if_due` after it; camera add (cameras/) and the on-dock sync (docking/) call
`enrol_camera`; ingest and delivery (offload/) call the two custody functions in their
own transactions. What it finds out about the CD is kept in `ctx.health` (binding,
anchors) for the dashboard. Nothing here talks to the CD or a camera inside a database
transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bodyworn.cdclient.capabilities import STORE_READ_AUDIT_ANCHOR
from bodyworn.cdclient.client import CDClient, RetryPolicy
from bodyworn.cdclient.errors import SystemBindingError
from bodyworn.controller.audit import service as audit
from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.health_state import AnchorStatus, Binding, BindingState
from bodyworn.controller.identity.service import signing_identity
from bodyworn.controller.integrity.models import AuditAnchor, CameraCertificate, IntegrityState
from bodyworn.controller.system import service as system
from bodyworn.docklink.client import DockLinkClient
from bodyworn.docklink.messages import CameraInfo
from bodyworn.domain.clock import Clock
from bodyworn.evidence.anchors import (
    anchor_body,
    anchor_digest,
    anchor_object_name,
    anchor_payload,
    check_anchor,
    parse_anchor_body,
)
from bodyworn.evidence.audit_chain import ChainedEntry
from bodyworn.evidence.signing import (
    SignatureProblem,
    camera_certificate,
    common_name,
    fingerprint,
    issued_by,
    load_ed25519_private,
    load_ed25519_public,
    load_pem_chain,
    pem,
    public_key_of,
    same_key,
    sign_jws,
    system_certificate,
)

__all__ = ["AnchorStatus", "Binding", "BindingState"]

log = structlog.get_logger(__name__)

# A refused or unchecked binding is tried again this often; a good one is confirmed
# again this often (a renamed system reaches its CD then too).
RETRY_REFUSED = timedelta(minutes=1)
RECHECK_BOUND = timedelta(hours=1)
# How often the audit log is anchored at the CD when something was written.
ANCHOR_EVERY = timedelta(minutes=5)
# At most this many entries in one anchor (a long backlog goes in several).
ANCHOR_MAX_ENTRIES = 2000


# ---- state and the system certificate ----------------------------------------------------


def _identity_key(session: Session) -> tuple[str, Ed25519PrivateKey]:
    identity = signing_identity(session)
    return identity.system_id, load_ed25519_private(identity.private_key_pem)


def state(session: Session, clock: Clock) -> IntegrityState:
    """The integrity row, made on first use: a ConnectionId and the system certificate.

    Callers on several threads may make it at once: the insert does nothing when another
    one landed first, and the row is read back. LookupError before the system is set up.
    """
    row = session.get(IntegrityState, 1)
    if row is not None:
        return row
    system_id, key = _identity_key(session)
    now = clock.now()
    values = {"id": 1, "connection_id": str(uuid.uuid4()),
              "certificate_pem": pem(system_certificate(key, system_id, now)),
              "created_at": now}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(IntegrityState).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(IntegrityState).values(**values).on_conflict_do_nothing())
    row = session.get(IntegrityState, 1, populate_existing=True)
    assert row is not None
    return row


def export_state(session: Session) -> dict[str, str] | None:
    """What a system backup keeps (backup/): the ConnectionId, so a restored system is
    the same connection to its CD, and the system certificate. None before first use."""
    row = session.get(IntegrityState, 1)
    if row is None:
        return None
    return {"connection_id": row.connection_id,
            "certificate_pem": row.certificate_pem.decode("ascii")}


def import_state(session: Session, clock: Clock, data: dict[str, str]) -> None:
    """Take over a backup's integrity state (in setup's transaction, after the identity).

    ValueError when the certificate is not this system identity's, or the ConnectionId
    not a UUID. The binding is checked again at the deliver loop's first pass."""
    connection_id = str(uuid.UUID(data["connection_id"]))
    pem_bytes = data["certificate_pem"].encode("ascii")
    cert = load_pem_chain(pem_bytes)[0]
    system_id, key = _identity_key(session)
    if common_name(cert) != system_id or not same_key(public_key_of(cert), key.public_key()):
        raise ValueError("the integrity certificate is not this system identity's")
    row = session.get(IntegrityState, 1)
    if row is None:
        row = IntegrityState(id=1, created_at=clock.now())
        session.add(row)
    row.connection_id, row.certificate_pem, row.bound_at = connection_id, pem_bytes, None


def system_cert(session: Session, clock: Clock) -> x509.Certificate:
    """The system identity as a certificate (the root of everything cameras sign)."""
    return load_pem_chain(state(session, clock).certificate_pem)[0]


def identity_summary(session: Session, clock: Clock) -> dict[str, Any]:
    """System ID, certificate (PEM) and its fingerprint, for the API and the docs' checks."""
    cert = system_cert(session, clock)
    row = state(session, clock)
    return {
        "system_id": common_name(cert),
        "certificate_pem": row.certificate_pem.decode("ascii"),
        "fingerprint_sha256": fingerprint(cert),
        "connection_id": row.connection_id,
        "bound_at": row.bound_at.isoformat() if row.bound_at else None,
    }


# ---- cameras -----------------------------------------------------------------------------


def _key_sha256(public_pem: str) -> str:
    key = load_ed25519_public(public_pem.encode("ascii"))
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def certified_here(info: CameraInfo, root: x509.Certificate) -> bool:
    """Whether the camera holds a certificate of this system for its own device key."""
    if not info.device_certificate or not info.device_key:
        return False
    try:
        leaf = load_pem_chain(info.device_certificate.encode("ascii"))[0]
        key = load_ed25519_public(info.device_key.encode("ascii"))
        return (same_key(public_key_of(leaf), key) and common_name(leaf) == info.serial
                and issued_by(leaf, root) is None)
    except (SignatureProblem, ValueError, UnicodeEncodeError):
        return False


def enrol_camera(ctx: ControllerContext, serial: str, link: DockLinkClient,
                 info: CameraInfo | None = None, *, actor: str = "system",
                 source: str = "dock") -> bool:
    """Certify an added camera's device key unless it holds this system's certificate.

    True when a certificate was issued now. A camera without a device key (older
    firmware) is left as it is: its evidence shows "signature missing".
    """
    info = info if info is not None else link.info()
    if info.shipping_mode or not info.device_key or info.serial != serial:
        return False
    with ctx.factory() as session, session.begin():
        root = system_cert(session, ctx.clock)
        if certified_here(info, root):
            return False
        _, key = _identity_key(session)
        try:
            device_key = load_ed25519_public(info.device_key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            log.warning("integrity.camera_key_unusable", camera=serial)
            return False
        leaf = camera_certificate(key, root, device_key, serial, ctx.clock.now())
    link.install_certificate([pem(leaf).decode("ascii"), pem(root).decode("ascii")])
    with ctx.factory() as session, session.begin():
        row = session.get(CameraCertificate, serial)
        if row is None:
            row = CameraCertificate(serial=serial)
            session.add(row)
        row.certificate_pem = pem(leaf)
        row.key_sha256 = _key_sha256(info.device_key)
        row.issued_at = ctx.clock.now()
        record(session, ctx.clock, actor=actor, action="camera.certify",
               detail=f"{serial}: device key sha256 {row.key_sha256}, certificate"
                      f" {fingerprint(leaf)}", source=source)
    log.info("integrity.camera_certified", camera=serial)
    return True


# ---- custody -----------------------------------------------------------------------------


def audit_received(session: Session, clock: Clock, recording_id: str, serial: str,
                   clips: list[tuple[str, str]]) -> None:
    """Note in the audit log that a recording is whole in the spool (clips: name, sha256)."""
    sums = ", ".join(f"{name} sha256 {sha}" for name, sha in clips)
    record(session, clock, actor="system", action="recording.received",
           detail=f"recording {recording_id} from camera {serial}: {len(clips)} clips"
                  f" ({sums})", source="dock")


def audit_delivered(session: Session, clock: Clock, recording_id: str, serial: str,
                    outcome: str, container: str | None, reason: str | None = None) -> None:
    """Note in the audit log where the CD put a recording (or that it never will)."""
    where = f" as {container}" if container else ""
    why = f": {reason}" if reason else ""
    record(session, clock, actor="system", action=f"recording.{outcome}",
           outcome="success" if outcome != "not_transferred" else "failure",
           detail=f"recording {recording_id} from camera {serial}{where}{why}",
           source="content destination")


# ---- binding -----------------------------------------------------------------------------


def binding(ctx: ControllerContext) -> Binding:
    """The binding as last checked in this process (BindingState, in health_state.py)."""
    return ctx.health.binding


def _set_binding(ctx: ControllerContext, value: Binding) -> None:
    ctx.health.binding = value


def delivery_allowed(ctx: ControllerContext) -> bool:
    """Whether anything may go to the CD now (False until checked, and while refused)."""
    return binding(ctx).state in (BindingState.BOUND, BindingState.UNSUPPORTED)


async def ensure_bound(ctx: ControllerContext, cd: CDClient) -> bool:
    """Check the binding when due (first use of a client, hourly, each minute while
    refused); True when deliveries may go to this CD. CDError when it cannot be reached."""
    now = ctx.clock.now()
    known = binding(ctx)
    if known.client == id(cd) and known.checked_at is not None:
        age = now - known.checked_at
        if known.state is BindingState.REFUSED and age < RETRY_REFUSED:
            return False
        if known.state in (BindingState.BOUND, BindingState.UNSUPPORTED) \
                and age < RECHECK_BOUND:
            return True
    found = await check_binding(ctx, cd)
    return found.state in (BindingState.BOUND, BindingState.UNSUPPORTED)


async def check_binding(ctx: ControllerContext, cd: CDClient) -> Binding:
    """Write or check System/<SystemID> at this CD now; the result is remembered.

    Raises CDError when the CD cannot be asked (busy, unreachable): nothing is decided.
    """
    def facts(session: Session) -> tuple[str, str, str, bytes, bool]:
        row = state(session, ctx.clock)
        settings = system.settings_if_set_up(session)
        system_id, _ = _identity_key(session)
        name = settings.system_name if settings is not None else ""
        return system_id, row.connection_id, name, row.certificate_pem, row.bound_at is None

    system_id, connection_id, name, cert, first = await _db(ctx, facts)
    previous = binding(ctx)
    try:
        supported = await cd.bind_system(system_id, connection_id, name, expect_existing=False,
                                         certificate_pem=cert)
    except SystemBindingError as exc:
        why = str(exc)
        detail = (f"The content destination already holds this system ({system_id}) under"
                  f" another connection: {why}. Nothing is sent there until this is resolved"
                  " at the content destination, or the connection file is corrected.")
        found = Binding(BindingState.REFUSED, detail, ctx.clock.now(), id(cd))
        _set_binding(ctx, found)
        if previous.state is not BindingState.REFUSED:
            await _db(ctx, lambda s: record(
                s, ctx.clock, actor="system", action="integrity.binding", outcome="denied",
                detail=f"content destination refused: {why}", source="content destination"))
        log.error("integrity.binding_refused", error=why)
        return found
    if not supported:
        caps = await cd.capabilities()
        why = f" ({caps.problem})" if caps.problem else ""
        found = Binding(
            BindingState.UNSUPPORTED,
            "The content destination does not publish StoreReadSystemID" + why + ", so this"
            " system cannot check that it talks to the destination it was bound to.",
            ctx.clock.now(), id(cd))
        _set_binding(ctx, found)
        return found
    found = Binding(BindingState.BOUND, f"System/{system_id} holds connection"
                    f" {connection_id}", ctx.clock.now(), id(cd))
    _set_binding(ctx, found)
    if first or previous.state is BindingState.REFUSED:
        def note(session: Session) -> None:
            row = state(session, ctx.clock)
            row.bound_at = row.bound_at or ctx.clock.now()
            record(session, ctx.clock, actor="system", action="integrity.binding",
                   detail=f"bound to the content destination as System/{system_id}"
                          f" (connection {connection_id})", source="content destination")

        await _db(ctx, note)
    return found


def recheck_binding(ctx: ControllerContext,
                    cd_factory: Callable[[], CDClient] | None = None) -> Binding:
    """Check the binding now with a client of its own (for restore paths; any thread
    without a running event loop). CDError when the CD cannot be asked."""
    factory = cd_factory or (lambda: ctx.cd_clients.make(RetryPolicy()))

    async def run() -> Binding:
        async with factory() as cd:
            return await check_binding(ctx, cd)

    return asyncio.run(run())


async def _db(ctx: ControllerContext, fn: Callable[[Session], Any]) -> Any:
    def run() -> Any:
        with ctx.factory() as session, session.begin():
            return fn(session)

    return await asyncio.to_thread(run)


# ---- audit anchors -----------------------------------------------------------------------


def anchor_status(ctx: ControllerContext) -> AnchorStatus:
    """Anchoring as last found (a conflict stops it and shows on the dashboard)."""
    return ctx.health.anchors


def _set_anchors(ctx: ControllerContext, value: AnchorStatus) -> None:
    ctx.health.anchors = value


def entries_between(session: Session, first: int, last: int) -> list[ChainedEntry]:
    """Audit entries first..last (by id), as they leave the controller."""
    return audit.entries_between(session, first, last)


def make_anchor(session: Session, clock: Clock, *, every: timedelta = ANCHOR_EVERY
                ) -> AuditAnchor | None:
    """Sign a new anchor over the entries since the last one, when one is due."""
    last = session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1)
                           ).first()
    newest = audit.newest_id(session)
    done = last.to_id if last is not None else 0
    if newest <= done:
        return None
    now = clock.now()
    if last is not None and now - last.created_at < every:
        return None
    entries = entries_between(session, done + 1, done + ANCHOR_MAX_ENTRIES)
    if not entries:
        return None
    system_id, key = _identity_key(session)
    cert = system_cert(session, clock)
    seq = last.seq + 1 if last is not None else 1
    payload = anchor_payload(system=system_id, seq=seq, entries=entries,
                             prev_anchor=anchor_digest(last.jws) if last else None, at=now)
    row = AuditAnchor(seq=seq, from_id=entries[0].id, to_id=entries[-1].id,
                      head_hash=entries[-1].entry_hash, jws=sign_jws(payload, key, [cert]),
                      created_at=now)
    session.add(row)
    session.flush()
    return row


async def anchor_if_due(ctx: ControllerContext, cd: CDClient, *,
                        every: timedelta = ANCHOR_EVERY) -> AnchorStatus:
    """Send anchors not yet at the CD, and a new one when due (bound CDs that keep them)."""
    status = anchor_status(ctx)
    if status.conflict or binding(ctx).state is not BindingState.BOUND:
        return status
    if not (await cd.capabilities()).supports(STORE_READ_AUDIT_ANCHOR):
        status = AnchorStatus(kept=False)
        _set_anchors(ctx, status)
        return status

    def pending(session: Session) -> list[tuple[int, str, bytes]]:
        make_anchor(session, ctx.clock, every=every)
        system_id, _ = _identity_key(session)
        rows = session.scalars(select(AuditAnchor).where(AuditAnchor.stored_at.is_(None))
                               .order_by(AuditAnchor.seq)).all()
        return [(r.seq, anchor_object_name(system_id, r.seq),
                 anchor_body(r.jws, entries_between(session, r.from_id, r.to_id)))
                for r in rows]

    for seq, name, body in await _db(ctx, pending):
        outcome = await cd.put_system_object_once(name, body, {"FileType": "json"},
                                                  "application/json")
        if outcome == "different":
            status = AnchorStatus(conflict=(
                f"The content destination already holds audit anchor {seq} with other"
                " entries: this controller's audit log is not the one it anchored before"
                " (a restored or rewritten database). Anchoring has stopped; run"
                " `bodyworn audit verify` to see where the logs part."), last_seq=seq - 1)
            _set_anchors(ctx, status)
            log.error("integrity.anchor_conflict", seq=seq)
            detail = f"the content destination holds another audit anchor {seq}"
            await _db(ctx, partial(record, clock=ctx.clock, actor="system",
                                   action="integrity.anchor", outcome="failure",
                                   detail=detail, source="content destination"))
            return status

        def stored(session: Session, seq: int = seq) -> int:
            row = session.get(AuditAnchor, seq)
            assert row is not None
            row.stored_at = ctx.clock.now()
            return row.to_id

        last_entry = await _db(ctx, stored)
        status = AnchorStatus(last_seq=seq, last_entry=last_entry)
        _set_anchors(ctx, status)
    return status


@dataclass
class AnchorReport:
    """The local audit log compared with the anchors at the CD."""

    anchors: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    kept: bool = True

    @property
    def ok(self) -> bool:
        """True when every anchored entry is in the local log as it was anchored."""
        return not self.problems


async def verify_anchors(session: Session, cd: CDClient, *, limit: int = 1_000_000
                         ) -> AnchorReport:
    """Read the CD's anchors of this system in order and compare them with the local log."""
    report = AnchorReport()
    if not (await cd.capabilities()).supports(STORE_READ_AUDIT_ANCHOR):
        report.kept = False
        return report
    row = session.get(IntegrityState, 1)
    if row is None:
        return report  # never bound to a CD, so never anchored
    cert = load_pem_chain(row.certificate_pem)[0]
    system_id = common_name(cert)
    trusted = {system_id: cert}
    previous: str | None = None
    expect_from = 1
    for seq in range(1, limit + 1):
        body = await cd.get_system_object(anchor_object_name(system_id, seq))
        if body is None:
            break
        report.anchors += 1
        try:
            stored = parse_anchor_body(body)
            check_anchor(stored, trusted)
        except SignatureProblem as exc:
            report.problems.append(f"anchor {seq} at the CD does not hold: {exc}")
            break
        payload = stored.jws.payload
        if payload.get("prev_anchor") != previous:
            report.problems.append(f"anchor {seq} does not follow anchor {seq - 1}")
        if payload.get("from_id") != expect_from:
            report.problems.append(f"anchor {seq} starts at entry {payload.get('from_id')},"
                                   f" not {expect_from}")
        previous = anchor_digest(stored.jws.text)
        ids = [e.id for e in stored.entries]
        local = {e.id: e for e in entries_between(session, min(ids), max(ids))} if ids else {}
        for entry in stored.entries:
            mine = local.get(entry.id)
            if mine is None:
                report.problems.append(
                    f"entry {entry.id} ({entry.action} at {entry.at}) was anchored at the CD"
                    " but is not in this database: entries were lost or removed")
                break
            if mine.entry_hash != entry.entry_hash or mine.computed_hash() != entry.entry_hash:
                report.problems.append(
                    f"entry {entry.id} differs from the one anchored at the CD"
                    f" ({entry.action} at {entry.at}): the log was rewritten")
                break
        report.entries += len(stored.entries)
        expect_from = int(payload.get("to_id", 0)) + 1
        if report.problems:
            break
    return report


# ---- the dashboard and the API ----------------------------------------------------------


def status(ctx: ControllerContext) -> dict[str, Any]:
    """The system identity, the CD binding and anchoring, as the API shows them."""
    with ctx.factory() as session, session.begin():
        summary = identity_summary(session, ctx.clock)
    bound = binding(ctx)
    anchors = anchor_status(ctx)
    return {
        **summary,
        "binding": {"state": bound.state.value, "detail": bound.detail,
                    "checked_at": bound.checked_at.isoformat() if bound.checked_at else None},
        "anchors": {"kept_by_cd": anchors.kept, "conflict": anchors.conflict,
                    "last_seq": anchors.last_seq, "last_entry": anchors.last_entry},
    }


def camera_certificates(session: Session) -> list[dict[str, Any]]:
    """The device certificates issued to cameras, by serial."""
    rows = session.scalars(select(CameraCertificate).order_by(CameraCertificate.serial))
    return [{"serial": r.serial, "key_sha256": r.key_sha256,
             "issued_at": r.issued_at.isoformat(),
             "certificate_pem": r.certificate_pem.decode("ascii")} for r in rows]



def issues(ctx: ControllerContext) -> list[tuple[str, str, str]]:
    """(kind, message, link) of what integrity needs attention for, for the dashboard."""
    found: list[tuple[str, str, str]] = []
    bound = binding(ctx)
    if bound.state is BindingState.REFUSED:
        found.append(("cd_binding_refused", bound.detail, "/settings/destination"))
    elif bound.state is BindingState.UNSUPPORTED:
        found.append(("cd_binding_unsupported", "System binding skipped: " + bound.detail,
                      "/settings/destination"))
    anchors = anchor_status(ctx)
    if anchors.conflict:
        found.append(("audit_anchor_conflict", anchors.conflict, "/audit"))
    return found
