"""A large image with its mask as pairs of regions (seg/data/large.py says which images are large and how they are
read): the dataset scans each region as an image, so memory is bounded by a region, never the image."""

from __future__ import annotations

import math

from seg.data import stacks
from seg.data.images import MAX_DECODED_BYTES, is_large, max_pixels
from seg.data.large import REGION, Large, boxes
from seg.errors import ImageError


def side(image: Large) -> int:
    "The regions' side: REGION, or less where a region would be past the pixel or byte limit of one image."
    per_pixel = image.channels * image.dtype.itemsize
    return min(REGION, math.isqrt(max_pixels()), math.isqrt(MAX_DECODED_BYTES // per_pixel))


def expand(pairs: list, report) -> list:
    """Each pair whose image is large as one pair a region (`Slice` paths with a `box`), when its mask is a large image
    of the same size; else the pair is left out with an error naming the sizes and the fix. Other pairs as they are."""
    from seg.data.discovery import Pair
    out = []
    for p in pairs:
        if not is_large(p.image):
            out.append(p)
            continue
        try:
            image = Large.open(p.image)
        except ImageError as e:  # Large.open turns every failure of a damaged file into one
            report.error(p.image, e.problem, e.fix)
            continue
        try:
            mask = Large.open(p.mask) if is_large(p.mask) else None
        except ImageError as e:
            report.error(p.mask, e.problem, e.fix)
            continue
        if mask is None or (mask.height, mask.width) != (image.height, image.width):
            size = f"{mask.width:,} x {mask.height:,}" if mask else "not a large tiled TIFF"
            report.error(p.mask, f"Its image {p.image.name} is {image.width:,} x {image.height:,} pixels, read by "
                         f"regions; the mask is {size}.",
                         "Save the mask as a tiled TIFF of the image's size (tifffile: imwrite(..., tile=(512, 512))).")
            continue
        out += [Pair(stacks.Slice(p.image, box=b), stacks.Slice(p.mask, box=b), p.valid)
                for b in boxes(image.height, image.width, side(image))]
    return out
