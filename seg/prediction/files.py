"""Files predicted in order by a `Predictor` (seg/prediction/inference.py), read in threads while the model runs:
each image as the model takes it; a file that cannot be read is said in its place and the others go on."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from seg.errors import ImageError


def predict_files(predictor, paths: list[Path], workers: int = 2, probabilities: bool = False) -> Iterator[tuple]:
    """(path, image, mask) per file in order, the image as the model takes it (`Input.load`; `Input.show` for
    a person); a file that cannot be read gives (path, None, ImageError)
    and the others go on. Files are read in threads while the model runs. `probabilities`: the class
    probabilities (C, H, W) at the image's size in place of the mask."""
    def read(p):
        try:
            return predictor.model.input.load(p)
        except ImageError as e:
            return e

    with ThreadPoolExecutor(workers) as pool:
        good: list[tuple[Path, np.ndarray]] = []
        for path, image in zip(paths, _prefetch(pool, read, paths, 2 * predictor.bs)):
            if isinstance(image, ImageError):
                yield from _emit(predictor, good, probabilities)
                good = []
                yield path, None, image
                continue
            good.append((path, image))
            if len(good) == predictor.bs:
                yield from _emit(predictor, good, probabilities)
                good = []
        yield from _emit(predictor, good, probabilities)


def _emit(predictor, good, probabilities: bool = False):
    images = [im for _, im in good]
    masks = predictor.probabilities_many(images) if probabilities else predictor.predict_many(images)
    for (path, image), mask in zip(good, masks):
        yield path, image, mask


def _prefetch(pool, fn, items, ahead: int):
    "fn(item) for each item in order, at most `ahead` running or waiting: memory stays bounded."
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
