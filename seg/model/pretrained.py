"""Where a run's backbone starts: ImageNet weights from a file the user names, else from the torch cache,
else from scratch, said in a sentence. Never downloads (`python -m seg weights` does, at set-up:
seg/model/fetch.py). Cheap to import (no torch): the Train page and the planner read it before anything trains;
seg/model/learner.py loads the weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seg.model.fetch import bring
from seg.model.registry import BACKBONES, torch_hub
from seg.model.settings import TrainSettings


@dataclass
class Pretrained:
    used: bool
    source: str  # "torch cache", a file path, or "" (from scratch)
    message: str


def choose_pretrained(settings: TrainSettings) -> Pretrained:
    "Never downloads: a named file, else the torch cache, else from scratch with the reason."
    if not settings.pretrained:
        return Pretrained(False, "", "Training from scratch (pretrained weights switched off).")
    if settings.weights:
        return Pretrained(True, str(Path(settings.weights).expanduser().resolve()),
                          f"Backbone starts from the ImageNet weights in {settings.weights}.")
    cached = BACKBONES[settings.arch].cached_weights()
    if cached:
        return Pretrained(True, str(cached), f"Backbone starts from the ImageNet weights in the torch cache: {cached}")
    return Pretrained(False, "", f"No ImageNet weights for {settings.arch} in the torch cache "
                                 f"({torch_hub() / 'checkpoints'}) and none named: training from "
                                 f"scratch, which needs more epochs. To start from ImageNet, run `python -m seg "
                                 f"weights` where the network allows, or "
                                 f"{bring(BACKBONES[settings.arch], torch_hub() / 'checkpoints')}.")
