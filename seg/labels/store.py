"""A labels set: the masks people draw, kept in the workspace, never in their folder.

`<workspace>/labels/<name>/` is a dataset in the Data page's own layout, so every page and command reads it:

    set.json              the set: its classes, objects or not, the folder its images come from, its version
    codes.txt             the class names (`objects: NAME` for a set of objects)
    images/<key>.<ext>    a copy of each image that has a mask (the source folder is only read)
    masks/<key>.png       class indices (8-bit), or one id per object (16-bit) in a set of objects
    records/<key>.json    how each mask was made, every save: drawn, assisted, corrected from run X; when; by whom
    backups/              a mask another person's save replaced: never lost

Every save is one version of the set (`set.json`'s `version`, and the mask's own in its record); a save
that starts from a version older than the stored one keeps the stored mask in `backups/` and says so:
two people labelling one set never lose each other's work. Saves are serialised by a file lock."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from seg.data.codes import MAX_CLASSES, Codes
from seg.data.report import Report
from seg.errors import CodesError, LabelsError
from seg.labels.keys import key_of, one_a_key
from seg.util import atomic_write

if TYPE_CHECKING:
    from seg.server.sharing import Access

HOWS = ("drawn", "assisted", "corrected", "predicted", "imported")
NAME = re.compile(r"^[\w][\w .-]{0,63}$")


@dataclass(frozen=True)
class Saved:
    "A save's outcome: the mask's new version, and a warning where it replaced another person's save."

    version: int
    warning: str | None = None


class LabelSet:
    """One labels set (see the module). `create` makes one, `LabelSet(path)` opens it; `sources()` lists the
    images to label, `save` stores a mask, `mask`/`record` read one back."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.info = json.loads((self.path / "set.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise LabelsError(f"{self.path} is not a labels set ({e}).",
                              "Choose a folder under the workspace's labels/, or make a new set.") from None

    @classmethod
    def create(cls, parent: Path, name: str, classes: list[str], source: Path | None = None,
               objects: bool = False) -> LabelSet:
        """A new set `parent/name` for the images of `source` (a folder, only ever read), with `classes`
        (the background first; for objects, the background and the objects' name). Refuses a name in use."""
        if not NAME.match(name or ""):
            raise LabelsError(f"{name!r} cannot name a labels set.",
                              "Use letters, digits, spaces, '.', '-' or '_' (64 at most), starting with a letter "
                              "or digit.")
        try:
            codes = Codes.given(classes)
        except CodesError as e:  # a duplicate, too many, a name that cannot be one: said as the set's problem
            raise LabelsError(e.problem, f"Give the classes separated by commas, the background first, each name "
                              f"once ({MAX_CLASSES} at most).") from None
        if len(codes) < 2 or (objects and len(codes) != 2):
            raise LabelsError(f"A labels set needs the background and {'the objects' if objects else 'a class'}; "
                              f"given {', '.join(codes.names) or 'none'}.",
                              "Name the background first, then " + ("what the objects are." if objects
                                                                  else "each class."))
        path = Path(parent) / name
        if path.exists():
            raise LabelsError(f"A labels set named {name!r} exists already.", "Choose another name, or open it.")
        for sub in ("images", "masks", "records", "backups"):
            (path / sub).mkdir(parents=True)
        lines = [codes.names[0], f"objects: {codes.names[1]}"] if objects else list(codes.names)
        atomic_write(path / "codes.txt", "\n".join(lines) + "\n")
        info = {"name": name, "classes": list(codes.names), "objects": objects,
                "source": str(Path(source).resolve()) if source is not None else None,
                "created": _now(), "version": 0}
        atomic_write(path / "set.json", json.dumps(info, indent=2))
        return cls(path)

    @property
    def classes(self) -> list[str]:
        return list(self.info["classes"])

    @property
    def objects(self) -> bool:
        return bool(self.info.get("objects"))

    @property
    def source(self) -> Path | None:
        return Path(self.info["source"]) if self.info.get("source") else None

    @property
    def version(self) -> int:
        "Saves in all: a run trained on the set records it (`seg train` on a set writes it to config.json)."
        return int(self._read_info().get("version", 0))

    def _read_info(self) -> dict:
        return json.loads((self.path / "set.json").read_text(encoding="utf-8"))

    def sources(self, access: Access, report: Report | None = None) -> list[Path]:
        """The images to label that `access` (the viewer's; the command line's `Access.machine()`) may read:
        those of the source folder (the images of its pairs where it is a dataset, else every image under it;
        links out of the viewer's folders and segboard's own folders left out, whatever folder the set was
        made from, each said in `report` when one is given), and images added to the set that are not in it
        (uploads: plain files, never links)."""
        from seg.data.discovery import discover, image_files
        listed: dict[str, Path] = {}  # the source folder's images by key
        if self.source is not None and self.source.is_dir() and access.allows(self.source):
            from dataclasses import replace

            from seg.server.workspace import labels_dir
            # never the sets' own files (copies of their sources): a set made from the workspace lists the demo
            access = replace(access, private=(*access.private, self.path.resolve(), labels_dir().resolve()))
            report = report if report is not None else Report(self.source)
            as_dataset = Report(self.source)  # kept only where the folder is a dataset: each left-out file said once
            pairs = discover(self.source, as_dataset, access).pairs
            if pairs:
                found = [p.image for p in pairs]
                report.problems += as_dataset.problems
            else:
                found = image_files(self.source, report, access)
            listed = one_a_key(found, self.source, lambda key: self.record(key).get("image"), report)
        extra = [f for f in sorted((self.path / "images").iterdir())
                 if f.stem not in listed and not f.name.startswith(".") and f.is_file() and not f.is_symlink()]
        return sorted(listed.values()) + extra

    def readable(self, image: Path, access: Access) -> Path:
        """`image` resolved, when `access` may read it (checked when it is read, not only when it was listed:
        a file replaced by a link since is caught); LabelsError otherwise."""
        try:
            resolved = Path(image).resolve()
        except (OSError, RuntimeError) as e:  # RuntimeError: a link loop
            raise LabelsError(f"{Path(image).name} cannot be followed ({e}).", "Choose another image.") from None
        if why := access.refusal(resolved):
            raise LabelsError(f"{Path(image).name} is not read: it is {why}",
                              "Label the images of a folder this app may read.")
        if not resolved.is_file():
            raise LabelsError(f"{Path(image).name} is not a file.", "Choose another image.")
        return resolved

    def add_images(self, files, listed=()) -> tuple[list[str], list[str]]:
        """Images uploaded into the set ((name, bytes) pairs; only the base name kept, an existing name never
        overwritten nor taken: a number is added where an image of the set, its source folder's `listed` (their
        keys) included, has the name). Each is read first: one that is not a readable image is refused.
        (names added, "name: why" refused)."""
        from pathlib import PurePosixPath

        from seg.data.images import is_image_name, load_image
        from seg.errors import ImageError
        added, refused = [], []
        with self._locked():
            taken = ({f.stem.lower() for f in (self.path / "images").iterdir()} | {k.lower() for k in self.labelled()}
                     | {k.lower() for k in listed})  # a source image not yet labelled has no copy here yet
            for name, data in files:
                name = PurePosixPath(str(name).replace("\\", "/")).name
                if not is_image_name(Path(name)) or name.startswith("."):
                    refused.append(f"{name}: not an image file by its name")
                    continue
                stem, suffix = Path(name).stem, Path(name).suffix.lower()
                unique, n = stem, 1
                while unique.lower() in taken:
                    n += 1
                    unique = f"{stem}-{n}"
                dest = self.path / "images" / f"{unique}{suffix}"
                dest.write_bytes(data)
                try:
                    load_image(dest)
                except (ImageError, OSError) as e:
                    dest.unlink()
                    refused.append(f"{name}: {getattr(e, 'problem', e)}")
                    continue
                taken.add(unique.lower())
                added.append(dest.name)
        return added, refused

    def labelled(self) -> list[str]:
        "The keys of the images with a mask, sorted."
        return sorted(f.stem for f in (self.path / "masks").glob("*.png"))

    def image_path(self, key: str) -> Path | None:
        "The set's copy of an image (None before its first save)."
        return next((f for f in (self.path / "images").glob(f"{_glob(key)}.*")), None)

    def mask(self, key: str) -> np.ndarray | None:
        "The stored mask of an image (class indices or object ids), None if it has none."
        f = self.path / "masks" / f"{key}.png"
        return np.asarray(Image.open(f)) if f.exists() else None

    def record(self, key: str) -> dict:
        "How the mask was made, every save: {key, image, history: [{version, how, run, by, at}]}."
        f = self.path / "records" / f"{key}.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else {"key": key, "history": []}

    def corrected_from(self, key: str) -> str | None:
        """The run an image's mask was last corrected from (its later saves, the rest of the correction, keep
        it); None for a mask drawn or assisted from the start, or no mask."""
        runs = [h["run"] for h in self.record(key)["history"] if h.get("run")]
        return runs[-1] if runs else None

    def mask_version(self, key: str) -> int:
        "The version of an image's stored mask (0: none yet): a save gives it back as `base`."
        history = self.record(key)["history"]
        return history[-1]["version"] if history else 0

    def check(self, mask: np.ndarray) -> np.ndarray:
        "The mask as it is stored: 8-bit class indices under the set's classes, or 16-bit object ids."
        a = np.asarray(mask)
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer) and a.dtype != bool:
            raise LabelsError(f"A mask must be one integer per pixel; this one is {a.dtype} of shape {a.shape}.",
                              "Save class indices (or object ids), one per pixel.")
        if self.objects:
            if a.min() < 0 or a.max() > 65535:
                raise LabelsError("Object ids must be 0 (background) to 65,535.", "Number the objects from 1.")
            return a.astype(np.uint16)
        if a.min() < 0 or a.max() >= len(self.classes):
            raise LabelsError(f"The mask holds value {int(a.max())}, but the set has {len(self.classes)} classes "
                              f"({', '.join(self.classes)}).", "Draw with the set's classes only.")
        return a.astype(np.uint8)

    def save(self, image: Path, mask: np.ndarray, how: str, *, access: Access, base: int | None = None,
             run: str | None = None, by: str | None = None) -> Saved:
        """Store `image`'s mask, made `how` (HOWS; `run`: the run a correction started from), by `by`.
        `base`: the mask version the change started from (`mask_version` when the editor opened it); where
        another save came between, its mask is kept in backups/ and the outcome warns. The image is copied
        into the set at its first save, only where `access` may read it (resolved and checked at that moment,
        the resolved file copied: a link out of the viewer's folders is never copied into the set)."""
        if how not in HOWS:
            raise ValueError(f"how: one of {HOWS}, not {how!r}")
        from seg.data.images import load_image
        from seg.errors import ImageError
        key = key_of(Path(image).resolve(), self.source)
        image = self.readable(image, access)
        a = self.check(mask)
        try:
            shape = load_image(image).shape[:2]
        except (ImageError, OSError) as e:
            raise LabelsError(f"{image.name} cannot be read: {getattr(e, 'problem', e)}",
                              getattr(e, "fix", "Re-export the image.")) from None
        if a.shape != shape:
            raise LabelsError(f"The mask is {a.shape[0]} x {a.shape[1]} px but {image.name} is "
                              f"{shape[0]} x {shape[1]}.", "Draw the mask on the image itself.")
        with self._locked():
            rec = self.record(key)
            owner = rec.get("image")
            if owner and Path(owner).name != image.name:  # a.jpg where a.png has the mask `a`: never saved over it
                raise LabelsError(f"{image.name} is not saved: the set's mask {key} is {Path(owner).name}'s (the "
                                  "same name less its extension and folders).", f"Rename {image.name} to label it.")
            info = self._read_info()
            stored = self.mask_version(key)
            warning = None
            if base is not None and stored != base and stored > 0:
                last = rec["history"][-1]
                kept = self.path / "backups" / f"{key}.v{stored}.png"
                shutil.copy2(self.path / "masks" / f"{key}.png", kept)
                warning = (f"{image.name} was saved by {last.get('by') or 'someone else'} at {last['at']} while you "
                           f"edited it; your mask is saved, theirs is kept in backups/{kept.name}.")
            if self.image_path(key) is None:
                shutil.copy2(image, self.path / "images" / f"{key}{image.suffix.lower()}")
            atomic_write(self.path / "masks" / f"{key}.png", write=lambda t: Image.fromarray(a).save(t, format="PNG"))
            version = int(info.get("version", 0)) + 1
            rec["image"] = str(image)
            rec["history"].append({"version": version, "how": how, "run": run, "by": by, "at": _now()})
            atomic_write(self.path / "records" / f"{key}.json", json.dumps(rec, indent=2))
            info["version"] = version
            atomic_write(self.path / "set.json", json.dumps(info, indent=2))
            self.info = info
        return Saved(version, warning)

    @contextmanager
    def _locked(self):
        with open(self.path / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def trained_on(root) -> dict | None:
    "What a run records of the labels set it trains on (config.json `labels`): its name and version; else None."
    if not (Path(root) / "set.json").is_file():
        return None
    try:
        s = LabelSet(root)
        return {"set": s.info.get("name", Path(root).name), "version": s.version}
    except (LabelsError, OSError, ValueError):
        return None


def _glob(key: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", key)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
