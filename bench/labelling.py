"""Assisted labelling on real data: a few scripted strokes per class, drawn from the truth as a person would
scribble (short lines inside a class, away from its edges), and the fill of `seg.labels.assist.Assistant`
(a random forest on multi-scale features, learning across images) scored against the truth on images it
never saw a stroke on.

    python bench/labelling.py ../shared/datasets/membrane [--strokes 1 2 4 8 16] [--images 1 3]

For each number of strokes per class and of images stroked: strokes on the first images of the set, the
fill of the held-out last HELD images, Dice of each foreground class (mean over held-out images), and the
seconds a fill takes (features, forest, back to the image's size). Writes docs/benchmarks.md's table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402

from seg import Dataset  # noqa: E402
from seg.data.images import load_image  # noqa: E402
from seg.labels.assist import UNMARKED, Assistant  # noqa: E402
from seg.server.sharing import Access  # noqa: E402

HELD = 10
LENGTH, WIDTH = 15, 3  # a stroke: 15 px long, 3 px wide (a small brush on a 512 px image)


def scribbles(truth: np.ndarray, per_class: int, rng) -> np.ndarray:
    "`per_class` short strokes in each class, each inside its class two pixels from its edge (clipped to it)."
    from scipy.ndimage import binary_erosion
    out = np.full(truth.shape, UNMARKED, np.uint8)
    for c in np.unique(truth):
        inside = binary_erosion(truth == c, iterations=2)
        ys, xs = np.nonzero(inside if inside.any() else truth == c)
        for i in rng.choice(len(ys), min(per_class, len(ys)), replace=False):
            angle = rng.uniform(0, np.pi)
            for t in np.linspace(-LENGTH / 2, LENGTH / 2, 2 * LENGTH):
                y, x = int(round(ys[i] + t * np.sin(angle))), int(round(xs[i] + t * np.cos(angle)))
                r = WIDTH // 2
                sl = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
                out[sl][truth[sl] == c] = c
    return out


def dice(truth: np.ndarray, pred: np.ndarray, c: int) -> float:
    a, b = truth == c, pred == c
    return 2 * float((a & b).sum()) / max(1, int(a.sum() + b.sum()))


def run(data: Path, strokes: list[int], images: list[int], seed: int = 0) -> list[dict]:
    ds = Dataset.open(data, access=Access.machine())
    pairs = sorted(ds.pairs, key=lambda p: p.image.name)
    held, pool = pairs[-HELD:], pairs[:-HELD]
    loaded = {p.image: (load_image(p.image), ds.mask(p)) for p in pool[: max(images)] + held}
    classes = list(range(1, len(ds.codes)))
    rows = []
    for n_images in images:
        for per_class in strokes:
            rng = np.random.default_rng(seed)
            a = Assistant(seed=seed)
            marked = 0
            for p in pool[:n_images]:
                image, truth = loaded[p.image]
                s = scribbles(truth, per_class, rng)
                marked += int((s != UNMARKED).sum())
                a.learn(p.image.name, image, s)
            scores, took = {c: [] for c in classes}, []
            for p in held:
                image, truth = loaded[p.image]
                t = time.perf_counter()
                filled = a.fill(image)
                took.append(time.perf_counter() - t)
                for c in classes:
                    scores[c].append(dice(truth, filled, c))
            rows.append({"images": n_images, "strokes": per_class, "pixels": marked,
                         "share": marked / sum(loaded[p.image][1].size for p in pool[:n_images]),
                         "dice": {ds.codes.names[c]: float(np.mean(v)) for c, v in scores.items()},
                         "fill_s": float(np.median(took))})
            print(rows[-1], flush=True)
    return rows


def table(name: str, rows: list[dict], size: tuple[int, int]) -> str:
    classes = list(rows[0]["dice"])
    head = (f"**{name}**, {time.strftime('%Y-%m-%d')}: strokes {LENGTH} px long and {WIDTH} px wide inside each "
            f"class, on the first images; the fill scored on the last {HELD} ({size[1]} x {size[0]} px), "
            "which had no stroke:\n\n"
            f"| images stroked | strokes per class | pixels marked | {' | '.join(f'Dice {c}' for c in classes)} "
            "| seconds per fill |\n|---|---|---|" + "---|" * len(classes) + "---|\n")
    return head + "".join(
        f"| {r['images']} | {r['strokes']} | {r['pixels']} ({r['share']:.2%}) | "
        + " | ".join(f"{r['dice'][c]:.3f}" for c in classes) + f" | {r['fill_s']:.1f} |\n" for r in rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--strokes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--images", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    rows = run(data, args.strokes, args.images)
    size = load_image(next(p.image for p in Dataset.open(data, access=Access.machine()).pairs)).shape[:2]
    if not args.no_readme:
        results.write("labelling", table(data.name, rows, size))


if __name__ == "__main__":
    main()
