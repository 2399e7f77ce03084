"""A segmentation dataset: its pairs, classes, mask encoding, problems and statistics.

`Dataset.open(folder)` reads every file once (in threads: image decoding releases the GIL), checks it,
decides how masks map to classes and never raises: whatever is wrong is in `dataset.report`.
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seg.data import regions, stacks
from seg.data.classes import Objects, decide_classes, decide_objects, given_codes, ids_of, objects_wanted
from seg.data.codes import Codes
from seg.data.discovery import Discovery, Pair, discover
from seg.data.images import is_lossy, load_image, load_mask
from seg.data.masks import Encoding
from seg.data.report import Report
from seg.data.scan import Scan, scan
from seg.data.tiff import channel_names as tiff_channel_names
from seg.objects.ids import IdFacts
from seg.objects.ids import summary as objects_summary

if TYPE_CHECKING:
    from seg.server.sharing import Access

MIN_SIZE = 32  # smaller images are upscaled a lot by any training size
FEW_PAIRS = 10
TARGET_SAMPLE = 16  # masks made into objects' training targets to weigh their classes


def split_indices(n: int, valid_pct: float, seed: int) -> tuple[list[int], list[int]]:
    "A seeded random split: (train, valid) indices; at least one of each when n >= 2."
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = min(max(1, round(n * valid_pct)), n - 1) if n >= 2 else 0
    return sorted(idx[k:]), sorted(idx[:k])


class Dataset:
    def __init__(self, root: Path, report: Report, discovery: Discovery, scans: list[Scan],
                 codes: Codes | None, encoding: Encoding | None, objects: Objects | None = None):
        self.root, self.report, self.discovery = root, report, discovery
        self.scans, self.codes, self.encoding = scans, codes, encoding
        self.objects = objects  # read as objects, one id per object (seg/objects): what, and why

    @classmethod
    def open(cls, root, codes=None, workers: int = 4, *, access: Access,
             objects: bool | None = None) -> Dataset:
        """Read and check the dataset in `root`. `codes`: class names to use instead of codes.txt or
        those inferred from the masks (a list, or a comma-separated string). `access`: what the app's
        viewer may read (seg.sharing; the command line: `Access.machine()`); files beyond it are left out,
        reported. `objects`: True reads the masks as one id per object (two-class masks: each connected region
        one object), False as classes, None decides (codes.txt's `objects:` line, else the masks:
        seg/objects/ids.py)."""
        root = Path(root).expanduser()
        report = Report(root)
        d = discover(root, report, access)
        d.pairs = stacks.expand(d.pairs, report)  # a stack with a mask stack: one pair a slice
        d.pairs = regions.expand(d.pairs, report)  # a large image with its mask: one pair a region
        user_codes = given_codes(codes, d, report)
        declared = bool(objects_wanted(objects, user_codes))
        # each scan reports to its own Report, merged in file order: the same report every time
        with ThreadPoolExecutor(max(1, workers)) as pool:
            found = list(pool.map(lambda p: scan(p, Report(root), declared), d.pairs))
        scans = [s for s, _ in found]
        for _, problems in found:
            report.problems += problems.problems
        decided = decide_objects(scans, user_codes, objects, report, d.codes_file or root)
        if decided:
            found_objects, encoding, codes = decided
        else:
            found_objects = None
            encoding, codes = decide_classes(scans, user_codes, report, d.codes_file or root)
        ds = cls(root, report, d, scans, codes, encoding, found_objects)
        ds._check()
        return ds

    # -- what the rest of segboard reads
    @property
    def pairs(self) -> list[Pair]:
        "The pairs that can be used: both files read, sizes agree, values fit a class."
        return [s.pair for s in self.usable]

    @property
    def usable(self) -> list[Scan]:
        return [s for s in self.scans if s.ok]

    @property
    def ok(self) -> bool:
        return self.report.ok and self.encoding is not None and len(self.pairs) >= 2

    def first_error(self) -> str:
        "Why it cannot be trained on, in one sentence: the first error with its file and fix, or too few pairs."
        errors = self.report.errors
        return str(errors[0]) if errors else f"{len(self.pairs)} usable pair(s): at least 2 are needed."

    @property
    def crops(self) -> bool:
        """Whether it holds large images (their regions: seg/data/regions.py), so that training takes crops of the
        training size at the images' own pixels (seg/data/dataloaders.py) and prediction does not scale them."""
        return any(stacks.box_of(p.image) is not None for p in self.pairs)

    def typical_size(self, pairs: list[Pair] | None = None) -> tuple[int, int] | None:
        """(height, width) of the commonest image size among the usable pairs (those in `pairs`, if given); None for
        a dataset of large images, which is seen at its own pixels (`crops`): config.json's `typical_size` is then
        null and prediction does not scale (seg/prediction/model.py)."""
        if self.crops:
            return None
        chosen = None if pairs is None else set(pairs)
        sizes = Counter((s.size[1], s.size[0]) for s in self.usable if chosen is None or s.pair in chosen)
        return sizes.most_common(1)[0][0] if sizes else None

    def as_rgb(self) -> bool:
        "Whether every usable image is 8-bit gray, RGB(A) or palette: the model then sees 8-bit RGB, as always."
        from seg.data.channels import is_rgb_image
        return all(is_rgb_image(np.dtype(s.dtype), s.mode) for s in self.usable)

    def channel_names(self) -> list[str]:
        "The channels' names of the first usable image that names them (an OME-TIFF), or []."
        for s in self.usable:
            if s.pair.image.suffix.lower() in (".tif", ".tiff"):
                names = tiff_channel_names(s.pair.image)
                if any(names) and len(names) == s.channels:
                    return names
        return []

    def input_plan(self, train: list[Pair], pick=None, scaling: str = "dataset"):
        """What the model sees of each image (seg/data/channels.py): today's 8-bit RGB when every image is one,
        else their channels scaled by the training images' percentiles (`train`). SettingsError when the images
        disagree on their channels and none are picked."""
        from seg.data.channels import plan
        return plan([(s.pair.image, s.channels, np.dtype(s.dtype), s.mode) for s in self.usable],
                    [p.image for p in train], pick, scaling, self.channel_names())

    def read(self, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        "An image (uint8 RGB) and its mask as class indices (uint8)."
        return load_image(pair.image), self.mask(pair)

    def mask(self, pair: Pair) -> np.ndarray:
        return self.encoding.decode(load_mask(pair.mask), is_lossy(pair.mask))

    def ids(self, pair: Pair) -> np.ndarray:
        "int32 (H, W): one id per object, 0 the background; only for a dataset read as objects."
        if self.objects is None:
            raise ValueError(f"{self.root} is read as classes, not objects")
        return ids_of(load_mask(pair.mask).values, self.objects.regions)

    def split(self, valid_pct: float = 0.2, seed: int = 42) -> tuple[list[Pair], list[Pair]]:
        """(train, valid): the folders' split when there is one, else a seeded random one of the files: a stack's
        slices stay together (neighbouring slices are nearly one image: split apart, validation would score
        what training saw); a large image's regions are split as images (they share only their edges)."""
        pairs = self.pairs
        if self.discovery.split == "folder":
            return [p for p in pairs if not p.valid], [p for p in pairs if p.valid]

        def group(p: Pair) -> str:  # a plain file's pairs: one each, as before
            return str(p.image) if stacks.box_of(p.image) is None else stacks.labelled(p.image, str(p.image))

        files = list(dict.fromkeys(group(p) for p in pairs))
        train, valid = split_indices(len(files), valid_pct, seed)
        into_valid = {files[i] for i in valid}
        return [p for p in pairs if group(p) not in into_valid], [p for p in pairs if group(p) in into_valid]

    @property
    def train_codes(self) -> Codes | None:
        """The classes the model learns: the masks' classes; for objects, background, interior and
        boundary (seg/objects/target.py), which the end of a run and prediction turn into objects."""
        if self.objects is None or self.codes is None:
            return self.codes
        background, name = self.codes.names
        return Codes((background, name, f"{name} boundary"), None, self.codes.source, objects=True)

    def train_fractions(self, hw: tuple[int, int] | None = None) -> dict[str, float]:
        """The share of each of `train_codes` in the training targets (for the loss's class weights). For
        objects, measured on up to TARGET_SAMPLE masks made into targets for the training size `hw`."""
        if self.objects is None:
            return self.class_fractions()
        from seg.objects.target import target, width_for
        usable = self.usable
        counts = np.zeros(3, np.int64)
        for s in usable[:: max(1, len(usable) // TARGET_SAMPLE)][:TARGET_SAMPLE]:
            ids = self.ids(s.pair)
            counts += np.bincount(target(ids, width_for(ids.shape, hw or ids.shape)).ravel(), minlength=3)[:3]
        total = counts.sum() or 1
        return {name: float(c / total) for name, c in zip(self.train_codes.names, counts)}

    # -- statistics
    def class_fractions(self) -> dict[str, float]:
        if not self.codes:
            return {}
        totals = np.sum([s.class_pixels for s in self.usable], axis=0) if self.usable else np.zeros(len(self.codes))
        total = totals.sum() or 1
        return {name: float(t / total) for name, t in zip(self.codes.names, totals)}

    def per_image(self) -> list[dict]:
        rows = []
        for s in self.usable:
            px = s.pixels or 1
            rows.append({"image": self.report.name(s.pair.image), "mask": self.report.name(s.pair.mask),
                         "width": s.size[0], "height": s.size[1], "channels": s.channels,
                         "valid": s.pair.valid,
                         "fractions": {n: c / px for n, c in zip(self.codes.names, s.class_pixels)},
                         **({"objects": s.ids.ids if s.ids else 0} if self.objects else {})})
        return rows

    def summary(self, valid_pct: float = 0.2, seed: int = 42) -> dict:
        "Everything `python -m seg inspect --json` prints (a documented contract)."
        train, valid = self.split(valid_pct, seed) if self.encoding else ([], [])
        sizes = Counter(f"{s.size[0]}x{s.size[1]}" for s in self.usable)
        return {
            "root": str(self.root),
            "layout": self.discovery.layout,
            "pairs": len(self.pairs),
            "codes": list(self.codes.names) if self.codes else [],
            "codes_source": self.codes.source if self.codes else None,
            "encoding": self.encoding.to_json() if self.encoding else None,
            "split": {"kind": self.discovery.split, "train": len(train), "valid": len(valid),
                      **({"valid_pct": valid_pct, "seed": seed} if self.discovery.split == "random" else {})},
            "class_fractions": self.class_fractions(),
            "image_sizes": dict(sizes.most_common()),
            "channels": dict(Counter(str(s.channels) for s in self.usable)),
            "channel_names": self.channel_names(),
            "bit_depths": dict(Counter(str(np.dtype(s.dtype).itemsize * 8) for s in self.usable if s.dtype)),
            "as_rgb": self.as_rgb(),
            "objects": self.objects_summary(),
            "ok": self.ok,
            "errors": [p.as_dict() for p in self.report.errors],
            "warnings": [p.as_dict() for p in self.report.warnings],
            "notes": [p.as_dict() for p in self.report.notes],
            "per_image": self.per_image(),
        }

    def objects_summary(self) -> dict | None:
        """For a dataset read as objects: what they are and why (`Objects.to_json`), objects per image,
        their sizes (equivalent diameter in pixels: D10, D50, D90) and the share touching another."""
        if self.objects is None:
            return None
        return {**self.objects.to_json(), **objects_summary([s.ids or IdFacts() for s in self.usable])}

    # -- dataset-wide checks
    def _check(self) -> None:
        r, usable = self.report, self.usable
        notes: dict[str, list[Path]] = {}
        for s in usable:
            if s.image_note:
                notes.setdefault(s.image_note, []).append(s.pair.image)
        for note, files in notes.items():
            r.note(files, note[0].upper() + note[1:] + ".")
        small = [s.pair.image for s in usable if min(s.size) < MIN_SIZE]
        if small:
            r.warning(small, f"Smaller than {MIN_SIZE} px on a side; training will upscale it a lot.",
                      "Use larger images, or check that this is the right file.")
        if not self.discovery.pairs:
            if r.ok:
                r.error(self.root, "No image/mask pairs found.",
                        "Name each mask like its image (in masks/) or `<name>_mask.png` beside it.")
            return
        if self.encoding is None:
            return
        n = len(self.pairs)
        if self.discovery.split == "folder":
            train, valid = self.split()
            if not train or not valid:
                r.error(self.root, f"The split has {len(train)} training and {len(valid)} validation pairs "
                        "that can be used.", "Both train/ and valid/ need at least one good pair.")
        elif n < 2:
            r.error(self.root, f"{n} usable pair(s): too few to split into training and validation.",
                    "Add image/mask pairs: at least 2, better 20 or more.")
        elif n < FEW_PAIRS:
            r.warning(self.root, f"Only {n} pairs: validation scores will rest on 1 or 2 images.",
                      "Add pairs if you can; 20 or more give steadier scores.")
        fractions = self.class_fractions()
        if n and all(v == 0 for v in list(fractions.values())[1:]):
            r.warning(self.root, f"Every mask is {self.codes.names[0]} only: nothing to learn.",
                      "Check the masks: objects must have a class value other than 0.")
        else:
            absent = [k for k, v in list(fractions.items())[1:] if v == 0]
            if absent:
                r.warning(self.discovery.codes_file or self.root, f"Class(es) {', '.join(absent)} appear in no mask.",
                          "Remove them from codes.txt, or add masks that show them.")
