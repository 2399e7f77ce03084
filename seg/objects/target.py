"""The training target made from an id map, and how its classes' probabilities become the "depth" map
the split reads (`seg.objects.split`). Two targets, one entry each in TARGETS:

    boundary   0 background, 1 the interior of an object, 2 its boundary (the object's own pixels within
               `width` of any other value: background or another object); depth = P(interior)
    distance   0 background, then the object's pixels by their distance to its edge, divided by the
               object's largest, in LEVELS rings: 1 the centre (the deepest ring), 2 the edge ring, 3 ...
               the rings between; depth = the expected ring's depth (edge 1/LEVELS ... centre 1)

Why more than object / background: a U-Net trained on that paints two touching nuclei as one blob; one
trained to tell the inside of an object from its edge leaves the insides apart, and they seed the split.
The boundary goes around every object, not only where objects touch: the model then learns one
consistent thing (the edge of an object) rather than a rare one (where two meet), and a small isolated
object that loses its interior to the band is still found, as a foreground region without a seed. The
band is measured at the image's own resolution but made `width` wide so it still exists after the resize
to the training size (`width_for`); the loss weights the rare boundary class up (weighted cross-entropy
+ Dice, seg/model/losses.py), so a thin band counts. The distance target needs no width: each object's
rings are fractions of its own size, so they survive any resize, and its depth falls smoothly from every
centre to the edge, where the watershed cuts (the "deep watershed" of Bai and Urtasun, 2017, with the
energy normalised per object as in Naylor et al., 2018).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
NAMES = ("background", "interior", "boundary")
LEVELS = 4  # the distance target's rings: centre, edge and two between


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


def distance_target(ids: np.ndarray, width: int = 1) -> np.ndarray:
    """uint8 (H, W): 0 background; on each object, its pixels' Euclidean distance to the nearest pixel of
    another value (background or another object; the image's edge is not an edge), divided by the object's
    largest, in LEVELS rings: class 1 the centre ring, 2 the edge ring, 3 .. LEVELS the rings between,
    outwards in. `width` is not used (see the module's docstring)."""
    out = np.zeros(ids.shape, np.uint8)
    h, w = ids.shape
    ring_class = np.array([2, *range(3, LEVELS + 1), 1], np.uint8)  # ring 1 (edge) .. ring LEVELS (centre)
    for i, box in enumerate(ndimage.find_objects(ids), 1):
        if box is None:
            continue
        y0, y1 = max(0, box[0].start - 1), min(h, box[0].stop + 1)
        x0, x1 = max(0, box[1].start - 1), min(w, box[1].stop + 1)
        mine = ids[y0:y1, x0:x1] == i
        if mine.all():  # nothing else in reach: the whole object is its centre
            out[y0:y1, x0:x1][mine] = 1
            continue
        # The window reaches one pixel beyond the object except at the image's edge, where nothing lies
        # beyond it: the distance there is to the nearest other value inside, so the edge is no edge.
        d = ndimage.distance_transform_edt(mine)
        ring = np.clip(np.ceil(d[mine] / d.max() * LEVELS), 1, LEVELS).astype(np.int64)
        out[y0:y1, x0:x1][mine] = ring_class[ring - 1]
    return out


@dataclass(frozen=True)
class Target:
    "One way to make a run on objects' classes from ids (TARGETS), and to read them back as depth."

    name: str
    label: str  # for people: what the model learns
    suffixes: tuple[str, ...]  # the classes after background and the objects' own: the objects' name + suffix
    make: Callable[[np.ndarray, int], np.ndarray]  # (ids, width) -> class indices
    depths: tuple[float, ...]  # each class's depth, 0 outside .. 1 at an object's heart

    def names(self, background: str, name: str) -> tuple[str, ...]:
        return (background, name, *(f"{name} {s}" for s in self.suffixes))

    def depth(self, prob: np.ndarray) -> np.ndarray:
        "The depth map (H, W) float32 from class probabilities (classes, H, W): the split's seeds and slopes."
        if prob.shape[0] != len(self.depths):
            raise ValueError(f"{prob.shape[0]} classes for the {self.name} target, which has {len(self.depths)}")
        return np.tensordot(np.asarray(self.depths, np.float32), prob.astype(np.float32, copy=False), 1)


TARGETS = {t.name: t for t in (
    Target("boundary", "the objects' interior and a boundary band around each", ("boundary",), target,
           (0.0, 1.0, 0.0)),
    Target("distance", f"each object's distance to its edge in {LEVELS} rings, centre to edge",
           ("edge", *(f"ring {k}" for k in range(2, LEVELS))), distance_target,
           (0.0, 1.0, *(k / LEVELS for k in range(1, LEVELS)))),
)}
DEFAULT = "boundary"
