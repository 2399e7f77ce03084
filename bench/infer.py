"""Inference speed: the same model and images through segboard's `Predictor` against a loop of fastai's
`learn.predict` (the tutorial's way to use a model), and against a bare `model(x)` forward on tensors
already in memory. Also a 4096 x 4096 image predicted in tiles, with its time and peak memory.

    python bench/infer.py --data ../shared/datasets/membrane [--run RUN_DIR] [--n 24] [--rounds 3]

Without --run, a one-epoch run (256 px, resnet34, from scratch) is trained first. Figures are medians
over alternating rounds; the table in docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import results  # noqa: E402  (bench/results.py: where the tables go)
import torch  # noqa: E402

from seg import Dataset  # noqa: E402
from seg.prediction.inference import Model, Predictor, _to_batch, resize  # noqa: E402

TILED = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
from seg.prediction.inference import Model, Predictor
from seg.data.images import load_image

def rss_mb():  # resident memory now (ru_maxrss would keep the peak of loading)
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

model = Model.load({run!r})
p = Predictor(model)
image = load_image({image!r})
before, peak, done = rss_mb(), [0.0], threading.Event()

def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.02)

threading.Thread(target=watch, daemon=True).start()
t = time.perf_counter()
mask = p.predict(image)
seconds = time.perf_counter() - t
done.set()
print(json.dumps({{"seconds": seconds, "peak_mb": max(peak[0], rss_mb()), "before_mb": before,
                  "shape": mask.shape, "tiled": p.needs_tiles(*image.shape[:2])}}))
"""


def fastai_learner(data: Path, run: Path):
    from seg.data.dataloaders import dataloaders
    from seg.model.device import detect
    from seg.model.learner import learner
    from seg.model.settings import DataSettings, TrainSettings
    cfg = json.loads((run / "config.json").read_text())
    ds = Dataset.open(data)
    dls = dataloaders(ds, DataSettings(**{**cfg["data"], "size": tuple(cfg["data"]["size"]) if isinstance(
        cfg["data"]["size"], list) else cfg["data"]["size"], "augment": False}), device="cpu")
    learn = learner(dls, TrainSettings(arch=cfg["train"]["arch"], pretrained=False), detect())
    learn.model.load_state_dict(torch.load(run / "best.pth", weights_only=True))
    learn.model.eval()
    return learn, ds


def time_fastai(learn, pairs) -> tuple[float, list[np.ndarray]]:
    masks = []
    t = time.perf_counter()
    with learn.no_bar():
        for pair in pairs:
            mask, _, _ = learn.predict(pair)
            masks.append(np.asarray(mask))
    return time.perf_counter() - t, masks


def time_seg(predictor, pairs) -> float:
    t = time.perf_counter()
    for _ in predictor.predict_files([p.image for p in pairs]):
        pass
    return time.perf_counter() - t


def time_bare(model: Model, batches: list[torch.Tensor]) -> float:
    t = time.perf_counter()
    with torch.inference_mode():
        for x in batches:
            model.module(x)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", help="a run folder; default: train one epoch first")
    ap.add_argument("--n", type=int, default=24, help="images (24)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bs", type=int, default=8)
    args = ap.parse_args()
    data = Path(args.data).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="segboard-bench-infer-"))
    run = Path(args.run) if args.run else tmp / "run"
    if not args.run:
        print("training one epoch ...", flush=True)
        subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(run), "--epochs", "1",
                        "--no-pretrained", "--no-augment"], cwd=ROOT, check=True, capture_output=True)
    from seg.model.device import detect
    from seg.model.learner import set_threads
    set_threads(detect())
    learn, ds = fastai_learner(data, run)
    pairs = ds.pairs[: args.n]
    model = Model.load(run)
    predictor = Predictor(model, bs=args.bs)
    images = [ds.read(p)[0] for p in pairs]
    batches = [_to_batch([resize(im, model.size) for im in images[i:i + args.bs]])
               for i in range(0, len(images), args.bs)]
    ours = np.concatenate([predictor.probabilities(b).argmax(1).numpy() for b in batches])

    times = {"fastai": [], "seg": [], "bare": []}
    for r in range(args.rounds):
        f, theirs = time_fastai(learn, pairs)
        times["fastai"].append(f)
        times["seg"].append(time_seg(predictor, pairs))
        times["bare"].append(time_bare(model, batches))
        print(f"round {r + 1}: fastai {f:.1f} s, seg {times['seg'][-1]:.1f} s, bare {times['bare'][-1]:.1f} s",
              flush=True)
    equal = float(np.mean([(a == b).mean() for a, b in zip(ours, theirs)]))
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(pairs)

    big = tmp / "big.png"
    from PIL import Image
    row = np.concatenate([images[i % n] for i in range(8)], axis=1)  # membrane: 8 x 512 = 4096 wide
    canvas = np.concatenate([row] * (4096 // row.shape[0] + 1), axis=0)[:4096, :4096]
    Image.fromarray(canvas).save(big)
    out = subprocess.run([sys.executable, "-c", TILED.format(root=str(ROOT), run=str(run), image=str(big))],
                         capture_output=True, text=True, check=True)
    tiled = json.loads(out.stdout.strip().splitlines()[-1])

    result = {
        "images": n, "size": f"{images[0].shape[1]}x{images[0].shape[0]}", "train_size": model.size,
        "fastai_ips": n / med["fastai"], "seg_ips": n / med["seg"], "bare_ips": n / med["bare"],
        "speedup": med["fastai"] / med["seg"], "overhead": med["seg"] / med["bare"] - 1, "equal": equal,
        "tiled": tiled, "device": predictor.device.label, "arch": model.arch,
    }
    print(json.dumps(result, indent=2))
    write_table(result, data)


def write_table(r: dict, data: Path) -> None:
    t = r["tiled"]
    table = ("| | images/s | vs fastai `learn.predict` loop |\n|---|---|---|\n"
             f"| fastai `learn.predict`, one image at a time | {r['fastai_ips']:.2f} | 1.00x |\n"
             f"| **segboard `Predictor`** (files read in threads, batches of 8, masks at full size) | "
             f"**{r['seg_ips']:.2f}** | **{r['speedup']:.2f}x** |\n"
             f"| bare `model(x)` on ready tensors (no reading, no resizing) | {r['bare_ips']:.2f} | "
             f"{r['bare_ips'] / r['fastai_ips']:.2f}x |\n\n"
             f"segboard's overhead above the bare forward: **{r['overhead']:+.1%}**; masks equal to fastai's on "
             f"**{r['equal']:.2%}** of pixels (at the training size). 4096 x 4096 image: predicted in tiles in "
             f"**{t['seconds']:.0f} s**, resident memory at most {t['peak_mb']:.0f} MB "
             f"(**{t['peak_mb'] - t['before_mb']:+.0f} MB** over the process with the model and the image loaded).\n\n"
             f"{data.name}, {r['images']} images of {r['size']}, {r['arch']} at {r['train_size'][0]} px, "
             f"{r['device']}, {time.strftime('%Y-%m-%d')}; medians of alternating rounds.\n")
    results.write("infer", table)


if __name__ == "__main__":
    main()
