"""TIFF stacks (Z or T) read as 2-D slices: a `Slice` is the stack file's path that also names one slice.

A stack is a TIFF whose first series has a Z or T axis (ImageJ hyperstacks, OME-TIFF), or, its axes unnamed (a
plain array saved with tifffile), a leading axis of more than MAX_CHANNELS values (fewer are channels: name the
axes to be sure). Each slice may have channels (ZCYX, ZYXS ...). A stack with a mask stack of the same depth is
that many pairs of 2-D slices (`expand`), named `file.tif[z=12]`; the split into training and validation keeps a
stack's slices together (`seg.data.dataset`), since neighbouring slices are nearly the same image. Only the slice
read is decoded. Objects are found per slice: objects across slices (3-D) are not promised.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from seg.data.tiff import MAX_CHANNELS

MAX_SLICES = 2000  # slices one stack may have (each is a pair to scan and train on)
_PathType = type(Path())


class Slice(_PathType):
    """A part of a file: a stack file's path (every file operation opens the stack) with `z`, the slice it stands for,
    or a large image's path with `box`, the region (y, x, h, w) it stands for (seg/data/large.py). Equal only to the
    same file's same part; a path derived from it (`parent`, `resolve()`) is a plain path's."""

    z: int | None = None
    box: tuple[int, int, int, int] | None = None

    def __new__(cls, path, z: int | None = None, box: tuple[int, int, int, int] | None = None):
        self = super().__new__(cls, os.fspath(path))
        self.z = z
        self.box = None if box is None else tuple(int(v) for v in box)
        return self

    def __eq__(self, other):
        return (super().__eq__(other) and getattr(other, "z", None) == self.z
                and getattr(other, "box", None) == self.box)

    def __hash__(self):
        return hash((super().__hash__(), self.z, self.box))

    def __lt__(self, other):
        return ((str(self), self.z or 0, self.box or ()) <
                (str(other), getattr(other, "z", None) or 0, getattr(other, "box", None) or ()))

    def __repr__(self):
        return f"Slice({str(self)!r}, z={self.z}, box={self.box})"

    def __reduce__(self):  # pickled into DataLoader workers with its part
        return Slice, (str(self), self.z, self.box)

    @property
    def label(self) -> str:
        return labelled(self, self.name)


def z_of(path) -> int | None:
    "The slice a path stands for, or None for a whole file."
    return getattr(path, "z", None)


def box_of(path) -> tuple[int, int, int, int] | None:
    "The region (y, x, h, w) a path stands for, or None for a whole file."
    return getattr(path, "box", None)


def part_of(path) -> bool:
    "Whether a path stands for part of its file (a slice or a region)."
    return z_of(path) is not None or box_of(path) is not None


def labelled(path, text: str) -> str:
    "`text` (a file's name or path as shown) with the part, `[z=12]` or `[y=0,x=2048]`, where `path` is a Slice."
    z, box = z_of(path), box_of(path)
    if box is not None:
        text = f"{text}[y={box[0]},x={box[1]}]"
    return text if z is None else f"{text}[z={z}]"


def layout(series) -> tuple[str, int, list[int]] | None:
    """Where a series is a stack: (its stack axis, the depth, the sizes of the page axes), else None. Raises
    ValueError for a stack of more than one stack axis (Z and T both)."""
    axes, shape = series.axes, [int(n) for n in series.shape]
    kept = [(a, n) for a, n in zip(axes, shape) if n != 1]
    stacked = [a for a, n in kept if a in "ZT"]
    if len(stacked) > 1:
        raise ValueError(f"a stack over both {' and '.join(stacked)} (shape {tuple(shape)}, axes {axes})")
    if stacked:
        return stacked[0], dict(kept)[stacked[0]], [n for a, n in zip(axes, shape) if a not in "YXS"]
    unnamed = [(a, n) for a, n in kept if a not in "YXSC"]
    if len(unnamed) == 1 and unnamed[0][1] > MAX_CHANNELS and (len(kept) == 4 or kept[-1][1] > MAX_CHANNELS):
        return unnamed[0][0], unnamed[0][1], [n for a, n in zip(axes, shape) if a not in "YXS"]
    return None


def pages(series, z: int) -> list[int]:
    "The pages of slice `z` of a stack series, its channels' in order (C is the only other page axis left)."
    axis, _, dims = layout(series)
    page_axes = [a for a in series.axes if a not in "YXS"]
    channels = dims[page_axes.index("C")] if "C" in page_axes else 1
    out = []
    for c in range(channels):
        index = [z if a == axis else c if a == "C" else 0 for a in page_axes]
        out.append(int(np.ravel_multi_index(index, dims)))
    return out


def depth(path: Path) -> int | None:
    "The number of slices of a TIFF stack, or None when the file is not a readable stack."
    import tifffile
    if Path(path).suffix.lower() not in (".tif", ".tiff") or part_of(path):
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            found = layout(tif.series[0]) if tif.series else None
    except Exception:  # a damaged file: read as a plain image, whose reading says what is wrong
        return None
    return found[1] if found else None


def expand(pairs: list, report) -> list:
    """Each pair whose image is a stack as one pair a slice (Slice paths), when its mask is a stack of the same
    depth; else the pair is left out with an error naming both depths and the fix. Other pairs as they are."""
    from seg.data.discovery import Pair
    out = []
    for p in pairs:
        n = depth(p.image)
        if n is None:
            out.append(p)
            continue
        m = depth(p.mask)
        if m != n:
            report.error(p.mask, f"Its image {p.image.name} is a stack of {n} slices; the mask is "
                         f"{f'a stack of {m}' if m else 'one 2-D image'}.",
                         "Save the mask as a stack with one slice per image slice (the same depth and order).")
            continue
        if n > MAX_SLICES:
            report.error(p.image, f"A stack of {n:,} slices, more than the {MAX_SLICES:,} a stack may have.",
                         "Split the stack into several files.")
            continue
        out += [Pair(Slice(p.image, z), Slice(p.mask, z), p.valid) for z in range(n)]
    return out


def read_slice(series, z: int, limit: int) -> np.ndarray:
    """Slice `z` of a stack series as stored (its channels' pages stacked first). One page a plane: only those pages
    are decoded. A stack kept in fewer pages (a volume in one page) is decoded whole, so its whole size must be
    within `limit` bytes (else ImageError): the slice's header would otherwise understate what is decoded."""
    from seg.errors import ImageError
    axis, _, dims = layout(series)
    if len(series.pages) >= int(np.prod(dims)):
        keys = pages(series, z)
        plane = int(np.prod([int(n) for a, n in zip(series.axes, series.shape) if a in "YXS"], dtype=object))
        for k in keys:  # each page must be a plane of the series' size: a damaged one may claim far more
            page = series.pages[k]
            if page is None or int(np.prod(page.shape, dtype=object)) != plane:
                raise ImageError(f"The stack's page {k} is {getattr(page, 'shape', None)}, not a plane of the stack "
                                 f"({plane:,} values): the file is damaged.",
                                 "Re-export the stack or copy it again from its source.")
        return series.asarray(key=keys)
    total = int(np.prod([int(n) for n in series.shape], dtype=object)) * np.dtype(series.dtype).itemsize
    if total > limit:
        raise ImageError(f"The stack keeps its {dims[0]} slices in fewer pages, so a slice means decoding all "
                         f"{total:,} bytes, past the limit of {limit:,}.",
                         "Save the stack with one page a slice (ImageJ and tifffile do by default).")
    return np.take(series.asarray(), z, axis=series.axes.index(axis))
