"""config.json of a training run: its settings, data, device, starting weights, number format, plan and trials,
written once when training proper starts (docs/run-folder.md says what each key holds)."""

from __future__ import annotations

import platform
import sys
import time

import torch

from seg import __version__
from seg.data.channels import Input
from seg.data.dataset import Dataset
from seg.data.discovery import signature
from seg.labels.store import trained_on
from seg.model.device import Device
from seg.model.pretrained import Pretrained
from seg.model.settings import DataSettings, TrainSettings
from seg.training.budget import Budget
from seg.training.trials import Outcome


def versions() -> dict:
    import fastai
    import torchvision
    return {"segboard": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "fastai": fastai.__version__}


def fingerprint(dataset: Dataset, train, valid) -> dict:
    return {"root": str(dataset.root), "fingerprint": signature(dataset.root), "pairs": len(dataset.pairs),
            "train": len(train), "valid": len(valid), "split": dataset.discovery.split,
            "encoding": dataset.encoding.to_json(), "class_fractions": dataset.class_fractions(),
            "typical_size": width_height(dataset.typical_size(train)),
            # which images judged the run (paths under the root): a retrain with corrections keeps them apart
            "valid_images": list(dict.fromkeys(  # a stack's slices: its file once
                str(p.image.relative_to(dataset.root)) if p.image.is_relative_to(dataset.root) else str(p.image)
                for p in valid))}


def width_height(hw: tuple[int, int] | None) -> list[int] | None:
    "config.json's `typical_size` is [width, height] (a contract: prediction scales large images to match)."
    return [hw[1], hw[0]] if hw else None


def config_of(*, data: DataSettings, train: TrainSettings, dataset: Dataset, train_pairs: list, valid_pairs: list,
              codes: list[str], input: Input, class_weights: list[float], device: Device, pretrained: Pretrained,
              precision: dict,
              continued: str | None, plan: dict | None, budget: Budget | None, trials: Outcome | None,
              command: list[str] | None) -> dict:
    """config.json: written once, when training proper starts (after a planned run's trials). Keywords only,
    named as config.json names them where it does: a call cannot swap two of them. `continued`: the weights
    file a `--from` run started from (`from`); `precision`: the format used and its timings."""
    out = {
        "data": data.to_json(), "train": train.to_json(), "codes": codes, "input": input.to_json(),
        "class_weights": class_weights,
        "loss_weights_used": train.loss != "ce", "batch_size_used": data.batch_size(len(train_pairs)),
        "dataset": fingerprint(dataset, train_pairs, valid_pairs), "device": device.to_json(),
        "pretrained": {"used": pretrained.used, "source": pretrained.source, "message": pretrained.message},
        "from": continued, "plan": plan, "precision": precision, "versions": versions(),
        "command": command or sys.argv,
        "objects": dataset.objects.to_json() if dataset.objects else None,
        "labels": trained_on(dataset.root),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if budget is not None:
        out["budget"] = {"minutes": budget.seconds / 60, "deadline": budget.deadline, "trials": budget.trials}
        out["trials"] = None if trials is None else {
            "winner": trials.winner.to_json() if trials.winner else None, "reason": trials.reason,
            "seconds": round(trials.seconds, 1), "candidates": len(trials.standings)}
    return out
