"""Checking one recording's evidence against what its camera signed.

The same checks serve the embedded CD's evidence browser (over its store) and the
offline verifier of an evidence archive (over the archive's files): both hand in a
`RecordingMaterial` and the system certificates they trust, and get per clip a verdict
(valid, invalid, missing, unchecked) with a reason in plain words, plus findings about
the recording's metadata, bookmarks, GNSS track and set of clips.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography import x509

from bodyworn.domain import strict_json
from bodyworn.evidence.metadata import (
    RECORDING_SIGNATURE_SUFFIX,
    SIGNATURE_SUFFIX,
    SIGNATURES_SUFFIX,
    decode_value,
    encode_metadata_value,
    epoch,
    parse_location,
    rfc3339,
    signature_object_name,
)
from bodyworn.evidence.signing import (
    CLIP_STATEMENT,
    RECORDING_STATEMENT,
    Jws,
    SignatureProblem,
    check_chain,
    parse_jws,
    parse_signature_bundle,
    parse_time_text,
    track_digest,
    verify_jws,
)

CLIP_SUFFIXES = (".mkv", ".mp4")
GNSS_SUFFIX = "_gpstrail.json"
BOOKMARK_PREFIX = "bookmark_"


class Verdict(StrEnum):
    """What a check found."""

    VALID = "valid"
    INVALID = "invalid"
    MISSING = "missing"
    UNCHECKED = "unchecked"


LABELS = {
    Verdict.VALID: "signature valid",
    Verdict.INVALID: "signature invalid",
    Verdict.MISSING: "signature missing",
    Verdict.UNCHECKED: "signature not checked",
}


@dataclass(frozen=True)
class Finding:
    """One check's outcome: what was checked, the verdict, and why."""

    subject: str
    verdict: Verdict
    detail: str = ""

    @property
    def label(self) -> str:
        """The words shown for a signature check ("signature valid", ...)."""
        return LABELS[self.verdict]


@dataclass(frozen=True)
class Material:
    """One stored object as the checks need it.

    `plain_sha256` gives the sha256 of the object's plaintext (None: encrypted, and no
    key to open it); `body` its plaintext bytes (signatures, bookmarks, the track; None
    likewise).
    """

    name: str
    metadata: Mapping[str, str]
    plain_sha256: Callable[[], str | None]
    body: Callable[[], bytes | None]
    plain_size: Callable[[], int | None] = lambda: None


@dataclass(frozen=True)
class RecordingMaterial:
    """A recording container: its decoded metadata and its objects by name."""

    container: str
    metadata: Mapping[str, str]
    objects: Mapping[str, Material]
    # User UUID → the user-supplied ID the CD holds for it (Users/<uuid>), for the signed
    # user (a camera knows its user by either).
    user_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordingFindings:
    """Everything checked about one recording."""

    container: str
    clips: dict[str, Finding]
    recording: Finding
    details: list[Finding]

    @property
    def ok(self) -> bool:
        """True when nothing was found invalid (missing and unchecked are not failures)."""
        return all(f.verdict is not Verdict.INVALID for f in self.all())

    def all(self) -> list[Finding]:
        """Every finding, clips first."""
        return [*self.clips.values(), self.recording, *self.details]


def get(meta: Mapping[str, str], key: str) -> str:
    """A metadata value by its spec key, whatever the case it was stored in."""
    lowered = key.lower()
    for k, v in meta.items():
        if k.lower() == lowered:
            return v
    return ""


def as_stored(key: str, value: str) -> str:
    """A value as the controller's encoding leaves it at the CD (cut to its key's limit)."""
    return decode_value(encode_metadata_value(key, value))


def is_clip(name: str) -> bool:
    """Whether an object name is a clip's."""
    return name.lower().endswith(CLIP_SUFFIXES)


def _signed(material: Material | None, kind: str, trusted: Mapping[str, x509.Certificate],
            camera: str) -> Jws:
    """The verified JWS of a signature object (SignatureProblem with the reason)."""
    assert material is not None
    body = material.body()
    if body is None:
        raise SignatureProblem("the signature object cannot be read")
    jws = parse_jws(body)
    verify_jws(jws, kind)
    check_chain(jws, trusted, signer_cn=camera)
    if jws.payload.get("camera") != camera:
        raise SignatureProblem(
            f"the statement is about camera {jws.payload.get('camera')!r}, not {camera!r}")
    return jws


def check_clip(
    clip: Material, signature: Material | None, camera: str,
    trusted: Mapping[str, x509.Certificate],
) -> tuple[Finding, Jws | None]:
    """A clip against its signed statement; the statement when it verified."""
    subject = f"clip {clip.name}"
    if signature is None:
        return Finding(subject, Verdict.MISSING, "no signature object beside the clip"), None
    try:
        jws = _signed(signature, CLIP_STATEMENT, trusted, camera)
        payload = jws.payload
        start = parse_time_text(payload.get("start"))
    except SignatureProblem as exc:
        return Finding(subject, Verdict.INVALID, str(exc)), None
    stored_start = get(clip.metadata, "StartTime")
    if stored_start and stored_start != epoch(start):
        return Finding(subject, Verdict.INVALID,
                       f"the clip's StartTime {stored_start} is not the signed start"
                       f" {rfc3339(start)}"), None
    digest = clip.plain_sha256()
    if digest is None:
        return Finding(subject, Verdict.UNCHECKED,
                       "the clip is encrypted and its key cannot be opened here"), jws
    if digest != payload.get("sha256"):
        return Finding(subject, Verdict.INVALID,
                       "the clip's bytes are not the ones the camera signed"), None
    size = clip.plain_size()
    if size is not None and size != payload.get("size"):
        return Finding(subject, Verdict.INVALID, "the clip's size is not the signed one"), None
    return Finding(subject, Verdict.VALID, f"signed by camera {camera}"), jws


def _same_fix(stored: str, signed: object) -> str | None:
    """Why a stored location string differs from a signed fix, or None."""
    if not isinstance(signed, dict):
        return "no location was signed" if stored else None
    if not stored:
        return "the location is missing"
    try:
        loc = parse_location(stored)
        at = parse_time_text(signed.get("at"))
        lat, lon = float(signed["latitude"]), float(signed["longitude"])
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable ({exc})"
    if (f"{loc.latitude:.6f}", f"{loc.longitude:.6f}") != (f"{lat:.6f}", f"{lon:.6f}"):
        return "another place"
    if epoch(loc.time) != epoch(at):
        return "another time"
    return None


def metadata_mismatches(
    meta: Mapping[str, str], statement: Mapping[str, Any], user_ids: Mapping[str, str]
) -> list[str]:
    """Which container metadata differ from the recording statement, one line each."""
    out: list[str] = []

    def compare(key: str, expected: str | None) -> None:
        if expected is None:
            return
        stored = get(meta, key)
        if stored != as_stored(key, expected):
            out.append(f"{key} is {stored!r} here, the camera signed {expected!r}")

    def when(name: str) -> Any:
        value = statement.get(name)
        return None if value is None else parse_time_text(value)

    compare("BWCSerialNumber", str(statement.get("camera", "")))
    compare("FirmwareVersion", statement.get("firmware"))
    compare("TriggerOn", statement.get("trigger"))
    compare("TriggerOff", statement.get("stop_reason"))
    compare("TimeZone", statement.get("timezone"))
    for key, name in (("TriggerOnTime", "trigger_on"), ("TriggerOffTime", "trigger_off"),
                      ("StartTime", "started_at"), ("StopTime", "stopped_at")):
        moment = when(name)
        if moment is not None:
            compare(key, epoch(moment))
            if get(meta, f"{key}ISO"):
                compare(f"{key}ISO", rfc3339(moment))
    for key, name in (("TriggerOnLocation", "trigger_on_location"),
                      ("TriggerOffLocation", "trigger_off_location")):
        problem = _same_fix(get(meta, key), statement.get(name))
        if problem:
            out.append(f"{key}: {problem} than the camera signed")
    user = statement.get("user")
    stored_user = get(meta, "UserID")
    if user and stored_user and user not in (stored_user, user_ids.get(stored_user)):
        out.append(f"UserID {stored_user!r} is not the user the camera signed ({user!r})")
    return out


def _track_finding(objects: Mapping[str, Material], statement: Mapping[str, Any]) -> Finding:
    subject = "GNSS track"
    tracks = [m for n, m in objects.items() if n.endswith(GNSS_SUFFIX)]
    signed = statement.get("track_sha256")
    if not tracks:
        if signed:
            return Finding(subject, Verdict.UNCHECKED, "the camera signed a track; none is here")
        return Finding(subject, Verdict.VALID, "no track, none signed")
    if not signed:
        return Finding(subject, Verdict.INVALID, "a track is here; the camera signed none")
    body = tracks[0].body()
    if body is None:
        return Finding(subject, Verdict.UNCHECKED, "encrypted; its key cannot be opened here")
    try:
        points = []
        for entry in strict_json.loads(body.decode("utf-8"))["CoordinateEntries"]:
            wkt = str(entry["LocationWKT"]).strip()
            inside = wkt[wkt.index("(") + 1 : wkt.rindex(")")].split()
            lon, lat = float(inside[0]), float(inside[1])
            points.append((lat, lon, parse_time_text(entry["Timestamp"])))
    except (ValueError, KeyError, TypeError, IndexError, SignatureProblem) as exc:
        return Finding(subject, Verdict.INVALID, f"unreadable: {exc}")
    if track_digest(points) != signed:
        return Finding(subject, Verdict.INVALID, "the track is not the one the camera signed")
    return Finding(subject, Verdict.VALID, f"{len(points)} points as signed")


def _bookmark_finding(objects: Mapping[str, Material], statement: Mapping[str, Any]
                      ) -> Finding:
    subject = "bookmarks"
    marks = [m for n, m in objects.items() if n.startswith(BOOKMARK_PREFIX)]
    categories = [as_stored("CategoryName", str(c)) for c in statement.get("categories", [])]
    notes = [str(n) for n in statement.get("notes", [])]
    if not marks:
        if categories or notes:
            return Finding(subject, Verdict.UNCHECKED, "signed bookmarks are not stored here")
        return Finding(subject, Verdict.VALID, "none, none signed")
    found_categories: Counter[str] = Counter()
    found_notes: Counter[str] = Counter()
    for mark in marks:
        name = get(mark.metadata, "CategoryName")
        if name:
            found_categories[name] += 1
        body = mark.body()
        text = body.decode("utf-8", errors="replace") if body else ""
        if text:
            found_notes[text] += 1
    if found_categories != Counter(categories):
        return Finding(subject, Verdict.INVALID,
                       "the categories are not the ones the camera signed")
    if found_notes != Counter(notes):
        return Finding(subject, Verdict.INVALID, "the notes are not the ones the camera signed")
    return Finding(subject, Verdict.VALID, f"{len(marks)} as signed")


def _statement(bundle: Material, jws: str) -> Material:
    data = jws.encode("ascii", errors="replace")
    return Material(bundle.name, bundle.metadata, lambda: None, lambda: data)


def expand_signatures(objects: Mapping[str, Material]
                      ) -> tuple[dict[str, Material], str | None]:
    """The objects with each signatures object's statements as objects of their own (a
    clip's as `<clip>.sig`, the recording's as `…_recording.sig`, the names signatures
    had when each was an object), and why a signatures object could not be read."""
    found = dict(objects)
    problem: str | None = None
    for name, bundle in objects.items():
        if not name.endswith(SIGNATURES_SUFFIX):
            continue
        body = bundle.body()
        try:
            if body is None:
                raise SignatureProblem(f"{name} cannot be read")
            recording, clips = parse_signature_bundle(body)
        except SignatureProblem as exc:
            problem = str(exc)
            continue
        if recording is not None:
            stem = name[:-len(SIGNATURES_SUFFIX)]
            found[stem + RECORDING_SIGNATURE_SUFFIX] = _statement(bundle, recording)
        for clip, jws in clips.items():
            found[signature_object_name(clip)] = _statement(bundle, jws)
    return found, problem


def check_recording(
    material: RecordingMaterial, trusted: Mapping[str, x509.Certificate]
) -> RecordingFindings:
    """Every clip, the recording statement, metadata, bookmarks, track and clip set."""
    camera = get(material.metadata, "BWCSerialNumber")
    objects, unreadable = expand_signatures(material.objects)
    clips: dict[str, Finding] = {}
    clip_hashes: dict[str, str] = {}
    for name in sorted(n for n in objects if is_clip(n)):
        signature = objects.get(signature_object_name(name))
        if signature is None and unreadable:
            clips[name] = Finding(f"clip {name}", Verdict.INVALID, unreadable)
            continue
        finding, jws = check_clip(objects[name], signature, camera, trusted)
        clips[name] = finding
        if jws is not None:
            clip_hashes[name] = str(jws.payload.get("sha256"))
    statements = [n for n in objects if n.endswith(RECORDING_SIGNATURE_SUFFIX)]
    details: list[Finding] = []
    subject = "recording metadata"
    if not statements:
        missing = (Finding(subject, Verdict.INVALID, unreadable) if unreadable
                   else Finding(subject, Verdict.MISSING, "no signed statement"))
        return RecordingFindings(material.container, clips, missing, details)
    try:
        jws = _signed(objects[statements[0]], RECORDING_STATEMENT, trusted, camera)
    except SignatureProblem as exc:
        return RecordingFindings(material.container, clips,
                                 Finding(subject, Verdict.INVALID, str(exc)), details)
    statement = jws.payload
    try:
        problems = metadata_mismatches(material.metadata, statement, material.user_ids)
    except SignatureProblem as exc:
        problems = [str(exc)]
    recording = (Finding(subject, Verdict.INVALID, "; ".join(problems)) if problems
                 else Finding(subject, Verdict.VALID, f"as camera {camera} signed it"))
    signed_clips = {str(c.get("sha256")) for c in statement.get("clips", [])
                    if isinstance(c, dict)}
    here = set(clip_hashes.values())
    strays = sorted(n for n, h in clip_hashes.items() if h not in signed_clips)
    if strays:
        details.append(Finding("clips", Verdict.INVALID,
                               "not part of the recording the camera signed: " + ", ".join(strays)))
    elif signed_clips - here and len(clip_hashes) == len(clips):
        details.append(Finding("clips", Verdict.INVALID,
                               f"{len(signed_clips - here)} of the camera's"
                               f" {len(signed_clips)} clips are not here"))
    elif signed_clips - here:
        details.append(Finding("clips", Verdict.UNCHECKED,
                               "some clips could not be checked against the recording"))
    else:
        details.append(Finding("clips", Verdict.VALID,
                               f"all {len(signed_clips)} clips the camera signed"))
    details.append(_bookmark_finding(objects, statement))
    details.append(_track_finding(objects, statement))
    return RecordingFindings(material.container, clips, recording, details)


def is_signature(name: str) -> bool:
    """Whether an object name is one of our signature objects."""
    return name.endswith((SIGNATURE_SUFFIX, SIGNATURES_SUFFIX))
