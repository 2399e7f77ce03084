"""The end of every run: its best weights scored on the validation images at their own size (what a user's
masks will be), as a `scores` event; a run on objects also tunes its split (seg/training/split_tuning.py)."""

from __future__ import annotations

import numpy as np

from seg.data.dataset import Dataset
from seg.model.device import Device
from seg.runs import EventLog, Run
from seg.server import workspace
from seg.util import json_safe, one_line


def full_size_scores(run: Run, dataset: Dataset, valid, device: Device, log: EventLog, precision=None) -> None:
    """The best weights on the validation images at their own size (what a user's masks will be), as a
    `scores` event: per-epoch scores are at the training size, where small objects look bigger. In the
    format the run trained in (its validation's): no second timing of formats at the end of a run."""
    from seg.model import pixel_scores
    from seg.prediction.files import predict_files
    from seg.prediction.inference import Predictor
    from seg.prediction.model import Model
    try:
        model = Model.load(run.path, "best")
        predictor = Predictor(model, device=device, precision=precision or "auto", remember=workspace.formats_file())
        if dataset.objects is not None:  # Dice of the objects, and the split into objects tuned (objects.json)
            from seg.training.split_tuning import object_scores
            return object_scores(run, dataset, valid, predictor, log)
        n = len(model.codes)
        total = np.zeros((n, n), np.int64)
        done = 0
        for path, image, mask in predict_files(predictor, [p.image for p in valid]):
            pair = next(p for p in valid if p.image == path)
            truth = dataset.mask(pair) if image is not None else None
            if truth is not None and truth.shape == mask.shape:
                total += pixel_scores.confusion(truth, mask, n)
                done += 1
    except Exception as e:  # scoring is a bonus: the run's weights and status do not depend on it
        log.write("note", message=f"Scores at the images' own size could not be computed: {one_line(e)}")
        return
    log.write("scores", resolution="original", weights="best", images=done, **json_safe(pixel_scores.headline(total)),
              per_class=json_safe(pixel_scores.per_class(total, model.codes)))
