"""`python -m seg ...`: everything the app does, headless.

    python -m seg demo OUT_DIR                 write the built-in demo dataset
    python -m seg inspect DATA_DIR [--json]    check a dataset: pairs, classes, problems, statistics
    python -m seg train DATA_DIR --run-dir RUNS/NAME [options]   train a U-Net; the run folder is its record
    python -m seg lr-find DATA_DIR [options] [--out FILE]       fastai's learning-rate finder
    python -m seg runs [RUNS_DIR] [--json]     list runs with status and final metrics
    python -m seg stop RUN_DIR                 ask a run to stop after its current batch
    python -m seg predict RUN_DIR INPUT --out OUT_DIR [--measure] [--json]   masks, previews, metrics,
                                               measurements (INPUT: an image, a folder, a dataset; or --valid)
    python -m seg label-next RUN_DIR IMAGES [--top N] [--json]   images ranked by the model's uncertainty: label
                                               these first (IMAGES: an image, a folder, a dataset, a labels set)
    python -m seg corrections RUN_DIR LABELS_SET --out DIR   the run's dataset with a labels set's corrections,
                                               for `train DIR --from RUN_DIR`
    python -m seg report RUN_DIR --out FILE.html    the run's report: one HTML file that opens offline
    python -m seg export RUN_DIR --format FORMAT --out DIR   the model for other tools, in a format of
                                               seg/prediction/exports.py (a BioImage Model Zoo package, ONNX, ...)
    python -m seg rename RUN_DIR TITLE         give a run a title (its folder keeps its name)
    python -m seg note RUN_DIR TEXT            write a note about a run ('' clears it)
    python -m seg delete RUN_DIR --yes         delete a finished run, weights and all
    python -m seg weights [--arch A ...]       fetch the backbones' ImageNet weights into the torch cache, checked
    python -m seg share [--port 8501]          the addresses colleagues open, and how the app is shared
    python -m seg serve [--port 8501] [--address A]   start the app: this machine only unless a password is set

The options, their names and the `--json` outputs are contracts: scripts outside the project read them.
"""

from __future__ import annotations

import argparse
import sys
import time

from seg.cli import commands as c
from seg.cli import serving
from seg.cli.options import add_run_options, add_training_options
from seg.errors import RunError, SettingsError
from seg.model.fetch import BASE_URL
from seg.model.registry import BACKBONES
from seg.prediction import runtimes

STARTED = time.time()  # a --budget counts from here: start-up, planning and final scoring are the user's minutes


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seg", description="segboard: segmentation datasets and models.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="write the built-in demo dataset")
    d.add_argument("out", metavar="OUT_DIR")
    d.add_argument("--n", type=int, default=64, help="number of pairs (64)")
    d.add_argument("--size", type=int, default=256, help="image side in pixels (256)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--objects", action="store_true", help="masks with one id per cell (16-bit), touching cells apart")
    d.set_defaults(run=c.cmd_demo)
    i = sub.add_parser("inspect", help="check a dataset and print its report and statistics")
    i.add_argument("data", metavar="DATA_DIR")
    i.add_argument("--json", action="store_true", help="print JSON (documented in docs/cli.md#inspect)")
    i.add_argument("--per-image", action="store_true", help="with --json: add per-image sizes and class fractions")
    i.add_argument("--codes", help="class names, comma-separated, instead of codes.txt or inferred ones")
    i.add_argument("--objects", action=argparse.BooleanOptionalAction,
                   help="masks hold one id per object (--no-objects: class values); default: decided from the masks")
    i.add_argument("--valid-pct", type=float, default=0.2, help="validation fraction of a random split (0.2)")
    i.add_argument("--seed", type=int, default=42, help="seed of the random split (42)")
    i.set_defaults(run=c.cmd_inspect)

    from seg.training.lr_finder import STEPS
    t = sub.add_parser("train", help="train a U-Net; writes config, events, weights and samples to --run-dir")
    add_training_options(t)
    t.add_argument("--run-dir", required=True, metavar="RUNS/NAME", help="a new folder for this run")
    add_run_options(t)
    t.set_defaults(run=c.cmd_train)
    f = sub.add_parser("lr-find", help="fastai's learning-rate finder: curve and suggestions")
    add_training_options(f, train=False)
    f.add_argument("--num-it", type=int, default=STEPS, help=f"iterations ({STEPS})")
    f.add_argument("--out", metavar="FILE.json", help="write the curve and suggestions here")
    f.add_argument("--json", action="store_true", help="print the curve and suggestions as JSON")
    f.set_defaults(run=c.cmd_lr_find)
    r = sub.add_parser("runs", help="list runs, newest first")
    r.add_argument("runs_dir", nargs="?", metavar="RUNS_DIR", help="default: the workspace's runs/")
    r.add_argument("--json", action="store_true")
    r.set_defaults(run=c.cmd_runs)
    s = sub.add_parser("stop", help="ask a run to stop after its current batch (best weights kept)")
    s.add_argument("run_dir", metavar="RUN_DIR")
    s.set_defaults(run=c.cmd_stop)
    q = sub.add_parser("predict", help="masks, previews, metrics (with truth) and measurements from a run's model")
    q.add_argument("run_dir", metavar="RUN_DIR")
    q.add_argument("input", nargs="?", metavar="INPUT",
                   help="an image, a folder of images, or a dataset folder with masks (adds metrics.json)")
    q.add_argument("--valid", action="store_true", help="the run's own validation pairs instead of INPUT")
    q.add_argument("--out", required=True, metavar="OUT_DIR", help="a new or empty folder (or --overwrite)")
    q.add_argument("--measure", action="store_true", help="write measurements.csv: objects, sizes, shapes")
    q.add_argument("--rois", action="store_true", help="write each image's objects for Fiji (rois/NAME.zip, ImageJ "
                   "ROIs), QuPath (rois/NAME.geojson) and napari (labels/NAME.tif)")
    q.add_argument("--pixel-size", type=float, help="width of one pixel in --unit; sizes in pixels without it")
    q.add_argument("--unit", default="um", help="unit of --pixel-size (um)")
    q.add_argument("--weights", choices=["best", "last"], default="best", help="which weights of the run (best)")
    q.add_argument("--bs", type=int, default=8, help="images per forward pass (8)")
    q.add_argument("--runtime", choices=runtimes.CHOICES, default="auto",
                   help="what computes the masks: " + runtimes.HELP)
    q.add_argument("--overwrite", action="store_true", help="replace an earlier prediction in OUT_DIR")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q.set_defaults(run=c.cmd_predict)
    n = sub.add_parser("label-next", help="images ranked by the model's uncertainty, most uncertain first: "
                                          "label these first")
    n.add_argument("run_dir", metavar="RUN_DIR")
    n.add_argument("images", metavar="IMAGES",
                   help="an image, a folder of images, a dataset, or a labels set (its images without a mask)")
    n.add_argument("--top", type=int, help="print only the first N")
    n.add_argument("--weights", choices=["best", "last"], default="best", help="which weights of the run (best)")
    n.add_argument("--bs", type=int, default=4, help="images per forward pass (4)")
    n.add_argument("--json", action="store_true", help="print the queue as JSON")
    n.set_defaults(run=c.cmd_label_next)
    k = sub.add_parser("corrections", help="the run's dataset with the masks a labels set corrected, split as the "
                                           "run split it (corrected images train): retrain with train DIR --from RUN")
    k.add_argument("run_dir", metavar="RUN_DIR")
    k.add_argument("labels", metavar="LABELS_SET", help="a labels set whose folder is the run's dataset")
    k.add_argument("--out", required=True, metavar="DIR", help="a new folder")
    k.add_argument("--json", action="store_true", help="print the folder, the corrected and the held-out images")
    k.set_defaults(run=c.cmd_corrections)
    o = sub.add_parser("report", help="the run's report: settings, plan, dataset, curves, scores per class, worst "
                                      "predictions, versions; one HTML file that opens offline")
    o.add_argument("run_dir", metavar="RUN_DIR")
    o.add_argument("--out", required=True, metavar="FILE.html",
                   help="the file to write: a new one, or an earlier report to replace")
    o.add_argument("--no-samples", action="store_true",
                   help="show the training's last sample sheet instead of predicting the validation images again")
    o.set_defaults(run=c.cmd_report)
    from seg.prediction import exports
    x = sub.add_parser("export", help="the run's model for other tools: "
                                      + " or ".join(f.a_label for f in exports.FORMATS.values()))
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("--format", choices=tuple(exports.FORMATS), default=exports.DEFAULT,
                   help="; ".join(f"{f.name}: {f.a_label}, {f.about}" for f in exports.FORMATS.values()).replace(
                       "%", "%%") + f" ({exports.DEFAULT})")
    x.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    x.add_argument("--weights", choices=["best", "last"], default="best", help="which weights of the run (best)")
    for o, names in exports.options().values():  # the options of the formats that take them
        x.add_argument(o.flag, dest=o.param, metavar=o.metavar, default=o.default,
                       action="append" if o.repeat else "store",
                       help=f"{', '.join(names)}: {o.help}".replace("%", "%%")
                       + (f" ({o.default})" if o.default is not None else ""))
    x.add_argument("--json", action="store_true", help="print what was written and the check's outcome as JSON")
    x.set_defaults(run=c.cmd_export)
    n = sub.add_parser("rename", help="give a run a title, shown beside its folder name (which stays)")
    n.add_argument("run_dir", metavar="RUN_DIR")
    n.add_argument("title", metavar="TITLE", help="'' clears it")
    n.set_defaults(run=c.cmd_rename)
    n = sub.add_parser("note", help="write a note about a run (replaces the earlier note; '' clears it)")
    n.add_argument("run_dir", metavar="RUN_DIR")
    n.add_argument("text", metavar="TEXT")
    n.set_defaults(run=c.cmd_note)
    n = sub.add_parser("delete", help="delete a run folder, weights and all (never one that is training)")
    n.add_argument("run_dir", metavar="RUN_DIR")
    n.add_argument("--yes", action="store_true", help="delete without asking (needed without a terminal)")
    n.set_defaults(run=c.cmd_delete)
    w = sub.add_parser("weights", help="fetch the backbones' ImageNet weights into the torch cache, checked (once, at "
                                        "set-up: `make run` does; a run never downloads)")
    w.add_argument("--arch", nargs="+", choices=list(BACKBONES), help="only these backbones (default: every one)")
    w.add_argument("--url", default=BASE_URL, help="where the files are (a mirror; default: torchvision's own)")
    w.set_defaults(run=c.cmd_weights)
    for name, run, what in (
            ("share", serving.cmd_share, "the addresses colleagues open and how the app is shared (password, "
                                         "read-only, folders)"),
            ("serve", serving.cmd_serve, "start the app (as `make run` does) after printing how it is shared")):
        h = sub.add_parser(name, help=what)
        h.add_argument("--port", type=int, default=8501)
        h.add_argument("--address", help="the address to listen on: 127.0.0.1 (this machine only; the default "
                                         "without a password) or 0.0.0.0 (the network; the default with one)")
        h.add_argument("--secrets", help="the app's secrets file, the only one the app then reads (default: the "
                                         "project's .streamlit/secrets.toml)")
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
