"""A prediction split into objects: the model's probabilities of background, interior and boundary
(`seg.objects.target`) at the image's own size become an id map by a seeded watershed.

    foreground  where the background's probability is under one half
    seeds       connected regions of interior probability above `seed`, inside the foreground; a
                foreground region holding no seed is one object by itself (a small object whose
                interior the boundary band swallowed)
    watershed   the seeds grow over 1 - interior probability, within the foreground, so the line
                between two touching objects falls where the model saw a boundary
    min_size    objects smaller than this (pixels at the image's size) are dropped: specks

The two parameters are chosen per run on its validation images (`tune`), where the truth is known, and
recorded in the run folder; nothing here is tuned to one dataset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from skimage.measure import label
from skimage.segmentation import watershed

from seg.objects.matching import consecutive, image_scores, summary
from seg.objects.target import BACKGROUND, INTERIOR

SEEDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_SHARES = (0.0, 0.05, 0.1, 0.25)  # of the true objects' median area, for min_size candidates


@dataclass(frozen=True)
class Split:
    "How probabilities become objects: the seed threshold on interior probability, the smallest object kept."

    seed: float = 0.5
    min_size: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict | None) -> Split:
        d = d or {}
        return cls(float(d.get("seed", 0.5)), int(d.get("min_size", 0)))


def instances(prob: np.ndarray, split: Split = Split()) -> np.ndarray:
    """int32 id map (H, W), objects numbered 1..n, from `prob` (3, H, W): background, interior, boundary
    probabilities (summing to 1 per pixel)."""
    return drop_small(grown(prob, split.seed), split.min_size)


def grown(prob: np.ndarray, seed: float) -> np.ndarray:
    "The watershed from the seeds above `seed`, before small objects are dropped."
    fg = prob[BACKGROUND] < 0.5
    seeds, n = label(fg & (prob[INTERIOR] > seed), connectivity=1, return_num=True)
    regions = label(fg, connectivity=2)
    unseeded = np.setdiff1d(np.unique(regions[fg]), np.unique(regions[seeds > 0]))
    if unseeded.size:  # a foreground region without a seed is an object of its own
        lut = np.zeros(regions.max() + 1, np.int32)
        lut[unseeded] = np.arange(n + 1, n + 1 + unseeded.size)
        extra = lut[regions]
        seeds = np.where(extra > 0, extra, seeds)
    if not seeds.any():
        return np.zeros(fg.shape, np.int32)
    return watershed(1.0 - prob[INTERIOR], markers=seeds, mask=fg).astype(np.int32)


def drop_small(ids: np.ndarray, min_size: int) -> np.ndarray:
    "Objects under `min_size` pixels removed, the rest numbered 1..n."
    if min_size > 1 and ids.any():
        areas = np.bincount(ids.ravel())
        small = areas < min_size
        small[0] = False
        ids = np.where(small[ids], 0, ids)
    return _renumber(ids)


def _renumber(ids: np.ndarray) -> np.ndarray:
    return consecutive(ids)[0] if ids.size else ids.astype(np.int32)


def split_grid(truths: list[np.ndarray]) -> list[Split]:
    "The splits `tune` tries: every seed threshold with a few minimum sizes scaled to the true objects."
    areas = np.concatenate([np.bincount(t.ravel())[1:] for t in truths if t.any()] or [np.zeros(0)])
    areas = areas[areas > 0]
    median = float(np.median(areas)) if areas.size else 0.0
    sizes = sorted({int(round(share * median)) for share in MIN_SHARES})
    return [Split(s, m) for s in SEEDS for m in sizes]


def tune(probs: list[np.ndarray], truths: list[np.ndarray]) -> tuple[Split, dict, list[dict]]:
    """The split with the best mean AP at IoU 0.5 over the images (ties: mean AP, then the earlier
    candidate: lower seed, smaller min size), its summary, and every candidate's row."""
    if not probs:
        return Split(), summary([]), []
    rows, best = [], None
    splits = split_grid(truths)
    for seed in dict.fromkeys(c.seed for c in splits):
        grew = [grown(p, seed) for p in probs]  # the watershed once per seed; sizes only filter it
        for split in (c for c in splits if c.seed == seed):
            s = summary([image_scores(t, drop_small(g, split.min_size)) for g, t in zip(grew, truths)])
            rows.append({**split.to_json(), "ap50": s["ap50"], "ap": s["ap"],
                         "count_error_median": s["count_error_median"]})
            if best is None or (s["ap50"], s["ap"]) > (best[1]["ap50"], best[1]["ap"]):
                best = (split, s)
    return best[0], best[1], rows
