"""A window of a large image, labelled as an image of its own.

An image past the whole-image limit (seg/data/large.py) cannot open in the mask editor; a window of it can.
`add_window` copies the window's pixels, as stored (dtype, channels, OME channel names), into the set as

    images/<key>@x<X>-y<Y>-<W>x<H>.tif    the window: read back, the same array and mode as the region
    records/<key>@x...json                {"window_of": the large image, "box": [y, x, h, w], "history": []}

where it is one more image of the set (`LabelSet.sources` lists it): labelled, saved, trained on and exported
as any other. The large image is only read; a window copied once is never written again (the same window
asked for twice is the same item), and a key an image of the folder or another window has is never taken
over (`-2`, `-3` ... added)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tifffile

from seg.errors import LabelsError
from seg.labels.store import LabelSet, key_of
from seg.util import atomic_write

if TYPE_CHECKING:
    from seg.server.sharing import Access

MAX_SIDE = 2048  # a window's longest side: an image the editor opens whole, in a browser


def window_key(key: str, box: tuple[int, int, int, int]) -> str:
    "The key of the window `box` (y, x, h, w) of the image whose key is `key`."
    y, x, h, w = box
    return f"{key}@x{x}-y{y}-{w}x{h}"


def _box(box) -> tuple[int, int, int, int]:
    "The box as four ints, or LabelsError: from a page, it is what a browser sent."
    try:
        values = tuple(box)
        if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise ValueError
    except (TypeError, ValueError):
        raise LabelsError(f"A window is four whole numbers (y, x, height, width), not {str(box)[:80]!r}.",
                          "Place the window with the sliders.") from None
    y, x, h, w = (int(v) for v in values)
    side = min(MAX_SIDE, _limit_side())
    if not (1 <= h <= side and 1 <= w <= side):
        raise LabelsError(f"A window of {w} x {h} pixels is not labelled: its sides must be 1 to {side:,} pixels.",
                          "Place the window with the sliders.")
    return y, x, h, w


def _limit_side() -> int:
    from seg.data.images import max_pixels
    return math.isqrt(max_pixels())


def add_window(s: LabelSet, image: Path, box, access: Access) -> str:
    """Copy the window `box` (y, x, h, w, in pixels) of the large image `image` into the set `s` (see the module),
    where `access` may read the image (checked as it is read); its key in the set. LabelsError for a box that
    is not a window inside the image, or an image that cannot be read."""
    from seg.data.images import read
    from seg.data.large import Large
    from seg.data.stacks import Slice
    from seg.data.tiff import channel_names
    from seg.errors import ImageError
    box = _box(box)
    source = s.readable(image, access)
    base = window_key(key_of(Path(image).resolve(), s.source), box)
    try:
        layout = Large.open(source)
        if not (0 <= box[0] and 0 <= box[1] and box[0] + box[2] <= layout.height
                and box[1] + box[3] <= layout.width):
            raise LabelsError(f"The window {box[3]} x {box[2]} at x {box[1]}, y {box[0]} is outside {source.name} "
                              f"({layout.width:,} x {layout.height:,} pixels).", "Place the window with the sliders.")
        theirs = {key_of(f.resolve(), s.source) for f in s.sources(access)}
        with s._locked():
            key, copied = _place(s, base, str(source), box, theirs)
            if copied:
                return key  # copied before: the same pixels, and perhaps a mask drawn on them since
            dest = s.path / "images" / f"{key}.tif"
            a, mode = read(Slice(source, box=box))
            names = channel_names(source) if mode.startswith("C") else []
            atomic_write(dest, write=lambda t: write_tiff(t, a, mode, names))
            record = {"key": key, "window_of": str(source), "box": list(box), "history": []}
            atomic_write(s.path / "records" / f"{key}.json", json.dumps(record, indent=2))
    except (ImageError, OSError) as e:
        raise LabelsError(f"{source.name}: the window cannot be read: {getattr(e, 'problem', e)}",
                          getattr(e, "fix", "Check the file, or copy it again from its source.")) from None
    return key


def copied(s: LabelSet, image: Path, box) -> str | None:
    "The key of the window `box` of the large image `image` (resolved) where it is in the set, else None."
    key, done = _place(s, window_key(key_of(Path(image), s.source), tuple(box)), str(image), tuple(box), set())
    return key if done else None


def _place(s: LabelSet, base: str, source: str, box: tuple, theirs: set[str]) -> tuple[str, bool]:
    """(key, True) for the window's copy in the set, else (the first free key from `base`, False): a key an image of
    the folder (`theirs`) or another window has is never taken over: `-2`, `-3` ... are added."""
    key, n = base, 1
    while True:
        if window_of(s, key) == (source, box) and s.image_path(key) is not None:
            return key, True
        if key not in theirs and s.image_path(key) is None and s.mask(key) is None \
                and not (s.path / "records" / f"{key}.json").exists():
            return key, False
        n += 1
        key = f"{base}-{n}"


def window_of(s: LabelSet, key: str) -> tuple[str, tuple[int, int, int, int]] | None:
    "The large image a window of the set was copied from and its box, or None where `key` is no window."
    record = s.record(key)
    if "window_of" not in record or not isinstance(record.get("box"), list):
        return None
    return record["window_of"], tuple(record["box"])


def write_tiff(path: Path, a: np.ndarray, mode: str, names: list[str]) -> None:
    """`a` as a TIFF that `images.read` gives back as `a` and `mode`: gray, RGB(A), gray + alpha, or n channels
    interleaved (an OME-TIFF where they have names, so the Data page names them as the large image did)."""
    alpha = mode in ("LA", "RGBA")
    if mode in ("RGB", "RGBA"):
        tifffile.imwrite(path, a, photometric="rgb", extrasamples=["unassalpha"] if alpha else None)
    elif mode == "LA":
        tifffile.imwrite(path, a, photometric="minisblack", planarconfig="contig", extrasamples=["unassalpha"])
    elif a.ndim == 3 and names and len(names) == a.shape[-1]:
        tifffile.imwrite(path, np.ascontiguousarray(np.moveaxis(a, -1, 0)), ome=True,
                         metadata={"axes": "CYX", "Channel": {"Name": list(names)}})
    elif a.ndim == 3:
        tifffile.imwrite(path, a, photometric="minisblack", planarconfig="contig")
    else:
        tifffile.imwrite(path, a, photometric="minisblack")
