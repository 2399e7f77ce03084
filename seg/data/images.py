"""Reading image and mask files of every format users have, without ever changing them.

`load_image` gives what the model sees (8-bit RGB); `load_mask` gives a mask's raw values before
they are turned into class indices (see `seg.masks`). Failures raise `ImageError`, which carries the
problem and the fix for the dataset report.

Every file is refused before its pixels are decoded when its header says they would be past Pillow's
pixel limit or take more than MAX_DECODED_BYTES, or that they are complex numbers (`header`): a few MB of
compressed zeros would otherwise take gigabytes. `DECODING` (seg/data/decoding.py) bounds the bytes decoded at
once by all threads of the process (`Dataset.open` reads in threads).
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageMode, UnidentifiedImageError

from seg.data import jpeg, large, stacks, tiff
from seg.data.display import as_rgb, bit_depth
from seg.errors import ImageError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
LOSSY_EXTS = {".jpg", ".jpeg"}
TIFF_EXTS = {".tif", ".tiff"}
# segboard refuses every image past the limit itself (see `_too_big`), so Pillow's warning for those
# between one and two times the limit would only repeat it in the server log.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

MAX_DECODED_BYTES = 2**30  # 1 GiB: the most one image or mask may take decoded (pixels x channels x bytes a value)

# Files that operating systems and tools leave behind; never reported.
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


def is_lossy(path: Path) -> bool:
    return path.suffix.lower() in LOSSY_EXTS


def max_pixels() -> int:
    "Pillow's decompression-bomb limit, read each time so a deployment can change it."
    return int(Image.MAX_IMAGE_PIXELS or 2**62)


def _human(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 / 10 else f"{n / 2**20:.1f} MiB"


def _too_big(size: str, nbytes: int | None = None) -> ImageError:
    decoded = f" ({nbytes:,} bytes decoded)" if nbytes is not None else ""
    return ImageError(
        f"{size} is past the decompression-bomb limit of {max_pixels():,} pixels{decoded}.",
        "Save it as a tiled TIFF, read by regions (docs/data.md: Large images), or crop or downscale it.")


def is_large(path) -> bool:
    """Whether a whole file (not a part) is a TIFF whose header puts it past Pillow's limit or MAX_DECODED_BYTES:
    one for the tiled path (which may still refuse it)."""
    if Path(path).suffix.lower() not in TIFF_EXTS or stacks.part_of(path):
        return False
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series or stacks.layout(tif.series[0]) is not None:
                return False
            series = tif.series[0]
            shape, axis = tiff.layout(series.axes, tuple(int(n) for n in series.shape))
    except Exception:  # unreadable or damaged: the plain reader says what is wrong
        return False
    pixels = math.prod(s for i, s in enumerate(shape) if i != axis)
    return pixels > max_pixels() or math.prod(shape) * np.dtype(series.dtype).itemsize > MAX_DECODED_BYTES


@dataclass(frozen=True)
class Header:
    """What a file's header says its pixels decode to, read without decoding them. `nbytes`: every value
    (a TIFF's whole first series) times its dtype's size; `planar`: a TIFF stored (C, H, W); `channels`: values a
    pixel, alpha included."""

    width: int
    height: int
    channels: int
    dtype: np.dtype
    nbytes: int
    planar: bool = False
    alpha: bool = False  # the last channel is alpha (a TIFF's ExtraSamples; PNG's LA and RGBA are read by Pillow)
    rgb: bool = False  # a TIFF that says its channels are red, green and blue (photometric RGB)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def check(self) -> Header:
        "Itself, or ImageError when it is complex, past the pixel limit or past MAX_DECODED_BYTES."
        size = f"{self.width} x {self.height} pixels"
        if self.dtype.kind == "c":
            raise ImageError(f"The file holds complex numbers ({self.dtype}; {size}, {self.nbytes:,} bytes "
                             "decoded): no image or mask is complex.",
                             "Save the magnitude (or the real part) as an 8-, 16- or 32-bit grayscale image.")
        if self.pixels > max_pixels():
            raise _too_big(size, self.nbytes)
        if self.nbytes > MAX_DECODED_BYTES:
            values = f"{self.channels} channel{'s' if self.channels > 1 else ''} of {self.dtype}"
            raise ImageError(f"{size}, {values}: {self.nbytes:,} bytes ({_human(self.nbytes)}) decoded, past the "
                             f"limit of {MAX_DECODED_BYTES:,} bytes ({_human(MAX_DECODED_BYTES)}) an image may take.",
                             "Crop or downscale the image, split it into tiles, or save it with fewer bytes a "
                             "value (8- or 16-bit integers).")
        return self


def _tiff_header(tif: tifffile.TiffFile, z: int | None = None) -> Header:
    """The header of the TIFF's first series, or of its slice `z` where it is a stack (seg/data/stacks.py)."""
    if len(tif.series) == 0:
        raise ImageError("The TIFF holds no image.", "Re-export the file.")
    series = tif.series[0]
    if series.dtype is None:
        raise ImageError("Not a readable image (a TIFF of no known number type).",
                         "Remove the file or re-export it as PNG.")
    dtype = np.dtype(series.dtype)
    axes, dims = series.axes, tuple(int(n) for n in series.shape)
    try:
        stack = stacks.layout(series)
    except ValueError as e:
        raise ImageError(f"The TIFF is {e}, not one 2-D image or one stack.",
                         "Save one stack (Z or T) per file (ImageJ: Image > Hyperstacks > Reduce "
                         "Dimensionality).") from None
    if stack is None and z is not None:
        raise ImageError(f"The TIFF is not a stack (shape {dims}, axes {axes}): it has no slice {z}.",
                         "Read it as one image.")
    if stack is not None:
        axis, depth, _ = stack
        if z is None:
            raise ImageError(f"The TIFF is a stack of {depth} slices (shape {dims}, axes {axes}), not one 2-D image.",
                             "Give it a mask stack of the same depth (each slice is then a pair), or save one 2-D "
                             "image per file (ImageJ: Image > Stacks > Stack to Images).")
        if depth > stacks.MAX_SLICES:
            raise ImageError(f"The TIFF is a stack of {depth:,} slices, more than the {stacks.MAX_SLICES:,} a stack "
                             "may have.", "Split the stack into several files.")
        if not 0 <= z < depth:
            raise ImageError(f"The stack has {depth} slices: no slice {z}.", "Give a slice from 0 to "
                                                                            f"{depth - 1}.")
        keep = [i for i, a in enumerate(axes) if a != axis]
        axes, dims = "".join(axes[i] for i in keep), tuple(dims[i] for i in keep)
    nbytes = int(np.prod(dims, dtype=object)) * dtype.itemsize
    shape, axis = tiff.layout(axes, dims)
    if axis is None:
        return Header(shape[1], shape[0], 1, dtype, nbytes)
    h, w = (s for i, s in enumerate(shape) if i != axis)
    rgb = int(getattr(series.keyframe, "photometric", 0)) == 2  # tifffile.PHOTOMETRIC.RGB
    return Header(w, h, shape[axis], dtype, nbytes, planar=axis == 0, alpha=tiff.alpha(series), rgb=rgb)


def _pil_header(im: Image.Image) -> Header:
    try:
        mode = ImageMode.getmode(im.mode)
    except KeyError:
        raise ImageError(f"Not a readable image (Pillow mode {im.mode}).",
                         "Remove the file or re-export it as PNG.") from None
    dtype, channels = np.dtype(mode.typestr), len(mode.bands)
    return Header(im.width, im.height, channels, dtype, im.width * im.height * channels * dtype.itemsize)


def _region_header(path: Path, image: large.Large | None = None) -> Header:
    "The header of a large image's region (seg/data/large.py; `image`: the file, if opened already)."
    image, (_, _, h, w) = image or large.Large.open(path), stacks.box_of(path)
    return Header(w, h, image.channels, image.dtype, h * w * image.channels * image.dtype.itemsize,
                  alpha=image.alpha, rgb=image.rgb).check()


def _read_region(path: Path) -> tuple[np.ndarray, str]:
    image = large.Large.open(path)  # its header read once for every tile a prediction reads
    h = _region_header(path, image)
    a = image.region(*stacks.box_of(path))
    return a, tiff.mode(a, h.alpha, h.rgb)


def _read_tiff(path: Path) -> tuple[np.ndarray, str]:
    z = stacks.z_of(path)
    with tifffile.TiffFile(path) as tif:
        h = _tiff_header(tif, z).check()
        series = tif.series[0]
        if int(getattr(series.keyframe, "compression", 1)) in jpeg.JPEG:  # a frame claiming more than its tile
            n = len(series.pages)                                        # is never decoded
            decoded = series.pages if z is None else [series.pages[k] for k in stacks.pages(series, z) if k < n]
            jpeg.check_jpeg_frames(decoded, tif.filehandle)
        # a stack's slice: only its pages (one a channel), decoded
        a = np.squeeze(series.asarray() if z is None else stacks.read_slice(series, z, MAX_DECODED_BYTES))
    if a.ndim == 3 and h.planar:
        a = np.moveaxis(a, 0, -1)  # planar (C, H, W) to (H, W, C)
    return a, tiff.mode(a, h.alpha, h.rgb)


def _read_pil(path: Path) -> tuple[np.ndarray, str]:
    with Image.open(path) as im:
        _pil_header(im).check()
        im.load()
        mode = im.mode
        if mode in ("I;16B", "I;16L", "I;16N"):
            im = im.convert("I;16")
        if mode == "CMYK" or mode == "YCbCr":
            im, mode = im.convert("RGB"), "RGB"
        return np.asarray(im), mode


@contextlib.contextmanager
def _reading(path: Path):
    "A file's failures as ImageError, with the problem and the fix."
    try:
        if path.stat().st_size == 0:
            raise ImageError("The file is empty (0 bytes).", "Copy the file again from its source.")
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        # Pillow refuses past twice its limit and names only the pixel count
        m = re.search(r"\((\d+) pixels\)", str(e))
        raise _too_big(f"{int(m.group(1)):,} pixels" if m else "The image") from None
    except (UnidentifiedImageError, tifffile.TiffFileError) as e:
        raise ImageError(f"Not a readable image ({type(e).__name__}).",
                         "Remove the file or re-export it as PNG.") from None
    except PermissionError:
        raise ImageError("Permission denied.", "Make the file readable (chmod a+r).") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise ImageError(f"The file is corrupt or truncated ({e}).",
                         "Re-export the file or copy it again from its source.") from None
    except large.DECODER_ERRORS as e:
        # what the decoders raise on a damaged file (found by flipping bytes of stacks, tests/test_stacks.py):
        # a file that cannot be decoded is a problem in the report, never a crash of the page
        raise ImageError(f"The file is corrupt: its decoder failed ({type(e).__name__}: {str(e)[:120]}).",
                         "Re-export the file or copy it again from its source.") from None


def header(path: Path) -> Header:
    """What the file decodes to, from its header alone; ImageError as `read` gives it for a file it refuses
    (complex, past the pixel or byte limit, a TIFF stack, unreadable)."""
    path = path if isinstance(path, Path) else Path(path)  # a Slice stays one
    with _reading(path):
        if stacks.box_of(path) is not None:
            return _region_header(path)
        if path.suffix.lower() in TIFF_EXTS:
            with tifffile.TiffFile(path) as tif:
                return _tiff_header(tif, stacks.z_of(path)).check()
        with Image.open(path) as im:
            return _pil_header(im).check()


def read(path: Path) -> tuple[np.ndarray, str]:
    """The file's pixels as stored, and Pillow's name for its mode (L, P, RGB, RGBA, I;16 ...); the header
    is checked (`Header.check`) before anything is decoded."""
    path = path if isinstance(path, Path) else Path(path)  # a Slice stays one
    with _reading(path):
        if stacks.box_of(path) is not None:
            return _read_region(path)
        if path.suffix.lower() in TIFF_EXTS:
            return _read_tiff(path)
        return _read_pil(path)


def load_image(path: Path) -> np.ndarray:
    "The image as a person sees it and an RGB model takes it: uint8 RGB, (H, W, 3)."
    a, mode = read(path)
    if mode == "P":
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    return as_rgb(a, mode)


@dataclass
class RawMask:
    """A mask's values as stored: `kind` is 'palette' (indices), 'gray' (2-D values) or 'color'
    ((H, W, 3) uint8)."""

    values: np.ndarray
    kind: str
    mode: str


def load_mask(path: Path) -> RawMask:
    a, mode = read(path)
    if mode == "P":
        return RawMask(a, "palette", mode)
    if a.ndim == 3:
        a = a[..., :3] if a.shape[-1] >= 3 else a[..., 0]
    if a.ndim == 3:
        if a.dtype != np.uint8:
            raise ImageError(f"A {bit_depth(a)}-bit colour mask.",
                             "Save colour masks with 8 bits per channel, or as class indices.")
        if (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
            return RawMask(a[..., 0], "gray", mode)
        return RawMask(a, "color", mode)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ImageError("A floating-point mask with fractional values.",
                             "Save masks with whole-number class values (8-bit PNG).")
        a = a.astype(np.int64)
    if a.dtype.kind == "i" and a.size and a.min() < 0:
        raise ImageError("A mask with negative values.", "Save masks with class indices 0, 1, 2 ...")
    return RawMask(a, "gray", mode)
