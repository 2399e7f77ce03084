"""Pixel scores of a predicted mask against the truth: a confusion matrix of pixel counts, and Dice, IoU and
accuracy read off it, per class and per image. The training metrics (seg/model/metrics.py: `Confusion`), the end
of a run (seg/training/), prediction (seg/prediction/output.py) and labelling read the same formulas, so a run's
validation Dice and the Predict page's Dice mean the same thing. Numpy only, and here in seg/model/, below
training and prediction, so that each of them can import it.

A class absent from both truth and prediction has no score (NaN), not 0 or 1: it says nothing about
the model, and averages skip it.
"""

from __future__ import annotations

import numpy as np


def confusion(truth: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    "Pixel counts, rows the true class, columns the predicted one; values >= n (no class) are left out."
    t, p = truth.ravel().astype(np.int64), pred.ravel().astype(np.int64)
    keep = (t < n) & (p < n)
    return np.bincount(t[keep] * n + p[keep], minlength=n * n).reshape(n, n)


def dice(m, c: int) -> float:
    tp, denom = m[c, c], m[c, :].sum() + m[:, c].sum()
    return float(2 * tp / denom) if denom else float("nan")


def iou(m, c: int) -> float:
    tp = m[c, c]
    denom = m[c, :].sum() + m[:, c].sum() - tp
    return float(tp / denom) if denom else float("nan")


def recall(m, c: int) -> float:
    "The share of the class's true pixels predicted as that class (its pixel accuracy)."
    total = m[c, :].sum()
    return float(m[c, c] / total) if total else float("nan")


def accuracy(m) -> float:
    total = m.sum()
    return float(np.trace(m) / total) if total else float("nan")


def foreground(n: int) -> list[int]:
    "Classes that count for the headline scores: all but the first (background), or the only one."
    return list(range(1, n)) if n > 1 else [0]


def nanmean(values) -> float:
    v = [float(x) for x in values if x == x]
    return float(np.mean(v)) if v else float("nan")


def headline(m) -> dict[str, float]:
    """The scores segboard reports first: Dice and IoU, each the mean over the foreground classes (classes
    absent from truth and prediction skipped). From a confusion matrix, numpy or torch."""
    fg = foreground(len(m))
    return {"dice": nanmean(dice(m, k) for k in fg), "iou": nanmean(iou(m, k) for k in fg)}


def per_class(m, codes: list[str]) -> dict[str, dict]:
    return {name: {"dice": dice(m, k), "iou": iou(m, k), "accuracy": recall(m, k),
                   "true_pixels": int(m[k, :].sum()), "predicted_pixels": int(m[:, k].sum())}
            for k, name in enumerate(codes)}


def image_scores(m, codes: list[str]) -> dict:
    "An image's scores: `dice` and `iou` are means over the foreground classes present in truth or prediction."
    return {**headline(m), "pixel_accuracy": accuracy(m), "per_class": per_class(m, codes)}


def worst_first(rows: list[dict], key: str = "dice") -> list[dict]:
    "Lowest score first (fastai's top-losses idea); images without a score (nothing to find) last."
    return sorted(rows, key=lambda r: (r[key] != r[key], r[key] if r[key] == r[key] else 0.0))
