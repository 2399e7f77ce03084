"""The validation scores a run reports after each epoch: `dice`, `iou`, `fg_acc` and per class, all read off
one confusion matrix gathered once per batch (across GPUs under DDP), with the formulas of
seg/model/pixel_scores.py, so a run's Dice and the Predict page's mean the same thing."""

from __future__ import annotations

import torch
from fastai.vision.all import Metric

from seg.model import pixel_scores


class Confusion:
    "Pixel counts of (true class, predicted class) over the validation set; gathered across GPUs."

    def __init__(self, n: int):
        self.n = n
        self.reset()

    def reset(self):
        self.m = torch.zeros(self.n, self.n, dtype=torch.float64)

    def accumulate(self, learn):
        pred = learn.pred.argmax(dim=1).flatten()
        targ = learn.y.flatten().long()
        counts = torch.bincount(targ * self.n + pred, minlength=self.n * self.n)
        counts = learn.to_detach(counts[None])  # (GPUs, n*n) under DDP, (1, n*n) otherwise
        self.m += counts.sum(0).double().cpu().view(self.n, self.n)

    def dice(self, c: int) -> float:
        return pixel_scores.dice(self.m, c)

    def iou(self, c: int) -> float:
        return pixel_scores.iou(self.m, c)

    def foreground_accuracy(self) -> float:
        fg = self.m[1:]
        return float(fg.diagonal(offset=1).sum() / fg.sum()) if fg.sum() else float("nan")


class Score(Metric):
    """One number read off a shared `Confusion`. The first score of a set owns it (resets and
    accumulates); the others only read, so the counting happens once per batch."""

    def __init__(self, name: str, confusion: Confusion, fn, owner: bool = False):
        self._name, self.confusion, self.fn, self.owner = name, confusion, fn, owner

    def reset(self):
        if self.owner:
            self.confusion.reset()

    def accumulate(self, learn):
        if self.owner:
            self.confusion.accumulate(learn)

    @property
    def value(self):
        return self.fn(self.confusion)

    @property
    def name(self):
        return self._name


def plain(name: str) -> str:
    "A class name as a metric name: `dice_<plain>`."
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_") or "class"


def metrics(codes: list[str]) -> list[Score]:
    """`dice` and `iou`: means over the foreground classes (all but the first); `fg_acc`: pixel accuracy
    on foreground pixels; then `dice_<class>` and `iou_<class>` for every class."""
    cm = Confusion(len(codes))
    out = [
        Score("dice", cm, lambda c: pixel_scores.headline(c.m)["dice"], owner=True),
        Score("iou", cm, lambda c: pixel_scores.headline(c.m)["iou"]),
        Score("fg_acc", cm, Confusion.foreground_accuracy),
    ]
    for k, name in enumerate(codes):
        out.append(Score(f"dice_{plain(name)}", cm, lambda c, k=k: c.dice(k)))
        out.append(Score(f"iou_{plain(name)}", cm, lambda c, k=k: c.iou(k)))
    return out
