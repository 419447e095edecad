"""Glass-to-glass latency of the Assistant's live view, read from the pixels shown.

The simulated camera draws into each frame the moment it made it (milliseconds since the
epoch as a row of black and white cells, devices/live.py). In the browser, each frame the
video presents is copied to a canvas, its cells read back, and compared with the moment
the browser presents it (requestVideoFrameCallback's expectedDisplayTime on the page's
clock, which on one machine is the camera's clock too).
"""

from __future__ import annotations

import statistics
from typing import Any

from bodyworn.devices.live import CELL, CODE_X, CODE_Y, HEIGHT, TIME_BITS, WIDTH

# Collects `count` latencies (ms) from the <video> the live view plays, then resolves.
MEASURE_JS = f"""
(count) => new Promise((resolve, reject) => {{
  const video = document.getElementById('live-video');
  if (!video) {{ reject('no live video'); return; }}
  const canvas = document.createElement('canvas');
  canvas.width = {WIDTH}; canvas.height = {HEIGHT};
  const ctx = canvas.getContext('2d', {{ willReadFrequently: true }});
  const found = [];
  const timer = setTimeout(() => reject('only ' + found.length + ' frames'), 30000);
  const step = (now, meta) => {{
    ctx.drawImage(video, 0, 0, {WIDTH}, {HEIGHT});
    const row = ctx.getImageData({CODE_X}, {CODE_Y} + {CELL} / 2, {TIME_BITS} * {CELL}, 1).data;
    let code = 0;
    for (let i = 0; i < {TIME_BITS}; i++) {{
      const x = i * {CELL} + {CELL} / 2;
      code = code * 2 + (row[x * 4] >= 128 ? 1 : 0);
    }}
    const shown = performance.timeOrigin + meta.expectedDisplayTime;
    found.push(shown - code);
    if (found.length >= count) {{ clearTimeout(timer); resolve(found); return; }}
    video.requestVideoFrameCallback(step);
  }};
  video.requestVideoFrameCallback(step);
}})
"""


def percentiles(samples: list[float]) -> dict[str, Any]:
    """p50 and p95 of latencies in ms."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(p95, 1), "max_ms": round(ordered[-1], 1)}
