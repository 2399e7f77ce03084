"""How fast the Data page gets a large dataset on screen.

Builds a dataset of N pairs (the demo's 64 pairs, copied under new names), then times, alternating
and repeated: a plain loop that decodes every image and mask with Pillow (the floor any check must
pay), `Dataset.open` (discovery, every file decoded and checked, mask encoding, statistics), and one
gallery page of 12 thumbnails. Prints the figures and writes them to docs/benchmarks.md.

    python bench/inspect_speed.py [--pairs 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402  (bench/results.py: where the tables go)

from seg import Dataset  # noqa: E402
from seg.data.demo import write_demo  # noqa: E402
from seg.data.overlay import Overlay, fit  # noqa: E402
from seg.server.sharing import Access  # noqa: E402


def build(root: Path, pairs: int) -> Path:
    demo = write_demo(root / "demo")
    data = root / "big"
    for sub in ("images", "masks"):
        (data / sub).mkdir(parents=True)
    files = sorted((demo / "images").iterdir())
    for i in range(pairs):
        src = files[i % len(files)].name
        shutil.copy(demo / "images" / src, data / "images" / f"{i:05d}.png")
        shutil.copy(demo / "masks" / src, data / "masks" / f"{i:05d}.png")
    shutil.copy(demo / "codes.txt", data)
    return data


def plain(data: Path) -> float:
    t = time.perf_counter()
    for f in sorted((data / "images").iterdir()) + sorted((data / "masks").iterdir()):
        np.asarray(Image.open(f))
    return time.perf_counter() - t


def seg_open(data: Path) -> float:
    t = time.perf_counter()
    ds = Dataset.open(data, access=Access.machine())
    ds.summary()
    assert ds.ok
    return time.perf_counter() - t


def gallery_page(data: Path, ds: Dataset) -> float:
    t = time.perf_counter()
    ov = Overlay(ds.codes, 0.45)
    for pair in ds.pairs[:12]:
        ov(*fit(*ds.read(pair), 192))
    return time.perf_counter() - t


def write_table(rows: list[tuple[str, str]]) -> None:
    table = "| measure | result |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows) + "\n"
    results.write("inspect_speed", table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-readme", action="store_true", help="print only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp), args.pairs)
        plains, opens = [], []
        for _ in range(args.repeat):  # alternate: this machine is noisy
            plains.append(plain(data))
            opens.append(seg_open(data))
        ds = Dataset.open(data, access=Access.machine())
        page = gallery_page(data, ds)
    p, o = statistics.median(plains), statistics.median(opens)
    rows = [
        ("dataset", f"{args.pairs} pairs of 256 x 256 PNG (demo images, copied)"),
        (f"plain Pillow decode of every file (median of {args.repeat})", f"{p:.2f} s"),
        ("`Dataset.open` + summary: every file checked (median)", f"{o:.2f} s"),
        ("ratio seg / plain decode", f"{o / p:.2f}"),
        ("one gallery page, 12 thumbnails, uncached", f"{page * 1000:.0f} ms"),
    ]
    for a, b in rows:
        print(f"{a:60s} {b}")
    if not args.no_readme:
        write_table(rows)


if __name__ == "__main__":
    main()
