"""Defaults that learn: the tutorial recipe, segboard's rule-only plan and its trial plan, the same data,
split and wall time, all from scratch through `python -m seg train`. Dice per class on the validation
images at their own resolution (the run's `scores` event), and at the training size (its last epoch).

    tutorial:  full size, cross-entropy, lr 1e-3, batch 8, no augmentation, one-cycle; as many epochs as
               fit in the time (measured pace), at least one
    rule:      --budget MINUTES --no-trials (seg/training/planner.py: size, batch, epochs, learning rate,
               loss, augmentation by rules)
    trials:    --budget MINUTES (candidates around the rule's plan tried on the data first; the best goes on)
    pretrained: the trials' recipe from ImageNet weights (the torch cache's, as `python -m seg weights` puts
               them there); where none are on the machine, no row and the block says so

    python bench/quality.py DATA_DIR [DATA_DIR ...] --minutes 5 15

Results go into docs/benchmarks.md, one block per dataset (kept for datasets not run this time).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import results  # noqa: E402  (bench/results.py: where the tables go)

from seg import Dataset  # noqa: E402
from seg.model.device import detect  # noqa: E402
from seg.runs import Run  # noqa: E402
from seg.server.sharing import Access  # noqa: E402
from seg.training.planner import START_S, DataFacts, sizes_to_try, time_per_image  # noqa: E402

RECIPES = ("tutorial", "rule", "trials", "pretrained")


def train(data: Path, out: Path, options: list[str]) -> dict:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "seg", "train", str(data), "--run-dir", str(out), "--no-pretrained",
                        *options], cwd=ROOT, capture_output=True, text=True)  # a later --pretrained wins
    seconds = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"seg train failed:\n{p.stdout}\n{p.stderr}")
    run = Run(out)
    run.poll()
    cfg, epochs = run.config(), run.epochs()
    won = (cfg.get("trials") or {}).get("winner")
    full = run.of_type("scores")[-1]
    size = cfg["data"]["size"]
    return {"seconds": seconds, "epochs": len(epochs), "size": size if isinstance(size, list) else [size, size],
            "scale": cfg["data"].get("scale"),
            "lr": next((e["lr"] for e in run.of_type("lr")), cfg["train"]["lr"]), "loss": cfg["train"]["loss"],
            "bs": cfg["batch_size_used"], "dice_full": full["dice"],
            "per_class": {k: v["dice"] for k, v in full["per_class"].items()}, "dice_train": epochs[-1]["dice"],
            "plan": p.stdout.splitlines()[0] if p.stdout.startswith("plan") else "",
            "trials": (cfg.get("trials") or {}).get("reason") if won else None, "steps": len(run.batches())}


def tutorial_epochs(data: Path, minutes: float) -> tuple[int, tuple[int, int]]:
    "Epochs of the tutorial recipe (full size, batch 8) that fit the time, from a measured pace."
    ds = Dataset.open(data, access=Access.machine())
    facts = DataFacts.of(ds)
    full = sizes_to_try(facts.typical)[0]
    per_image, _ = time_per_image(ds, detect(), "resnet34", full, min(8, facts.n_train), augment=False)
    epoch = per_image * (facts.n_train + facts.n_valid / 3) + 1
    return max(1, int((minutes * 60 - START_S) // epoch)), full


def seen(r: dict) -> str:
    "How the run saw the images: windows of its size at a scale, or (nothing said) whole images squeezed."
    return f" windows at scale {r['scale']:g}" if r.get("scale") is not None else ""


def fmt(x):
    return "-" if x is None else f"{x:.3f}"


def kept_rows(key: str, recipes: list[str]) -> dict[str, str]:
    """The table rows of an earlier run of `key` (dataset-budget) for recipes other than `recipes`, marked
    with that run's date: rerunning two recipes keeps the third's row (the tutorial's does not change)."""
    m = re.search(rf"<!-- quality:{re.escape(key)} -->\n\*\*.*?\*\*, .*? each, (\S+),(.*?)<!-- /quality:",
                  results.block("quality"), flags=re.S)
    if not m:
        return {}
    out = {}
    for line in m.group(2).splitlines():
        cells = line.split(" | ")
        name = cells[0].lstrip("| ").split(" (")[0]
        if len(cells) > 3 and name in RECIPES and name not in recipes:
            day = re.search(r"\((\d{4}-\d\d-\d\d)\)", cells[0])
            out[name] = f"| {name} ({day.group(1) if day else m.group(1)}) | " + " | ".join(cells[1:])
    return out


def block(name: str, minutes: float, rows: list[tuple[str, dict]], kept: dict[str, str] | None = None,
          missing: str = "") -> str:
    classes = list(rows[0][1]["per_class"])[1:]
    head = ("| recipe | size, batch, epochs, lr, loss | wall time (budget) | "
            + " | ".join(f"Dice {c}" for c in classes)
            + " | Dice (fg mean), own size | Dice, training size |\n|---|---|---|" + "---|" * len(classes)
            + "---|---|\n")
    body = "".join(
        f"| {n} | {r['size'][0]}x{r['size'][1]}{seen(r)}, {r['bs']}, {r['epochs']}, {r['lr']:.1e}, {r['loss']} | "
        f"{r['seconds']:.0f} s ({minutes * 60:.0f} s) | " + " | ".join(fmt(r["per_class"][c]) for c in classes)
        + f" | **{fmt(r['dice_full'])}** | {fmt(r['dice_train'])} |\n" for n, r in rows)
    if kept:  # earlier rows first, in the recipes' order
        body = "".join(kept[n] + "\n" for n in RECIPES if n in kept) + body
    won = "".join(f"\n{n}: {r['trials']}\n" for n, r in rows if r.get("trials"))
    if missing:
        won += f"\npretrained: no row, {missing}\n"
    key = f"{name}-{minutes:g}min"
    start = "from scratch unless pretrained" if any(n == "pretrained" for n, _ in rows) else "from scratch"
    return (f"<!-- quality:{key} -->\n**{name}**, {minutes:g} min each, {time.strftime('%Y-%m-%d')}, "
            f"{detect().label}, {start}, seed 42:\n\n{head}{body}{won}<!-- /quality:{key} -->\n")


def no_weights() -> str:
    "Why the pretrained recipe has no row here, or '' when ImageNet weights for the default backbone are on disk."
    from seg.model.registry import BACKBONES, DEFAULT_ARCH
    if BACKBONES[DEFAULT_ARCH].cached_weights():
        return ""
    return (f"no ImageNet weights for {DEFAULT_ARCH} in this machine's torch cache (`python -m seg weights` fetches "
            "them where the network allows)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+")
    ap.add_argument("--minutes", type=float, nargs="+", default=[5, 15])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES,
                    help="recipes to run; the others' rows of an earlier run are kept, with their date")
    ap.add_argument("--keep", type=Path, help="keep the run folders here (DATASET-MINUTES/RECIPE)")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    blocks = {}
    for minutes in args.minutes:
        for data in map(Path, args.data):
            epochs, full = tutorial_epochs(data, minutes) if "tutorial" in args.recipes else (1, (0, 0))
            options = {"tutorial": ["--size", str(full[0]), str(full[1]), "--bs", "8", "--epochs", str(epochs),
                                    "--lr", "1e-3", "--loss", "ce", "--no-augment"],
                       "rule": ["--budget", str(minutes), "--no-trials"], "trials": ["--budget", str(minutes)],
                       "pretrained": ["--budget", str(minutes), "--pretrained"]}
            missing = no_weights() if "pretrained" in args.recipes else ""
            rows = []
            key = f"{data.name}-{minutes:g}min"
            with tempfile.TemporaryDirectory() as tmp:
                folder = args.keep / key if args.keep else Path(tmp)
                for recipe in [r for r in RECIPES if r in args.recipes and not (r == "pretrained" and missing)]:
                    rows.append((recipe, train(data, folder / recipe, options[recipe])))
                    print(f"{data.name} {minutes:g} min {recipe}: {json.dumps(rows[-1][1])}", flush=True)
            blocks[key] = block(data.name, minutes, rows, kept_rows(key, args.recipes), missing)
            if not args.no_readme:  # after each dataset: a long benchmark cut short keeps what it measured
                write(blocks)


def write(blocks: dict[str, str]) -> None:
    "Replace those blocks of the quality table (one per dataset and budget); keep the others."
    old = {name: b for b, name in re.findall(r"(<!-- quality:(\S+) -->.*?<!-- /quality:\2 -->\n)",
                                              results.block("quality"), flags=re.S) if name.endswith("min")}
    old.update(blocks)
    results.write("quality", "\n".join(old[k] for k in sorted(old)))


if __name__ == "__main__":
    main()
