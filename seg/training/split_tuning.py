"""The end of a run on objects (a dataset read as one id per object): the best weights predict the
validation images at their own size; the objects' Dice (background against interior and boundary
together) is the run's `scores` event; the split into objects (seg/objects/split.py: seed threshold,
smallest object) is tuned on those images against their true objects and written to `objects.json`
with the object scores (AP at IoU 0.5, mean AP 0.5:0.95, counts), and an `objects` event says the same.

objects.json (a contract, read by prediction and by scripts outside the project):
    split        {"seed", "min_size"}: how predictions become objects
    summary      images, true, found, ap50, ap, count_error_median over the validation images
    per_image    image, true, found, ap50, ap, count_error (worst AP at 0.5 first)
    candidates   every split tried: seed, min_size, ap50, ap, count_error_median
"""

from __future__ import annotations

import numpy as np

from seg.objects.matching import image_scores
from seg.objects.split import instances, tune
from seg.util import json_safe, write_json

TUNE_IMAGES = 32  # validation images the split is tuned on (probabilities at full size are kept in memory)
TUNE_S_PER_MP = 2.0  # seconds per megapixel of an image to try every split (1.6 measured on a 2-core CPU)
FILE = "objects.json"


def split_seconds(dataset, n_valid: int) -> float:
    "About how long tuning the split takes at the end of a run (taken from a time budget, not added to it)."
    h, w = dataset.typical_size() or (256, 256)
    return min(n_valid, TUNE_IMAGES) * h * w / 1e6 * TUNE_S_PER_MP


def object_scores(run, dataset, valid, predictor, log) -> None:
    "Score the best weights' objects on `valid` at their own size; tune and record the split (see above)."
    from seg.errors import ImageError
    from seg.model import pixel_scores
    codes = list(dataset.codes.names)  # background, the objects
    total = np.zeros((2, 2), np.int64)
    probs, truths, names, done = [], [], [], 0
    for pair in valid:
        try:
            image = predictor.model.input.load(pair.image)
        except (ImageError, OSError):
            continue
        p = next(predictor.probabilities_many([image])).numpy()
        truth = dataset.ids(pair)
        if truth.shape != p.shape[1:]:
            continue
        total += pixel_scores.confusion((truth > 0).astype(np.uint8), (p.argmax(0) > 0).astype(np.uint8), 2)
        done += 1
        if len(probs) < TUNE_IMAGES:
            probs.append(p.astype(np.float32))
            truths.append(truth)
            names.append(dataset.report.name(pair.image))
    log.write("scores", resolution="original", weights="best", images=done,
              **json_safe(pixel_scores.headline(total)), per_class=json_safe(pixel_scores.per_class(total, codes)))
    if not probs:
        log.write("note", message="No validation image could be split into objects: no object scores.")
        return
    split, summary, rows = tune(probs, truths)
    per_image = [{"image": n, **image_scores(t, instances(p, split))} for n, p, t in zip(names, probs, truths)]
    per_image.sort(key=lambda r: (r["ap50"], r["image"]))
    write_json(run.path / FILE, {"split": split.to_json(), "summary": summary, "per_image": per_image,
                                 "candidates": rows})
    log.write("objects", split=split.to_json(), **json_safe(summary))
