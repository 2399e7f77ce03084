"""Retraining with corrections: a run's dataset with the masks people corrected, for a run that continues
from the model (`--from`).

The dataset is written as `train/` + `valid/` (a split the Data page reads as given): a corrected image goes
to `train/` with its corrected mask (it is what the model should learn from, even when it was a validation
image, as the worst predictions people correct usually are); every other pair keeps its side of the run's
own split and its own mask. Scores before and after are then compared on the validation images nobody
corrected (`held`): the same images, judged by the same truth.

Images are linked, not copied (a folder of large images stays one folder); masks are written as class
indices (or 16-bit object ids), so any mask encoding the original used reads the same."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from seg.labels.store import LabelSet, key_of
from seg.model.settings import DataSettings, TrainSettings
from seg.server.sharing import Access


@dataclass
class Corrected:
    "The dataset written: its folder, the keys of the corrected pairs, and the validation pairs nobody corrected."

    path: Path
    corrected: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def corrected_dataset(dataset, train: list, valid: list, labels: LabelSet, out: Path,
                      fixed: Callable[[str], bool] | None = None) -> Corrected:
    """`dataset`'s pairs split as `train` / `valid` (a run's split), with `labels`' masks replacing those of the
    images they correct, written to `out` (which must not exist). The labels set is tied to the dataset (its
    source is the dataset's folder), or is the dataset itself. `fixed(key)`: whether an image's mask is a
    correction (default: every image the set has a mask of)."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists already")
    fixed = fixed or set(labels.labelled()).__contains__
    own = labels.path.resolve() == Path(dataset.root).resolve()
    result = Corrected(out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for side in ("train", "valid"):
        for sub in ("images", "masks"):
            (tmp / side / sub).mkdir(parents=True)
    for pair, in_valid in [*((p, False) for p in train), *((p, True) for p in valid)]:
        key = pair.image.stem if own else key_of(pair.image.resolve(), labels.source)
        is_fixed = fixed(key)
        side = "valid" if in_valid and not is_fixed else "train"
        mask = labels.mask(key) if is_fixed else (dataset.ids(pair) if dataset.objects else dataset.mask(pair))
        if is_fixed:
            result.corrected.append(key)
        elif in_valid:
            result.held.append(key)
        os.symlink(pair.image.resolve(), tmp / side / "images" / f"{key}{pair.image.suffix.lower()}")
        a = np.asarray(mask)
        Image.fromarray(a.astype(np.uint16 if dataset.objects else np.uint8)).save(tmp / side / "masks" / f"{key}.png")
    names = list(dataset.codes.names)
    lines = [names[0], f"objects: {names[1]}"] if dataset.objects else names
    (tmp / "codes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.rename(out)
    return result


def for_run(run_dir: Path, labels: LabelSet, out: Path, access: Access) -> Corrected:
    """The dataset of the run in `run_dir`, split as the run split it, with `labels`' corrections, written to
    `out`; `held.txt` in it lists the validation images nobody corrected, one key a line.

    Two kinds of set: one tied to the run's dataset (its source is the dataset's folder: every mask in it is a
    correction), or the labels set the run trained on. In the second, the set as it is now is the dataset:
    the masks corrected from this run train, and so does every image labelled since the run began; the
    run's own validation images (config.json's `valid_images`) that nobody corrected judge before and after.
    The run's dataset is read within `access` (the viewer's; the command line's `Access.machine()`)."""
    from seg.data.dataset import Dataset
    from seg.runs import Run
    run = Run(run_dir)
    cfg = run.config()
    root = Path(cfg.get("dataset", {}).get("root", ""))
    if not cfg or not root.is_dir():
        raise ValueError(f"{run_dir}: its dataset {root} is no longer there.")
    own = labels.path.resolve() == root.resolve()
    if not own and (labels.source is None or labels.source.resolve() != root.resolve()):
        raise ValueError(f"The labels set {labels.path.name} corrects {labels.source}, not the run's dataset {root}.")
    objects = bool(cfg.get("objects"))
    dataset = Dataset.open(root, codes=cfg["codes"][:2] if objects else cfg["codes"], objects=objects,
                           access=access)
    if own:
        judged = cfg["dataset"].get("valid_images")
        if judged is None:  # a run from before runs recorded them: its split, drawn again over today's pairs
            _, valid = dataset.split(cfg["data"]["valid_pct"], cfg["data"]["seed"])
            judged = [str(p.image.relative_to(dataset.root)) for p in valid]
        judged = {Path(j).stem for j in judged}
        valid = [p for p in dataset.pairs if p.image.stem in judged]
        train = [p for p in dataset.pairs if p.image.stem not in judged]
        done = corrected_dataset(dataset, train, valid, labels, out,
                                 fixed=lambda key: labels.corrected_from(key) == run.name)
    else:
        train, valid = dataset.split(cfg["data"]["valid_pct"], cfg["data"]["seed"])
        done = corrected_dataset(dataset, train, valid, labels, out)
    (done.path / "held.txt").write_text("".join(f"{k}\n" for k in done.held), encoding="utf-8")
    return done


def retrain_settings(config: dict) -> tuple[DataSettings, TrainSettings]:
    """The settings of a retrain from the run whose config.json is `config` (with `--from` it, on the dataset
    `for_run` wrote): what its weights need, its backbone and what its masks hold (read as `for_run` reads
    them), without ImageNet weights (the run's replace them); every other field the default, for the
    planner to choose under `--budget`. Not the run's own settings: they hold what its plan and trials
    chose (the exact number format timed then, a loss), which would pin them (seg/cli/options.py)."""
    return (DataSettings(objects=bool(config.get("objects"))),
            TrainSettings(arch=config["train"]["arch"], pretrained=False))


def before_after(before: Path, after: Path, corrected: Path) -> dict:
    """Dice of the run `before` (the model corrected) and `after` (retrained with the corrections) on the
    validation images nobody corrected (`corrected/valid/`), each at its own size, the same truth: what the
    corrections bought. {images, before, after} (Dice: the mean over foreground classes of all pixels)."""
    from seg.data.dataset import Dataset
    from seg.model import pixel_scores
    from seg.prediction.inference import Predictor
    from seg.prediction.model import Model
    data = Dataset.open(Path(corrected), access=Access.machine())  # segboard's own writing, under datasets/
    _, held = data.split()
    out = {"images": len(held)}
    for name, run in (("before", before), ("after", after)):
        model = Model.load(run)
        n = len(model.mask_codes)
        total = np.zeros((n, n), np.int64)
        predictor = Predictor(model)
        for pair, pred in zip(held, predictor.predict_many(model.input.load(p.image) for p in held)):
            mask = (pred > 0).astype(np.uint8) if model.objects else pred
            truth = data.mask(pair) if not data.objects else (data.ids(pair) > 0).astype(np.uint8)
            total += pixel_scores.confusion(truth, mask, n)
        out[name] = pixel_scores.headline(total)["dice"]
    return out
