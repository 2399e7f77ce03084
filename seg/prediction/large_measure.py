"""Objects in a large image's mask (a tiled TIFF, seg/prediction/large.py), measured a strip of rows at a time: memory
is bounded by a strip across the image, never by the image, and the table is the one `measure.objects` gives for
the whole mask in memory (the same objects, numbers and columns; measured: equal to 1e-9).

Each strip's objects are labelled (8-connected, per class) and summed: pixel count; sums of y, x, y², x², xy (the
centroid and the ellipse of the same second moments, as `regionprops`); bounding box; perimeter; the image's values
per channel. An object cut by a strip's edge is joined to its other parts where their pixels touch across the seam
(8-connected), and the parts' sums are added. The perimeter is scikit-image's (`regionprops().perimeter`): border
pixels (a 4-neighbour outside the object, or the image's edge) weighted by the border pixels around them, which needs
two rows beyond each strip; two objects of one class never touch, so the class's border is each object's."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.measure import label

from seg.prediction.measure import _columns

STRIP_BYTES = 16 * 2**20  # float64 values of a strip across the image: its rows are as many as fit in this
_KERNEL = np.array([[10, 2, 10], [2, 1, 2], [10, 2, 10]])
_WEIGHTS = np.zeros(50)
_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1
_WEIGHTS[[21, 33]] = math.sqrt(2)
_WEIGHTS[[13, 23]] = (1 + math.sqrt(2)) / 2
_SUMS = ("n", "y", "x", "yy", "xx", "xy", "perimeter")


def objects_large(mask: Path, codes: list[str], image: str = "", source: Path | None = None,
                  skip: tuple[int, ...] = (0,), rows: int | None = None) -> pd.DataFrame:
    """One row per object of every class but `skip` in the tiled mask at `mask` (class indices), as
    `measure.objects`; `source`: the large image, for each object's values per channel as stored. `rows`: the
    strip's height (default: STRIP_BYTES across the image)."""
    from seg.data.channels import named_channels
    from seg.data.images import max_pixels
    from seg.data.large import Large
    from seg.data.stacks import Slice
    m = Large.open(mask)
    H, W = m.height, m.width
    rows = rows or max(8, min(STRIP_BYTES // (8 * W), max_pixels() // W))  # the image's strip: an image itself
    names: list[str] = []
    per_class = {k: _Parts() for k in range(len(codes)) if k not in skip}
    for y0 in range(0, H, rows):
        y1 = min(H, y0 + rows)
        a, b = max(0, y0 - 2), min(H, y1 + 2)  # two rows of context: the border and the weights of its pixels
        band = m.region(a, 0, b - a, W)
        values = None
        if source is not None:
            values, names = named_channels(Slice(source, box=(y0, 0, y1 - y0, W)))
        for k, parts in per_class.items():
            parts.add(band == k, y0 - a, y1 - y0, y0, values)
    columns = _columns(("", names) if names else None)
    tables = [pd.DataFrame(parts.rows(codes[k], image, H, W, names), columns=columns)
              for k, parts in per_class.items()]
    tables = [t for t in tables if not t.empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)


class _Parts:
    "The labelled parts of one class's objects, strip after strip, and the pairs that touch across the seams."

    def __init__(self):
        self.sums: list[np.ndarray] = []  # per strip: (parts, len(_SUMS)) sums
        self.values: list[np.ndarray] = []  # per strip: (parts, channels) sums of the image's values
        self.boxes: list[np.ndarray] = []  # per strip: (parts, 4) y0, x0, y1, x1
        self.pairs: list[np.ndarray] = []
        self.count = 0
        self.last: np.ndarray | None = None  # the previous strip's last row of part ids (global, 0: none)

    def add(self, band: np.ndarray, top: int, h: int, y0: int, values: np.ndarray | None) -> None:
        "The strip `band[top:top + h]` (image rows from y0) of the class's pixels; band: the strip and its context."
        eroded = ndimage.binary_erosion(band, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]), border_value=0)
        border = (band & ~eroded).astype(np.uint8)  # codes of the kernel reach 49: uint8 holds them
        codes = ndimage.convolve(border, _KERNEL.astype(np.uint8), mode="constant", cval=0)
        inside = band[top:top + h]
        local, n = label(inside, connectivity=2, return_num=True)
        if self.last is not None:  # only the strip's first and last rows meet other strips: their ids, global
            self._seam(self.last, np.where(local[0] > 0, local[0] + self.count, 0))
        self.last = np.where(local[-1] > 0, local[-1] + self.count, 0)
        if n:
            at = np.flatnonzero(local)  # the class's pixels only: a strip is mostly something else
            part = local.ravel()[at]
            yy, xx = np.divmod(at, inside.shape[1])
            yy, xx = (yy + y0).astype(np.float64), xx.astype(np.float64)
            sums = [np.bincount(part, minlength=n + 1)[1:].astype(np.float64)]
            for v in (yy, xx, yy * yy, xx * xx, yy * xx, _WEIGHTS[codes[top:top + h].ravel()[at]]):
                sums.append(np.bincount(part, weights=v, minlength=n + 1)[1:])
            self.sums.append(np.stack(sums, 1))
            boxes = ndimage.find_objects(local)
            self.boxes.append(np.array([[s[0].start + y0, s[1].start, s[0].stop + y0, s[1].stop] for s in boxes]))
            if values is not None:
                flat = values.reshape(-1, values.shape[-1])
                self.values.append(np.stack([np.bincount(part, weights=flat[at, c].astype(np.float64),
                                                         minlength=n + 1)[1:] for c in range(flat.shape[1])], 1))
        self.count += n

    def _seam(self, above: np.ndarray, below: np.ndarray) -> None:
        """The parts of two adjacent rows that touch (8-connected): one object. Each pair once (a pair a pixel of
        an object across the whole image would be millions)."""
        found = []
        for shift in (-1, 0, 1):
            a = above[max(0, shift):len(above) + min(0, shift)]
            b = below[max(0, -shift):len(below) + min(0, -shift)]
            both = (a > 0) & (b > 0)
            found.append(np.stack([a[both], b[both]], 1))
        pairs = np.unique(np.concatenate(found), axis=0)
        if len(pairs):
            self.pairs.append(pairs)

    def rows(self, name: str, image: str, H: int, W: int, names: list[str]) -> list[dict]:
        "One row per object, numbered as `label` numbers the whole mask (by its first pixel, row after row)."
        if not self.count:
            return []
        n = self.count
        pairs = np.concatenate(self.pairs) - 1 if self.pairs else np.zeros((0, 2), np.int64)
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        k, component = connected_components(graph, directed=False)
        first = np.full(k, n, np.int64)
        np.minimum.at(first, component, np.arange(n))  # a part's id is in the order of its first pixel: the least
        order = np.argsort(first)                     # of an object's parts' ids is the object's first pixel
        number = np.empty(k, np.int64)
        number[order] = np.arange(1, k + 1)
        obj = number[component] - 1
        sums = np.zeros((k, len(_SUMS)))
        np.add.at(sums, obj, np.concatenate(self.sums))
        parts = np.concatenate(self.boxes)
        box = np.stack([np.full(k, H), np.full(k, W), np.zeros(k, np.int64), np.zeros(k, np.int64)], 1)
        np.minimum.at(box[:, 0], obj, parts[:, 0])
        np.minimum.at(box[:, 1], obj, parts[:, 1])
        np.maximum.at(box[:, 2], obj, parts[:, 2])
        np.maximum.at(box[:, 3], obj, parts[:, 3])
        values = None
        if self.values:
            values = np.zeros((k, self.values[0].shape[1]))
            np.add.at(values, obj, np.concatenate(self.values))
        out = []
        for i in range(k):
            area, sy, sx, syy, sxx, sxy, perimeter = sums[i]
            cy, cx = sy / area, sx / area
            vy, vx, cov = max(0.0, syy / area - cy * cy), max(0.0, sxx / area - cx * cx), sxy / area - cy * cx
            half, root = (vy + vx) / 2, math.hypot((vy - vx) / 2, cov)
            major, minor = 4 * math.sqrt(max(0.0, half + root)), 4 * math.sqrt(max(0.0, half - root))
            y0, x0, y1, x1 = (int(v) for v in box[i])
            out.append({
                "image": image, "class": name, "object": i + 1, "centroid_x": cx, "centroid_y": cy,
                "bbox_x": x0, "bbox_y": y0, "bbox_w": x1 - x0, "bbox_h": y1 - y0,
                "area_px": int(area), "area": float(area), "equivalent_diameter": math.sqrt(4 * area / math.pi),
                "perimeter": float(perimeter), "major_axis": major, "minor_axis": minor,
                "aspect_ratio": major / minor if minor > 0 else float("nan"),
                "circularity": 4 * math.pi * area / perimeter**2 if perimeter > 0 else float("nan"),
                "touches_border": bool(x0 == 0 or y0 == 0 or x1 == W or y1 == H), "unit": "px"})
            if values is not None:
                for c, channel in enumerate(names):
                    out[-1][f"mean_{channel}"] = float(values[i, c] / area)
                    out[-1][f"integrated_{channel}"] = float(values[i, c])
        return out
