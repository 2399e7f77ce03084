"""The fastai U-Net learner: backbone, loss, metrics, pretrained weights and the device.

Everything a run chooses is in `TrainSettings`; `learner(dls, settings, ...)` builds the same model the
fastai tutorial builds (`unet_learner(dls, resnet34)`), with the loss and metrics chosen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from fastai.losses import CrossEntropyLossFlat, DiceLoss
from fastai.vision.all import Metric, resnet18, resnet34, resnet50, unet_learner

from . import scores
from .device import Device
from .settings import SettingsError, TrainSettings

BACKBONES = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
MAX_WEIGHT = 50.0  # a class of one pixel in a million must not swamp the loss


# ---- loss -----------------------------------------------------------------------------------------

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


def loss_func(name: str, weights: list[float] | None, device: str):
    w = torch.tensor(weights, dtype=torch.float32, device=device) if weights and name != "ce" else None
    return DiceCE(w) if name == "dice-ce" else CrossEntropyLossFlat(axis=1, weight=w)


# ---- metrics --------------------------------------------------------------------------------------

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
        return scores.dice(self.m, c)

    def iou(self, c: int) -> float:
        return scores.iou(self.m, c)

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
    n, cm = len(codes), Confusion(len(codes))
    fg = scores.foreground(n)
    out = [
        Score("dice", cm, lambda c: scores.nanmean(c.dice(k) for k in fg), owner=True),
        Score("iou", cm, lambda c: scores.nanmean(c.iou(k) for k in fg)),
        Score("fg_acc", cm, Confusion.foreground_accuracy),
    ]
    for k, name in enumerate(codes):
        out.append(Score(f"dice_{plain(name)}", cm, lambda c, k=k: c.dice(k)))
        out.append(Score(f"iou_{plain(name)}", cm, lambda c, k=k: c.iou(k)))
    return out


# ---- pretrained backbone --------------------------------------------------------------------------

@dataclass
class Pretrained:
    used: bool
    source: str  # "torch cache", a file path, or "" (from scratch)
    message: str


def cached_weights(arch: str) -> Path | None:
    "The torchvision ImageNet file in the torch hub cache, if it was downloaded before."
    import torchvision.models as tvm
    enum = {"resnet18": tvm.ResNet18_Weights, "resnet34": tvm.ResNet34_Weights, "resnet50": tvm.ResNet50_Weights}
    url = enum[arch].IMAGENET1K_V1.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return path if path.is_file() else None


def choose_pretrained(settings: TrainSettings) -> Pretrained:
    "Never downloads: a named file, else the torch cache, else from scratch with the reason."
    if not settings.pretrained:
        return Pretrained(False, "", "Training from scratch (pretrained weights switched off).")
    if settings.weights:
        return Pretrained(True, str(Path(settings.weights).expanduser().resolve()),
                          f"Backbone starts from the ImageNet weights in {settings.weights}.")
    cached = cached_weights(settings.arch)
    if cached:
        return Pretrained(True, str(cached), f"Backbone starts from the ImageNet weights in the torch cache: {cached}")
    return Pretrained(False, "", f"No ImageNet weights for {settings.arch} in the torch cache "
                                 f"({Path(torch.hub.get_dir()) / 'checkpoints'}) and none named: training from "
                                 f"scratch, which needs more epochs. Name a weights file to start from ImageNet.")


BODY = {"conv1": 0, "bn1": 1, "layer1": 4, "layer2": 5, "layer3": 6, "layer4": 7}  # torchvision resnet -> U-Net body


def load_backbone(learn, path: str) -> None:
    "Load a torchvision ResNet state dict into the U-Net's encoder (its first module)."
    try:  # weights_only: a file from a user is never unpickled into code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SettingsError(f"Weights file {path} is not a plain state dict of tensors "
                            f"({type(e).__name__}); save it with torch.save(model.state_dict(), path).") from None
    body = {}
    for key, value in state.items():
        top, _, rest = key.partition(".")
        if top in BODY:
            body[f"{BODY[top]}.{rest}"] = value
    try:
        learn.model[0].load_state_dict(body, strict=True)
    except RuntimeError as e:
        raise SettingsError(f"Weights file {path} does not fit a {learn.arch.__name__} backbone: "
                            f"{str(e).splitlines()[0]}") from None


# ---- learner --------------------------------------------------------------------------------------

def learner(dls, settings: TrainSettings, device: Device, weights: list[float] | None = None,
            pretrained: Pretrained | None = None, cbs=None):
    "A fastai U-Net learner on `dls`; mixed precision and channels-last on CUDA."
    pretrained = pretrained or Pretrained(False, "", "")
    learn = unet_learner(dls, BACKBONES[settings.arch], pretrained=False, normalize=False,
                         loss_func=loss_func(settings.loss, weights, torch.device(dls.device).type),
                         metrics=metrics(list(dls.vocab)), cbs=cbs)
    if pretrained.used:
        load_backbone(learn, pretrained.source)
        learn.freeze()  # as unet_learner(pretrained=True) does; `fine_tune` unfreezes after one epoch
    if device.kind == "cuda":
        learn.to_channelslast()  # adds mixed precision (fp16) as well
    return learn


def set_threads(device: Device) -> None:
    if device.kind == "cpu" and device.threads:
        torch.set_num_threads(device.threads)
