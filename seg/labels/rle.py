"""Masks to and from run-length encoding: how the browser's editor and the server exchange a mask exactly
(class indices or object ids, never an image codec's rounded or smoothed colours).

`runs` is a flat list [value, count, value, count, ...] over the mask's pixels in row-major order.

The runs come from a browser, so `decode` trusts nothing in them: every item must be a Python int (JSON's
integers: no bool, no float, no NaN or Infinity), every count at least 1 and at most the mask's pixels,
their total exactly height x width (summed in Python's unbounded integers: an int64 sum wraps, and counts
of 2**62 once passed the check and `np.repeat` wrote past the array: the server died), every value one
the mask may hold. Nothing is allocated before all of that is known."""

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


def decode(runs, height: int, width: int, dtype=np.uint8, values: int | None = None) -> np.ndarray:
    """The mask of `height` x `width` the runs describe; RLEError unless they fill it exactly with valid
    values: within what `dtype` holds and, given `values`, below it (the number of classes)."""
    pixels = int(height) * int(width)
    if not isinstance(runs, list):
        raise RLEError(f"Runs must be a list, not {type(runs).__name__}.")
    if len(runs) % 2:
        raise RLEError("Runs come in value, count pairs.")
    if len(runs) > 2 * pixels:  # every run covers a pixel at least: more runs than pixels cannot be right
        raise RLEError(f"{len(runs) // 2:,} runs for {pixels:,} pixels.")
    if any(type(v) is not int for v in runs):
        raise RLEError("Runs hold whole numbers only.")
    info = np.iinfo(dtype)
    top = info.max if values is None else min(info.max, int(values) - 1)
    counts, vals = runs[1::2], runs[0::2]
    if counts and (min(counts) < 1 or max(counts) > pixels):
        raise RLEError(f"A run's length is outside 1 to {pixels:,}.")
    if sum(counts) != pixels:  # Python ints: no wrap-around
        raise RLEError(f"The runs cover {sum(counts):,} pixels, not {height} x {width}.")
    if vals and (min(vals) < max(info.min, 0) or max(vals) > top):
        raise RLEError(f"A value outside 0 to {top}.")
    return np.repeat(np.asarray(vals, dtype=dtype), np.asarray(counts, dtype=np.int64)).reshape(height, width)
