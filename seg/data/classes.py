"""From the masks' values to the dataset's classes: the classes the user gave (typed or codes.txt), the
mask encoding that fits every mask (values, colours, palette; seg/data/masks.py), each mask's pixels per
class, and the problems when none fits or a mask holds values outside it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from seg.data.codes import MAX_CLASSES, Codes, CodesError
from seg.data.discovery import Discovery
from seg.data.masks import INVALID, Encoding, infer_encoding, key_color
from seg.data.report import Report

if TYPE_CHECKING:
    from seg.data.dataset import Scan

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
