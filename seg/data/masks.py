"""From a mask's stored values to class indices, never touching the user's files.

Masks come as class indices (0, 1, 2), as two values such as 0/255, as palette PNGs, as RGB
colour-coded images, and as JPEGs whose compression smears 0/255 into 0..9 and 247..255. An
`Encoding` is decided once per dataset from all masks' values (`infer_encoding`) and turns any of
them into uint8 class indices (`Encoding.decode`). 0/255 masks reaching the loss are the classic
fastai failure (a CUDA device-side assert); here they never do.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from seg.data.codes import MAX_CLASSES, Codes
from seg.data.images import RawMask

INVALID = 255  # decoded value of a pixel that fits no class
SNAP_GRAY = 48  # JPEG near-values further than this from every class value are still snapped, with a warning
SNAP_COLOR = 60  # the same, as a distance in RGB
SNAP_PEAK = 0.002  # a JPEG value (or colour) holding this share of pixels is taken for a class


def color_key(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def key_color(k: int) -> tuple[int, int, int]:
    return (int(k) >> 16 & 255, int(k) >> 8 & 255, int(k) & 255)


def histogram(raw: RawMask) -> Counter:
    "Pixel count of each stored value (colours as 24-bit keys)."
    if raw.kind != "color" and raw.values.dtype in (np.uint8, np.uint16):
        counts = np.bincount(raw.values.ravel())  # far faster than np.unique on big masks
        vals = np.flatnonzero(counts)
        return Counter(dict(zip(vals.tolist(), counts[vals].tolist())))
    v = color_key(raw.values) if raw.kind == "color" else raw.values
    vals, counts = np.unique(v, return_counts=True)
    return Counter(dict(zip(vals.tolist(), counts.tolist())))


@dataclass(frozen=True)
class Encoding:
    """How stored values map to classes. `kind`: 'index' (value i is class i), 'values' (the i-th of
    `table` is class i, e.g. 0/255), 'color' (`table` holds 24-bit colour keys) or 'objects' (one id per
    object, 0 the background: every id is class 1, the objects' class; seg/objects/ids.py)."""

    kind: str
    table: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.table)

    def index_of(self, value: int, lossy: bool = False) -> int:
        "The class of one stored value, or INVALID."
        if self.kind == "objects":
            return int(value != 0)
        if value in self.table:
            return self.table.index(value)
        if lossy:  # JPEG near-values snap to the nearest class
            return self._nearest(np.array([value]))[0]
        return INVALID

    def _nearest(self, v: np.ndarray) -> np.ndarray:
        t = np.array(self.table)
        if self.kind == "color":
            a = np.stack([(v >> s) & 255 for s in (16, 8, 0)], -1).astype(np.int32)
            b = np.stack([(t >> s) & 255 for s in (16, 8, 0)], -1).astype(np.int32)
            d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        else:
            d = np.abs(v.astype(np.int64)[:, None] - t[None, :])
        return d.argmin(1).astype(np.uint8)

    def decode(self, raw: RawMask, lossy: bool = False) -> np.ndarray:
        "uint8 class indices (H, W); INVALID where a value fits no class."
        if self.kind == "objects":
            return (raw.values != 0).astype(np.uint8)
        if raw.kind != "color" and self.kind != "color" and raw.values.dtype in (np.uint8, np.uint16):
            return _lut(self, raw.values.dtype.itemsize, lossy)[raw.values]  # the fast path: a table look-up
        if raw.kind == "color":
            v = color_key(raw.values)  # infer_encoding makes any dataset with a colour mask a colour one
        elif self.kind == "color":
            v = color_key(np.repeat(raw.values[..., None], 3, 2))
        else:
            v = raw.values
        vals, inv = np.unique(v, return_inverse=True)
        lut = np.array([self.index_of(int(x), lossy) for x in vals], dtype=np.uint8)
        return lut[inv].reshape(v.shape)

    def describe(self, codes: Codes) -> str:
        if self.kind == "objects":
            return f"mask values are ids, one per {codes.names[1]} (0 = {codes.names[0]})"
        if self.kind == "index":
            return "mask values are class indices"
        if self.kind == "color":
            pairs = [f"{key_color(k)} = {name}" for k, name in zip(self.table, codes.names)]
            return "mask colours: " + ", ".join(pairs)
        return "mask values " + ", ".join(f"{v} = {name}" for v, name in zip(self.table, codes.names))

    def to_json(self) -> dict:
        return {"kind": self.kind, "table": list(self.table)}


@functools.cache
def _lut(enc: Encoding, itemsize: int, lossy: bool) -> np.ndarray:
    "The class of every 8- or 16-bit value, computed once per encoding."
    values = np.arange(256 if itemsize == 1 else 65536)
    if lossy:  # every value snaps to its nearest class
        return enc._nearest(values)
    lut = np.full(len(values), INVALID, np.uint8)
    for i, v in enumerate(enc.table):
        if v < len(values):
            lut[v] = i
    return lut


@dataclass
class Decision:
    "The outcome of `infer_encoding`: an encoding and codes, or the reason there is none."

    encoding: Encoding | None
    codes: Codes | None
    problem: str = ""
    fix: str = ""
    notes: list[str] = field(default_factory=list)


def lossy_peaks(hist: Counter, colour: bool) -> list[int]:
    "Values (or colours) of JPEG masks that are classes, not compression noise."
    if colour:
        return _colour_peaks(hist)
    total = sum(hist.values()) or 1
    big = {v: c for v, c in hist.items() if c >= SNAP_PEAK * total}
    # Of values close together, only the most frequent is a class (JPEG smears 255 into 250..255).
    return sorted(v for v, c in big.items() if all(c >= big[u] for u in big if _near(u, v, False)))


def _colour_peaks(hist: Counter) -> list[int]:
    """JPEG spreads a colour over hundreds of near colours (chroma subsampling), none of them
    frequent: count in 32-level bins, keep bins that outnumber their neighbours, and take each
    one's most frequent colour."""
    bins: dict[tuple, Counter] = {}
    for k, c in hist.items():
        bins.setdefault(tuple(x // 32 for x in key_color(k)), Counter())[k] = c
    size = {b: sum(c.values()) for b, c in bins.items()}
    total = sum(size.values()) or 1

    def neighbours(b):
        return (n for n in size if n != b and max(abs(x - y) for x, y in zip(n, b)) <= 1)

    peaks = [b for b, s in size.items() if s >= SNAP_PEAK * total and all(s >= size[n] for n in neighbours(b))]
    return sorted(bins[b].most_common(1)[0][0] for b in peaks)


def infer_encoding(exact: dict[str, Counter], lossy: dict[str, Counter], codes: Codes | None) -> Decision:
    """Decide the dataset's encoding from value histograms by mask kind ('palette', 'gray',
    'color') of its lossless (`exact`) and JPEG (`lossy`) masks; `codes` the user's classes if any."""
    kinds = {k for k, c in (*exact.items(), *lossy.items()) if c}
    colour = "color" in kinds
    exact, lossy = _merge(exact, colour), _merge(lossy, colour)
    values = set(exact)
    for p in lossy_peaks(lossy, colour):
        if not any(_near(v, p, colour) for v in values):
            values.add(p)
    values = sorted(values)
    if colour:
        return _decide_colour(values, codes)
    return _decide_gray(values, kinds, codes)


def _merge(by_kind: dict[str, Counter], colour: bool) -> Counter:
    "One histogram; in a colour dataset a gray value v is the colour (v, v, v)."
    out = Counter()
    for kind, hist in by_kind.items():
        if colour and kind != "color":
            hist = Counter({(v << 16 | v << 8 | v): c for v, c in hist.items() if v < 256})
        out.update(hist)
    return out


def _near(a: int, b: int, colour: bool) -> bool:
    "Close enough that JPEG may have made one of the other."
    if not colour:
        return abs(a - b) <= SNAP_GRAY
    return float(np.linalg.norm(np.subtract(key_color(a), key_color(b)))) <= SNAP_COLOR


def _decide_gray(values: list[int], kinds: set[str], codes: Codes | None) -> Decision:
    if not values:
        return Decision(None, None, "No mask could be read.", "Fix the mask files listed above.")
    top = max(values)
    if codes is not None:
        n = len(codes)
        if top < n:
            return Decision(Encoding("index", tuple(range(n))), codes)
        if len(values) == n and kinds != {"palette"}:
            enc = Encoding("values", tuple(values))
            return Decision(enc, codes, notes=[enc.describe(codes)])
        if top < MAX_CLASSES or kinds == {"palette"}:
            extra = [v for v in values if v >= n]
            return Decision(Encoding("index", tuple(range(n))), codes,
                            f"mask values {_list(extra)} are not classes: {codes.source} names {n} "
                            f"classes (0 to {n - 1}).",
                            f"Add the missing classes to codes.txt, or repaint those pixels with 0 to {n - 1}.")
        return Decision(None, codes,
                        f"masks hold {len(values)} distinct values ({_list(values)}) but {codes.source} "
                        f"names {n} classes.",
                        f"Save masks with class indices 0 to {n - 1}, or with exactly {n} distinct values.")
    if top < MAX_CLASSES or kinds == {"palette"}:
        if kinds == {"palette"} and top >= MAX_CLASSES:
            return Decision(None, None,
                            f"palette masks use index {top}, past the {MAX_CLASSES} classes segboard handles.",
                            "Repaint those pixels with a class index (255 is often 'void' in Pascal VOC masks).")
        n = max(top + 1, 2)
        return Decision(Encoding("index", tuple(range(n))), Codes.inferred(n))
    if len(values) > MAX_CLASSES:
        return Decision(None, None,
                        f"masks hold {len(values)} distinct values ({_list(values)}): more than the "
                        f"{MAX_CLASSES} classes segboard handles. Are these instance labels, or images "
                        "rather than masks?",
                        "Save one class index per pixel (0 = background, 1, 2 ...), as PNG.")
    if len(values) == 1:
        values = sorted({0, values[0]})
    codes = Codes.inferred(len(values))
    enc = Encoding("values", tuple(values))
    return Decision(enc, codes, notes=[enc.describe(codes)])


def _decide_colour(values: list[int], codes: Codes | None) -> Decision:
    colours = ", ".join(str(key_color(v)) for v in values[:8]) + (" ..." if len(values) > 8 else "")
    if codes is not None and codes.colors:
        table = tuple(int(color_key(np.array(c))) for c in codes.colors)
        extra = [v for v in values if v not in table]
        problem = ""
        if extra:
            problem = (f"mask colours {', '.join(str(key_color(v)) for v in extra[:8])} are not in the "
                       f"colour table of {codes.source}.")
        return Decision(Encoding("color", table), codes, problem,
                        "Add those colours to codes.txt (`name R G B`) or repaint those pixels." if extra else "")
    if len(values) > MAX_CLASSES:
        return Decision(None, codes, f"colour masks hold {len(values)} colours ({colours}): too many to "
                        "take each for a class.",
                        "Give the colour table in codes.txt, one `name R G B` line per class.")
    if codes is not None and len(codes) != len(values):
        return Decision(None, codes, f"colour masks hold {len(values)} colours ({colours}) but "
                        f"{codes.source} names {len(codes)} classes.",
                        "Give each class its colour in codes.txt: `name R G B`.")
    codes = codes or Codes.inferred(len(values))
    codes = Codes(codes.names, tuple(key_color(v) for v in values), codes.source)
    enc = Encoding("color", tuple(values))
    return Decision(enc, codes, notes=[f"colour table inferred from the masks: {enc.describe(codes)}. "
                                       "Check it, or give it in codes.txt."])


def _list(values, k: int = 8) -> str:
    s = ", ".join(str(v) for v in values[:k])
    return s + (f" ... ({len(values)} in all)" if len(values) > k else "")
