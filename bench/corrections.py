"""Correct and retrain on real data: is correcting the model's worst predictions worth more than labelling as
many images at random? Rounds of the loop the Label page offers, scripted with the truth as the corrector.

    python bench/corrections.py ../shared/datasets/membrane [--start 4] [--k 3] [--rounds 2] [--minutes 3]

The last HELD images are held out (the validation folder every run is scored on at their own size, and
nobody corrects them); the first START of the rest are labelled to begin with, the others wait. A first
run trains on the START images (`--budget MINUTES * 2`). Then each round, for each strategy:

    worst:   the waiting images the current model predicts worst (Dice against their truth: what a person
             sees on the Predict page, worst first), K of them, get their true masks
    random:  K waiting images at random get theirs

and a run continues from the strategy's previous model (`--from`) for MINUTES on the labelled images so far.
The table: held-out Dice after each round, per strategy, from the same first model. Every run is
`python -m seg train --budget ... --no-trials` from scratch weights (no download), on this machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402

from seg import Dataset  # noqa: E402
from seg.runs import Run  # noqa: E402
from seg.server.sharing import Access  # noqa: E402

HELD = 10


def seg(*args) -> str:
    p = subprocess.run([sys.executable, "-m", "seg", *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"seg {' '.join(map(str, args))} failed:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def folder(out: Path, train: list, held: list) -> Path:
    "A dataset of `train` + `valid` (the held-out images), images and masks linked."
    for side, pairs in (("train", train), ("valid", held)):
        for sub in ("images", "masks"):
            (out / side / sub).mkdir(parents=True)
        for p in pairs:
            (out / side / "images" / p.image.name).symlink_to(p.image.resolve())
            (out / side / "masks" / p.mask.name).symlink_to(p.mask.resolve())
    codes = p.mask.parent.parent / "codes.txt"
    if codes.exists():
        shutil.copy(codes, out / "codes.txt")
    return out


def held_dice(run: Path) -> float:
    r = Run(run)
    r.poll()
    return r.of_type("scores")[-1]["dice"]


def train(data: Path, run: Path, minutes: float, start: Path | None) -> float:
    seg("train", data, "--run-dir", run, "--budget", minutes, "--no-trials", "--no-pretrained",
        *(["--from", start] if start else []))
    return held_dice(run)


def worst(run: Path, waiting: list, tmp: Path, k: int) -> list:
    "The K waiting pairs the run predicts worst (Dice against their truth)."
    pool = folder(tmp, waiting, [])
    out = tmp.with_name(tmp.name + "-pred")
    seg("predict", run, pool / "train", "--out", out)
    per_image = json.loads((out / "metrics.json").read_text())["per_image"]  # worst first
    names = [Path(r["file"]).name for r in per_image][:k]
    picked = [p for p in waiting if p.image.name in names]
    assert len(picked) == k, (names, [p.image.name for p in waiting])
    return picked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--start", type=int, default=4)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    pairs = sorted(Dataset.open(Path(args.data), access=Access.machine()).pairs, key=lambda p: p.image.name)
    held, rest = pairs[-HELD:], pairs[:-HELD]
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        labelled = rest[: args.start]
        first = tmp / "run-0"
        d0 = train(folder(tmp / "data-0", labelled, held), first, 2 * args.minutes, None)
        rows = {"worst": [d0], "random": [d0]}
        state = {s: (list(labelled), [p for p in rest if p not in labelled], first) for s in rows}
        for r in range(1, args.rounds + 1):
            for strategy in rows:
                have, waiting, run = state[strategy]
                k = min(args.k, len(waiting))
                if strategy == "worst":
                    picked = worst(run, waiting, tmp / f"pool-{strategy}-{r}", k)
                else:
                    picked = [waiting[i] for i in sorted(rng.choice(len(waiting), k, replace=False))]
                have = have + picked
                waiting = [p for p in waiting if p not in picked]
                nxt = tmp / f"run-{strategy}-{r}"
                rows[strategy].append(train(folder(tmp / f"data-{strategy}-{r}", have, held), nxt, args.minutes, run))
                state[strategy] = (have, waiting, nxt)
                print(f"round {r} {strategy}: {rows[strategy][-1]:.3f} ({len(have)} labelled)", flush=True)
    name = Path(args.data).name
    head = (f"**{name}**, {time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s in all: {args.start} images labelled "
            f"to begin (a first run of {2 * args.minutes:g} min), then {args.rounds} round(s) of {args.k} more and "
            f"{args.minutes:g} min from the previous model; Dice on the {HELD} held-out images at their own size:\n\n"
            "| images labelled | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows) + "\n")
    body = "".join(f"| {args.start + r * args.k} | " + " | ".join(f"{rows[s][r]:.3f}" for s in rows) + " |\n"
                   for r in range(args.rounds + 1))
    print(head + body)
    if not args.no_readme:
        results.write("corrections", head + body + "\n")


if __name__ == "__main__":
    main()
