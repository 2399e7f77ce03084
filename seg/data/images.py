"""Reading image and mask files of every format users have, without ever changing them.

`load_image` gives what the model sees (8-bit RGB); `load_mask` gives a mask's raw values before
they are turned into class indices (see `seg.masks`). Failures raise `ImageError`, which carries the
problem and the fix for the dataset report.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
LOSSY_EXTS = {".jpg", ".jpeg"}
TIFF_EXTS = {".tif", ".tiff"}
# segboard refuses every image past the limit itself (see `_too_big`), so Pillow's warning for those
# between one and two times the limit would only repeat it in the server log.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Files that operating systems and tools leave behind; never reported.
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


class ImageError(Exception):
    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


def is_lossy(path: Path) -> bool:
    return path.suffix.lower() in LOSSY_EXTS


def max_pixels() -> int:
    "Pillow's decompression-bomb limit, read each time so a deployment can change it."
    return int(Image.MAX_IMAGE_PIXELS or 2**62)


def _too_big(size: str) -> ImageError:
    return ImageError(
        f"{size} is past the decompression-bomb limit of {max_pixels():,} pixels.",
        "Crop or downscale the image, or split it into tiles.")


def _read_tiff(path: Path) -> tuple[np.ndarray, str]:
    with tifffile.TiffFile(path) as tif:
        if len(tif.series) == 0:
            raise ImageError("The TIFF holds no image.", "Re-export the file.")
        shape = tif.series[0].shape
        a = tif.series[0].asarray() if np.prod(shape) <= 4 * max_pixels() else None
    if a is None:
        raise _too_big(f"{shape[-1]} x {shape[-2]} pixels")
    a = np.squeeze(a)
    if a.ndim == 3 and a.shape[0] in (2, 3, 4) and a.shape[-1] not in (2, 3, 4):
        a = np.moveaxis(a, 0, -1)  # planar (C, H, W) to (H, W, C)
    if a.ndim == 3 and a.shape[-1] > 4:
        raise ImageError(f"The TIFF has {a.shape} values: a stack or many channels, not one image.",
                         "Save one 2-D image per file (grayscale or RGB).")
    if a.ndim not in (2, 3):
        raise ImageError(f"The TIFF has shape {a.shape}, not a 2-D image.",
                         "Save one 2-D image per file (grayscale or RGB).")
    if a.shape[0] * a.shape[1] > max_pixels():
        raise _too_big(f"{a.shape[1]} x {a.shape[0]} pixels")
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[1 if a.ndim == 2 else a.shape[-1]]
    return a, mode


def _read_pil(path: Path) -> tuple[np.ndarray, str]:
    with Image.open(path) as im:
        if im.width * im.height > max_pixels():
            raise _too_big(f"{im.width} x {im.height} pixels")
        im.load()
        mode = im.mode
        if mode in ("I;16B", "I;16L", "I;16N"):
            im = im.convert("I;16")
        if mode == "CMYK" or mode == "YCbCr":
            im, mode = im.convert("RGB"), "RGB"
        return np.asarray(im), mode


def read(path: Path) -> tuple[np.ndarray, str]:
    """The file's pixels as stored, and Pillow's name for its mode (L, P, RGB, RGBA, I;16 ...)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError("The file is empty (0 bytes).", "Copy the file again from its source.")
        if path.suffix.lower() in TIFF_EXTS:
            return _read_tiff(path)
        return _read_pil(path)
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


def bit_depth(a: np.ndarray) -> int:
    return 1 if a.dtype == bool else a.dtype.itemsize * 8


def to_uint8(a: np.ndarray) -> np.ndarray:
    """8-bit values; deeper images are contrast-stretched between their 0.1 and 99.9 percentiles,
    since 12-bit microscopy data in a 16-bit file would otherwise look black."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    a = a.astype(np.float32)
    lo, hi = np.percentile(a, (0.1, 99.9))
    if hi <= lo:
        hi = lo + 1
    return (np.clip((a - lo) / (hi - lo), 0, 1) * 255 + 0.5).astype(np.uint8)


def as_rgb(a: np.ndarray) -> np.ndarray:
    "8-bit RGB (H, W, 3) from any of the layouts `read` returns but palette ones."
    a = to_uint8(a)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.shape[-1] == 1 or a.shape[-1] == 2:  # L or LA: drop alpha
        return np.repeat(a[..., :1], 3, axis=2)
    return np.ascontiguousarray(a[..., :3])


def load_image(path: Path) -> np.ndarray:
    "The image as the model sees it: uint8 RGB, (H, W, 3)."
    a, mode = read(path)
    if mode == "P":
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    return as_rgb(a)


def mode_note(a: np.ndarray, mode: str) -> str | None:
    "A note for images that are converted on the way to the model, or None."
    if mode == "P":
        return "palette image, converted to RGB"
    if mode in ("RGBA", "LA"):
        return f"{mode} image: the alpha channel is ignored"
    if bit_depth(a) > 8:
        return f"{bit_depth(a)}-bit image, contrast-stretched to 8 bits per image"
    if a.ndim == 2 or mode in ("L", "1"):
        return "grayscale image, repeated into 3 channels"
    return None


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
