"""Generated microscopy: 16-bit fluorescence images of several channels in which every channel is needed.

Each channel shows its own objects (bright disks on a dim, noisy background, each channel at its own
intensity range, as a DAPI and a GFP channel differ) and no other channel shows them; the mask marks the objects
of every channel. A model that ignores a channel cannot find that channel's objects: `recall_per_channel` tells.
"""

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image


def sample(channels: int, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(uint16 (channels, size, size), int8 (size, size): the channel whose object covers each pixel, -1 none)."""
    yy, xx = np.mgrid[0:size, 0:size]
    owner = np.full((size, size), -1, np.int8)
    image = np.empty((channels, size, size), np.uint16)
    for c in range(channels):
        low, high = 200 * (c + 1), 2000 * (c + 1)  # each channel its own range
        image[c] = np.clip(rng.normal(low, low * 0.15, (size, size)), 0, 65535)
        for _ in range(50):  # one object a channel where it overlaps none
            r = rng.uniform(size * 0.07, size * 0.11)
            cy, cx = rng.uniform(r, size - r, 2)
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            if not (owner[disk] >= 0).any():
                owner[disk] = c
                image[c][disk] = np.clip(rng.normal(high, high * 0.1, int(disk.sum())), 0, 65535)
                break
    return image, owner


def write(folder: Path, channels: int, n: int = 12, size: int = 64, seed: int = 0, layout: str = "CYX",
          names: list[str] | None = None) -> list[np.ndarray]:
    """`n` pairs in folder/images (16-bit TIFF, `layout` CYX planar or YXC interleaved) and folder/masks (8-bit PNG,
    0/1); returns each image's channel owners (see `sample`). `names`: an OME-TIFF with these channel names."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    owners = []
    for i in range(n):
        image, owner = sample(channels, size, rng)
        path = folder / "images" / f"cells_{i:02d}.tif"
        if names:
            tifffile.imwrite(path, image, ome=True, metadata={"axes": "CYX", "Channel": {"Name": names}})
        elif layout == "CYX":
            tifffile.imwrite(path, image, metadata={"axes": "CYX"})
        else:
            tifffile.imwrite(path, np.ascontiguousarray(image.transpose(1, 2, 0)), photometric="minisblack",
                             planarconfig="contig")
        Image.fromarray((owner >= 0).astype(np.uint8)).save(folder / "masks" / f"cells_{i:02d}.png")
        owners.append(owner)
    return owners


def recall_per_channel(masks: list[np.ndarray], owners: list[np.ndarray], channels: int) -> list[float]:
    "The share of each channel's object pixels the predicted masks mark as foreground."
    found, total = np.zeros(channels), np.zeros(channels)
    for mask, owner in zip(masks, owners):
        for c in range(channels):
            mine = owner == c
            found[c] += (mask[mine] > 0).sum()
            total[c] += mine.sum()
    return list(found / np.maximum(total, 1))


def write_stacks(folder: Path, stacks: int = 3, depth: int = 6, size: int = 64, channels: int = 1,
                 seed: int = 0) -> list[np.ndarray]:
    """`stacks` Z-stacks in folder/images (16-bit TIFF, axes ZYX, or ZCYX with `channels` > 1) with mask stacks of
    the same depth in folder/masks (8-bit TIFF, ZYX); returns each stack's image array."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(stacks):
        slices = [sample(channels, size, rng) for _ in range(depth)]
        image = np.stack([im if channels > 1 else im[0] for im, _ in slices])
        masks = np.stack([(owner >= 0).astype(np.uint8) for _, owner in slices])
        tifffile.imwrite(folder / "images" / f"stack_{i}.tif", image,
                         metadata={"axes": "ZCYX" if channels > 1 else "ZYX"})
        tifffile.imwrite(folder / "masks" / f"stack_{i}.tif", masks, metadata={"axes": "ZYX"})
        out.append(image)
    return out
