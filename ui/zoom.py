"""A large image (seg/data/large.py: read by regions) on a page: an overview of the whole with the window outlined,
and a window of it at its own pixels, its mask drawn over it. Only the window's tiles are decoded; the overview is
read once per file version."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from seg.data.overlay import Overlay
from ui import text

WINDOW = 512  # the window's side, in the image's own pixels
OVERVIEW = 768  # the overview's longer side


@st.cache_data(max_entries=16, show_spinner="Reading an overview of the whole image ...")
def _overview(path: str, stamp: int, side: int) -> np.ndarray:
    from seg.data.large import Large
    return Large.open(Path(path)).shown(side)


def _outline(picture: np.ndarray, box: tuple[int, int, int, int], step: float, colour=(255, 213, 0)) -> None:
    "Draw the box (y, x, h, w in the image's pixels) on the overview, two pixels wide, in place."
    h, w = picture.shape[:2]
    y0, x0 = int(box[0] / step), int(box[1] / step)
    y1, x1 = min(h - 1, int((box[0] + box[2]) / step)), min(w - 1, int((box[1] + box[3]) / step))
    for a, b in ((y0, min(h, y0 + 2)), (max(0, y1 - 1), y1 + 1)):
        picture[a:b, x0:x1 + 1] = colour
    for a, b in ((x0, min(w, x0 + 2)), (max(0, x1 - 1), x1 + 1)):
        picture[y0:y1 + 1, a:b] = colour


def large(path: Path, mask_of: Callable[[tuple[int, int, int, int]], np.ndarray], overlay: Overlay, key: str,
          start: tuple[int, int] = (0, 0), region: tuple[int, int, int, int] | None = None
          ) -> tuple[int, int, int, int] | None:
    """The overview of the large image at `path` and a WINDOW-pixel window of it at its own pixels, placed with two
    sliders (starting at `start`), with `mask_of(box)` (class indices of that box) drawn over it. `region`: a part
    to outline on the overview too (a dataset pair's region). The window's box (y, x, h, w), None where the image
    or the window cannot be read (said on the page)."""
    from seg.data.large import Large
    from seg.data.stacks import Slice
    from seg.errors import ImageError
    try:
        image = Large.open(Path(path))
        overview = _overview(str(path), Path(path).stat().st_mtime_ns, OVERVIEW).copy()
    except (ImageError, OSError) as e:
        st.caption(f"The whole image cannot be shown: {text.md(getattr(e, 'problem', str(e)))}")
        return None
    from seg.data.images import max_pixels
    H, W = image.height, image.width
    side = min(WINDOW, math.isqrt(max_pixels()))  # a window is an image: within the pixel limit
    wh, ww = min(side, H), min(side, W)
    c1, c2 = st.columns(2)
    x = c1.slider("Across (pixels)", 0, W - ww, min(start[1], W - ww), step=max(1, ww // 4), key=f"{key}_x")
    y = c2.slider("Down (pixels)", 0, H - wh, min(start[0], H - wh), step=max(1, wh // 4), key=f"{key}_y")
    box = (y, x, wh, ww)
    step = max(H / overview.shape[0], W / overview.shape[1])
    if region is not None:
        _outline(overview, region, step, (0, 190, 255))
    _outline(overview, box, step)
    a, b = st.columns(2)
    a.image(overview, caption=f"The whole image, {W:,} x {H:,} pixels, shrunk {step:.0f} times; yellow: the window"
                              + ("; blue: this pair's region" if region is not None else ""), width="stretch")
    try:
        from seg.data.images import load_image
        window = load_image(Slice(path, box=box))
        mask = mask_of(box)
    except (ImageError, OSError) as e:
        b.caption(f"The window cannot be read: {text.md(getattr(e, 'problem', str(e)))}")
        return None
    b.image(overlay(window, mask), caption=f"x {x:,} to {x + ww:,}, y {y:,} to {y + wh:,}: its own pixels",
            width="stretch")
    return box
