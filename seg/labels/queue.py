"""Label next: unlabelled images ranked by a model's uncertainty, so a person labels where it helps most.

An image's uncertainty is the mean over its pixels of the entropy of the model's class probabilities,
divided by the most it can be (log of the number of classes): 0 where the model is sure of every pixel,
1 where it cannot tell any class from another anywhere. `python -m seg label-next RUN IMAGES` prints the
queue; the Label page shows it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from seg.server.sharing import Access


@dataclass(frozen=True)
class Ranked:
    "One image of the queue: its uncertainty (0 to 1), and the share of its pixels the model calls foreground."

    image: str
    uncertainty: float
    foreground: float

    def to_json(self) -> dict:
        return asdict(self)


def uncertainty(probs) -> float:
    "Mean normalised per-pixel entropy of class probabilities (C, H, W), a torch tensor or numpy array."
    p = np.asarray(probs, np.float64)
    if p.shape[0] < 2:
        return 0.0
    h = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(0)
    return float(h.mean() / math.log(p.shape[0]))


def images_of(path: Path, access: Access) -> list[Path]:
    """The images to rank under `path` that `access` may read: a labels set's images without a mask yet; a
    dataset's images (not its masks); every image in a folder; or the one image."""
    from seg.data.discovery import discover, image_files
    from seg.data.report import Report
    from seg.labels.store import LabelSet, key_of
    path = Path(path)
    if (path / "set.json").is_file():
        s = LabelSet(path)
        done = set(s.labelled())
        return [f for f in s.sources(access) if key_of(f.resolve(), s.source) not in done]
    if path.is_file():
        return [path] if access.allows(path) else []
    pairs = discover(path, Report(path), access).pairs
    return [p.image for p in pairs] if pairs else image_files(path, Report(path), access)


def rank(run_dir: Path, images: list[Path], which: str = "best", bs: int = 4,
         ) -> tuple[list[Ranked], list[tuple[Path, str]]]:
    "The images, most uncertain first; and those that could not be read, with the reason."
    from seg.errors import ImageError
    from seg.prediction.inference import Predictor
    from seg.prediction.model import Model
    model = Model.load(run_dir, which)
    predictor = Predictor(model, bs=bs)
    failed: list[tuple[Path, str]] = []
    readable: list[Path] = []

    def read():
        for f in images:
            try:
                a = model.input.load(f)
            except (ImageError, OSError) as e:
                failed.append((f, getattr(e, "problem", str(e))))
                continue
            readable.append(f)
            yield a

    ranked = []
    for i, probs in enumerate(predictor.probabilities_many(read())):  # in the order read: readable[i] is its file
        p = probs.float().numpy()
        ranked.append(Ranked(str(readable[i]), round(uncertainty(p), 4), round(float((p.argmax(0) > 0).mean()), 4)))
    return sorted(ranked, key=lambda r: r.uncertainty, reverse=True), failed
