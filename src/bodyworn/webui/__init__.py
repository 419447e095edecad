"""The look both web apps share: one stylesheet, one page frame, the icon, and how times,
sizes and lengths are written.

The manager (controller/) and the evidence browser (destination/) serve `static/` and
extend `templates/frame.html`, so they read as one product. Imports nothing of ours.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import Image, ImageDraw

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
ICON_SIZES = (16, 32, 48)
# The icon's colours, those of the stylesheet's sidebar and accent.
_BACKGROUND = (22, 32, 43, 255)
_LENS = (47, 158, 68, 255)


@cache
def favicon_ico() -> bytes:
    """/favicon.ico: the lens of the SVG icon drawn as an ICO (browsers ask for it)."""
    size = 64
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=14, fill=_BACKGROUND)
    draw.ellipse((14, 14, 50, 50), fill=(255, 255, 255, 255))
    draw.ellipse((22, 22, 42, 42), fill=_LENS)
    out = io.BytesIO()
    image.save(out, format="ICO", sizes=[(s, s) for s in ICON_SIZES])
    return out.getvalue()


def zone_of(name: str) -> ZoneInfo:
    """The zone of an IANA name; UTC when the name is unknown (never fails a page)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_abbreviation(moment: datetime) -> str:
    """The zone's short name at that moment (CET, CEST), or its UTC offset when it has none."""
    name = moment.strftime("%Z")
    if name and not name.startswith(("+", "-")):
        return name
    offset = moment.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def local_time(moment: datetime | None, zone: str, *, seconds: bool = False,
               date: bool = True) -> str:
    """A stored (UTC) time in `zone`, with the zone's abbreviation: 2026-12-03 13:58 CET.
    Naive times are taken as UTC."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    shown = moment.astimezone(zone_of(zone))
    pattern = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M")
    return f"{shown.strftime(pattern)} {zone_abbreviation(shown)}"


def size(n: int | None) -> str:
    """Bytes as people read them: 950 B, 160 kB, 15.8 MB, 2.1 GB (powers of 1000)."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.0f} GB" if value >= 100 else f"{value:.1f} GB"


def duration(start: datetime | None, stop: datetime | None) -> str:
    """How long from start to stop: 3:05, 1:02:03 ("" when either is unknown)."""
    if start is None or stop is None or stop < start:
        return ""
    seconds = round((stop - start).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
