"""Images past Pillow's pixel limit or MAX_DECODED_BYTES (stitched mosaics, slide scans, a long pipe's strip), read
by regions from a TIFF kept in tiles or strips: only the segments a region overlaps are decoded, so memory is
bounded by the region, never the image.

`Large.open(path)` reads the header alone and refuses, with the problem and the fix, what the tiled path must not
take (a bomb is still refused, "Safe by construction"):
- more than MAX_LARGE_PIXELS pixels (the time any look at the image takes grows with them);
- a segment (tile or strip) that decodes to more than MAX_SEGMENT_BYTES (one strip of the whole image: the file
  must be saved tiled);
- more than MAX_FREE_BYTES decoded from fewer than 1/MAX_RATIO as many stored bytes (compressed zeros: minutes of
  decoding a few kilobytes; honest slides and mosaics compress 2 to 30 times; a mask, mostly background, up to about
  a thousand times, but a mask of 8 bits a pixel stays within MAX_FREE_BYTES up to 32,000 x 32,000);
- complex numbers (no image or mask is complex);
- a stack, or more than MAX_CHANNELS channels.
A large image with a mask of the same size becomes pairs of regions of at most REGION pixels a side
(`expand`), each a `Slice` with a `box`, named `file.tif[y=0,x=2048]`: the dataset scans them, the gallery
shows them, training takes random crops of the training size from them at their own pixels
(seg/data/dataloaders.py), prediction writes the mask of the whole image by tiles (seg/prediction/large.py).
"""

from __future__ import annotations

import contextlib
import math
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import tifffile

from seg.data import stacks, tiff
from seg.data.display import as_rgb
from seg.data.jpeg import JPEG, jpeg_frame
from seg.errors import ImageError

MAX_LARGE_PIXELS = 2**31  # about 46,000 x 46,000: a 20x slide scan or a stitched mosaic
MAX_SEGMENT_BYTES = 64 * 2**20  # the most one tile or strip may decode to
MAX_RATIO = 500  # decoded bytes / stored bytes of the whole image, past MAX_FREE_BYTES decoded
MAX_FREE_BYTES = 2**30  # decoded bytes a large image may have however well it compresses: as much as any image
REGION = 2048  # the side of the regions a large pair is cut into
OVERVIEW_BYTES = 256 * 2**20  # the most a pyramid level read whole for an overview may decode to
# Compressions whose tiles decode to the size the header gives (JPEG once its frame is checked, seg/data/jpeg.py):
# none, LZW, JPEG, deflate, PackBits, LZMA, Zstandard. Others (WebP, JPEG XL, JPEG 2000, PNG tiles) carry their own
# size in each tile, which their decoders follow whatever the header says: a 34-byte tile could decode to 480 MB.
COMPRESSIONS = {1, 5, 7, 8, 32946, 32773, 34925, 50000}
# What the decoders raise on a damaged file besides OSError and ValueError (found by flipping bytes of stacks and by
# attacking this reader); seg/data/images.py's reader turns the same into ImageError
DECODER_ERRORS = (IndexError, KeyError, TypeError, ZeroDivisionError, RuntimeError, AssertionError, MemoryError,
                  OverflowError, struct.error)
DAMAGED = (tifffile.TiffFileError, OSError, ValueError, AttributeError, *DECODER_ERRORS)  # AttributeError: a page
# whose tags tifffile could not parse


@contextlib.contextmanager
def _guarded(path):
    "A damaged file's failures as ImageError naming what to do."
    try:
        yield
    except ImageError:
        raise
    except PermissionError:
        raise ImageError("Permission denied.", "Make the file readable (chmod a+r).") from None
    except DAMAGED as e:
        raise ImageError(f"The TIFF could not be read by regions: it is damaged ({type(e).__name__}: {str(e)[:120]}).",
                         "Re-export the file or copy it again from its source.") from None


@dataclass(frozen=True)
class Large:
    """A TIFF image read by regions: `height` x `width` pixels of `channels` values of `dtype`, in the series'
    `pages` (one, or one a channel: OME-TIFF's CYX)."""

    path: Path
    height: int
    width: int
    channels: int
    dtype: np.dtype
    pages: tuple[int, ...]
    alpha: bool = False
    rgb: bool = False

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def nbytes(self) -> int:
        return self.pixels * self.channels * self.dtype.itemsize

    @classmethod
    def open(cls, path: Path) -> Large:
        "The image's layout from its header (ImageError where the tiled path refuses it); nothing is decoded."
        with _guarded(path):
            return cls._open(Path(path))

    @classmethod
    def _open(cls, path: Path) -> Large:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ImageError("The TIFF holds no image.", "Re-export the file.")
            series = tif.series[0]
            if stacks.layout(series) is not None:
                raise ImageError(f"A stack of images each past the limit (shape {tuple(series.shape)}).",
                                 "Save one image per file.")
            shape, axis = tiff.layout(series.axes, tuple(int(n) for n in series.shape))
            h, w = (s for i, s in enumerate(shape) if i != axis) if axis is not None else shape
            channels = 1 if axis is None else shape[axis]
            pages = list(series.pages)
            if any(p is None or not hasattr(p, "dataoffsets") for p in pages):
                raise ImageError("The TIFF's pages could not be read.", "Re-export the file.")
            planes = tuple(range(len(pages)))
            per_page = channels if len(pages) == 1 else 1
            if len(pages) not in (1, channels):
                raise ImageError(f"The TIFF keeps {channels} channels in {len(pages)} pages.",
                                 "Save one page, or one page a channel.")
            stored = 0
            for p in pages:
                k = p.keyframe  # a page's layout (a TiffFrame has only its own offsets and byte counts)
                if (k.imagelength, k.imagewidth) != (h, w) or k.samplesperpixel != per_page or k.imagedepth != 1:
                    raise ImageError(f"A page of {k.imagewidth} x {k.imagelength} x {k.samplesperpixel} in an image "
                                     f"of {w} x {h}: the file is damaged.", "Re-export the file.")
                segment = math.prod(k.chunks) * np.dtype(series.dtype).itemsize
                if segment > MAX_SEGMENT_BYTES:
                    raise ImageError(
                        f"{w:,} x {h:,} pixels kept in {'tiles' if k.is_tiled else 'strips'} of {segment:,} bytes "
                        f"each, past the {MAX_SEGMENT_BYTES:,} a large image's tile or strip may take.",
                        "Save it as a tiled TIFF (Fiji: File > Save As > OME-TIFF; QuPath and bfconvert write "
                        "tiles of 512 x 512; tifffile: imwrite(..., tile=(512, 512))).")
                if len(p.dataoffsets) != math.prod(k.chunked) or len(p.databytecounts) != len(p.dataoffsets):
                    raise ImageError("The TIFF's tile table does not match its size: the file is damaged.",
                                     "Re-export the file.")
                if int(k.compression) not in COMPRESSIONS:
                    raise ImageError(f"{w:,} x {h:,} pixels compressed as {k.compression!s}, whose tiles say their own "
                                     "size: read by regions only uncompressed or with LZW, deflate (zlib), JPEG, "
                                     "PackBits, LZMA or Zstandard.",
                                     "Save it as a tiled TIFF with zlib or JPEG compression (bfconvert -compression "
                                     "zlib, or Fiji's OME-TIFF export).")
                stored += sum(int(n) for n in p.databytecounts)
            large = cls(Path(path), h, w, channels, np.dtype(series.dtype), planes, tiff.alpha(series),
                        int(getattr(series.keyframe, "photometric", 0)) == 2)
        stored = min(stored, path.stat().st_size)  # byte counts may lie: the file holds no more than itself
        if large.dtype.kind == "c":
            raise ImageError(f"The file holds complex numbers ({large.dtype}; {w:,} x {h:,} pixels): no image or mask "
                             "is complex.", "Save the magnitude (or the real part) as an 8-, 16- or 32-bit image.")
        if large.pixels > MAX_LARGE_PIXELS:
            raise ImageError(f"{w:,} x {h:,} pixels, past the {MAX_LARGE_PIXELS:,} a large image may have.",
                             "Crop or downscale the image, or split it into parts.")
        if large.nbytes > max(MAX_FREE_BYTES, MAX_RATIO * stored):
            raise ImageError(f"{w:,} x {h:,} pixels decode to {large.nbytes:,} bytes from {stored:,} stored, more than "
                             f"{MAX_RATIO} times as many and past {MAX_FREE_BYTES:,}: a decompression bomb, refused.",
                             "Re-export the image without the empty area, or crop it.")
        return large

    @cached_property
    def box(self) -> tuple[int, int, int, int]:
        return 0, 0, self.height, self.width

    def region(self, y: int, x: int, h: int, w: int) -> np.ndarray:
        """Pixels [y, y + h) x [x, x + w) as stored: (h, w), or (h, w, C) for several channels; only the segments
        the region overlaps are decoded. The region must lie in the image (ValueError)."""
        if not (0 <= y and 0 <= x and h > 0 and w > 0 and y + h <= self.height and x + w <= self.width):
            raise ImageError(f"The region {w} x {h} at x {x}, y {y} is outside the image ({self.width:,} x "
                             f"{self.height:,} pixels).", "Give a region inside the image.")
        out = np.zeros((h, w, self.channels), self.dtype)
        with _guarded(self.path), tifffile.TiffFile(self.path) as tif:
            pages = tif.series[0].pages
            for c, k in enumerate(self.pages):
                _paste(pages[k], tif.filehandle, out, y, x, c if len(self.pages) > 1 else None)
        return out[..., 0] if self.channels == 1 else out

    def overview(self, side: int = 1024) -> np.ndarray:
        """The whole image at most `side` pixels on its long side, each pixel the mean of the block it stands for:
        from the file's own pyramid where it has one (a slide scanner's, an OME-TIFF's sub-resolutions) of at least
        `side` pixels, at most OVERVIEW_BYTES and the image's shape, else from the image read a band of regions at a
        time. ImageError for a damaged file."""
        with _guarded(self.path):
            return self._overview(side)

    def shown(self, side: int = 1024) -> np.ndarray:
        "The overview as a person sees an image: uint8 RGB, several channels as a composite (seg/data/display.py)."
        a = self.overview(side)
        return as_rgb(a, tiff.mode(a, self.alpha, self.rgb))

    def _overview(self, side: int) -> np.ndarray:
        level = self._level(side)
        if level is not None:
            step = max(1, math.ceil(max(level.shape[:2]) / side))
            out = _block_mean(level.astype(np.float32).reshape(*level.shape[:2], self.channels), step)
            out = out.astype(self.dtype) if self.dtype.kind in "iu" else out
            return out[..., 0] if self.channels == 1 else out
        step = max(1, math.ceil(max(self.height, self.width) / side))
        oh, ow = math.ceil(self.height / step), math.ceil(self.width / step)
        out = np.zeros((oh, ow, self.channels), np.float32)
        band = max(step, (max(REGION, step) // step) * step)
        for y in range(0, self.height, band):
            h = min(band, self.height - y)
            for x in range(0, self.width, band):
                w = min(band, self.width - x)
                a = self.region(y, x, h, w).astype(np.float32).reshape(h, w, self.channels)
                out[y // step:(y + h + step - 1) // step, x // step:(x + w + step - 1) // step] = _block_mean(a, step)
        out = out.astype(self.dtype) if self.dtype.kind in "iu" else out
        return out[..., 0] if self.channels == 1 else out


    def _level(self, side: int) -> np.ndarray | None:
        "The smallest level of the file's pyramid with a long side of at least `side`, decoded as (H, W[, C])."
        try:
            with tifffile.TiffFile(self.path) as tif:
                for level in reversed(tif.series[0].levels[1:]):
                    shape, axis = tiff.layout(level.axes, tuple(int(n) for n in level.shape))
                    hw = [n for i, n in enumerate(shape) if i != axis]
                    nbytes = math.prod(shape) * self.dtype.itemsize
                    same = abs(hw[0] / hw[1] - self.height / self.width) <= 0.02 * self.height / self.width
                    if max(hw) >= side and nbytes <= OVERVIEW_BYTES and same and (axis is None) == (self.channels == 1):
                        a = level.asarray()
                        a = a.reshape(shape)
                        return np.moveaxis(a, axis, -1) if axis == 0 and len(shape) == 3 else a
        except (ImageError, *DAMAGED):
            return None  # a damaged or odd level: read the overview from the image itself
        return None


def _block_mean(a: np.ndarray, step: int) -> np.ndarray:
    h, w, c = a.shape
    ph, pw = -h % step, -w % step
    if ph or pw:
        a = np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return a.reshape((h + ph) // step, step, (w + pw) // step, step, c).mean(axis=(1, 3))


def _paste(page, fh, out: np.ndarray, y: int, x: int, channel: int | None) -> None:
    """Decode the segments of `page` that overlap out's region at (y, x) into `out` (its channel `channel`, or all
    of a page's samples)."""
    h, w = out.shape[:2]
    key = page.keyframe  # the layout; `page` (a TiffFrame after the first) has the offsets
    if key.is_tiled:
        th, tw = key.tilelength, key.tilewidth
    else:
        th, tw = key.rowsperstrip, key.imagewidth
    ny, nx = math.ceil(key.imagelength / th), math.ceil(key.imagewidth / tw)
    separate = key.planarconfig == 2 and key.samplesperpixel > 1
    samples = range(key.samplesperpixel) if separate else [None]
    decode = key.decode
    args = {"_fullsize": key.is_tiled}
    if key.compression in {6, 7, 34892, 33007}:  # JPEG
        args.update(jpegtables=key.jpegtables, jpegheader=key.jpegheader)
    for s in samples:
        for ty in range(y // th, (y + h - 1) // th + 1):
            for tx in range(x // tw, (x + w - 1) // tw + 1):
                index = (s or 0) * ny * nx + ty * nx + tx
                offset, count = int(page.dataoffsets[index]), int(page.databytecounts[index])
                data = None
                if count:
                    with fh.lock:
                        fh.seek(offset)
                        data = fh.read(count)
                if data and key.compression in JPEG:
                    frame = jpeg_frame(data)
                    if frame is None or frame[0] > th or frame[1] > tw:
                        raise ImageError(f"A JPEG tile says it is {frame[1] if frame else '?'} x "
                                         f"{frame[0] if frame else '?'} pixels in tiles of {tw} x {th}: the file is "
                                         "damaged or hostile, and was not decoded.", "Re-export the file.")
                segment, _, _ = decode(data, index, **args)
                if segment is None:  # an empty (sparse) tile: the fill value, 0
                    continue
                segment = segment.reshape(segment.shape[1:])  # (length, width, samples)
                y0, x0 = ty * th, tx * tw
                sy, sx = slice(max(y, y0), min(y + h, y0 + segment.shape[0])), slice(max(x, x0), min(x + w, x0 + tw))
                part = segment[sy.start - y0:sy.stop - y0, sx.start - x0:sx.stop - x0]
                target = out[sy.start - y:sy.stop - y, sx.start - x:sx.stop - x]
                if channel is not None:
                    target[..., channel] = part[..., 0]
                elif s is not None:
                    target[..., s] = part[..., 0]
                else:
                    target[...] = part


def boxes(height: int, width: int, side: int = REGION) -> list[tuple[int, int, int, int]]:
    "The image cut into regions (y, x, h, w) of at most `side` a side, row by row."
    return [(y, x, min(side, height - y), min(side, width - x))
            for y in range(0, height, side) for x in range(0, width, side)]
