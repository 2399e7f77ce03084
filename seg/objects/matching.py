"""Object scores: predicted objects matched to true ones by their overlap (IoU), as the 2018 Data Science
Bowl scored nuclei. At a threshold t a true object is found when a predicted one covers it with IoU > t;
for t >= 0.5 no object can match two (two overlaps of more than half cannot share one object), so
matching needs no assignment. Per threshold, AP = TP / (TP + FP + FN); `ap` is its mean over t in
0.5, 0.55 ... 0.95 and `ap50` the value at 0.5. An image with no object in truth nor prediction scores 1
(nothing to find, nothing invented).

Inputs are id maps: 0 background, every other value one object (any integers, not necessarily
consecutive).
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def consecutive(ids: np.ndarray) -> tuple[np.ndarray, int]:
    "The same objects numbered 1..n (0 stays background), and n."
    if ids.size and ids.min() >= 0 and ids.max() < 1 << 24:  # a look-up table: no sort of every pixel
        present = np.bincount(ids.ravel()) > 0
        present[0] = False
        lut = np.cumsum(present).astype(np.int32) * present
        return lut[ids], int(present.sum())
    values, inverse = np.unique(ids, return_inverse=True)
    if values.size and values[0] == 0:
        return inverse.reshape(ids.shape).astype(np.int32), len(values) - 1
    return (inverse.reshape(ids.shape) + 1).astype(np.int32), len(values)


def iou_matrix(truth: np.ndarray, found: np.ndarray) -> np.ndarray:
    "IoU of every true object (rows) with every found one (columns)."
    if truth.shape != found.shape:
        raise ValueError(f"truth {truth.shape} and prediction {found.shape} differ in size")
    t, nt = consecutive(truth)
    f, nf = consecutive(found)
    both = np.bincount(t.ravel().astype(np.int64) * (nf + 1) + f.ravel(), minlength=(nt + 1) * (nf + 1))
    both = both.reshape(nt + 1, nf + 1)
    area_t, area_f = both.sum(1), both.sum(0)
    inter = both[1:, 1:].astype(np.float64)
    union = area_t[1:, None] + area_f[None, 1:] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def image_scores(truth: np.ndarray, found: np.ndarray) -> dict:
    """One image: `true` and `found` counts, `ap50`, `ap` (mean over THRESHOLDS), `count_error`
    (|found - true| / true; None when there is no true object) and `matched` (true objects found at 0.5)."""
    iou = iou_matrix(truth, found)
    nt, nf = iou.shape
    aps = []
    for t in THRESHOLDS:
        tp = int((iou > t).any(1).sum())
        denom = nt + nf - tp  # TP + FP + FN
        aps.append(tp / denom if denom else 1.0)
    return {"true": nt, "found": nf, "ap50": aps[0], "ap": float(np.mean(aps)),
            "count_error": abs(nf - nt) / nt if nt else None, "matched": int((iou > 0.5).any(1).sum())}


def summary(per_image: list[dict]) -> dict:
    """Over images: mean AP at 0.5 and mean AP, the median count error (images with true objects), and
    the totals of true and found objects."""
    if not per_image:
        return {"images": 0, "true": 0, "found": 0, "ap50": None, "ap": None, "count_error_median": None}
    errors = [r["count_error"] for r in per_image if r["count_error"] is not None]
    return {"images": len(per_image), "true": sum(r["true"] for r in per_image),
            "found": sum(r["found"] for r in per_image),
            "ap50": float(np.mean([r["ap50"] for r in per_image])),
            "ap": float(np.mean([r["ap"] for r in per_image])),
            "count_error_median": float(np.median(errors)) if errors else None}
