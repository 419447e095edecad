"""What the evidence browser shows, read from the store: recordings, their objects, tracks.

Pure reading: nothing here changes the store. Metadata values are decoded (they are
stored URL-encoded, as sent); users and cameras are named from Users/ and Devices/ as
the spec recommends ("Name (UserID)").
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from bodyworn.destination.ems import is_recording_container
from bodyworn.destination.store import BadName, NotFound, ObjectStore, StoredObject
from bodyworn.domain import strict_json
from bodyworn.domain.text import fold
from bodyworn.evidence.crypto import (
    EvidenceCryptoError,
    KeyFile,
    decrypt_chunks,
    open_key_file,
    read_chunks,
)
from bodyworn.evidence.metadata import (
    decode_value,
    is_rejected_container,
    key_object_name,
    parse_recording_container_name,
    parse_rejected_container_time,
    parse_tags,
)
from bodyworn.evidence.signing import SignatureProblem, common_name, load_pem_chain
from bodyworn.evidence.verify import (
    Material,
    RecordingFindings,
    RecordingMaterial,
    check_recording,
    is_signature,
)

CLIP_EXTENSIONS = (".mkv", ".mp4")
GNSS_SUFFIX = "_gpstrail.json"
BOOKMARK_PREFIX = "bookmark_"
# Notes and tracks are small; anything bigger is not shown inline.
MAX_INLINE_BYTES = 4 * 1024 * 1024
_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_POINT = re.compile(rf"^\s*POINT\s*\(\s*{_NUMBER}\s+{_NUMBER}\s*\)\s*$", re.IGNORECASE)


# Keys arrive header-cased (Bwcserialnumber); show them as the spec spells them.
SPEC_KEYS = (
    "ContainerName",
    "BWCSerialNumber",
    "SCUSerialNumber",
    "FirmwareVersion",
    "UserID",
    "TriggerOn",
    "TriggerOff",
    "TriggerOnTime",
    "TriggerOnTimeISO",
    "TriggerOnLocation",
    "TriggerOffTime",
    "TriggerOffTimeISO",
    "TriggerOffLocation",
    "StartTime",
    "StartTimeISO",
    "StopTime",
    "StopTimeISO",
    "TimeZone",
    "BWCModel",
    "Status",
    "RejectedContentOriginalContainer",
    "RejectedContentTime",
    "RejectedContentReason",
    "ContainerType",
    "StartLocation",
    "StopLocation",
    "FileType",
    "CategoryID",
    "CategoryName",
    "Tags",
    "EndTime",
    "Name",
    "Active",
    "Model",
)
_SPELLING = {k.lower(): k for k in SPEC_KEYS}


def decoded(meta: Mapping[str, str]) -> dict[str, str]:
    """Metadata with values URL-decoded and keys spelled as in the spec."""
    return {_SPELLING.get(k.lower(), k): decode_value(v) for k, v in meta.items()}


def _get(meta: Mapping[str, str], key: str) -> str:
    lowered = key.lower()
    for k, v in meta.items():
        if k.lower() == lowered:
            return v
    return ""


def _epoch_time(meta: Mapping[str, str], key: str) -> datetime | None:
    value = _get(meta, key)
    if not value.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Person:
    """A user or a camera as the CD knows it."""

    id: str
    name: str
    extra: str = ""

    @property
    def label(self) -> str:
        """`Name (ID)`; the name or the ID alone when that is all there is to say (a camera
        whose name is its serial number is not named twice)."""
        shown = self.extra or self.id
        if not self.name or self.name == shown:
            return self.name or shown
        return f"{self.name} ({shown})"


@dataclass(frozen=True)
class RecordingRow:
    """One line of the recordings (or rejected content) list."""

    container: str
    user: Person
    camera: Person
    start: datetime | None
    status: str
    object_count: int
    reason: str = ""
    original: str = ""
    stop: datetime | None = None
    # The zone the camera recorded in (the system's, given at docking); times show in it.
    timezone: str = "UTC"
    categories: tuple[str, ...] = ()
    notes: int = 0


@dataclass(frozen=True)
class ObjectRow:
    """One stored object of a recording."""

    name: str
    kind: str  # clip, key, gnss, bookmark, other
    size: int
    md5: str
    sha256: str
    content_type: str
    metadata: dict[str, str]
    encrypted: bool = False


@dataclass(frozen=True)
class BookmarkView:
    """A bookmark, category or note."""

    name: str
    category: str
    category_id: str
    tags: dict[str, str]
    start: str
    end: str
    note: str

    @property
    def at(self) -> datetime | None:
        """When the bookmark starts (None when its time does not read)."""
        return _iso_time(self.start)

@dataclass(frozen=True)
class Track:
    """A GNSS track: (longitude, latitude) points and its drawing (see draw_track)."""

    points: tuple[tuple[float, float], ...]
    svg_points: str
    width: int = 480
    height: int = 320
    problem: str = ""
    drawing: TrackDrawing | None = None


@dataclass(frozen=True)
class TrackDrawing:
    """A track laid out for SVG, north up, drawn without any map service (it works
    offline): a grid of `grid_m` metres behind it, start and end marked, a scale bar."""

    start: tuple[float, float]
    end: tuple[float, float]
    grid: tuple[tuple[float, float, float, float], ...]
    grid_m: float
    scale_px: float
    scale_label: str
    distance_m: float

    @property
    def distance_label(self) -> str:
        """The track's length in words: 740 m, 1.2 km."""
        return _metres(self.distance_m)


@dataclass(frozen=True)
class RecordingView:
    """Everything the recording page shows."""

    row: RecordingRow
    metadata: list[tuple[str, str]]
    objects: list[ObjectRow]
    clips: list[ObjectRow]
    bookmarks: list[BookmarkView]
    tracks: list[Track] = field(default_factory=list)
    # What the camera signed, checked (docs/integrity.md): per clip and for the rest.
    integrity: RecordingFindings | None = None


@dataclass(frozen=True)
class Filters:
    """Recording list filters; empty means no filter."""

    user: str = ""
    camera: str = ""
    day_from: date | None = None
    day_to: date | None = None


class EvidenceReader:
    """Reads recordings of one account for the browser."""

    def __init__(
        self, store: ObjectStore, account: str, private_key: rsa.RSAPrivateKey | None = None
    ) -> None:
        self.store = store
        self.account = account
        self.private_key = private_key
        # A file (path, mtime, size, inode) → (sha256, size) of its plaintext.
        self._plain: dict[str, tuple[str, int]] = {}

    def _person(self, container: str, name: str) -> Person:
        if not name:
            return Person("", "")
        try:
            meta = decoded(self.store.get_object(self.account, container, name).metadata)
        except NotFound:
            return Person(name, "")
        return Person(name, _get(meta, "Name"), _get(meta, "UserID"))

    def _row(self, container: str) -> RecordingRow:
        info = self.store.container_info(self.account, container)
        meta = decoded(info.metadata)
        start = (
            _epoch_time(meta, "StartTime")
            or _epoch_time(meta, "TriggerOnTime")
            or _name_time(container)
        )
        bookmarks = [o for o in self.store.list_objects(self.account, container)
                     if _kind(o.name) == "bookmark"]
        categories = tuple(dict.fromkeys(
            c for c in (_get(decoded(o.metadata), "CategoryName") for o in bookmarks) if c))
        return RecordingRow(
            container=container,
            user=self._person("Users", _get(meta, "UserID")),
            camera=self._person("Devices", _get(meta, "BWCSerialNumber")),
            start=start,
            status=_get(meta, "Status"),
            object_count=info.object_count,
            reason=_get(meta, "RejectedContentReason"),
            original=_get(meta, "RejectedContentOriginalContainer"),
            stop=_epoch_time(meta, "StopTime"),
            timezone=_get(meta, "TimeZone") or "UTC",
            categories=categories,
            notes=sum(1 for o in bookmarks if o.size and not _get(o.metadata, "CategoryName")),
        )

    def recordings(self, filters: Filters = Filters()) -> list[RecordingRow]:
        """Recordings (not rejected content) matching `filters`, newest first."""
        rows = []
        for name in self.store.list_containers(self.account):
            meta = self.store.container_metadata(self.account, name)
            if not is_recording_container(name, meta):
                continue
            row = self._row(name)
            if _matches(row, filters):
                rows.append(row)
        return sorted(rows, key=_newest_first)

    def rejected(self) -> list[RecordingRow]:
        """Rejected-content containers, newest first."""
        names = self.store.list_containers(self.account)
        rows = [self._row(n) for n in names if is_rejected_container(n)]
        return sorted(rows, key=_newest_first)

    def is_evidence(self, container: str) -> bool:
        """True for a recording or rejected-content container that exists."""
        try:
            meta = self.store.container_metadata(self.account, container)
        except (NotFound, BadName):  # a name no container can have is not evidence either
            return False
        return is_rejected_container(container) or is_recording_container(container, meta)

    def recording(self, container: str) -> RecordingView:
        """The whole recording page; raises NotFound."""
        if not self.is_evidence(container):
            raise NotFound(f"no recording {container!r}")
        row = self._row(container)
        meta = decoded(self.store.container_metadata(self.account, container))
        stored = self.store.list_objects(self.account, container)
        names = {o.name for o in stored}
        objects = [self._object_row(o, names) for o in stored]
        bookmarks = [self._bookmark(o) for o in stored if _kind(o.name) == "bookmark"]
        tracks = [self._track(container, o, names) for o in stored if _kind(o.name) == "gnss"]
        return RecordingView(
            row=row,
            metadata=sorted(meta.items()),
            objects=objects,
            clips=[o for o in objects if o.kind == "clip"],
            bookmarks=sorted(bookmarks, key=lambda b: (b.start, b.name)),
            tracks=tracks,
            integrity=check_recording(self.material(container), self.trusted_systems()),
        )

    # ---- integrity ---------------------------------------------------------------------

    def trusted_systems(self) -> dict[str, x509.Certificate]:
        """The system certificates this CD holds: the bodies of its System/<SystemID>
        objects (written by each bound system), by system ID."""
        found: dict[str, x509.Certificate] = {}
        try:
            objects = self.store.list_objects(self.account, "System")
        except NotFound:
            return found
        for obj in objects:
            if not _get(obj.metadata, "ConnectionId") or obj.size > MAX_INLINE_BYTES:
                continue
            try:
                cert = load_pem_chain(obj.path.read_bytes())[0]
            except (SignatureProblem, OSError):
                continue
            if common_name(cert) == obj.name:
                found[obj.name] = cert
        return found

    def _plaintext_digest(self, container: str, obj: StoredObject) -> tuple[str, int] | None:
        """(sha256, size) of an object's plaintext as its file holds it now (decrypted with
        this CD's key when it has a key object); None when it cannot be opened. Cached by
        the file's identity, so a changed file is hashed again."""
        try:
            info = obj.path.stat()
        except OSError:
            return None
        mark = f"{obj.path}:{info.st_mtime_ns}:{info.st_size}:{info.st_ino}"
        cached = self._plain.get(mark)
        if cached is not None:
            return cached
        key_file = self.content_key_for(container, obj.name) if obj.name.endswith(
            (*CLIP_EXTENSIONS, GNSS_SUFFIX)) else None
        if key_file is not None and self.private_key is None:
            return None
        try:
            content_key = open_key_file(key_file, self.private_key) if key_file and \
                self.private_key else None
            digest, size = hashlib.sha256(), 0
            with obj.path.open("rb") as handle:
                blocks = read_chunks(handle)
                for block in decrypt_chunks(blocks, content_key) if content_key else blocks:
                    digest.update(block)
                    size += len(block)
        except (EvidenceCryptoError, ValueError, OSError):
            return None
        if len(self._plain) > 10_000:
            self._plain.clear()
        self._plain[mark] = (digest.hexdigest(), size)
        return self._plain[mark]

    def plain_sha256(self, container: str, obj: StoredObject) -> str | None:
        """sha256 of an object's plaintext (None: encrypted and this CD cannot open it)."""
        found = self._plaintext_digest(container, obj)
        return found[0] if found else None

    def plain_size(self, container: str, obj: StoredObject) -> int | None:
        """An object's plaintext size (None: encrypted and this CD cannot open it)."""
        found = self._plaintext_digest(container, obj)
        return found[1] if found else None

    def plain_body(self, container: str, obj: StoredObject) -> bytes | None:
        """A small object's plaintext (decrypted when it has a key object), or None."""
        if obj.size > MAX_INLINE_BYTES:
            return None
        body = obj.path.read_bytes()
        key_file = self.content_key_for(container, obj.name) if obj.name.endswith(
            (*CLIP_EXTENSIONS, GNSS_SUFFIX)) else None
        if key_file is None:
            return body
        if self.private_key is None:
            return None
        try:
            return b"".join(decrypt_chunks([body], open_key_file(key_file, self.private_key)))
        except (EvidenceCryptoError, ValueError):
            return None

    def user_ids(self) -> dict[str, str]:
        """User UUID → the user-supplied ID, from Users/."""
        try:
            objects = self.store.list_objects(self.account, "Users")
        except NotFound:
            return {}
        return {o.name: decode_value(_get(o.metadata, "UserID")) for o in objects
                if _get(o.metadata, "UserID")}

    def material(self, container: str) -> RecordingMaterial:
        """A recording as the integrity checks read it (plaintext where this CD can)."""
        objects: dict[str, Material] = {}
        for obj in self.store.list_objects(self.account, container):
            objects[obj.name] = Material(
                name=obj.name,
                metadata=decoded(obj.metadata),
                plain_sha256=partial(self.plain_sha256, container, obj),
                body=partial(self.plain_body, container, obj),
                plain_size=partial(self.plain_size, container, obj),
            )
        return RecordingMaterial(
            container=container,
            metadata=decoded(self.store.container_metadata(self.account, container)),
            objects=objects,
            user_ids=self.user_ids(),
        )

    @staticmethod
    def _object_row(obj: StoredObject, names: set[str]) -> ObjectRow:
        kind = _kind(obj.name)
        encrypted = kind in ("clip", "gnss") and key_object_name(obj.name) in names
        return ObjectRow(
            name=obj.name,
            kind=kind,
            size=obj.size,
            md5=obj.md5,
            sha256=obj.sha256,
            content_type=obj.content_type,
            metadata=decoded(obj.metadata),
            encrypted=encrypted,
        )

    def _bookmark(self, obj: StoredObject) -> BookmarkView:
        meta = decoded(obj.metadata)
        note = ""
        if obj.size <= MAX_INLINE_BYTES:
            note = obj.path.read_bytes().decode("utf-8", errors="replace")
        return BookmarkView(
            name=obj.name,
            category=_get(meta, "CategoryName"),
            category_id=_get(meta, "CategoryID"),
            tags=parse_tags(_get(meta, "Tags")),
            start=_get(meta, "StartTime"),
            end=_get(meta, "EndTime"),
            note=note,
        )

    def content_key_for(self, container: str, name: str) -> KeyFile | None:
        """The `.key` object beside an encrypted object, or None when it is plain."""
        try:
            key_obj = self.store.get_object(self.account, container, key_object_name(name))
        except (NotFound, BadName):
            return None
        return KeyFile.from_bytes(key_obj.path.read_bytes())

    def _track(self, container: str, obj: StoredObject, names: set[str]) -> Track:
        if obj.size > MAX_INLINE_BYTES:
            return Track((), "", problem="track too large to draw")
        body = obj.path.read_bytes()
        if key_object_name(obj.name) in names:
            if self.private_key is None:
                return Track((), "", problem="encrypted; this CD has no private key")
            try:
                key_file = self.content_key_for(container, obj.name)
                if key_file is None:
                    raise EvidenceCryptoError("key object vanished")
                content_key = open_key_file(key_file, self.private_key)
                body = b"".join(decrypt_chunks([body], content_key))
            except (EvidenceCryptoError, ValueError) as exc:
                return Track((), "", problem=f"cannot decrypt: {exc}")
        return track_from_json(body)


def _iso_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _name_time(container: str) -> datetime | None:
    """The time a container's name carries (either form), for one stored without times."""
    parsed = parse_recording_container_name(container)
    if parsed is not None:
        return parsed.trigger_on
    return parse_rejected_container_time(container)


def _kind(name: str) -> str:
    if name.endswith(GNSS_SUFFIX):
        return "gnss"
    if name.startswith(BOOKMARK_PREFIX):
        return "bookmark"
    if name.endswith(".key"):
        return "key"
    if is_signature(name):
        return "signature"
    if name.lower().endswith(CLIP_EXTENSIONS):
        return "clip"
    return "other"


def _newest_first(row: RecordingRow) -> tuple[float, str]:
    return (-(row.start.timestamp() if row.start else 0.0), row.container)


def _matches(row: RecordingRow, f: Filters) -> bool:
    def hit(needle: str, person: Person) -> bool:
        needle = fold(needle)
        return any(needle in fold(part) for part in (person.id, person.name, person.extra))

    if f.user and not hit(f.user, row.user):
        return False
    if f.camera and not hit(f.camera, row.camera):
        return False
    if f.day_from or f.day_to:
        if row.start is None:
            return False
        day = row.start.date()
        if f.day_from and day < f.day_from:
            return False
        if f.day_to and day > f.day_to:
            return False
    return True


def track_from_json(body: bytes) -> Track:
    """Parse a GNSS track object (CoordinateEntries of WKT points) and lay it out as SVG."""
    try:
        doc = strict_json.load_object(body)
        entries = doc["CoordinateEntries"]
        if not isinstance(entries, list):
            raise TypeError("CoordinateEntries is not a list")
    except (ValueError, KeyError, TypeError) as exc:  # JsonRefused is a ValueError
        return Track((), "", problem=f"not a GNSS track: {exc}")
    points: list[tuple[float, float]] = []
    for entry in entries:
        m = _POINT.match(entry.get("LocationWKT", "")) if isinstance(entry, dict) else None
        if m:
            lon, lat = float(m.group(1)), float(m.group(2))
            if -180 <= lon <= 180 and -90 <= lat <= 90:
                points.append((lon, lat))
    width, height = Track.width, Track.height
    return Track(tuple(points), svg_polyline(points, width, height, TRACK_PAD),
                 drawing=draw_track(points, width, height) if points else None)


# Room around a drawn track for its marks and the scale bar.
TRACK_PAD = 28
_EARTH_M = 6_371_000.0
_METRES_PER_DEGREE = math.pi * _EARTH_M / 180


def _project(points: Sequence[tuple[float, float]], width: int, height: int, pad: int
             ) -> tuple[list[tuple[float, float]], float]:
    """(lon, lat) points as (x, y) in width × height, north up, and pixels per metre."""
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    # Longitude degrees shrink with latitude; scale them so the track keeps its shape.
    squash = max(math.cos(math.radians(sum(lats) / len(lats))), 0.01)
    span_x = (max(lons) - min(lons)) * squash or 1e-9
    span_y = (max(lats) - min(lats)) or 1e-9
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    xy = [(pad + (lon - min(lons)) * squash * scale, height - pad - (lat - min(lats)) * scale)
          for lon, lat in points]
    return xy, scale / _METRES_PER_DEGREE


def svg_polyline(
    points: Sequence[tuple[float, float]], width: int = 400, height: int = 300, pad: int = 10
) -> str:
    """SVG `points` attribute for (lon, lat) points, north up, fitted into width × height."""
    if not points:
        return ""
    xy, _per_metre = _project(points, width, height, pad)
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)


def _nice(metres: float) -> float:
    """The largest of 1, 2, 5 × 10^n metres at most `metres` (at least 1 m)."""
    if metres <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def _metres(m: float) -> str:
    if m >= 1000:
        km = m / 1000
        return f"{km:.0f} km" if km >= 10 else f"{km:.1f} km"
    return f"{m:.0f} m"


def _distance(points: Sequence[tuple[float, float]]) -> float:
    """Metres along the track (great circle between fixes)."""
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(points):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        a = (math.sin((p2 - p1) / 2) ** 2
             + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
        total += 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(a)))
    return total


def draw_track(points: Sequence[tuple[float, float]], width: int = 480, height: int = 320
               ) -> TrackDrawing:
    """Start, end, a metric grid and a scale bar for a track (at least one point)."""
    xy, per_metre = _project(points, width, height, TRACK_PAD)
    # The scale bar is about a quarter of the width; the grid has the same spacing.
    grid_m = _nice(width / 4 / per_metre) if per_metre > 0 else 1.0
    step = grid_m * per_metre
    grid: list[tuple[float, float, float, float]] = []
    if step >= 8:  # denser than that is noise
        x = TRACK_PAD % step
        while x <= width:
            grid.append((x, 0.0, x, float(height)))
            x += step
        y = height - TRACK_PAD % step
        while y >= 0:
            grid.append((0.0, y, float(width), y))
            y -= step
    return TrackDrawing(start=xy[0], end=xy[-1], grid=tuple(grid), grid_m=grid_m,
                        scale_px=step, scale_label=_metres(grid_m),
                        distance_m=_distance(points))
