"""The training target made from an id map: 0 background, 1 the interior of an object, 2 its boundary
(the object's own pixels within `width` of any other value: background or another object).

Why three classes: a U-Net trained on object / background paints two touching nuclei as one blob; one
trained to tell interiors from boundaries leaves the interiors apart, and they seed the split
(`seg.objects.split`). The boundary goes around every object, not only where objects touch: the model
then learns one consistent thing (the edge of an object) rather than a rare one (where two meet), and a
small isolated object that loses its interior to the band is still found, as a foreground region without
a seed. The band is measured at the image's own resolution but made `width` wide so it still exists after
the resize to the training size (`width_for`); the loss weights the rare boundary class up (weighted
cross-entropy + Dice, seg/model/losses.py), so a thin band counts.

Why not each object's distance to its edge (the "deep watershed" kind of target): measured in 5-minute runs
from scratch (commit 436db80, 4 rings of the distance divided by each object's largest, the split over their
expected depth), it lost AP at IoU 0.5 on both sets, beyond the runs' spread of 0.02-0.03: demo objects
0.865 against 0.935, membrane's cells 0.658 against 0.738 (docs/benchmarks.md#objects).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
NAMES = ("background", "interior", "boundary")


def width_for(image_hw: tuple[int, int], train_hw: tuple[int, int]) -> int:
    """The band's width at the image's resolution that leaves at least one pixel of it at the training
    size: the downscale factor, rounded up (nearest-neighbour resizing keeps one pixel in `factor`)."""
    factor = max(image_hw[0] / max(1, train_hw[0]), image_hw[1] / max(1, train_hw[1]))
    return max(1, math.ceil(factor - 1e-6))


def target(ids: np.ndarray, width: int = 1) -> np.ndarray:
    """uint8 (H, W): BACKGROUND where `ids` is 0, BOUNDARY on object pixels with another value within
    `width` pixels (8-neighbourhood; the image's edge is not a boundary), INTERIOR elsewhere."""
    size = 2 * max(1, int(width)) + 1
    lo = ndimage.minimum_filter(ids, size=size, mode="nearest")
    hi = ndimage.maximum_filter(ids, size=size, mode="nearest")
    out = np.zeros(ids.shape, np.uint8)
    obj = ids > 0
    out[obj] = BOUNDARY
    out[obj & (lo == hi)] = INTERIOR
    return out
