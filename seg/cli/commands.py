"""What each `python -m seg` command does; seg/cli/__init__.py declares them and their options."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from seg.cli import text
from seg.cli.options import from_args
from seg.errors import RunError, SettingsError


def cmd_demo(args) -> int:
    "The demo in a new or empty folder: one that holds anything (the user's files, another demo) is refused."
    from seg.data.demo import write_demo
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SettingsError(f"{out} exists and is not an empty folder; give a new or empty one for the demo "
                            "(nothing was changed).")
    out = write_demo(out, n=args.n, size=args.size, seed=args.seed, objects=args.objects)
    what = "one id per cell" if args.objects else "cell masks"
    print(f"demo dataset: {args.n} pairs of {args.size} px ({what}) in {out}")
    return 0


def dataset_path(data: str) -> str:
    """DATA_DIR as given, or for a zipped dataset (as uploaded in the app) the folder it unpacks to under
    the workspace's datasets/, checked as the app checks uploads (links, paths leaving it, bombs)."""
    if not (data.lower().endswith(".zip") and Path(data).is_file()):
        return data
    from seg.data.uploads import extract_zip
    from seg.server import workspace
    folder = extract_zip(Path(data), workspace.datasets_dir())
    print(f"unpacked {data} into {folder}", file=sys.stderr)
    return str(folder)


def cmd_inspect(args) -> int:
    from seg.data.dataset import Dataset
    from seg.server.sharing import Access  # the command line reads the whole machine
    ds = Dataset.open(dataset_path(args.data), codes=args.codes, objects=args.objects, access=Access.machine())
    summary = ds.summary(valid_pct=args.valid_pct, seed=args.seed)
    if args.json:
        if not args.per_image:
            summary.pop("per_image")
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print(text.format_summary(summary))
    return 0 if ds.ok else 1


def cmd_train(args) -> int:
    from seg.training.train import train
    data, settings = from_args(args)
    path = dataset_path(args.data)
    if args.from_run and data.scale is None:  # a model learned on windows goes on at the scale it learned at
        data = replace(data, scale=_learned(args.from_run).get("scale"))
    plan = json.loads(args.plan) if args.plan else None
    budget = None
    if args.budget is not None:
        data, settings, budget = _planned(path, data, settings, args, plan)
        plan = None
    status = train(path, args.run_dir, data, settings, codes=args.codes, from_run=args.from_run,
                   argv=["python", "-m", "seg", *sys.argv[1:]], plan=plan, budget=budget)
    from seg.runs import Run
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


def _planned(path, data, settings, args, given: dict | None = None):
    """The planner's settings for --budget minutes, printed with its reasons before the run starts, and the
    budget: the deadline counts from this process's start. `given`: the plan the app made and showed."""
    from seg.cli import STARTED
    from seg.model.device import detect
    from seg.training.budget import Budget
    from seg.training.planner import Plan
    from seg.training.planner import plan as make_plan
    from seg.training.prepare import prepare
    if args.budget <= 0:
        raise SettingsError(f"--budget {args.budget:g}: give the minutes the run may take, such as 15.")
    if given:
        p = Plan.from_json(given)
    else:
        dataset = prepare(path, data, settings, args.codes)
        p = make_plan(dataset, args.budget, detect(), settings, data.valid_pct, data.seed,
                      size=_size_of(args.from_run) if args.from_run else None)
        p.reasons += [f"Windows at scale {data.scale:g}, as the model it continues from learned."] if (
            args.from_run and data.scale is not None) else []
    trials = not args.no_trials
    print(f"plan for {args.budget:g} min: {p.summary()}; about {p.seconds / 60:.0f} min"
          + ("; candidates around it are tried first" if trials else ""))
    for reason in p.reasons:
        print(f"  {reason}")
    sys.stdout.flush()
    return p.data_settings(data), p.train_settings(settings), Budget(p, STARTED + args.budget * 60, trials)


def _learned(from_run: str) -> dict:
    "The data settings of the run `--from` names (its folder or a weights file in it): {} when unknown."
    from seg.runs import Run
    folder = Path(from_run)
    return (Run(folder.parent if folder.suffix == ".pth" else folder).config() or {}).get("data") or {}


def _size_of(from_run: str) -> tuple[int, int] | None:
    "The training size of the run `--from` names; None when unknown."
    from seg.util import hw
    size = _learned(from_run).get("size")
    return hw(size) if size else None


def cmd_lr_find(args) -> int:
    from seg.training.lr_finder import find_lr
    data, settings = from_args(args)
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


def cmd_runs(args) -> int:
    from seg.runs import list_runs
    rows = [r.summary() for r in list_runs(Path(args.runs_dir) if args.runs_dir else None)]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    for r in rows:
        dice = f"dice {r['dice']:.3f}" if r["dice"] is not None else ""
        title = f"  {r['title']}" if r["title"] else ""
        print(f"{r['run']:40s} {r['status']:9s} epochs {r['epochs']:7s} {dice}{title}")
    return 0


def cmd_stop(args) -> int:
    from seg.runs import Run
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


def cmd_predict(args) -> int:
    from seg.prediction.model import Model
    from seg.prediction.output import predict, validation
    from seg.runs import Run
    from seg.server.sharing import Access  # the command line reads the whole machine
    if bool(args.input) == args.valid:
        raise SettingsError("Give an INPUT (an image, a folder of images or a dataset) or --valid, not both.")
    model = Model.load(args.run_dir, args.weights)
    source = validation(Run(args.run_dir)) if args.valid else args.input
    meta = predict(args.run_dir, source, args.out, measure_objects=args.measure, pixel_size=args.pixel_size,
                   rois=args.rois, unit=args.unit, which=args.weights, bs=args.bs, overwrite=args.overwrite,
                   model=model, access=Access.machine(), runtime=args.runtime)
    summary = text.prediction_summary(Path(args.out))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print(text.format_prediction(summary))
    for f in meta["failed"]:
        print(f"warning: {f['image']}: {f['problem']} Fix: {f['fix']}", file=sys.stderr)
    return 1 if meta["failed"] else 0


def cmd_label_next(args) -> int:
    from seg.labels.queue import images_of, rank
    from seg.server.sharing import Access  # the command line reads the whole machine
    if not Path(args.images).exists():
        raise SettingsError(f"{args.images} does not exist: give an image, a folder of images, a dataset or a "
                            "labels set.")
    images = images_of(Path(args.images), Access.machine())
    ranked, failed = rank(Path(args.run_dir), images, args.weights, args.bs)
    shown = ranked[: args.top] if args.top else ranked
    if args.json:
        json.dump({"queue": [r.to_json() for r in shown], "images": len(images),
                   "failed": [{"image": str(f), "problem": why} for f, why in failed]}, sys.stdout, indent=2)
        print()
    else:
        print(f"{len(ranked)} images, most uncertain first (0: sure of every pixel, 1: no idea):")
        for r in shown:
            print(f"  {r.uncertainty:.3f}  {r.image}")
    for f, why in failed:
        print(f"warning: {f}: {why}", file=sys.stderr)
    return 1 if failed else 0


def cmd_corrections(args) -> int:
    from seg.errors import LabelsError
    from seg.labels.corrections import for_run
    from seg.labels.store import LabelSet
    from seg.server.sharing import Access  # the command line reads the whole machine
    out = Path(args.out)
    if out.exists():
        raise SettingsError(f"{out} exists already: give a new folder.")
    try:
        done = for_run(Path(args.run_dir), LabelSet(Path(args.labels)), out, Access.machine())
    except LabelsError as e:
        raise SettingsError(f"{e.problem} {e.fix}") from None
    except ValueError as e:
        raise SettingsError(str(e)) from None
    if args.json:
        json.dump({"out": str(done.path), "corrected": done.corrected, "held": done.held}, sys.stdout, indent=2)
        print()
    else:
        from seg.cli.options import to_argv
        from seg.labels.corrections import retrain_settings
        from seg.runs import Run
        options = " ".join(to_argv(*retrain_settings(Run(args.run_dir).config()), changed=True))
        print(f"{done.path}: {len(done.corrected)} corrected images train, {len(done.held)} validation images nobody "
              f"corrected are held out.\nRetrain: python -m seg train {done.path} --from {args.run_dir} {options} "
              f"--run-dir RUNS/NAME --budget MINUTES")
    return 0


def _run(path: str):
    from seg.runs import Run
    run = Run(path)
    if not run.exists():
        raise RunError(f"{run.path}: not a run folder (no config.json or events.jsonl); python -m seg runs lists them.")
    run.poll()
    return run


def cmd_report(args) -> int:
    from seg import run_report
    out = run_report.write(_run(args.run_dir).path, args.out, samples=not args.no_samples)
    print(f"report written to {out} ({out.stat().st_size / 1e6:.1f} MB; opens offline in a browser)")
    return 0


def cmd_export(args) -> int:
    "The run's model in the format chosen (seg/prediction/exports.py), with the options that format takes."
    from seg.prediction.exports import FORMATS
    fmt = FORMATS[args.format]
    run = _run(args.run_dir)
    result = fmt.write(run.path, args.out, which=args.weights, **{o.param: getattr(args, o.param) for o in fmt.options})
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(fmt.said(result))
    return 0


def cmd_rename(args) -> int:
    from seg.runs.manage import set_about
    run = _run(args.run_dir)
    done = set_about(run, title=args.title)
    print(f"{run.name}: title {done['title']!r}" if done["title"] else f"{run.name}: title cleared")
    return 0


def cmd_note(args) -> int:
    from seg.runs.manage import set_about
    run = _run(args.run_dir)
    done = set_about(run, note=args.text)
    print(f"{run.name}: note written ({len(done['note'])} characters)" if done["note"] else f"{run.name}: note cleared")
    return 0


def cmd_delete(args) -> int:
    from seg.runs.manage import delete
    run = _run(args.run_dir)
    if not args.yes:
        if not sys.stdin.isatty():
            raise RunError(f"Deleting {run.name} needs --yes when there is no terminal to ask (nothing was deleted).")
        if input(f"Delete {run.path}, weights and all? Type the folder name to confirm: ").strip() != run.name:
            print("not deleted")
            return 1
    delete(run)
    print(f"deleted {run.path}")
    return 0


def cmd_weights(args) -> int:
    "Fetch the ImageNet weights; 1 (with a sentence each) when some could not be fetched: runs then start from scratch."
    from seg.model.fetch import fetch
    results = fetch(args.arch, args.url, progress=lambda line: print(line, flush=True))
    for r in results:
        print(r.message)
    return 0 if all(r.state != "failed" for r in results) else 1
