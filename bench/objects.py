"""Objects, not only pixels: touching objects counted by connected regions of a semantic run's mask (what
segboard did before runs on objects) against a run on objects (interior and boundary learned, split by
the watershed tuned at the run's end), the same images, split and time budget, from scratch, through
`python -m seg train --budget M` and `python -m seg predict --valid`.

    semantic:  the masks made two-class (every id -> 1), `--no-objects`; objects = connected regions
               (8-connected) of the predicted foreground in each validation image
    objects:   the instance masks, `--objects`; objects = instances/ of the prediction

Scored per validation image against the true ids (seg/objects/matching.py): AP at IoU 0.5, mean AP over
0.5:0.95 (2018 Data Science Bowl), median count error |found - true| / true.

    python bench/objects.py DATA_DIR [DATA_DIR ...] --minutes 10
    python bench/objects.py ../shared/datasets/membrane --membrane-cells --minutes 10 [--keep DIR]

DATA_DIR holds images/ and masks/ with one id per object (e.g. `python -m seg demo DIR --objects`).
`--membrane-cells` derives them from ../shared/datasets/membrane: each cell region between membranes
(4-connected regions of class 0) is one object, written to a temporary folder, never into the project.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402

from seg.objects.matching import image_scores, summary  # noqa: E402


def seg(*args) -> str:
    p = subprocess.run([sys.executable, "-m", "seg", *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"seg {' '.join(map(str, args))} failed:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def membrane_cells(src: Path, out: Path) -> Path:
    "Instance masks from membrane's class masks: every 4-connected region of cell (class 0) is one object."
    from skimage.measure import label
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    for image in sorted((src / "images").glob("*.png")):
        (out / "images" / image.name).symlink_to(image.resolve())
        mask = np.asarray(Image.open(src / "masks" / image.name))
        Image.fromarray(label(mask == 0, connectivity=1).astype(np.uint16)).save(out / "masks" / image.name)
    return out


def two_class(src: Path, out: Path) -> Path:
    "The same images, with masks 0 / 1 (every object id -> 1): what a semantic run trains on."
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    for image in sorted((src / "images").iterdir()):
        (out / "images" / image.name).symlink_to(image.resolve())
    for mask in sorted((src / "masks").iterdir()):
        Image.fromarray((np.asarray(Image.open(mask)) > 0).astype(np.uint8)).save(out / "masks" / f"{mask.stem}.png")
    return out


def true_ids(data: Path, names: list[str]) -> dict[str, np.ndarray]:
    return {n: np.asarray(Image.open(next((data / "masks").glob(f"{n}.*")))).astype(np.int32) for n in names}


def score(pred: Path, truth: dict[str, np.ndarray], objects: bool) -> dict:
    from skimage.measure import label
    rows = []
    for r in json.loads((pred / "prediction.json").read_text())["images"]:
        if objects:
            found = np.asarray(Image.open(pred / r["instances"])).astype(np.int32)
        else:
            found = label(np.asarray(Image.open(pred / r["mask"])) > 0, connectivity=2)
        rows.append(image_scores(truth[r["name"]], found))
    return summary(rows)


def run(data: Path, minutes: float, tmp: Path) -> list[tuple[str, dict]]:
    rows = []
    binary = two_class(data, tmp / "binary")
    for name, folder, option in (("semantic, connected regions", binary, "--no-objects"),
                                 ("objects, split", data, "--objects")):
        run_dir, out = tmp / f"run-{option}", tmp / f"pred-{option}"
        t = time.perf_counter()
        seg("train", folder, "--run-dir", run_dir, "--budget", minutes, "--no-pretrained", option)
        seconds = time.perf_counter() - t
        seg("predict", run_dir, "--valid", "--out", out)
        meta = json.loads((out / "prediction.json").read_text())
        truth = true_ids(data, [r["name"] for r in meta["images"]])
        s = score(out, truth, option == "--objects")
        cfg = json.loads((run_dir / "config.json").read_text())
        dice = json.loads((out / "metrics.json").read_text())["mean_dice"]
        rows.append((name, {**s, "seconds": seconds, "dice": dice, "size": cfg["data"]["size"],
                            "split": (json.loads((run_dir / "objects.json").read_text())["split"]
                                      if option == "--objects" else None)}))
        print(f"{data.name} {minutes:g} min {name}: {json.dumps(rows[-1][1])}", flush=True)
    return rows


def table(name: str, minutes: float, rows: list[tuple[str, dict]]) -> str:
    def f(x, pct=False):
        return "-" if x is None else (f"{x:.0%}" if pct else f"{x:.3f}")
    head = (f"**{name}**, {minutes:g} min each, {time.strftime('%Y-%m-%d')}, from scratch, seed 42, "
            f"{rows[0][1]['images']} validation images, {rows[0][1]['true']} true objects:\n\n"
            "| recipe | training size | wall time | Dice (objects' pixels) | found | AP at IoU 0.5 | mean AP 0.5:0.95 "
            "| median count error |\n|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {n} | {r['size']} | {r['seconds']:.0f} s | {f(r['dice'])} | {r['found']} | **{f(r['ap50'])}** | "
        f"{f(r['ap'])} | {f(r['count_error_median'], True)} |\n" for n, r in rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--membrane-cells", action="store_true", help="derive instance masks from membrane's classes")
    ap.add_argument("--keep", type=Path, help="keep the run and prediction folders here (DATASET-MINUTES/)")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    blocks = {}
    for data in map(Path, args.data):
        name = f"{data.name}-cells" if args.membrane_cells else data.name
        key = f"{name}-{args.minutes:g}min"
        with tempfile.TemporaryDirectory() as tmp:
            tmp = args.keep / key if args.keep else Path(tmp)
            folder = membrane_cells(data, tmp / "cells") if args.membrane_cells else data
            blocks[key] = f"<!-- objects:{key} -->\n{table(name, args.minutes, run(folder, args.minutes, tmp))}" \
                          f"<!-- /objects:{key} -->\n"
        if not args.no_readme:  # after each dataset: a long benchmark cut short keeps what it measured
            write(blocks)


def write(blocks: dict[str, str]) -> None:
    "Replace those blocks of the objects table (one per dataset and budget); keep the others."
    old = {name: b for b, name in re.findall(r"(<!-- objects:(\S+) -->.*?<!-- /objects:\2 -->\n)",
                                              results.block("objects"), flags=re.S)}
    old.update(blocks)
    results.write("objects", "\n".join(old[k] for k in sorted(old)))

if __name__ == "__main__":
    main()
