"""What segboard's run machinery costs over the plain fastai recipe, and what its number format gains.

On the same data, settings and seed, alternating and repeated: `python -m seg train` (run folder,
event log, per-batch events, checkpoints, samples, dataset check, scores at the images' own size) against
bench/plain_fastai.py (the tutorial's DataBlock + `unet_learner(dls, resnet34)` + `fit_one_cycle`, in
float32). Both from scratch, cross-entropy, no augmentation, so the work per batch is the same. segboard
runs once per `--precision`: `fp32` is the plain recipe's format (the machinery's cost alone), `auto` the
format it chooses by timing (the machinery plus the gain). Prints the ratios and the Dice scores at equal
epochs, and writes the table to docs/benchmarks.md.

    python bench/train_overhead.py --data ../shared/datasets/membrane --data demo [--repeat 3]
        [--epochs 1 --epochs 10] [--precision fp32 --precision auto]
"""

from __future__ import annotations

import argparse
import json
import os
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

TIME = ["/usr/bin/time", "-f", "MAXRSS_KB %M"]  # GNU time: the process's peak resident memory


def peak_mb(stderr: str) -> float:
    return int(stderr.strip().splitlines()[-1].split()[-1]) / 1024


def run_seg(data: Path, out: Path, epochs: int, precision: str, args) -> dict:
    t = time.perf_counter()
    r = subprocess.run([*TIME, sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(out),
                        "--epochs", str(epochs), "--lr", "1e-3", "--size", str(args.size), "--bs", str(args.bs),
                        "--seed", "42", "--no-pretrained", "--no-augment", "--loss", "ce", "--arch", "resnet34",
                        "--precision", precision], cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    run = Run(out)
    run.poll()
    statuses = run.of_type("status")
    epoch_s = sum(e["seconds"] for e in run.epochs())
    return {"wall": wall, "fit": statuses[-1]["t"] - statuses[0]["t"], "epochs_s": epoch_s,
            "dice": run.epochs()[-1]["dice"], "format": run.config()["precision"]["label"], "mb": peak_mb(r.stderr)}


def run_plain(data: Path, epochs: int, args) -> dict:
    t = time.perf_counter()
    r = subprocess.run([*TIME, sys.executable, str(ROOT / "bench" / "plain_fastai.py"), str(data), "--epochs",
                        str(epochs), "--size", str(args.size), "--bs", str(args.bs)],
                       cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return {"wall": wall, "fit": out["fit_s"], "epochs_s": out["fit_s"], "dice": out["dice"], "format": "float32",
            "mb": peak_mb(r.stderr)}


def bench(data: Path, epochs: int, args) -> list[dict]:
    "One row per segboard precision, each against the plain script's medians of the same rounds."
    runs: dict[str, list[dict]] = {"plain": [], **{p: [] for p in args.precision}}
    repeat = args.repeat if epochs == 1 else args.repeat_long
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):  # alternate: this machine is noisy
            runs["plain"].append(run_plain(data, epochs, args))
            for p in args.precision:
                runs[p].append(run_seg(data, Path(tmp) / f"{p}{i}", epochs, p, args))

    def med(key, name):
        return statistics.median(r[key] for r in runs[name])
    keys = ("wall", "fit", "epochs_s", "dice", "mb")
    plain = {k: med(k, "plain") for k in keys}
    return [{"data": data, "epochs": epochs, "n": repeat, "precision": p, "format": runs[p][-1]["format"],
             "plain": plain, **{k: med(k, p) for k in keys}} for p in args.precision]


def write_table(rows: list[dict], args) -> None:
    head = ("| dataset | epochs | seg's format | training epochs: seg / plain (s) | ratio | fit (s) | ratio "
            "| whole command (s) | ratio | Dice seg / plain | peak memory seg / plain (MB) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['data'].name} | {r['epochs']} | {r['format']} (`{r['precision']}`) | {r['epochs_s']:.1f} / "
        f"{r['plain']['epochs_s']:.1f} | {r['epochs_s'] / r['plain']['epochs_s']:.3f} | {r['fit']:.1f} / "
        f"{r['plain']['fit']:.1f} | {r['fit'] / r['plain']['fit']:.3f} | {r['wall']:.1f} / {r['plain']['wall']:.1f} "
        f"| {r['wall'] / r['plain']['wall']:.3f} | {r['dice']:.3f} / {r['plain']['dice']:.3f} "
        f"| {r['mb']:.0f} / {r['plain']['mb']:.0f} |\n" for r in rows)
    note = (f"\n{args.size} px, batch {args.bs}, resnet34, cross-entropy, from scratch, seed 42; medians of "
            f"{args.repeat} alternating rounds at 1 epoch, {args.repeat_long} at more; CPU ({sys.platform}, "
            f"{os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}. Training epochs: the sum of the epochs' own "
            "times (seg) or `fit_one_cycle` (plain); fit: seg's first to last status event, so its precision "
            "timing, checkpoints and the end-of-run scoring at the images' own size are in it; whole command: "
            "process start to exit, imports and seg's check of every file included. Dice: on the validation "
            "split at the training size after the last epoch.\n")
    results.write("train_overhead", head + body + note)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", help="a dataset folder with images/, masks/, codes.txt; "
                                                    "'demo' for the built-in one (repeatable)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds at 1 epoch (3)")
    ap.add_argument("--repeat-long", type=int, default=1, help="rounds at more epochs (1)")
    ap.add_argument("--epochs", type=int, action="append", help="epochs per run (repeatable; 1 and 10)")
    ap.add_argument("--precision", action="append", help="segboard's --precision (repeatable; fp32 and auto)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--no-readme", action="store_true", help="print only")
    args = ap.parse_args()
    args.epochs = args.epochs or [1, 10]
    args.precision = args.precision or ["fp32", "auto"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in args.data or ["demo"]:
            if d == "demo":
                from seg.data.demo import write_demo
                d = write_demo(Path(tmp) / "demo")
            for epochs in args.epochs:
                for r in bench(Path(d), epochs, args):
                    rows.append(r)
                    print(f"{Path(d).name}, {epochs} epochs, seg {r['format']}: training epochs "
                          f"{r['epochs_s']:.1f} s / plain {r['plain']['epochs_s']:.1f} s = "
                          f"{r['epochs_s'] / r['plain']['epochs_s']:.3f}; fit {r['fit'] / r['plain']['fit']:.3f}; "
                          f"whole {r['wall'] / r['plain']['wall']:.3f}; Dice {r['dice']:.3f} / "
                          f"{r['plain']['dice']:.3f}", flush=True)
        if not args.no_readme:
            write_table(rows, args)


if __name__ == "__main__":
    main()
