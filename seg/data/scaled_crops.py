"""Training on windows where the structures are (a run's `scale`: seg/model/settings.py): each image is scaled by
`scale` (bilinear, as prediction scales it; its mask by nearest neighbour) and a window of the training size is cut
from it, a share (`fg_share`) of the windows centred on a pixel of a foreground class, the others anywhere.

Why: squeezing whole images to the training size spends most of the compute on background and shrinks thin
structures the same as wide ones. Windows at a chosen scale keep the structures as wide as the scale allows and,
centred on foreground a third of the time, show the rare classes as often as nnU-Net's oversampling does.
Prediction scales an image the same way and predicts it in overlapping tiles of the training size
(seg/prediction/inference.py: a model whose run has a `scale` is always tiled).

A training pair gives a few items an epoch (its scaled area over the window's, at most MAX_CROPS), each drawing a
new window every time it is read; a validation pair up to VALID_CROPS fixed windows, spread from the middle of its
scaled image (where the structures usually are: the corners of a retina photograph are black). Items hold plain
data and pickle into worker processes, as seg/data/dataloaders.py's readers do.
"""

from __future__ import annotations

import random

import numpy as np

from seg.data.channels import resize_image
from seg.data.discovery import Pair
from seg.data.masks import INVALID

MAX_CROPS = 16  # windows of a training pair an epoch
VALID_CROPS = 4  # fixed windows a validation pair is scored on during training


def scaled_hw(hw: tuple[int, int], scale: float) -> tuple[int, int]:
    "An image's (height, width) once scaled: at least one pixel a side."
    return max(1, round(hw[0] * scale)), max(1, round(hw[1] * scale))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    "A class-index mask at (height, width) by nearest neighbour: no value between two classes."
    if mask.shape[:2] == tuple(size):
        return mask
    ys = np.minimum((np.arange(size[0]) + 0.5) * mask.shape[0] / size[0], mask.shape[0] - 1).astype(np.intp)
    xs = np.minimum((np.arange(size[1]) + 0.5) * mask.shape[1] / size[1], mask.shape[1] - 1).astype(np.intp)
    return mask[ys[:, None], xs[None, :]]


def pad_to(a: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    "`a` padded at the bottom and right to at least `hw` by repeating its edge (as prediction pads a small image)."
    dh, dw = max(0, hw[0] - a.shape[0]), max(0, hw[1] - a.shape[1])
    if not dh and not dw:
        return a
    return np.pad(a, ((0, dh), (0, dw)) + ((0, 0),) * (a.ndim - 2), mode="edge")


class ScaledCrop:
    """One item: a window of `hw` in `pair`'s image scaled by `scale`. The image's reader calls `cut(image)` (the
    image as the model takes it, at its own size), which reads the truth (`truth.array(pair, scaled size)`: class
    indices), picks the window and keeps the window's mask in `mask` for the mask's reader (fastai reads an item's
    image before its mask). `fixed`: the window's top-left corner in the scaled image, always the same."""

    def __init__(self, pair: Pair, hw: tuple[int, int], scale: float, fg_share: float, truth,
                 fixed: tuple[int, int] | None = None):
        self.pair, self.hw, self.scale, self.fg_share, self.truth = pair, tuple(hw), scale, fg_share, truth
        self.fixed = fixed
        self.mask: np.ndarray | None = None

    def window(self, mask: np.ndarray) -> tuple[int, int]:
        "The window's top-left corner in the scaled `mask`: fixed, on foreground (`fg_share` of draws), or anywhere."
        h, w = mask.shape
        th, tw = self.hw
        if self.fixed is not None:
            return self.fixed
        if random.random() < self.fg_share:
            present = [int(k) for k in np.unique(mask) if 0 < k < INVALID]
            if present:  # a class first, then a pixel: a thin class is found as often as a wide one
                ys, xs = np.nonzero(mask == random.choice(present))
                i = random.randrange(len(ys))
                return (min(max(0, h - th), max(0, int(ys[i]) - th // 2)),
                        min(max(0, w - tw), max(0, int(xs[i]) - tw // 2)))
        return random.randint(0, max(0, h - th)), random.randint(0, max(0, w - tw))

    def cut(self, image: np.ndarray) -> np.ndarray:
        "The window of `image` (H, W, C at its own size), scaled; its mask is left in `self.mask`."
        size = scaled_hw(image.shape[:2], self.scale)
        mask = resize_mask(self.truth.array(self.pair, size), size)
        y, x = self.window(mask)
        th, tw = self.hw
        self.mask = pad_to(mask[y:y + th, x:x + tw], self.hw)
        return pad_to(resize_image(image, size)[y:y + th, x:x + tw], self.hw)

    def __repr__(self):
        return f"ScaledCrop({self.pair.image!r}, {self.hw}, scale={self.scale:g}, fixed={self.fixed})"


def spread(length: int, tile: int, n: int) -> list[int]:
    "Up to `n` starts of `tile` along `length`, side by side and centred (one, in the middle, when only one fits)."
    n = max(1, min(n, length // tile))
    first = max(0, (length - n * tile) // 2)
    return [first + i * tile for i in range(n)]


def scaled_crops(pairs: list[Pair], sizes: dict[Pair, tuple[int, int]], hw: tuple[int, int], scale: float,
                 fg_share: float, truth, valid: bool) -> list[ScaledCrop]:
    """The items of `pairs` (`sizes`: each one's (height, width) at its own size): for training, each pair's scaled
    area over the window's (1 to MAX_CROPS) items drawing new windows; for validation, up to VALID_CROPS fixed
    windows side by side around the middle of each scaled image."""
    out: list[ScaledCrop] = []
    area = hw[0] * hw[1]
    for p in pairs:
        h, w = scaled_hw(sizes[p], scale)
        if not valid:
            n = min(MAX_CROPS, max(1, round(h * w / area)))
            out += [ScaledCrop(p, hw, scale, fg_share, truth) for _ in range(n)]
            continue
        spots = [(y, x) for y in spread(h, hw[0], 2) for x in spread(w, hw[1], 2)][:VALID_CROPS]
        out += [ScaledCrop(p, hw, scale, fg_share, truth, s) for s in spots]
    return out
