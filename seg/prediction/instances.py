"""Prediction with a run on objects (it learned background, interior and boundary; seg/objects): each
image's probabilities become the objects' mask (background / objects, what masks/ holds) and an id map
split by the run's tuned split (objects.json; the default split when the run has none yet), written as
`instances/<stem>.png` (16-bit, one id per object, 0 background) beside masks/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seg.objects.split import Split, instances
from seg.util import atomic_write

MAX_ID = 65535  # 16-bit PNG


def objects_split(run: Path) -> Split:
    "The split the run tuned at its end (objects.json), or the default one."
    import json
    try:
        return Split.from_json(json.loads((Path(run) / "objects.json").read_text(encoding="utf-8"))["split"])
    except (OSError, ValueError, KeyError, TypeError):
        return Split()


def split_probabilities(probs, split: Split) -> tuple[np.ndarray, np.ndarray]:
    "(objects' mask as 0/1 uint8, int32 id map) from (3, H, W) probabilities (a tensor or an array)."
    p = probs.numpy() if hasattr(probs, "numpy") else np.asarray(probs)
    return (p.argmax(0) > 0).astype(np.uint8), instances(p, split)


def save_ids(path: Path, ids: np.ndarray) -> None:
    "A 16-bit PNG of the ids; more than 65535 objects in one image is refused, not wrapped around."
    if ids.size and int(ids.max()) > MAX_ID:
        raise ValueError(f"{int(ids.max())} objects in one image: more than a 16-bit PNG holds")
    atomic_write(path, write=lambda f: Image.fromarray(ids.astype(np.uint16)).save(f, format="PNG"))
