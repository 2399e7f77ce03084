"""Instance masks: one id per object (0 background), as Cellpose, StarDist, the 2018 Data Science Bowl
and LIVECell ship them, often 16-bit. Read as classes they would be dozens of meaningless classes.

Each mask is summarised once when the dataset is read (`IdFacts.of`); `looks_like_objects` decides from
all of them. The evidence: an id of an instance mask is one connected region (an object), while a class
value is usually many regions (every nucleus of the class) or a handful of large ones; and instance masks
hold many ids per image (more than classes usually number), or more than segboard's 32 classes. And an
id means nothing across images (id 3 is whichever object came third), while a class value is the same
thing in every mask: where the value tells an object's size (a class of organ, of brain region, each one
region per image), the masks are read as classes (`Evidence.size_by_value`).
A dataset can also be declared objects (`--objects`, the Data page, a line `objects` in codes.txt), or
classes (its classes named in codes.txt).

What is read: gray masks (8-, 16- or 32-bit) with one id per object and one object class. Not read as
objects: colour masks, palette masks, several classes of objects in one dataset (multi-class instance
data), overlapping objects (one pixel, one id).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MIN_IDS = 4  # median ids per mask from which single-region ids read as objects
SINGLE_SHARE = 0.9  # of ids that are one connected region
SIZE_BY_VALUE = 0.5  # share of the spread of region sizes the value explains, from which values are classes


@dataclass
class IdFacts:
    """One mask read as ids: how many, how many are one connected region (8-connected), each one's area
    in pixels (`values` the ids, in the same order), and how many touch another object (4-neighbours of a
    different id)."""

    ids: int = 0
    single: int = 0
    touching: int = 0
    areas: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, values: np.ndarray) -> IdFacts:
        if values.ndim != 2 or values.dtype.kind not in "ui":
            return cls()
        from skimage.measure import label  # here: opening the Data page's first view needs no skimage
        regions = label(values, background=0, connectivity=2)  # regions of one value each
        if not regions.max():
            return cls()
        _, first = np.unique(regions.ravel(), return_index=True)
        region_ids = values.ravel()[first[1:]]  # the id of every region (label 0, the background, left out)
        per_id = Counter(region_ids.tolist())
        areas = np.bincount(values.ravel().astype(np.int64))
        ids = sorted(per_id)
        return cls(ids=len(ids), single=sum(1 for v in ids if per_id[v] == 1),
                   touching=len(touching_ids(values)), areas=[int(areas[v]) for v in ids], values=ids)


def touching_ids(values: np.ndarray) -> set[int]:
    "Ids with a pixel next to (4-neighbour) a pixel of another nonzero id."
    out: set[int] = set()
    for a, b in ((values[:, :-1], values[:, 1:]), (values[:-1, :], values[1:, :])):
        meet = (a != b) & (a > 0) & (b > 0)
        out.update(np.unique(a[meet]).tolist())
        out.update(np.unique(b[meet]).tolist())
    return out


@dataclass(frozen=True)
class Evidence:
    "Why a dataset is, or is not, read as objects: the figures a note quotes."

    masks: int
    ids: int
    median_ids: float
    single_share: float
    max_value: int
    values: int  # distinct nonzero values over the dataset
    size_by_value: float | None = None  # see explained_by_value(); None: too few values met twice to tell

    def sentence(self) -> str:
        return (f"{self.ids} ids in {self.masks} masks, {self.median_ids:g} a mask at the median, "
                f"{self.single_share:.0%} of them one connected region each")

    @property
    def value_tells_size(self) -> bool:
        return self.size_by_value is not None and self.size_by_value >= SIZE_BY_VALUE


def explained_by_value(facts: list[IdFacts]) -> float | None:
    """How much of the spread of region sizes (log area) over the masks the value explains: the adjusted
    share of variance between values (omega squared of a one-way analysis of variance), about 0 when the
    values are ids (id 3 is any object), near 1 when each value is a class of its own size (the liver is
    large in every scan). Over the values met in two masks or more; None when fewer than three such
    values or than two masks hold them, or when all regions have one size (nothing to explain)."""
    groups: dict[int, list[float]] = {}
    for f in facts:
        for v, a in zip(f.values, f.areas, strict=True):
            groups.setdefault(v, []).append(float(np.log(a)))
    met = [np.array(g) for g in groups.values() if len(g) >= 2]  # so n >= 2k: n - k below is never 0
    if len(met) < 3:
        return None
    x = np.concatenate(met)
    total = float(((x - x.mean()) ** 2).sum())
    if total < 1e-9 * x.size:
        return None
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in met)
    k, n = len(met), x.size
    between, mean_within = total - within, within / (n - k)
    return max(0.0, (between - (k - 1) * mean_within) / (total + mean_within))


def evidence(facts: list[IdFacts], max_value: int, values: int) -> Evidence:
    "`facts` of the masks, the largest value any holds, how many distinct nonzero values they hold in all."
    ids = sum(f.ids for f in facts)
    return Evidence(masks=len(facts), ids=ids, median_ids=float(np.median([f.ids for f in facts])) if facts else 0.0,
                    single_share=sum(f.single for f in facts) / ids if ids else 0.0, max_value=int(max_value),
                    values=int(values), size_by_value=explained_by_value(facts))


def looks_like_objects(ev: Evidence, max_classes: int) -> bool:
    """Instance masks: most ids are one connected region, and there are many ids per mask or more
    values than classes could be, and (where classes could be) the value does not tell the size as a class
    would. Two-value masks are never objects by themselves (they may opt in)."""
    return single_regions(ev, max_classes) and not (ev.max_value < max_classes and ev.value_tells_size)


def single_regions(ev: Evidence, max_classes: int) -> bool:
    "Many values per mask (or more than classes could be), most of them one connected region each."
    if ev.ids == 0 or ev.values < 2:
        return False
    many = ev.median_ids >= MIN_IDS or ev.max_value >= max_classes
    return many and ev.single_share >= SINGLE_SHARE


def summary(facts: list[IdFacts]) -> dict:
    """What the Data page and `seg inspect` report of objects: per image counts, the true objects' size
    distribution (equivalent diameter in pixels: D10, D50, D90) and the share that touch another."""
    counts = [f.ids for f in facts]
    areas = np.array([a for f in facts for a in f.areas], dtype=float)
    n = int(areas.size)
    if not n:
        return {"objects": 0, "per_image": {"min": 0, "median": 0, "max": 0}, "diameter_px": None,
                "touching_share": 0.0}
    diam = np.sqrt(4 * areas / np.pi)
    d10, d50, d90 = np.percentile(diam, [10, 50, 90])
    return {"objects": n,
            "per_image": {"min": int(min(counts)), "median": float(np.median(counts)), "max": int(max(counts))},
            "diameter_px": {"d10": float(d10), "d50": float(d50), "d90": float(d90)},
            "touching_share": sum(f.touching for f in facts) / n}
