"""An image's key in a labels set: the name its mask, copy and record are kept under (`masks/<key>.png`). Two
images can have one key; a set lists only one of them, so no mask is ever drawn on one and saved over another's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seg.data.report import Report


def key_of(image: Path, source: Path | None) -> str:
    """An image's key in the set: its path under the source folder less its extension, folders joined by `__`,
    less a dataset's image folder (`images/a.png` is `a`, `train/images/a.png` is `train__a`). Not one to one
    (`a.png` and `a.jpg` are both `a`): `one_a_key` keeps a set's list so."""
    from seg.data.discovery import IMAGE_DIRS
    rel = image.relative_to(source) if source is not None and image.is_relative_to(source) else Path(image.name)
    return "__".join([*(d for d in rel.parent.parts if d.lower() not in IMAGE_DIRS), rel.stem])


def one_a_key(found: list[Path], source: Path | None, owner: Callable[[str], str | None],
              report: Report) -> dict[str, Path]:
    """`found` by key, one image a key: a set keeps one mask a key (the name less its extension, folders joined by
    `__`), so of `a.png` and `a.jpg`, or `sub/a.png` and `sub__a.png`, only one is kept (the one `owner(key)`, the
    image the key's record names, says is its, else the first), the others said in `report`. Without this they
    shared one mask: a colleague opening `a.jpg` saw, and saved over, the mask drawn on `a.png` (found by an
    attack)."""
    by_key: dict[str, list[Path]] = {}
    for f in sorted(found):
        by_key.setdefault(key_of(f.resolve(), source), []).append(f)
    kept = {}
    for key, files in by_key.items():
        named = Path(owner(key) or "").name if len(files) > 1 else ""
        kept[key] = keep = next((f for f in files if f.resolve().name == named), files[0])
        if len(files) > 1:
            report.warning([f for f in files if f != keep],
                           f"Left out: {keep.name} has the same name less its extension and folders ({key}), "
                           f"and a labels set keeps one mask a name; {keep.name} is the one labelled here.",
                           "Rename the others (such as name-2.jpg) to label them too.")
    return kept
