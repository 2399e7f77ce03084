"""Images past Pillow's limit predicted by tiles (seg/prediction/large.py): seconds per 100 million pixels and what
predicting adds to the process's peak memory, against what the image would take whole.

    python bench/large.py [--run RUN_DIR] [--side 20000]

Without --run, a one-epoch run (256 px, resnet34, from scratch) is trained on a small generated dataset first: the
weights do not change the speed. Each row is one prediction in a process of its own (`python -m seg predict`'s
code), after the same path has run on a part of three tiles a side (torch's own memory, full batches); its peak
memory is the kernel's, before and after. The scale is the model's (training size / the training images' size):
1 for a run trained on crops of large images; a run trained on images shrunk 8 times sees the image at 1/8, 64
times fewer tiles. Then the objects of the large image's predicted mask are measured a strip at a time
(seg/prediction/large_measure.py, with the image's values per object), in a process of its own. Writes its table into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import results  # noqa: E402  (bench/results.py: where the tables go)
from makers import tiled_discs  # noqa: E402

CHILD = """
import dataclasses, json, sys, time
from pathlib import Path
import tifffile
from seg.data.large import Large
from seg.prediction.inference import Predictor
from seg.prediction.large import predict_large
from seg.prediction.model import Model
from seg.prediction.output import predict
from seg.server.sharing import Access
from PIL import Image
run, image, out, scale = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
Image.MAX_IMAGE_PIXELS = int(sys.argv[5])  # the part of 2,048 pixels a side takes the large path too
model = dataclasses.replace(Model.load(run), scale=(scale, scale))
warm, big = out.parent / "warm.tif", Large.open(image)  # a part of three tiles a side: full batches
side = min(big.height, big.width, int(3 * model.size[0] / scale))
tifffile.imwrite(warm, big.region(0, 0, side, side), tile=(512, 512), compression="zlib")
predict_large(Predictor(model), warm, out.parent / "warm_mask.tif")
def peak():  # VmHWM, in KiB: this process's own peak
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
before = peak()
start = time.time()
meta = predict(run, image, out, model=model, access=Access.machine())
print(json.dumps({"before": before, "after": peak(),
                  "seconds": time.time() - start, "notes": meta["notes"], "device": meta["device"],
                  "precision": meta["precision"]}))
"""

MEASURE = """
import json, sys, time
from pathlib import Path
from seg.prediction.large_measure import objects_large
def peak():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
before = peak()
start = time.time()
table = objects_large(Path(sys.argv[1]), ["background", "cell"], "mosaic", Path(sys.argv[2]))
print(json.dumps({"before": before, "after": peak(), "seconds": time.time() - start, "objects": len(table)}))
"""


def train(tmp: Path) -> Path:
    from seg.data.demo import write_demo
    data = tmp / "demo"
    write_demo(data, n=8, size=512)
    run = tmp / "run"
    subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(run), "--epochs", "1",
                    "--size", "256", "--arch", "resnet34"], cwd=ROOT, check=True, capture_output=True)
    return run


def row(run: Path, image: Path, scale: float, tmp: Path, limit: int) -> dict:
    out = tmp / f"out-{image.stem}-{scale:g}"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", CHILD, str(run), str(image), str(out / "p"), str(scale), str(limit)],
                          cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path)
    ap.add_argument("--side", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-large-") as t:
        tmp = Path(t)
        run = args.run or train(tmp)
        big = tiled_discs(tmp / "in" / "mosaic.tif", args.side, args.side)
        part = tiled_discs(tmp / "part" / "part.tif", 2048, 2048, seed=1)
        rows = []
        for image, side, scale in [(big, args.side, 1 / 8), (part, 2048, 1.0)]:
            got = row(run, image, scale, tmp, min(89_478_485, side * side - 1))
            pixels = side * side
            tiles = re.search(r"predicted in ([\d,]+) tiles", " ".join(got["notes"])).group(1)
            rows.append(f"| {side:,} x {side:,} gray (whole: {pixels / 2**20:,.0f} MiB; {3 * pixels / 2**20:,.0f} MiB "
                        f"as the RGB the model takes) | 1/{round(1 / scale)} | {tiles} | {got['seconds']:.1f} | "
                        f"{got['seconds'] / pixels * 1e8:.0f} | "
                        f"{(got['after'] - got['before']) / 1024:.0f} | {got['after'] / 1024:,.0f} |")
            print(rows[-1], flush=True)
            if image == big:
                device, precision = got["device"], got["precision"]
                mask = tmp / f"out-{image.stem}-{scale:g}" / "p" / "masks" / f"{image.stem}.tif"
                done = subprocess.run([sys.executable, "-c", MEASURE, str(mask), str(image)], cwd=ROOT,
                                      capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                if done.returncode:
                    raise SystemExit(done.stderr[-3000:])
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                print(measured, flush=True)
    table = ("| image | scale | tiles | seconds | s / 100 M px | peak memory added (MiB) | process peak (MiB) |\n"
             "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
             f"Measured {time.strftime('%Y-%m-%d')} on {device} ({precision}), resnet34 at 256 px, tiles "
             "overlapping by a quarter, `python bench/large.py`.\n\n"
             f"Its objects measured (`seg predict --measure`, a strip of rows at a time, with the image's values): "
             f"{measured['objects']:,} objects in {measured['seconds']:.1f} s "
             f"({measured['seconds'] / (args.side * args.side) * 1e8:.1f} s / 100 M px), the process's peak memory "
             f"growing by {(measured['after'] - measured['before']) / 1024:.0f} MiB.\n")
    results.write("large", table)


if __name__ == "__main__":
    main()
