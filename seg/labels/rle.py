"""Masks to and from run-length encoding: how the browser's editor and the server exchange a mask exactly
(class indices or object ids, never an image codec's rounded or smoothed colours).

`runs` is a flat list [value, count, value, count, ...] over the mask's pixels in row-major order."""

from __future__ import annotations

import numpy as np


class RLEError(ValueError):
    "Runs that do not make a mask of the given size (a damaged or foreign message)."


def encode(mask: np.ndarray) -> list[int]:
    "The runs of a 2-D integer mask."
    flat = np.asarray(mask).ravel()
    if flat.size == 0:
        return []
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    counts = np.diff(np.r_[starts, flat.size])
    return np.column_stack([flat[starts], counts]).ravel().astype(np.int64).tolist()


def decode(runs, height: int, width: int, dtype=np.uint8) -> np.ndarray:
    "The mask of `height` x `width` the runs describe; RLEError unless they fill it exactly with valid values."
    a = np.asarray(runs, dtype=np.int64)
    if a.ndim != 1 or a.size % 2:
        raise RLEError("Runs come in value, count pairs.")
    values, counts = a[0::2], a[1::2]
    info = np.iinfo(dtype)
    if (counts <= 0).any() or counts.sum() != height * width:
        raise RLEError(f"The runs cover {int(counts.sum())} pixels, not {height} x {width}.")
    if values.size and (values.min() < info.min or values.max() > info.max):
        raise RLEError(f"A value past what {np.dtype(dtype).name} holds.")
    return np.repeat(values.astype(dtype), counts).reshape(height, width)
