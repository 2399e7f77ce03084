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


def predicted(model, image: np.ndarray, objects: bool = False) -> np.ndarray:
    """The model's mask of `image` (as `model.input.load` gives it: uint8 RGB for most) as class indices; a run
    on objects: every object's pixels are 1,
    or with `objects` (a set of objects) one id per object (uint16), split as the run splits them (its tuned
    objects.json). A run on classes gives a set of objects its connected regions. Predicted as `predict` predicts
    (the same runtime, its prepared model kept in the cache): the start is the mask the Predict page showed."""
    from seg.prediction.predictors import predictor_for
    predictor = predictor_for(model, bs=1)
    if objects:
        if model.objects:
            from seg.prediction.instances import objects_split, split_probabilities
            probs = next(predictor.probabilities_many([image]))
            return split_probabilities(probs, objects_split(model.run))[1].astype(np.uint16)
        return regions(predictor.predict(image) > 0)
    pred = predictor.predict(image)
    return (pred > 0).astype(np.uint8) if model.objects else pred.astype(np.uint8)


def regions(mask: np.ndarray) -> np.ndarray:
    "The connected regions of a mask's foreground, one id each (uint16): objects where nothing split them."
    from skimage.measure import label
    return label(np.asarray(mask) > 0, connectivity=1).astype(np.uint16)
