"""The Predictor a user's masks come from, and what it needs of the run: its dataset opened as in training, and
the training images an INT8 runtime calibrates on (seg/prediction/runtimes.py). `predict` and the Label page's start
both take theirs from `predictor_for`, so every page that predicts with the same weights gives the same masks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from seg.data.dataset import Dataset
from seg.errors import ImageError, PredictError
from seg.model.device import detect
from seg.prediction import runtimes
from seg.prediction.inference import Predictor
from seg.prediction.model import Model
from seg.runs import Run
from seg.server import workspace
from seg.server.sharing import Access


def dataset_of(run: Run) -> tuple[Dataset, dict]:
    "The run's dataset, opened as in training (within the folders it was read within), and its config."
    cfg = run.config()
    root = Path(cfg.get("dataset", {}).get("root", ""))
    if not cfg or not root.is_dir():
        raise PredictError(f"{run.path}: its dataset {root} is no longer there; predict a folder instead.")
    objects = bool(cfg.get("objects"))
    dataset = Dataset.open(root, codes=cfg["codes"][:2] if objects else cfg["codes"], objects=objects,
                           access=Access.within(cfg["data"].get("within"), root))
    return dataset, cfg


def training_images(model: Model, n: int) -> Iterator[np.ndarray]:
    """Up to `n` of the run's training images as the model takes them, read as they are asked for (what an INT8
    runtime calibrates on); none when its dataset is gone or unreadable (the Predictor then calibrates on what it
    predicts first)."""
    try:
        dataset, cfg = dataset_of(Run(model.run))
        train, _ = dataset.split(cfg["data"]["valid_pct"], cfg["data"]["seed"])
    except Exception:  # the calibration's source is a preference, never a reason to fail a prediction
        return
    for pair in train[:n]:
        try:
            yield model.input.load(pair.image)
        except ImageError:
            continue


def predictor_for(model: Model, bs: int = 8, runtime: str = "auto") -> Predictor:
    """The Predictor a user's masks come from (`predict`, the Label page's start): on the best device, with the
    runtime asked for (seg/prediction/runtimes.py), an INT8 one calibrated on the run's training images and kept
    in the workspace's cache, so every page that predicts with the same weights gives the same masks."""
    device = detect()
    engine = runtimes.runtime(runtime, device.kind)
    calibration = training_images(model, runtimes.CALIBRATION) if engine.calibrated else None
    return Predictor(model, device=device, bs=bs, remember=workspace.formats_file(), runtime=engine.name,
                     calibration=calibration, cache=workspace.runtimes_dir())
