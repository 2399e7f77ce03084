"""Prediction runtimes judged against the truth: each runtime of seg/prediction/runtimes.py predicts a run's
validation images at their own size through segboard's `Predictor` (tiles and all, as a user's masks are
made), and is scored by Dice against the true masks, beside its speed. A runtime is adopted for `auto` only
where its Dice is within DICE_TOLERANCE of PyTorch float32's on every dataset (issue 33).

    python bench/runtimes.py RUN_DIR [RUN_DIR ...] [--rounds 2]

Each RUN_DIR is a trained run whose dataset is still where it was trained (its validation split is
re-made as in training); INT8 is calibrated on the run's training images. The table in
docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import results  # noqa: E402  (bench/results.py: where the tables go)
import torch  # noqa: E402

from seg.model import pixel_scores  # noqa: E402
from seg.model.device import cpu  # noqa: E402
from seg.model.learner import set_threads  # noqa: E402
from seg.model.number_formats import FP32  # noqa: E402
from seg.prediction import runtimes  # noqa: E402
from seg.prediction.inference import Predictor  # noqa: E402
from seg.prediction.model import Model  # noqa: E402
from seg.prediction.output import validation  # noqa: E402
from seg.prediction.predictors import training_images  # noqa: E402
from seg.runs import Run  # noqa: E402

AP = 0.01  # how far below float32's AP at IoU 0.5 a runtime may score on a run on objects (issue 33)
# (row name, runtime, PyTorch precision): float32 first, the reference
CANDIDATES = (("PyTorch float32", "pytorch", FP32), ("PyTorch, fastest format (auto)", "pytorch", "auto"),
              ("ONNX Runtime float32", "onnx", "auto"), ("ONNX Runtime INT8 (static)", "onnx-int8", "auto"))


def score(run_dir: Path, rounds: int) -> dict:
    model = Model.load(run_dir)
    src = validation(Run(run_dir))
    images = [model.input.load(it.image) for it in src.items]
    truths = [] if model.objects else [src.dataset.mask(it.pair) for it in src.items]
    calibration = list(training_images(model, runtimes.CALIBRATION))  # read once, given to each runtime
    n = len(model.mask_codes)
    rows = []
    for name, rt, precision in CANDIDATES:
        p = Predictor(model, device=cpu(), runtime=rt, precision=precision, calibration=calibration)
        start = time.perf_counter()
        p.predict(images[0])  # settles the format or builds the runtime (export, quantisation)
        prepare = time.perf_counter() - start
        times, masks = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            masks = list(p.predict_many(images))
            times.append(time.perf_counter() - start)
        if model.objects:  # the Dice of the objects' pixels, and AP50, as `predict` reports them
            scores = objects_scores(run_dir, rt)
        else:
            total = np.zeros((n, n), np.int64)
            for truth, mask in zip(truths, masks):
                total += pixel_scores.confusion(truth, mask, n)
            scores = {"dice": pixel_scores.headline(total)["dice"]}
        rows.append({"name": name, "label": p.label, **scores, "ips": len(images) / statistics.median(times),
                     "prepare": prepare, "notes": p.notes, "masks": masks})
        print(f"{run_dir.name}: {name} [{p.label}]: Dice {rows[-1]['dice']:.4f}, {rows[-1]['ips']:.2f} images/s, "
              f"prepared in {prepare:.1f} s {p.notes}", flush=True)
    ref = rows[0]["masks"]
    for r in rows:
        r["agree"] = float(np.mean([(a == b).mean() for a, b in zip(r.pop("masks"), ref)]))
    h, w = images[0].shape[:2]
    return {"data": Path(src.root).name, "images": len(images), "size": f"{w} x {h}", "tiles": model.tiles,
            "arch": model.arch, "train_size": model.size, "scale": model.scale[0], "rows": rows}


def objects_scores(run_dir: Path, rt: str) -> dict:
    """A run on objects: its validation images through `predict` with this runtime (the objects split apart as a
    user gets them), AP at IoU 0.5 and the Dice of the objects' pixels. PyTorch in the auto choice's format."""
    import json
    import tempfile

    from seg.prediction.output import predict
    from seg.server.sharing import Access
    with tempfile.TemporaryDirectory(prefix="segboard-bench-runtimes-") as tmp:
        predict(run_dir, validation(Run(run_dir)), Path(tmp) / "out", access=Access.machine(), runtime=rt)
        metrics = json.loads((Path(tmp) / "out" / "metrics.json").read_text())
    return {"ap50": metrics["objects"]["summary"]["ap50"], "dice": metrics["mean_dice"]}


def write_table(sets: list[dict]) -> None:
    lines = ["| data | runtime | Dice vs truth | vs float32 | objects: AP50 | masks equal to float32's | images/s | "
             "vs float32 | prepared in |", "|---|---|---|---|---|---|---|---|---|"]
    verdict = {}
    for s in sets:
        ref = s["rows"][0]
        for r in s["rows"]:
            ap = f"{r['ap50']:.3f} ({r['ap50'] - ref['ap50']:+.3f})" if "ap50" in r else "-"
            lines.append(f"| {s['data']} | {r['label']} | {r['dice']:.4f} | {r['dice'] - ref['dice']:+.4f} | {ap} | "
                         f"{r['agree']:.2%} | {r['ips']:.2f} | {r['ips'] / ref['ips']:.2f}x | {r['prepare']:.1f} s |")
            ok = r["dice"] >= ref["dice"] - runtimes.DICE_TOLERANCE and r.get("ap50", 0) >= ref.get("ap50", 0) - AP
            verdict[r["name"]] = verdict.get(r["name"], True) and ok
    passing = ", ".join(k for k, v in verdict.items() if v and k != "PyTorch float32") or "none"
    sets_text = "; ".join(f"{s['data']}: {s['images']} validation images of {s['size']}, {s['arch']} "
                          + (f"on {s['train_size'][0]} px windows at scale {s['scale']:g}, predicted in tiles"
                             if s["tiles"] else f"at {s['train_size'][0]} px") for s in sets)
    text = ("\n".join(lines) + "\n\n"
            f"Within {runtimes.DICE_TOLERANCE} of float32's Dice (and {AP} of its AP50 on objects) on every set: "
            f"**{passing}**. {sets_text}. Images/s: "
            f"the whole Predictor (reading excluded: images in memory), median of rounds; prepared: the first image "
            f"with the format's timing or the runtime's export and quantisation. {cpu().label}, torch "
            f"{torch.__version__}, {time.strftime('%Y-%m-%d')}.\n")
    print(text)
    results.write("runtimes", text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-readme", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    set_threads(cpu())
    sets = [score(Path(r).resolve(), args.rounds) for r in args.runs]
    if args.no_readme:
        results.write = lambda name, text: None
    write_table(sets)


if __name__ == "__main__":
    main()
