"""What segboard's run machinery costs over the plain fastai recipe.

On the same data, settings and seed, alternating and repeated: `python -m seg train` (run folder,
event log, per-batch events, checkpoints, samples, dataset check) against bench/plain_fastai.py (the
tutorial's DataBlock + `unet_learner(dls, resnet34)` + `fit_one_cycle`). Both from scratch, cross-entropy,
no augmentation, so the work per batch is the same. Prints the time ratios and both Dice scores, and
writes the table to docs/benchmarks.md.

    python bench/train_overhead.py --data ../shared/datasets/membrane --data demo [--repeat 3] [--epochs 1]
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

import results  # noqa: E402  (bench/results.py: where the tables go)

from seg.runs import Run  # noqa: E402


def run_seg(data: Path, out: Path, args) -> dict:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(out),
                    "--epochs", str(args.epochs), "--lr", "1e-3", "--size", str(args.size), "--bs", str(args.bs),
                    "--seed", "42", "--no-pretrained", "--no-augment", "--loss", "ce", "--arch", "resnet34"],
                   cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - t
    run = Run(out)
    run.poll()
    statuses = run.of_type("status")
    return {"wall": wall, "fit": statuses[-1]["t"] - statuses[0]["t"], "dice": run.epochs()[-1]["dice"]}


def run_plain(data: Path, args) -> dict:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "plain_fastai.py"), str(data), "--epochs",
                        str(args.epochs), "--size", str(args.size), "--bs", str(args.bs)],
                       cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return {"wall": wall, "fit": out["fit_s"], "dice": out["dice"]}


def bench(data: Path, args) -> dict:
    segs, plains = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # alternate: this machine is noisy
            plains.append(run_plain(data, args))
            segs.append(run_seg(data, Path(tmp) / f"run{i}", args))
    med = {k: (statistics.median(s[k] for s in segs), statistics.median(p[k] for p in plains))
           for k in ("wall", "fit", "dice")}
    return {"data": data, "n": args.repeat, **{k: v for k, v in med.items()}}


def write_table(rows: list[dict], args) -> None:
    head = ("| dataset | epochs, size, bs | fit: seg / plain (s) | ratio | whole command: seg / plain (s) | ratio "
            "| Dice seg / plain |\n|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['data'].name} | {args.epochs}, {args.size}, {args.bs} | {r['fit'][0]:.1f} / {r['fit'][1]:.1f} | "
        f"{r['fit'][0] / r['fit'][1]:.3f} | {r['wall'][0]:.1f} / {r['wall'][1]:.1f} | "
        f"{r['wall'][0] / r['wall'][1]:.3f} | {r['dice'][0]:.3f} / {r['dice'][1]:.3f} |\n" for r in rows)
    note = (f"\nMedians of {args.repeat} alternating runs each, CPU ({sys.platform}), "
            f"{time.strftime('%Y-%m-%d')}. Fit: first to last status event (seg) or around `fit_one_cycle` "
            "(plain); whole command: process start to exit, imports and seg's check of every file included.\n"
            "Dice after one epoch (a few optimizer steps from scratch) depends mostly on the seed.\n")
    results.write("train_overhead", head + body + note)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", help="a dataset folder with images/, masks/, codes.txt; "
                                                    "'demo' for the built-in one (repeatable)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--no-readme", action="store_true", help="print only")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in args.data or ["demo"]:
            if d == "demo":
                from seg.data.demo import write_demo
                d = write_demo(Path(tmp) / "demo")
            r = bench(Path(d), args)
            rows.append(r)
            print(f"{Path(d).name}: fit seg {r['fit'][0]:.1f} s / plain {r['fit'][1]:.1f} s = "
                  f"{r['fit'][0] / r['fit'][1]:.3f}; whole command {r['wall'][0]:.1f} / {r['wall'][1]:.1f} s = "
                  f"{r['wall'][0] / r['wall'][1]:.3f}; Dice seg {r['dice'][0]:.3f}, plain {r['dice'][1]:.3f}")
        if not args.no_readme:
            write_table(rows, args)


if __name__ == "__main__":
    main()
