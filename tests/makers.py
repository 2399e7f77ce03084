"""Builders of real dataset folders on disk for the tests: every layout, format and encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from seg.server.sharing import Access

# What the command line reads (the whole machine): a test reading its own files says so as the CLI does.
MACHINE = Access.machine()


def shapes(rng, size=(48, 64), classes=2) -> tuple[np.ndarray, np.ndarray]:
    "A textured RGB image and a class-index mask of a few rectangles and discs that match it."
    h, w = size
    mask = np.zeros(size, np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(1, classes):
        for _ in range(2):
            cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(4, max(5, min(h, w) // 4))
            mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = k
    if classes > 1 and not (mask > 0).any():
        mask[h // 4: h // 2, w // 4: w // 2] = 1
    base = rng.integers(20, 60, (h, w, 3))
    image = np.clip(base + mask[..., None] * (150 // max(1, classes - 1)), 0, 255).astype(np.uint8)
    return image, mask


def save(path: Path, a: np.ndarray, **kw) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".tif", ".tiff"):
        tifffile.imwrite(path, a, **kw)
    else:
        Image.fromarray(a).save(path, **kw)
    return path


def dataset(root: Path, n=6, layout="dirs", image_ext=".png", mask_ext=".png", size=(48, 64), classes=2,
            mask_values=None, codes=None, mask_dir="masks", image_dir="images", suffix="_mask",
            names=None, seed=0, image_dtype=np.uint8, gray=False) -> Path:
    """Write `n` pairs. layout: 'dirs' (images/ + masks/), 'flat' (name + name<suffix>),
    'beside' (images at top, masks/ below). `mask_values`: stored value of each class (0/255 ...)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    names = names or [f"{i:02d}" for i in range(n)]
    for name in names:
        image, mask = shapes(rng, size, classes)
        if gray:
            image = image[..., 0]
        if image_dtype == np.uint16:
            image = image.astype(np.uint16) * 257
        stored = np.array(mask_values, dtype=np.uint8 if max(mask_values) < 256 else np.uint16)[mask] \
            if mask_values else mask
        if layout == "dirs":
            ip, mp = root / image_dir / f"{name}{image_ext}", root / mask_dir / f"{name}{mask_ext}"
        elif layout == "beside":
            ip, mp = root / f"{name}{image_ext}", root / mask_dir / f"{name}{mask_ext}"
        else:
            ip, mp = root / f"{name}{image_ext}", root / f"{name}{suffix}{mask_ext}"
        save(ip, image)
        save(mp, stored)
    if codes:
        (root / "codes.txt").write_text("\n".join(codes) + "\n", encoding="utf-8")
    return root


def palette_mask(path: Path, mask: np.ndarray, colors=((0, 0, 0), (255, 0, 0), (0, 255, 0))) -> Path:
    im = Image.fromarray(mask, mode="P")
    flat = [c for rgb in colors for c in rgb]
    im.putpalette(flat + [0] * (768 - len(flat)))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def huge_png_header(path: Path, w=40000, h=40000) -> Path:
    "A PNG whose header claims w x h pixels: past Pillow's decompression-bomb limit, a few bytes on disk."
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


def discs(rng, size=(96, 96), n=12, radius=(5, 9), touching=0.5, dtype=np.uint16) -> np.ndarray:
    """An id map of `n` discs (0 background, ids 1..n), about `touching` of them placed against another
    (overlapping a little; the shared pixels go to the nearer disc edge, so every id stays one region)."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    discs_: list[tuple[float, float, float]] = []
    while len(discs_) < n:
        r = float(rng.uniform(*radius))
        if discs_ and rng.random() < touching:  # against an earlier disc
            cy0, cx0, r0 = discs_[rng.integers(len(discs_))]
            a = rng.uniform(0, 2 * np.pi)
            d = r0 + r - 1.5
            cy, cx = cy0 + d * np.sin(a), cx0 + d * np.cos(a)
        else:
            cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
        if not (r <= cy <= h - r and r <= cx <= w - r):
            continue
        if any(np.hypot(cy - y, cx - x) < max(r, r2) for y, x, r2 in discs_):
            continue  # too far inside another: it would not be a disc of its own
        discs_.append((cy, cx, r))
    # power distance: a pixel belongs to the disc whose edge is nearest (inside it)
    depth = np.stack([np.hypot(yy - cy, xx - cx) - r for cy, cx, r in discs_])
    nearest = depth.argmin(0)
    ids = np.where(depth.min(0) <= 0, nearest + 1, 0)
    return ids.astype(dtype)


def disc_image(rng, ids: np.ndarray) -> np.ndarray:
    "A textured RGB image in which every object of `ids` is bright with a dark rim (as stained nuclei)."
    from scipy import ndimage
    inner = ndimage.minimum_filter(ids, 3) == ndimage.maximum_filter(ids, 3)
    level = np.where(ids > 0, np.where(inner, 190, 110), 40) + rng.integers(-15, 15, ids.shape)
    return np.repeat(np.clip(level, 0, 255).astype(np.uint8)[..., None], 3, 2)


def tiled_discs(path: Path, h: int, w: int, tile: int = 512, mask: bool = False, seed: int = 0,
                channels: int = 1) -> Path:
    """A tiled TIFF of `h` x `w` written tile by tile (memory: a tile): bright discs 80 px across on a 200 px grid over
    a noisy background (noise keeps zlib honest: it stores about as many bytes as a real image), or their mask (0/1)."""
    noise = np.random.default_rng(seed).integers(0, 60, (tile, tile)).astype(np.uint8)  # one tile's, for every tile

    def tiles():
        for ty in range(0, h, tile):
            for tx in range(0, w, tile):
                yy, xx = np.ogrid[ty:ty + tile, tx:tx + tile]
                inside = ((yy % 200 - 100) ** 2 + (xx % 200 - 100) ** 2) < 40 ** 2
                a = inside.astype(np.uint8) if mask else (inside.astype(np.uint8) * 120 + 60 + noise)
                yield np.repeat(a[..., None], channels, -1) if channels > 1 else a

    shape = (h, w, channels) if channels > 1 else (h, w)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, tiles(), shape=shape, dtype=np.uint8, tile=(tile, tile), compression="zlib",
                     compressionargs={"level": 1})
    return path
