"""`python -m seg ...`: everything the app does, headless.

    python -m seg demo OUT_DIR                 write the built-in demo dataset
    python -m seg inspect DATA_DIR [--json]    check a dataset: pairs, classes, problems, statistics
    python -m seg train DATA_DIR --run-dir RUNS/NAME [options]   train a U-Net; the run folder is its record
    python -m seg lr-find DATA_DIR [options] [--out FILE]       fastai's learning-rate finder
    python -m seg runs [RUNS_DIR] [--json]     list runs with status and final metrics
    python -m seg stop RUN_DIR                 ask a run to stop after its current batch
    python -m seg predict RUN_DIR INPUT --out OUT_DIR [--measure] [--json]   masks, previews, metrics,
                                               measurements (INPUT: an image, a folder, a dataset; or --valid)
    python -m seg share [--port 8501]          the addresses colleagues open, and how the app is shared
    python -m seg serve [--port 8501] [--address A]   start the app: this machine only unless a password is set
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .runs import RunError
from .settings import SettingsError

SHOWN = 20  # problems of each level printed as text


def _demo(args) -> int:
    from .demo import write_demo
    out = write_demo(Path(args.out), n=args.n, size=args.size, seed=args.seed)
    print(f"demo dataset: {args.n} pairs of {args.size} px in {out}")
    return 0


def dataset_path(data: str) -> str:
    """DATA_DIR as given, or for a zipped dataset (as uploaded in the app) the folder it unpacks to under
    the workspace's datasets/, checked as the app checks uploads (links, paths leaving it, bombs)."""
    if not (data.lower().endswith(".zip") and Path(data).is_file()):
        return data
    from . import workspace
    from .uploads import extract_zip
    folder = extract_zip(Path(data), workspace.datasets_dir())
    print(f"unpacked {data} into {folder}", file=sys.stderr)
    return str(folder)


def _inspect(args) -> int:
    from .dataset import Dataset
    ds = Dataset.open(dataset_path(args.data), codes=args.codes)
    summary = ds.summary(valid_pct=args.valid_pct, seed=args.seed)
    if args.json:
        if not args.per_image:
            summary.pop("per_image")
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print(format_summary(summary))
    return 0 if ds.ok else 1


def _settings(args):
    from .settings import DataSettings, TrainSettings
    size = tuple(args.size) if len(args.size) == 2 else args.size[0]
    data = DataSettings(size=size, bs=args.bs, valid_pct=args.valid_pct, seed=args.seed, augment=args.augment,
                        workers=args.workers, within=tuple(args.within or ()))
    train = TrainSettings(epochs=args.epochs, lr=args.lr, arch=args.arch, pretrained=args.pretrained,
                          weights=args.weights, loss=args.loss, find_lr=getattr(args, "find_lr", False))
    return data, train


def _train(args) -> int:
    from .training import train
    data, settings = _settings(args)
    path = dataset_path(args.data)
    plan = json.loads(args.plan) if args.plan else None
    if args.budget is not None:
        data, settings, plan = _planned(path, data, settings, args)
    status = train(path, args.run_dir, data, settings, codes=args.codes, from_run=args.from_run,
                   argv=["python", "-m", "seg", *sys.argv[1:]], plan=plan)
    from .runs import Run
    run = Run(args.run_dir)
    run.poll()
    last = run.epochs()[-1] if run.epochs() else {}
    scores = ", ".join(f"{k} {last[k]:.3f}" for k in ("valid_loss", "dice", "iou") if last.get(k) is not None)
    for note in run.notes():
        print(f"note: {note}")
    print(f"{status}: {run.status().message} {scores}".strip())
    full = run.full_size()
    if full and full.get("dice") is not None:
        print(f"Dice {full['dice']:.3f}, IoU {full['iou']:.3f} on the {full['images']} validation images at their own "
              f"size (best weights; the scores above are at the training size)")
    return {"completed": 0, "stopped": 0}.get(status, 1)


def _planned(path, data, settings, args):
    "The planner's settings for --budget minutes, printed with its reasons before the run starts."
    from .device import detect
    from .planner import plan as make_plan
    from .training import prepare
    if args.budget <= 0:
        raise SettingsError(f"--budget {args.budget:g}: give the minutes the run may take, such as 15.")
    dataset = prepare(path, data, settings, args.codes)
    p = make_plan(dataset, args.budget, detect(), settings, data.valid_pct, data.seed)
    print(f"plan for {args.budget:g} min: {p.summary()}; about {p.seconds / 60:.0f} min")
    for reason in p.reasons:
        print(f"  {reason}")
    sys.stdout.flush()
    return p.data_settings(data), p.train_settings(settings), p.to_json()


def _lr_find(args) -> int:
    from .training import find_lr
    data, settings = _settings(args)
    found = find_lr(dataset_path(args.data), data, settings, codes=args.codes, num_it=args.num_it)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(found, indent=2))
    if args.json:
        json.dump(found, sys.stdout, indent=2)
        print()
    else:
        for name, lr in found["suggestions"].items():
            print(f"{name:8s} {lr:.2e}" if lr else f"{name:8s} none (curve too short or diverged)")
        if args.out:
            print(f"curve and suggestions written to {args.out}")
    return 0


def _runs(args) -> int:
    from .runs import list_runs
    rows = [r.summary() for r in list_runs(Path(args.runs_dir) if args.runs_dir else None)]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    for r in rows:
        dice = f"dice {r['dice']:.3f}" if r["dice"] is not None else ""
        print(f"{r['run']:40s} {r['status']:9s} epochs {r['epochs']:7s} {dice}")
    return 0


def _stop(args) -> int:
    from .runs import Run
    run = Run(args.run_dir)
    run.poll()
    if not run.exists():
        raise RunError(f"{args.run_dir} holds no run.")
    if not run.status().active:
        print(f"{run.name} is not running ({run.status().status}); nothing to stop.")
        return 0
    run.request_stop()
    print(f"asked {run.name} to stop after its current batch")
    return 0


def _predict(args) -> int:
    from .inference import Model
    from .prediction import predict, validation
    from .runs import Run
    if bool(args.input) == args.valid:
        raise SettingsError("Give an INPUT (an image, a folder of images or a dataset) or --valid, not both.")
    model = Model.load(args.run_dir, args.weights)
    source = validation(Run(args.run_dir)) if args.valid else args.input
    meta = predict(args.run_dir, source, args.out, measure_objects=args.measure, pixel_size=args.pixel_size,
                   unit=args.unit, which=args.weights, bs=args.bs, overwrite=args.overwrite, model=model)
    summary = prediction_summary(Path(args.out))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print(format_prediction(summary))
    for f in meta["failed"]:
        print(f"warning: {f['image']}: {f['problem']} Fix: {f['fix']}", file=sys.stderr)
    return 1 if meta["failed"] else 0


def _sharing(args):
    "The app's sharing settings as the server will see them, and the address it listens on."
    import tomllib

    from .sharing import Sharing, serve_address
    secrets = Path(args.secrets)
    try:
        values = tomllib.loads(secrets.read_text()) if secrets.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SettingsError(f"{secrets} could not be read ({e}); fix it or remove it.") from None
    address = serve_address(Sharing.configured(values), args.address)
    return Sharing.configured(values, address=address), address


def _share(args) -> int:
    from .sharing import describe
    sharing, address = _sharing(args)
    print("\n".join(describe(sharing, args.port)))
    return 0


def _serve(args) -> int:
    """Print how the app is shared, then become the Streamlit server (what `make run` does): on this machine
    only unless a password is set or an address is given."""
    import os

    from .sharing import describe
    sharing, address = _sharing(args)
    print("\n".join(describe(sharing, args.port)), flush=True)
    root = Path(__file__).resolve().parent.parent
    os.chdir(root)  # Streamlit reads .streamlit/ (config, secrets) from the current folder
    os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(root / "app.py"),
                              "--server.port", str(args.port), "--server.address", address])


def prediction_summary(out: Path) -> dict:
    "What `predict --json` prints: the headline figures of the output folder."
    from .measure import counts, size_distribution
    from .prediction import Prediction
    pr = Prediction(out)
    s = {"out": str(pr.path), "images": len(pr.meta["images"]), "tiled": sum(r["tiled"] for r in pr.meta["images"]),
         "failed": pr.meta["failed"], "notes": pr.meta["notes"], "seconds": pr.meta["seconds"],
         "device": pr.meta["device"]}
    if pr.metrics:
        s.update({k: pr.metrics[k] for k in ("mean_dice", "mean_iou", "pixel_accuracy")})
        s["per_class"] = {k: {"dice": v["dice"], "iou": v["iou"]} for k, v in pr.metrics["per_class"].items()}
        s["worst"] = [{"image": r["image"], "dice": r["dice"]} for r in pr.metrics["per_image"][:5]]
    table = pr.measurements()
    if table is not None:
        s["objects"] = counts(table, pr.codes)
        s["sizes"] = size_distribution(table).to_dict(orient="records")
    return s


def format_prediction(s: dict) -> str:
    def f(x):
        return "-" if x is None else f"{x:.3f}"
    lines = [f"predicted {s['images']} image(s) ({s['tiled']} in tiles) in {s['seconds']:.1f} s on {s['device']}"
             f" -> {s['out']}"]
    lines += [f"note: {n}" for n in s["notes"]]
    if "mean_dice" in s:
        lines.append(f"Dice {f(s['mean_dice'])}, IoU {f(s['mean_iou'])}, pixel accuracy {f(s['pixel_accuracy'])}"
                     " (foreground classes, at each image's own size)")
        lines += [f"  {k:20s} Dice {f(v['dice'])}  IoU {f(v['iou'])}" for k, v in s["per_class"].items()]
        lines.append("worst: " + ", ".join(f"{w['image']} ({f(w['dice'])})" for w in s["worst"]))
    if "objects" in s:
        lines.append("objects: " + ", ".join(f"{k} {v}" for k, v in s["objects"].items()))
        lines += [f"  {r['class']:20s} equivalent diameter D10 {r['d10']:.3g}  D50 {r['d50']:.3g}  D90 {r['d90']:.3g}"
                  f" {r['unit']}" for r in s["sizes"]]
    if s["failed"]:
        lines.append(f"{len(s['failed'])} file(s) could not be read (listed below)")
    return "\n".join(lines)


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

    from .settings import ARCHS, LOSSES, DataSettings, TrainSettings
    dd, td = DataSettings(), TrainSettings()

    def training_options(q):
        q.add_argument("data", metavar="DATA_DIR")
        q.add_argument("--epochs", type=int, default=td.epochs, help=f"passes over the training set ({td.epochs})")
        q.add_argument("--lr", type=float, default=td.lr, help=f"peak learning rate ({td.lr:g})")
        q.add_argument("--bs", type=int, default=dd.bs, help=f"batch size ({dd.bs})")
        q.add_argument("--size", type=int, nargs="+", default=[dd.size], metavar="PX",
                       help=f"training size: a side, or height width; multiples of 32 ({dd.size})")
        q.add_argument("--arch", choices=list(ARCHS), default=td.arch, help=f"backbone ({td.arch})")
        q.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=td.pretrained,
                       help="start from ImageNet weights in the torch cache or --weights; never downloads")
        q.add_argument("--weights", help="a torchvision ImageNet state dict (.pth) for the backbone")
        q.add_argument("--valid-pct", type=float, default=dd.valid_pct, help=f"validation fraction ({dd.valid_pct})")
        q.add_argument("--seed", type=int, default=dd.seed, help=f"seed of the split and the training ({dd.seed})")
        q.add_argument("--augment", action=argparse.BooleanOptionalAction, default=dd.augment,
                       help="flips, rotation, zoom, lighting, warp on image and mask together")
        q.add_argument("--loss", choices=list(LOSSES), default=td.loss,
                       help="; ".join(f"{k}: {v}" for k, v in LOSSES.items()) + f" ({td.loss})")
        q.add_argument("--codes", help="class names, comma-separated, instead of codes.txt or inferred ones")
        q.add_argument("--workers", type=int, default=dd.workers, help="DataLoader worker processes (0)")
        q.add_argument("--within", action="append", metavar="DIR",
                       help="read only files under DIR (repeatable): links in the dataset leading elsewhere are left "
                            "out, as the app does for SEGBOARD_ROOTS")

    t = sub.add_parser("train", help="train a U-Net; writes config, events, weights and samples to --run-dir")
    training_options(t)
    t.add_argument("--run-dir", required=True, metavar="RUNS/NAME", help="a new folder for this run")
    t.add_argument("--from", dest="from_run", metavar="RUN_DIR", help="start from an earlier run's weights")
    t.add_argument("--budget", type=float, metavar="MINUTES",
                   help="plan size, batch, epochs, learning rate, loss and augmentation for the data, this device "
                        "and MINUTES of training (their options are then ignored); the plan is printed and recorded")
    t.add_argument("--find-lr", action="store_true", help="take the learning rate from lr_find's valley at the start")
    t.add_argument("--plan", help=argparse.SUPPRESS)  # the app's plan (JSON), recorded in config.json
    t.set_defaults(run=_train)
    f = sub.add_parser("lr-find", help="fastai's learning-rate finder: curve and suggestions")
    training_options(f)
    f.add_argument("--num-it", type=int, default=100, help="iterations (100)")
    f.add_argument("--out", metavar="FILE.json", help="write the curve and suggestions here")
    f.add_argument("--json", action="store_true", help="print the curve and suggestions as JSON")
    f.set_defaults(run=_lr_find)
    r = sub.add_parser("runs", help="list runs, newest first")
    r.add_argument("runs_dir", nargs="?", metavar="RUNS_DIR", help="default: the workspace's runs/")
    r.add_argument("--json", action="store_true")
    r.set_defaults(run=_runs)
    s = sub.add_parser("stop", help="ask a run to stop after its current batch (best weights kept)")
    s.add_argument("run_dir", metavar="RUN_DIR")
    s.set_defaults(run=_stop)
    q = sub.add_parser("predict", help="masks, previews, metrics (with truth) and measurements from a run's model")
    q.add_argument("run_dir", metavar="RUN_DIR")
    q.add_argument("input", nargs="?", metavar="INPUT",
                   help="an image, a folder of images, or a dataset folder with masks (adds metrics.json)")
    q.add_argument("--valid", action="store_true", help="the run's own validation pairs instead of INPUT")
    q.add_argument("--out", required=True, metavar="OUT_DIR", help="a new or empty folder (or --overwrite)")
    q.add_argument("--measure", action="store_true", help="write measurements.csv: objects, sizes, shapes")
    q.add_argument("--pixel-size", type=float, help="width of one pixel in --unit; sizes in pixels without it")
    q.add_argument("--unit", default="um", help="unit of --pixel-size (um)")
    q.add_argument("--weights", choices=["best", "last"], default="best", help="which weights of the run (best)")
    q.add_argument("--bs", type=int, default=8, help="images per forward pass (8)")
    q.add_argument("--overwrite", action="store_true", help="replace an earlier prediction in OUT_DIR")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q.set_defaults(run=_predict)
    for name, run, what in (("share", _share, "the addresses colleagues open and how the app is shared "
                                               "(password, read-only, folders)"),
                            ("serve", _serve, "start the app (as `make run` does) after printing how it is shared")):
        h = sub.add_parser(name, help=what)
        h.add_argument("--port", type=int, default=8501)
        h.add_argument("--address", help="the address to listen on: 127.0.0.1 (this machine only; the default "
                                         "without a password) or 0.0.0.0 (the network; the default with one)")
        h.add_argument("--secrets", default=".streamlit/secrets.toml", help="the app's secrets file")
        h.set_defaults(run=run)
    return p


def main(argv=None) -> int:
    import warnings
    # fastai's import warns about torch.jit; a user of the CLI can do nothing about it
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (SettingsError, RunError) as e:  # bad data, settings or a busy device: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
