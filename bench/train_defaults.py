"""Why segboard's training defaults are not the tutorial's: the tutorial recipe against segboard's
default, from scratch (no ImageNet download here), same data, split and seed, both through
`python -m seg train`. Prints wall time and the validation Dice of each; writes its table in docs/benchmarks.md.

    tutorial:  --epochs 3  --lr 1e-3 --loss ce      --size FULL   (fit_one_cycle(3, 1e-3), full size)
    segboard:  the defaults (TrainSettings / DataSettings): 10 epochs, weighted CE + Dice, 256 px

    python bench/train_defaults.py --data ../shared/datasets/membrane [--full 512]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402  (bench/results.py: where the tables go)

from seg.model.settings import DataSettings, TrainSettings  # noqa: E402
from seg.runs import Run  # noqa: E402


def train(data: Path, out: Path, options: list[str]) -> dict:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(out), "--no-pretrained",
                    *options], cwd=ROOT, check=True, capture_output=True)
    run = Run(out)
    run.poll()
    epochs = run.epochs()
    return {"seconds": time.perf_counter() - t, "dice": epochs[-1]["dice"], "best": max(e["dice"] for e in epochs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--full", type=int, default=512, help="the images' full size, for the tutorial recipe")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    d, t = DataSettings(), TrainSettings()
    recipes = {
        f"tutorial: 3 epochs, lr 1e-3, cross-entropy, {args.full} px":
            ["--epochs", "3", "--lr", "1e-3", "--loss", "ce", "--size", str(args.full), "--no-augment"],
        f"segboard default: {t.epochs} epochs, lr {t.lr:g}, {t.loss}, {d.size} px, augmented":
            [],
        f"the default at 160 px: {t.epochs} epochs, {t.loss}, augmented": ["--size", "160"],
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, options) in enumerate(recipes.items()):
            r = train(Path(args.data), Path(tmp) / f"r{i}", options)
            rows.append((name, r))
            print(f"{name}: {r['seconds']:.0f} s, Dice {r['dice']:.3f} (best epoch {r['best']:.3f})")
    if args.no_readme:
        return
    table = ("| recipe (from scratch, CPU) | wall time | Dice, last epoch | Dice, best epoch |\n|---|---|---|---|\n"
             + "".join(f"| {n} | {r['seconds']:.0f} s | {r['dice']:.3f} | {r['best']:.3f} |\n" for n, r in rows)
             + f"\n{Path(args.data).name}, seed 42, {time.strftime('%Y-%m-%d')}, 2-core CPU; "
               "Dice: mean over the foreground classes on the validation split.\n")
    results.write("train_defaults", table)


if __name__ == "__main__":
    main()
