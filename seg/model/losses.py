"""Losses beyond fastai's: class weights from the pixels' class shares, and cross-entropy + soft Dice.
Which loss a run uses is a name in seg/model/registry.py."""

from __future__ import annotations

import numpy as np
import torch
from fastai.losses import CrossEntropyLossFlat, DiceLoss

MAX_WEIGHT = 50.0  # a class of one pixel in a million must not swamp the loss


def class_weights(fractions: list[float]) -> list[float]:
    """Inverse-frequency weights, 1.0 for the commonest class, capped: a class that covers 2% of the
    pixels counts about as much in the loss as one that covers the rest."""
    f = np.asarray(fractions, dtype=float)
    present = f > 0
    w = np.ones_like(f)
    w[present] = f[present].max() / f[present]
    return [round(float(x), 4) for x in np.minimum(w, MAX_WEIGHT)]


class DiceCE:
    "Cross-entropy (optionally weighted) + soft Dice; decodes like fastai's losses so `get_preds` works."

    def __init__(self, weight=None, axis: int = 1):
        self.ce = CrossEntropyLossFlat(axis=axis, weight=weight)
        self.dice = DiceLoss(axis=axis, reduction="mean")

    def __call__(self, pred, targ):
        return self.ce(pred, targ) + self.dice(pred, targ)

    def activation(self, x):
        return torch.softmax(x, dim=1)

    def decodes(self, x):
        return x.argmax(dim=1)
