"""The built-in demo dataset: bright, textured, irregular objects (cells, crystals) on an uneven,
noisy background, some touching. Deterministic for a seed, so tests and screenshots agree. With
`objects`, the same images with masks holding one id per cell (16-bit, as Cellpose and StarDist write
them) and a codes.txt that says so: touching cells counted apart, offline."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from seg.server import workspace

CODES = ("background", "cell")
OBJECT_CODES = ("background", "objects: cell")  # codes.txt of the objects demo (seg/data/codes.py)


def blob(shape, center, radius, rng) -> np.ndarray:
    "A star-shaped region whose radius wobbles with a few random harmonics."
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = yy - center[0], xx - center[1]
    theta = np.arctan2(dy, dx)
    r = np.full_like(theta, radius)
    for k in range(2, 6):
        r += radius * rng.uniform(0, 0.18 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return dx**2 + dy**2 <= r**2


def background(shape, rng) -> np.ndarray:
    "Uneven illumination: smooth low-frequency shading plus fine noise."
    h, w = shape
    coarse = ndimage.zoom(rng.normal(0, 1, (4, 4)), (h / 4, w / 4), order=3)[:h, :w]
    grain = ndimage.gaussian_filter(rng.normal(0, 1, shape), 1.2)
    return 0.32 + 0.08 * coarse + 0.05 * grain


def sample(rng, size: int = 256, objects: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One (RGB uint8 image, uint8 mask of 0/1) pair; with `objects` the mask is uint16 ids, one per cell (a
    cell drawn over another takes the pixels they share). The same images either way."""
    shape = (size, size)
    img = background(shape, rng)
    mask = np.zeros(shape, np.uint16)
    centers = []
    for _ in range(rng.integers(4, 13)):
        radius = rng.uniform(size * 0.03, size * 0.09)
        if centers and rng.random() < 0.3:  # a neighbour that touches an earlier object
            cy, cx, cr = centers[rng.integers(len(centers))]
            a = rng.uniform(0, 2 * np.pi)
            c = (cy + (cr + radius) * 0.85 * np.sin(a), cx + (cr + radius) * 0.85 * np.cos(a))
        else:
            c = (rng.uniform(0, size), rng.uniform(0, size))
        centers.append((*c, radius))
        region = blob(shape, c, radius, rng)
        texture = ndimage.gaussian_filter(rng.normal(0, 1, shape), 2.0)
        yy, xx = np.mgrid[0:size, 0:size]
        shading = 1 - 0.35 * np.clip(np.hypot(yy - c[0], xx - c[1]) / radius, 0, 1) ** 2
        img = np.where(region, rng.uniform(0.62, 0.85) * shading + 0.08 * texture, img)
        mask[region] = len(centers)
    img = ndimage.gaussian_filter(img, 0.8) + rng.normal(0, 0.025, shape)
    tint = np.array([0.92, 1.0, 0.86]) * rng.uniform(0.95, 1.05, 3)
    rgb = np.clip(img[..., None] * tint * 255, 0, 255).astype(np.uint8)
    if objects:  # ids 1..n of the cells still seen (one may be covered by later ones)
        seen = np.unique(mask)
        lut = np.zeros(len(centers) + 1, np.uint16)
        lut[seen] = np.arange(len(seen))
        return rgb, lut[mask]
    return rgb, (mask > 0).astype(np.uint8)


def write_demo(out: Path, n: int = 64, size: int = 256, seed: int = 0, objects: bool = False) -> Path:
    """Write `n` pairs as `images/NNN.png`, `masks/NNN.png` (0 = background, 1 = cell; with `objects` one
    id per cell) and `codes.txt`. They are written in a hidden folder beside `out` and renamed into place, so
    `out` is never half a demo: an interrupted write leaves nothing that `seg demo` would refuse, or that
    `make demo` and `ensure_demo` (which write the demo while `codes.txt` is missing) would have to
    finish. Where `out` already holds files (a half-written demo of an older version), only the missing ones
    are added, `codes.txt` last: an existing file is never overwritten. `seg demo` refuses such a folder
    before calling this (seg/cli/commands.py)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"  # mkdir, unlike mkdtemp, keeps the umask
    tmp.mkdir()
    try:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        rng = np.random.default_rng(seed)
        for i in range(n):
            img, mask = sample(rng, size, objects)
            Image.fromarray(img).save(tmp / "images" / f"{i:03d}.png")
            Image.fromarray(mask).save(tmp / "masks" / f"{i:03d}.png")
        (tmp / "codes.txt").write_text("\n".join(OBJECT_CODES if objects else CODES) + "\n")
        try:
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            tmp.rename(out)  # fails when `out` holds files (or another writer's demo got there first)
            return out
        except OSError:
            pass
        for src in [*sorted((tmp / "images").iterdir()), *sorted((tmp / "masks").iterdir()), tmp / "codes.txt"]:
            dest = out / src.relative_to(tmp)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                src.rename(dest)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_demo(objects: bool = False) -> Path:
    """The demo dataset, written on first use (about 5 s); a complete one is left as it is. `objects`: the
    same images with one id per cell (demo-objects/)."""
    d = workspace.demo_dir() if not objects else workspace.home() / "demo-objects"
    if not (d / "codes.txt").exists():
        write_demo(d, objects=objects)
    return d
