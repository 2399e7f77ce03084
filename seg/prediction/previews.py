"""The preview sheet of each predicted image: image | truth | prediction | error map (image | prediction
without truth); for a run on objects, image | true objects | found objects, each object in its own colour."""

from __future__ import annotations

import numpy as np

from seg.data.overlay import Overlay, draw_objects, error_map, fit, side_by_side

PREVIEW_SIDE = 384  # each panel of a preview, longer side


def preview(image: np.ndarray, pred: np.ndarray, truth: np.ndarray | None, overlay: Overlay) -> np.ndarray:
    im, p = fit(image, pred, PREVIEW_SIDE)
    if truth is None:
        return side_by_side([im, overlay(im, p)])
    _, t = fit(image, truth, PREVIEW_SIDE)
    return side_by_side([im, overlay(im, t), overlay(im, p), error_map(im, t, p)])


def preview_objects(image: np.ndarray, ids: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    "image | true objects | found objects (each in its own colour, outlined), or image | found objects."
    im, found = fit(image, ids, PREVIEW_SIDE)
    if truth is None:
        return side_by_side([im, draw_objects(im, found)])
    _, t = fit(image, truth, PREVIEW_SIDE)
    return side_by_side([im, draw_objects(im, t), draw_objects(im, found)])
