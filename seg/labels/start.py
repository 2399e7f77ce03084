"""A mask to start from: a model's prediction of the image, in the labels set's classes, for a person to
correct rather than draw from nothing (saved as `corrected`, with the run it came from)."""

from __future__ import annotations

import numpy as np


def mask_classes(config: dict) -> list[str]:
    "The classes of the masks a run predicts: its own, or for a run on objects the background and the objects."
    codes = list(config.get("codes") or [])
    return codes[:2] if config.get("objects") else codes


def fits(config: dict, classes: list[str]) -> bool:
    "Whether a run's masks can start a set's: as many classes (names may differ: the set's are kept)."
    return len(mask_classes(config)) == len(classes)


def predicted(model, image: np.ndarray) -> np.ndarray:
    "The model's mask of `image` (RGB, uint8) as class indices; a run on objects: every object's pixels are 1."
    from seg.prediction.inference import Predictor
    pred = Predictor(model, bs=1).predict(image)
    return (pred > 0).astype(np.uint8) if model.objects else pred.astype(np.uint8)
