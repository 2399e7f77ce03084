"""Prediction in overlapping tiles: an image (already scaled as in training) cut into tiles of the training size
that overlap by OVERLAP of a side, each tile's probabilities weighted by a window that falls towards its edges,
and the weighted sum divided by the weights, so no seam shows where tiles meet. The Predictor
(seg/prediction/inference.py) tiles an image it judges large (TILE_MARGIN) or any image for a model that learned
on windows; a large image (seg/prediction/large.py) is tiled strip by strip with the same starts and windows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

TILE_MARGIN = 1.5  # an image this much larger (after scaling) than the training size is tiled
OVERLAP = 0.25  # of a tile's side shared with its neighbour


def starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    out = list(range(0, length - tile, stride))
    return out + [length - tile]


def window(tile: int, overlap: int) -> np.ndarray:
    "1 in the middle, falling linearly to near 0 over `overlap` pixels at each end (never 0)."
    i = np.arange(tile)
    edge = np.minimum(i + 1, tile - i) / (overlap + 1)
    return np.minimum(edge, 1.0).astype(np.float32)


def spots(scaled: np.ndarray, tile: tuple[int, int], overlap: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    "The scaled image (H, W, C) padded to at least a tile, and the top-left corners of its tiles."
    th, tw = tile
    sh, sw = scaled.shape[:2]
    padded = np.pad(scaled, ((0, max(0, th - sh)), (0, max(0, tw - sw)), (0, 0)), mode="edge")
    ph, pw = padded.shape[:2]
    oy, ox = int(th * overlap), int(tw * overlap)
    return padded, [(y, x) for y in starts(ph, th, th - oy) for x in starts(pw, tw, tw - ox)]


def blended(scaled: np.ndarray, tile: tuple[int, int], overlap: float, bs: int, classes: int,
            probabilities: Callable[[list[np.ndarray]], torch.Tensor]) -> torch.Tensor:
    """Blended probabilities (classes, H, W) of the scaled image: `probabilities(crops)` gives those of up to `bs`
    tiles at a time (N, classes, th, tw)."""
    padded, corners = spots(scaled, tile, overlap)
    th, tw = tile
    weight = torch.from_numpy(np.outer(window(th, int(th * overlap)), window(tw, int(tw * overlap))))
    acc = torch.zeros(classes, *padded.shape[:2])
    total = torch.zeros(padded.shape[:2])
    for i in range(0, len(corners), bs):
        group = corners[i:i + bs]
        probs = probabilities([padded[y:y + th, x:x + tw] for y, x in group])
        for (y, x), p in zip(group, probs):
            acc[:, y:y + th, x:x + tw] += p * weight
            total[y:y + th, x:x + tw] += weight
    return (acc / total)[:, :scaled.shape[0], :scaled.shape[1]]
