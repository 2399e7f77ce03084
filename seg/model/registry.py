"""Backbones and losses by name, in the manner of segmentation_models.pytorch's encoder registry: each name
maps to one small record, and everything that needs to know about one (the settings' checks, the learner,
the time estimate, the Train page, the CLI's choices) reads it here. Adding a backbone or a loss is one
entry. Cheap to import: torch and fastai are imported when a record builds something."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Backbone:
    name: str
    cost: float  # compute of its U-Net relative to resnet34's (time per image; bench/train_overhead.py)
    imagenet: str  # torchvision's IMAGENET1K_V1 weights file, as the torch hub cache names it
    note: str  # for the Train page

    def arch(self):
        "The constructor fastai's `unet_learner` and `create_unet_model` take."
        import torchvision.models as tvm
        return getattr(tvm, self.name)

    def cached_weights(self) -> Path | None:
        "Its ImageNet weights in the torch hub cache, if they were downloaded before (found without torch)."
        path = torch_hub() / "checkpoints" / self.imagenet
        return path if path.is_file() else None


def torch_hub() -> Path:
    "torch.hub.get_dir(), without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub"


@dataclass(frozen=True)
class Loss:
    name: str
    label: str  # for the Train page and the CLI's help
    weighted: bool  # takes the class weights (rarer classes count more)
    dice: bool  # adds soft Dice to the cross-entropy

    def build(self, weights: list[float] | None, device: str):
        "The loss for fastai's Learner: decodes like fastai's own, so `get_preds` works."
        import torch
        from fastai.losses import CrossEntropyLossFlat

        from seg.model.losses import DiceCE
        w = torch.tensor(weights, dtype=torch.float32, device=device) if weights and self.weighted else None
        return DiceCE(w) if self.dice else CrossEntropyLossFlat(axis=1, weight=w)


BACKBONES = {b.name: b for b in (
    Backbone("resnet34", 1.0, "resnet34-b627a593.pth", "as in the fastai tutorial"),
    Backbone("resnet18", 0.8, "resnet18-f37072fd.pth", "faster"),
    Backbone("resnet50", 1.9, "resnet50-0676ba61.pth", "bigger"),
)}

DEFAULT_ARCH = "resnet34"  # the fastai tutorial's, and TrainSettings' default
TRIED = ("resnet18",)  # what a planned run's trials try beside the default backbone (a cheaper step: `cost`)

LOSSES = {loss.name: loss for loss in (
    Loss("dice-ce", "weighted cross-entropy + Dice", weighted=True, dice=True),
    Loss("weighted-ce", "cross-entropy weighted by class rarity", weighted=True, dice=False),
    Loss("ce", "cross-entropy (the fastai tutorial's)", weighted=False, dice=False),
)}


def backbone(name: str) -> Backbone:
    "The record for `name`; resnet34's for a name this version does not know (an old run's config)."
    return BACKBONES.get(name, BACKBONES["resnet34"])
