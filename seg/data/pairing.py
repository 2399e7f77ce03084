"""Which mask belongs to which image: keys from file names and folders, mask suffixes (`_mask`, CamVid's
`_P`), two files that claim one name, and images or masks left without a partner. Discovery finds the
files; this pairs them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from seg.data.report import Report

FLAT_SUFFIX = re.compile(r"^(.+?)([_-](?:mask|masks|label|labels|gt|seg|segmentation))$", re.I)
DIR_SUFFIX = re.compile(r"^(.+?)([_-](?:mask|masks|label|labels|gt|seg|segmentation|p))$", re.I)


@dataclass(frozen=True)
class Pair:
    image: Path
    mask: Path
    valid: bool | None = None  # from a folder split; None: split at random

    @property
    def name(self) -> str:
        return self.image.name


def unique(files: list[Path], key, report: Report) -> list[Path]:
    "Drop and report files whose key clashes (`a.png` beside `a.jpg`: which is the image?)."
    seen: dict = {}
    for f in files:
        seen.setdefault(key(f), []).append(f)
    for fs in seen.values():
        if len(fs) > 1:
            report.error(fs, f"{len(fs)} files share one name: {', '.join(f.name for f in fs)}; "
                         "which one is meant is unclear.",
                         "Keep one file per name; rename or remove the others.")
    return [fs[0] for fs in seen.values() if len(fs) == 1]


def _rel_key(f: Path, base: Path) -> tuple:
    rel = f.relative_to(base)
    return (*[p.lower() for p in rel.parts[:-1]], f.stem.lower())


def _mask_key(f: Path, base: Path, image_keys: set) -> tuple:
    "A mask's key: its path relative to the mask folder, less a mask suffix when that finds the image."
    key = _rel_key(f, base)
    if key in image_keys:
        return key
    m = DIR_SUFFIX.match(f.stem)
    return (*key[:-1], m.group(1).lower()) if m else key


def match_dirs(image_base, images, mask_dir, masks, report) -> list[Pair]:
    images = unique(images, lambda f: _rel_key(f, image_base), report)
    image_keys = {_rel_key(f, image_base) for f in images}
    masks = unique(masks, lambda m: _mask_key(m, mask_dir, image_keys), report)
    return match_names({_rel_key(f, image_base): f for f in images},
                  {_mask_key(m, mask_dir, image_keys): m for m in masks}, report)


def match_names(images: dict, masks: dict, report: Report) -> list[Pair]:
    lonely_images = [images[k] for k in images if k not in masks]
    lonely_masks = [masks[k] for k in masks if k not in images]
    if lonely_images:
        report.warning(lonely_images, "Image without a mask; left out.",
                       "Add its mask, named like the image, or move the image out of the dataset.")
    if lonely_masks:
        report.warning(lonely_masks, "Mask without an image; left out.",
                       "Add its image, or check that the mask is named like its image.")
    return [Pair(images[k], masks[k]) for k in sorted(images, key=str) if k in masks]
