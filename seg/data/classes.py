"""From the masks' values to the dataset's classes: the classes the user gave (typed or codes.txt), the
mask encoding that fits every mask (values, colours, palette; seg/data/masks.py), each mask's pixels per
class, and the problems when none fits or a mask holds values outside it. Masks holding one id per object
(instance masks) are read as objects of one class instead (`decide_objects`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seg.data.codes import MAX_CLASSES, Codes
from seg.data.discovery import Discovery
from seg.data.images import load_mask
from seg.data.masks import INVALID, Encoding, infer_encoding, key_color
from seg.data.report import Report
from seg.errors import CodesError
from seg.objects.ids import Evidence, IdFacts, evidence, looks_like_objects, single_regions

if TYPE_CHECKING:
    from seg.data.scan import Scan

NO_CLASS = "fit no class"  # words of the error for mask values outside the classes


def given_codes(codes, d: Discovery, report: Report) -> Codes | None:
    "The classes the user gave (typed, or codes.txt), or None to infer them from the masks."
    try:
        if codes:
            return Codes.given(codes)
        if d.codes_file:
            return Codes.read(d.codes_file)
    except CodesError as e:
        report.error(d.codes_file or d.root, e.problem, e.fix)
    return None


def decide_classes(scans: list[Scan], codes: Codes | None, report: Report,
              codes_at: Path) -> tuple[Encoding | None, Codes | None]:
    "The dataset's mask encoding, each mask's class pixel counts; `codes_at`: where the user's classes come from."
    exact: dict[str, Counter] = {}
    lossy: dict[str, Counter] = {}
    for s in scans:
        if s.ok:
            (lossy if s.mask_lossy else exact).setdefault(s.mask_kind, Counter()).update(s.hist)
    if not exact and not lossy:
        return None, codes
    decision = infer_encoding(exact, lossy, codes)
    if decision.encoding is None:
        problem = decision.problem[0].upper() + decision.problem[1:]
        report.error(_culprits(scans, codes, codes_at), problem, decision.fix)
        for s in scans:
            s.ok = False
        return None, decision.codes
    for note in decision.notes:
        report.note(scans[0].pair.mask.parent, note[0].upper() + note[1:] + ".")
    enc, codes = decision.encoding, decision.codes
    snapped = []
    for s in scans:
        if not s.ok:
            continue
        counts = [0] * enc.n
        bad = []
        for v, c in s.hist.items():
            i = enc.index_of(v, s.mask_lossy)
            if i == INVALID:
                bad.append(v)
            else:
                counts[i] += c
        s.class_pixels = counts
        if bad:
            shown = [str(_show(v, enc)) for v in sorted(bad)[:6]]
            report.error(s.pair.mask, f"Values {', '.join(shown)} {NO_CLASS} "
                         f"({enc.describe(codes)}).",
                         decision.fix or "Repaint those pixels with a class value, or add the class to codes.txt.")
            s.ok = False
        elif s.mask_lossy and any(v not in enc.table for v in s.hist):
            snapped.append(s)
    if snapped:
        share = sum(sum(c for v, c in s.hist.items() if v not in enc.table) for s in snapped) / max(
            1, sum(s.pixels for s in snapped))
        report.warning([s.pair.mask for s in snapped],
                       f"JPEG-compressed mask: near-values snapped to the nearest class ({share:.1%} of the "
                       "pixels of such masks).", "Save masks as PNG: JPEG changes mask values at every object edge.")
    return enc, codes


def _culprits(scans: list[Scan], codes: Codes | None, codes_at: Path) -> list[Path]:
    """Where to look when no encoding fits: the classes file when the user gave classes (it and the
    masks disagree), else the masks with values no class mask holds, else those with the most values."""
    if codes is not None:
        return [codes_at]
    ok = [s for s in scans if s.ok and s.hist]
    odd = [s for s in ok if len(s.hist) > MAX_CLASSES or (s.mask_kind != "color" and max(s.hist) >= MAX_CLASSES)]
    return [s.pair.mask for s in (odd or sorted(ok, key=lambda s: -len(s.hist))[:5])]


def _show(v: int, enc: Encoding):
    return key_color(v) if enc.kind == "color" else v


@dataclass(frozen=True)
class Objects:
    """A dataset read as objects: `name` the objects' class, `source` why ("masks": recognised; "option":
    --objects or the Data page; "codes.txt": its `objects:` line), `regions` when the masks are two-class
    and each connected region is taken for one object (the opt-in "split touching objects")."""

    name: str
    source: str
    regions: bool
    evidence: Evidence | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "ids": "regions" if self.regions else "mask values",
                "evidence": asdict(self.evidence) if self.evidence else None}


def objects_wanted(objects: bool | None, codes: Codes | None) -> bool | None:
    "True when the user declared objects (the option, or codes.txt's `objects:` line), False for classes."
    if objects is not None:
        return objects
    return True if codes is not None and codes.objects else None


def decide_objects(scans: list[Scan], codes: Codes | None, objects: bool | None, report: Report,
                   codes_at: Path) -> tuple[Objects, Encoding, Codes] | None:
    """Whether the masks hold one id per object (seg/objects/ids.py): declared, or recognised when the
    user named no classes (or two: background and the objects). None: read them as classes. When
    declared of masks that cannot hold ids (colour, JPEG), the error is reported and those masks are
    left out."""
    wanted = objects_wanted(objects, codes)
    usable = [s for s in scans if s.ok]
    if wanted is False or not usable:
        return None
    if wanted and codes is not None and len(codes) > 2:
        report.error(codes_at, f"--objects with {len(codes)} classes named ({', '.join(codes.names)}): objects "
                     "from one id per object are of one class.",
                     "Name only the background and the objects, or read the masks as classes.")
        return None
    values = set().union(*(s.hist for s in usable if s.mask_kind != "color")) - {0}
    ev = evidence([s.ids for s in usable if s.ids is not None], max(values, default=0), len(values))
    if wanted is None:
        if (codes is not None and len(codes) != 2) or not looks_like_objects(ev, MAX_CLASSES):
            if codes is None and single_regions(ev, MAX_CLASSES):  # objects but for the sizes: say why not
                report.note(codes_at, f"Masks whose values are one region each ({ev.sentence()}) read as classes: "
                            f"each value has its own size in every mask, as a class does (the value tells "
                            f"{ev.size_by_value:.0%} of the spread of sizes; ids of objects tell none).",
                            "If each value is one object, read them as objects: --objects, the Data page's "
                            "choice, or a line `objects: NAME` in codes.txt.")
            return None
        source = "masks"
    else:
        source = "codes.txt" if objects is None else "option"
    for bad, problem, fix in (
            ([s for s in usable if s.mask_kind == "color"], "Colour masks cannot be read as objects.",
             "Save one id per object as a gray 16-bit PNG or TIFF (0 = background), or read the masks as classes."),
            ([s for s in usable if s.mask_lossy], "JPEG masks cannot be read as objects: compression changes "
             "the ids at every object's edge.", "Save instance masks as PNG or TIFF.")):
        if bad:
            report.error([s.pair.mask for s in bad], problem, fix)
            for s in bad:
                s.ok = False
    name = codes.names[1] if codes is not None else "object"
    background = codes.names[0] if codes is not None else "background"
    found = Objects(name, source, regions=len(values) <= 1, evidence=ev)
    for s in scans:
        if s.ok:
            if s.ids is None:  # a mask with at most one value besides 0, not summarised when it was read
                s.ids = IdFacts.of(ids_of(load_mask(s.pair.mask).values, found.regions))
            s.class_pixels = [s.hist.get(0, 0), sum(s.hist.values()) - s.hist.get(0, 0)]
    if found.regions:
        report.note(codes_at, f"Two-class masks read as objects: each connected region of {name} is one "
                    "object, so objects drawn touching stay one. For counts that hold, give every object its "
                    "own id (instance masks, 16-bit PNG or TIFF).")
    elif source == "masks":
        report.note(codes_at, f"Masks hold one id per object: {ev.sentence()}. Read as objects of one "
                    f"class, {name}. If the values are classes, name them in codes.txt, one per line.")
    else:
        why = "codes.txt says so" if source == "codes.txt" else "asked"
        report.note(codes_at, f"Masks read as objects of one class, {name}, as {why}: {ev.sentence()}.")
    return found, Encoding("objects", (0,)), Codes((background, name), None, codes.source if codes else "inferred",
                                                   objects=True)


def ids_of(values, regions: bool):
    "An id map from a mask's stored values: the values, or the connected regions of a two-class mask."
    import numpy as np
    from skimage.measure import label
    if regions:
        return label(values != 0, connectivity=2).astype(np.int32)
    return values.astype(np.int32)
