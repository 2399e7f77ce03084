"""Finding image/mask pairs in a folder, in the layouts people actually use.

- `images/` + `masks/` (or `labels/`, `gt/`, `annotations/` ...), nested folders allowed, a mask named
  like its image, or with a suffix (`_mask`, CamVid's `_P`);
- one flat folder with a mask suffix: `0.bmp` + `0_mask.bmp` (`_masks`, `_label`, `_gt`, `-mask` ...);
- `train/` + `valid/` (or `val/`, `test/`), each in one of those layouts, or `images/train` +
  `images/val`: the given split becomes the validation split.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seg.data.images import IMAGE_EXTS, JUNK_NAMES, is_image_name
from seg.data.pairing import FLAT_SUFFIX, Pair, match_dirs, match_names, unique
from seg.data.report import Report

if TYPE_CHECKING:
    from seg.server.sharing import Access

IMAGE_DIRS = ("images", "image", "imgs", "img", "inputs")
MASK_DIRS = ("masks", "mask", "labels", "label", "gt", "groundtruth", "ground_truth", "annotations",
             "annotation", "segmentations")
TRAIN_DIRS = ("train", "training")
VALID_DIRS = ("valid", "val", "validation", "test", "testing")  # in order of preference
CODES_FILES = ("codes.txt", "classes.txt")
MAX_FILES = 500_000  # a dataset folder holds fewer; more means the path points far above one
# Files that sit beside datasets and are no concern of ours.
META_EXTS = {".txt", ".md", ".json", ".csv", ".yaml", ".yml", ".xml", ".pdf", ".zip", ".py", ".ipynb", ".html"}



@dataclass
class Discovery:
    root: Path
    layout: str = ""
    pairs: list[Pair] = field(default_factory=list)
    split: str = "random"  # "folder" when the folders give the validation set
    codes_file: Path | None = None


class TooManyFiles(Exception):
    "Raised inside discovery once the error is reported; stops the walk."


def discover(root: Path, report: Report, access: Access) -> Discovery:
    """Pairs in `root`; every problem goes to `report`. Within `access` (the app's viewer's; the command
    line's `Access.machine()`), nothing outside what the viewer may read is entered: links that lead out are
    left out with a warning, segboard's own folders (runs, other sessions' uploads) with a note."""
    try:
        return _Finder(report, access)._discover(Path(root))
    except TooManyFiles:
        return Discovery(Path(root))


def image_files(folder: Path, report: Report, access: Access) -> list[Path]:
    "Every image file under `folder`, nested folders too: the input of a prediction without masks."
    try:
        finder = _Finder(report, access)
        return _images(finder.files(Path(folder)), report)
    except TooManyFiles:
        return []


def _visible(p: Path) -> bool:
    return not p.name.startswith(".") and p.name != "__MACOSX" and p.name.lower() not in JUNK_NAMES


class _Finder:
    """Lists folders for discovery, within what `access` lets its viewer read (None: everything, as on the
    command line). Every listing goes through `entries` or `files`, so no path found escapes the check."""

    def __init__(self, report: Report, access: Access):
        self.report = report
        self.access = access if access.limited else None
        self.private = set(access.private) - set(access.own) if self.access else set()
        self.left_out: set[Path] = set()

    def _readable(self, p: Path) -> bool:
        "A link is followed only where it stays within the viewer's folders; segboard's own folders are skipped."
        if self.access is None:
            return True
        if p in self.private:
            self._leave_out(p, self.report.note, "One of segboard's own folders (runs, predictions, other people's "
                            "uploads): not read as data.", "Choose the dataset's own folder.")
            return False
        if os.path.islink(p) and not self.access.allows(p):
            self._leave_out(p, self.report.warning, "A link to a place outside the folders this app may read; left "
                            "out.", "Copy the files into the dataset folder, or ask whoever runs the app to add that "
                            "folder to SEGBOARD_ROOTS.")
            return False
        return True

    def _leave_out(self, p: Path, say, problem: str, fix: str) -> None:
        "Said once per path, however often discovery lists its folder."
        if p not in self.left_out:
            self.left_out.add(p)
            say(p, problem, fix)

    def entries(self, folder: Path) -> list[Path]:
        "The visible, readable entries of `folder` (no recursion); none when it cannot be listed."
        try:
            return [p for p in sorted(folder.iterdir()) if _visible(p) and self._readable(p)]
        except OSError:
            return []

    def dirs(self, folder: Path) -> list[Path]:
        return [p for p in self.entries(folder) if p.is_dir()]

    def unwrap(self, root: Path) -> Path:
        "Descend through lone wrapper folders (a zip of `mydata/images ...`)."
        for _ in range(5):
            entries = self.entries(root)
            dirs = [p for p in entries if p.is_dir()]
            if len(dirs) != 1 or any(is_image_name(p) for p in entries if p.is_file()):
                return root
            if dirs[0].name.lower() in IMAGE_DIRS + MASK_DIRS + TRAIN_DIRS + VALID_DIRS:
                return root
            root = dirs[0]
        return root

    def find_codes(self, base: Path, root: Path) -> Path | None:
        "codes.txt in the dataset folder, the folder wrapping it, or one level down (train/codes.txt)."
        for folder in dict.fromkeys((base, root, *self.dirs(base))):
            for name in CODES_FILES:
                for p in (folder / name, folder / name.upper()):
                    if p.is_file() and self._readable(p):
                        return p
        return None

    def split_dirs(self, base: Path) -> tuple[Path, Path] | None:
        dirs = {p.name.lower(): p for p in self.dirs(base)}
        train = next((dirs[n] for n in TRAIN_DIRS if n in dirs), None)
        valid = next((dirs[n] for n in VALID_DIRS if n in dirs), None)
        return (train, valid) if train and valid else None

    def find_dir(self, folder: Path, names: tuple[str, ...]) -> Path | None:
        dirs = {p.name.lower(): p for p in self.dirs(folder)}
        return next((dirs[n] for n in names if n in dirs), None)

    def files(self, folder: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
        """All visible files under `folder`, nested folders included, links to folders not followed; none
        when there are more than MAX_FILES (someone typed `/` or their home folder)."""
        out = []
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames
                                 if _visible(here / d) and here / d not in skip and self._readable(here / d))
            out += [here / f for f in sorted(filenames) if _visible(here / f) and self._readable(here / f)]
            if len(out) > MAX_FILES:
                self.report.error(folder, f"More than {MAX_FILES:,} files under this folder: is it the dataset, or "
                                  "a folder far above it?", "Give the folder that holds the images and masks itself.")
                raise TooManyFiles
        return out

    def _discover(self, root: Path) -> Discovery:
        report = self.report
        d = Discovery(root)
        if not root.exists():
            report.error(root, "The folder does not exist.",
                         "Check the path; it is read on the server, not your computer.")
            return d
        if not root.is_dir():
            report.error(root, "This is a file, not a folder.", "Give the folder that holds the images and masks.")
            return d
        base = self.unwrap(root)
        d.codes_file = self.find_codes(base, root)
        splits = self.split_dirs(base)
        if splits:
            train, valid = splits
            d.layout = f"{train.name}/ + {valid.name}/ split"
            for folder, is_valid in ((train, False), (valid, True)):
                errors = len(report.errors)
                layout, pairs = self._discover_folder(folder)
                if not pairs and len(report.errors) == errors:
                    report.error(folder, f"No image/mask pairs in the {folder.name}/ split.",
                                 "Put images and masks in this folder, in the same layout as the other split.")
                d.pairs += [Pair(p.image, p.mask, is_valid) for p in pairs]
                d.layout += f", {folder.name}/: {layout}"
            d.split = "folder"
            for other in self.dirs(base):
                if other.name.lower() in VALID_DIRS and other != valid:
                    report.note(other, f"Not used: {valid.name}/ is the validation split.")
            return d
        d.layout, d.pairs = self._discover_folder(base)
        if d.pairs and all(_first(p.image, base) in TRAIN_DIRS + VALID_DIRS for p in d.pairs):
            # images/train + images/val: the inner folders give the split
            splits = {_first(p.image, base) for p in d.pairs}
            valid = next((v for v in VALID_DIRS if v in splits), None)
            if valid and splits & set(TRAIN_DIRS):
                d.pairs = [Pair(p.image, p.mask, _first(p.image, base) == valid) for p in d.pairs
                           if _first(p.image, base) in (valid, *TRAIN_DIRS)]
                d.split, d.layout = "folder", d.layout + f", {valid}/ folders as validation split"
        return d

    def _discover_folder(self, folder: Path) -> tuple[str, list[Pair]]:
        report = self.report
        mask_dir = self.find_dir(folder, MASK_DIRS)
        if mask_dir is not None:
            image_dir = self.find_dir(folder, IMAGE_DIRS)
            if image_dir is None:
                images = _images(self.files(folder, skip=(mask_dir,)), report)
                layout = f"images beside {mask_dir.name}/"
                image_base = folder
            else:
                images = _images(self.files(image_dir), report)
                layout = f"{image_dir.name}/ + {mask_dir.name}/"
                image_base = image_dir
            masks = _images(self.files(mask_dir), report)
            return layout, match_dirs(image_base, images, mask_dir, masks, report)
        files = _images(self.files(folder), report)
        masks = [f for f in files if FLAT_SUFFIX.match(f.stem)]
        if not files:
            report.error(folder, "No image files found.",
                         f"Put images ({', '.join(sorted(IMAGE_EXTS))}) and masks in this folder: "
                         "images/ + masks/, or name/name_mask side by side.")
            return "", []
        if not masks:
            report.error(folder, "Images found but no masks: no masks/ (or labels/, gt/) folder and no file "
                         "named like `name_mask.png`.",
                         "Put the masks in a masks/ folder beside images/, named like their images, "
                         "or name each mask `<image name>_mask.png` next to its image.")
            return "", []
        suffixes = sorted({FLAT_SUFFIX.match(m.stem).group(2) for m in masks})
        images = [f for f in files if not FLAT_SUFFIX.match(f.stem)]
        layout = f"flat folder, mask suffix {', '.join(suffixes)}"
        return layout, match_names(
            {(f.parent, f.stem.lower()): f for f in unique(images, lambda f: (f.parent, f.stem.lower()), report)},
            {(m.parent, FLAT_SUFFIX.match(m.stem).group(1).lower()): m
             for m in unique(masks, lambda m: (m.parent, FLAT_SUFFIX.match(m.stem).group(1).lower()), report)},
            report)


def _first(path: Path, base: Path) -> str:
    "The folder under the images folder that holds `path` (train, val ...), lowercased."
    parts = path.relative_to(base).parts
    return parts[1].lower() if len(parts) > 2 else ""


def _images(files: list[Path], report: Report) -> list[Path]:
    "The image files; the rest reported when they look like data rather than notes."
    images, odd = [], []
    for f in files:
        if is_image_name(f):
            images.append(f)
        elif f.suffix.lower() not in META_EXTS:
            odd.append(f)
    by_ext: dict[str, list[Path]] = {}
    for f in odd:
        by_ext.setdefault(f.suffix.lower() or "no extension", []).append(f)
    for ext, files in sorted(by_ext.items()):
        report.warning(files, f"Not an image file this tool reads ({ext}); ignored.",
                       f"Convert it to one of {', '.join(sorted(IMAGE_EXTS))}, or move it out of the dataset.",
                       many=5)
    return images


def signature(root: Path) -> str:
    """Changes when a file under `root` is added, removed or changed; reads only names and stats, so
    it is cheap enough to check on every page view."""
    h = hashlib.sha256()
    root = Path(root).expanduser()
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        seen += len(filenames)
        if seen > MAX_FILES:  # `/` typed as the folder: discovery reports it, no need to stat it all
            break
        for f in sorted(filenames):
            try:
                st = os.stat(os.path.join(dirpath, f))
            except OSError:
                continue
            h.update(f"{dirpath}/{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
