"""The look both web apps share: one stylesheet, one page frame, the icon.

The manager (controller/) and the evidence browser (destination/) serve `static/` and
extend `templates/frame.html`, so they read as one product. Imports nothing of ours.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

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
