"""`python -m seg ...`: everything the app does, headless.

    python -m seg demo OUT_DIR                 write the built-in demo dataset
    python -m seg inspect DATA_DIR [--json]    check a dataset: pairs, classes, problems, statistics
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SHOWN = 20  # problems of each level printed as text


def _demo(args) -> int:
    from .demo import write_demo
    out = write_demo(Path(args.out), n=args.n, size=args.size, seed=args.seed)
    print(f"demo dataset: {args.n} pairs of {args.size} px in {out}")
    return 0


def _inspect(args) -> int:
    from .dataset import Dataset
    ds = Dataset.open(args.data, codes=args.codes)
    summary = ds.summary(valid_pct=args.valid_pct, seed=args.seed)
    if args.json:
        if not args.per_image:
            summary.pop("per_image")
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print(format_summary(summary))
    return 0 if ds.ok else 1


def format_summary(s: dict) -> str:
    lines = [f"dataset  {s['root']}", f"layout   {s['layout'] or '-'}", f"pairs    {s['pairs']}"]
    if s["codes"]:
        lines.append(f"classes  {', '.join(s['codes'])}  (from {s['codes_source']})")
        lines.append("pixels   " + ", ".join(f"{k} {v:.1%}" for k, v in s["class_fractions"].items()))
    sp = s["split"]
    how = "given by the folders" if sp["kind"] == "folder" else f"random, {sp['valid_pct']:.0%}, seed {sp['seed']}"
    lines.append(f"split    {sp['train']} train / {sp['valid']} valid ({how})")
    if s["image_sizes"]:
        sizes = list(s["image_sizes"].items())
        lines.append("sizes    " + ", ".join(f"{k} ({v})" for k, v in sizes[:5]) + (" ..." if len(sizes) > 5 else ""))
    for level in ("errors", "warnings", "notes"):
        if s[level]:
            lines.append(f"\n{len(s[level])} {level if len(s[level]) > 1 else level[:-1]}:")
            lines += [f"  {p['file']}: {p['problem']}\n      fix: {p['fix']}" for p in s[level][:SHOWN]]
            if len(s[level]) > SHOWN:
                lines.append(f"  ... and {len(s[level]) - SHOWN} more (all of them with --json)")
    lines.append("\nready to train" if s["ok"] else "\nnot ready: fix the errors above")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seg", description="segboard: segmentation datasets and models.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="write the built-in demo dataset")
    d.add_argument("out", metavar="OUT_DIR")
    d.add_argument("--n", type=int, default=64, help="number of pairs (64)")
    d.add_argument("--size", type=int, default=256, help="image side in pixels (256)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(run=_demo)
    i = sub.add_parser("inspect", help="check a dataset and print its report and statistics")
    i.add_argument("data", metavar="DATA_DIR")
    i.add_argument("--json", action="store_true", help="print JSON (documented in the README)")
    i.add_argument("--per-image", action="store_true", help="with --json: add per-image sizes and class fractions")
    i.add_argument("--codes", help="class names, comma-separated, instead of codes.txt or inferred ones")
    i.add_argument("--valid-pct", type=float, default=0.2, help="validation fraction of a random split (0.2)")
    i.add_argument("--seed", type=int, default=42, help="seed of the random split (42)")
    i.set_defaults(run=_inspect)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
