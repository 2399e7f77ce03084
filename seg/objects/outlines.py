"""Objects as polygons: the outline of each object of an id map along its pixels' edges, exact.

A polygon's vertices are pixel corners: (x, y) with the image's top-left corner at (0, 0), y down, as ImageJ and
QuPath count. Its area is the object's pixel count, so what Fiji or QuPath measure of it is what
measurements.csv says. An object is 4-connected parts (pixels that touch only at a corner are two parts, as
two polygons of one MultiPolygon); a part's holes are its rings inside. A ring that would touch itself at a
corner is split there into a shell and a hole that touch at a point: every polygon is valid (OGC: checked
with shapely in the tests).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Walking a region's boundary clockwise on the screen (y down) keeps it on the right-hand side; each pixel's
# four edges in that order, as (start corner, end corner) offsets from its top-left corner (x, y).
_EDGES = {
    "top": ((0, 0), (1, 0)),
    "right": ((1, 0), (1, 1)),
    "bottom": ((1, 1), (0, 1)),
    "left": ((0, 1), (0, 0)),
}
Ring = list[tuple[int, int]]


def rings(mask: np.ndarray, origin: tuple[int, int] = (0, 0)) -> list[Ring]:
    """Closed rings (first vertex not repeated) of the boundary of `mask` (bool, 2-D), in image corner coordinates
    offset by `origin` (x, y). Shells go clockwise on the screen (positive `area`), holes the other way."""
    m = np.pad(mask.astype(bool), 1)
    nxt: dict[tuple[int, int], list[tuple[int, int]]] = {}
    outside = {"top": ~m[:-2, 1:-1], "bottom": ~m[2:, 1:-1], "left": ~m[1:-1, :-2], "right": ~m[1:-1, 2:]}
    inside = m[1:-1, 1:-1]
    for side, (a, b) in _EDGES.items():
        ys, xs = np.nonzero(inside & outside[side])
        for y, x in zip(ys.tolist(), xs.tolist()):
            nxt.setdefault((x + a[0], y + a[1]), []).append((x + b[0], y + b[1]))
    out = []
    while nxt:
        start = next(iter(nxt))
        ring, here, heading = [start], start, None
        while True:
            options = nxt[here]
            if len(options) == 1 or heading is None:
                to = options[0]
            else:  # two parts meet at this corner: turn right (towards the region), keeping parts 4-connected
                right = (-heading[1], heading[0])
                to = next((o for o in options if (o[0] - here[0], o[1] - here[1]) == right), options[0])
            options.remove(to)
            if not options:
                del nxt[here]
            heading = (to[0] - here[0], to[1] - here[1])
            if to == start:  # closed (at a corner where two parts meet, the other loop is a ring of its own)
                break
            ring.append(to)
            here = to
        out += _simple(ring)
    ox, oy = origin
    return [[(x + ox, y + oy) for x, y in _straight(r)] for r in out]


def _simple(ring: Ring) -> list[Ring]:
    "A ring that visits a corner twice, split there into rings that visit each corner once."
    seen: dict[tuple[int, int], int] = {}
    stack: Ring = []
    out = []
    for p in ring:
        if p in seen:
            i = seen[p]
            loop = stack[i:]
            out.append(loop)
            for q in loop[1:]:
                seen.pop(q, None)
            del stack[i + 1:]
            continue
        seen[p] = len(stack)
        stack.append(p)
    return out + [stack] if len(stack) >= 3 else out


def _straight(ring: Ring) -> Ring:
    "The ring without the corners where it goes straight on."
    n = len(ring)
    keep = []
    for i, p in enumerate(ring):
        a, b = ring[i - 1], ring[(i + 1) % n]
        if (p[0] - a[0]) * (b[1] - p[1]) != (p[1] - a[1]) * (b[0] - p[0]):
            keep.append(p)
    return keep


def area(ring: Ring) -> float:
    "Signed area (shoelace): positive for a shell (clockwise on the screen), negative for a hole."
    x = np.array([p[0] for p in ring], float)
    y = np.array([p[1] for p in ring], float)
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygons(ids: np.ndarray) -> dict[int, list[list[Ring]]]:
    """Each object of an id map (0 background) as its polygons, largest first: [shell, hole, hole ...]."""
    out: dict[int, list[list[Ring]]] = {}
    for i, box in enumerate(ndimage.find_objects(ids.astype(np.int64, copy=False)), start=1):
        if box is None:
            continue
        mine = ids[box] == i
        parts, n = ndimage.label(mine)  # 4-connected
        found = []
        for k, part in enumerate(ndimage.find_objects(parts), start=1):
            sub = parts[part] == k
            origin = (box[1].start + part[1].start, box[0].start + part[0].start)
            rs = rings(sub, origin)
            shells = sorted((r for r in rs if area(r) > 0), key=area, reverse=True)
            found.append([shells[0], *(r for r in rs if area(r) < 0)])  # a part has one shell ...
            found += [[r] for r in shells[1:]]  # ... unless a split left two (kept, never lost)
        out[i] = sorted(found, key=lambda p: -area(p[0]))
    return out
