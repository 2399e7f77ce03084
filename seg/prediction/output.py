"""A prediction job: a run's model over a file, a folder of images, a dataset with masks or the run's
own validation set, written to an output folder. `python -m seg predict` and the Predict page both call
`predict()` and read the folder back with `seg.prediction.folder.Prediction`.

    masks/<stem>.png     class indices (0 = first class), 8-bit, at the image's own size; an image read by
                         regions (seg/data/large.py) gets masks/<stem>.tif, tiled, written by tiles
                         (seg/prediction/large.py), its preview an overview, no objects
    instances/<stem>.png a run on objects: one id per object (0 = background), 16-bit (seg/prediction/instances.py)
    previews/<stem>.png  image | truth | prediction | error map (image | prediction without truth)
    metrics.json         with truth: mean_dice, mean_iou, pixel_accuracy, per_class, confusion and
                         per_image (each image's dice, iou, pixel_accuracy, per_class), worst first; a run
                         on objects adds `objects`: split, summary (ap50, ap, counts) and per_image
    measurements.csv     with --measure: one row per object (columns in seg/measure.py)
    prediction.json      what was predicted with what, each image's files, the files that failed

These names are a contract: scripts outside the project read them. Scores are computed at each
image's own resolution, on the masks written. NaN (a class absent from truth and prediction) is null.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from seg.data import stacks
from seg.data.channels import named_channels
from seg.data.classes import NO_CLASS
from seg.data.codes import Codes
from seg.data.dataset import Dataset
from seg.data.discovery import Pair, image_files, signature
from seg.data.images import IMAGE_EXTS, is_image_name, is_large
from seg.data.overlay import Overlay
from seg.data.report import Report
from seg.errors import ImageError, PredictError
from seg.model import pixel_scores
from seg.objects import matching
from seg.prediction import measure
from seg.prediction.files import predict_files
from seg.prediction.instances import objects_split, save_ids, split_probabilities
from seg.prediction.large import into_folder
from seg.prediction.model import Model
from seg.prediction.predictors import dataset_of, predictor_for
from seg.prediction.previews import preview, preview_objects
from seg.runs import Run
from seg.server.sharing import Access
from seg.util import write_json

OUTPUTS = ("masks", "instances", "previews", "rois", "labels", "stacks", "metrics.json", "measurements.csv",
           "prediction.json")


@dataclass
class Item:
    name: str  # unique stem: the output files' name
    image: Path
    pair: Pair | None = None


@dataclass
class Inputs:
    "What to predict, and the dataset that decodes the truth when there is one."

    items: list[Item]
    source: str  # "file", "folder", "dataset" or "validation"
    root: Path
    dataset: Dataset | None = None
    notes: list[str] = field(default_factory=list)


def _names(paths: list[Path], root: Path) -> list[str]:
    """Each file's stem; where two files share one, the folders under `root` are added: a/x.png -> a_x. A stack's
    slice adds its index: cells.tif's slice 12 is cells[z=12]."""
    stems = Counter(Path(f).stem for f in dict.fromkeys(str(p) for p in paths))  # a stack's slices: one file
    out = []
    for p in paths:
        if stems[p.stem] == 1:
            name = p.stem
        else:
            rel = p.relative_to(root) if p.is_relative_to(root) else Path(p.parent.name) / p.name
            name = "_".join(rel.with_suffix("").parts)
        out.append(stacks.labelled(p, name))
    return out


def _slices(files: list[Path]) -> list[Path]:
    "The files, a TIFF stack as its slices (seg/data/stacks.py)."
    out: list[Path] = []
    for f in files:
        n = stacks.depth(f)
        out += [stacks.Slice(f, z) for z in range(n)] if n else [f]
    return out


def _with_truth(dataset: Dataset, pairs: list[Pair], source: str) -> Inputs:
    names = _names([p.image for p in pairs], dataset.root)
    inputs = Inputs([Item(n, p.image, p) for n, p in zip(names, pairs)], source, dataset.root, dataset)
    broken = len(dataset.scans) - len(dataset.usable)  # pairs found whose files could not be used
    if broken:
        inputs.notes.append(f"{broken} pair(s) left out for problems (python -m seg inspect {dataset.root} "
                            f"lists them).")
    return inputs


def inputs(path, codes: list[str], access: Access, objects: bool = False) -> Inputs:
    """A file, a folder of images, or a dataset folder with masks in any layout the Data page reads
    (then the truth is decoded with the run's classes `codes`; `objects`: as one id per object, for a run on
    objects). `access`: what the app's viewer may read."""
    path = Path(path).expanduser()
    if not path.exists():
        raise PredictError(f"{path}: not found. Give an image file or a folder (paths are read on the server).")
    if path.is_file():
        if not is_image_name(path):
            raise PredictError(f"{path}: not an image file this tool reads; use one of "
                               f"{', '.join(sorted(IMAGE_EXTS))}.")
        files = _slices([path])
        return Inputs([Item(n, f) for n, f in zip(_names(files, path.parent), files)], "file", path.parent)
    dataset = Dataset.open(path, codes=codes, access=access, objects=objects)
    if dataset.scans:  # pairs found, readable or not: a dataset, never its masks taken for images
        if dataset.codes is not None and len(dataset.codes) != len(codes):
            raise PredictError(f"{path}: its masks hold {len(dataset.codes)} classes, the run knows {len(codes)} "
                               f"({', '.join(codes)}). Predict it as images (a folder without masks) or "
                               f"train a run on these classes.")
        foreign = [p for p in dataset.report.errors if NO_CLASS in p.problem]
        if foreign:  # truth in other classes than the run's: no score would mean anything
            raise PredictError(f"{path}: {len(foreign)} mask(s) hold values outside the run's classes "
                               f"({', '.join(codes)}), first {foreign[0].file}: {foreign[0].problem} Predict it "
                               f"as images (a folder without masks) or train a run on these classes.")
        if not dataset.usable or dataset.encoding is None:
            raise PredictError(f"{path}: the masks cannot be read with the run's classes ({', '.join(codes)}): "
                               f"{dataset.first_error()}")
        return _with_truth(dataset, [s.pair for s in dataset.usable], "dataset")
    files = image_files(path, Report(path), access)
    if not files:
        raise PredictError(f"{path}: no image files in it ({', '.join(sorted(IMAGE_EXTS))}).")
    files = _slices(files)
    return Inputs([Item(n, f) for n, f in zip(_names(files, path), files)], "folder", path)


def validation(run: Run) -> Inputs:
    "The run's own validation pairs, split as in training; a note when the dataset changed since."
    dataset, cfg = dataset_of(run)
    root = Path(cfg["dataset"]["root"])
    _, valid = dataset.split(cfg["data"]["valid_pct"], cfg["data"]["seed"])
    usable = {s.pair for s in dataset.usable}
    inputs = _with_truth(dataset, [p for p in valid if p in usable], "validation")
    if not inputs.items:
        raise PredictError(f"{run.path}: no usable validation pairs in {root}.")
    if signature(root) != cfg["dataset"].get("fingerprint"):
        inputs.notes.append(f"Files in {root} changed since the run was trained: the validation split may "
                            f"differ from the one it was scored on.")
    return inputs


def stack_masks(out: Path, records: list[dict], objects: bool) -> list[dict]:
    """For each stack predicted, its slices' masks as one stack of the stack's depth, stacks/<stem>.tif (Z, H, W),
    and for a run on objects its slices' ids, stacks/<stem>_instances.tif (objects are per slice: an id in one
    slice is not the same object in the next). The slices' own files stay (the Predict page shows them)."""
    import tifffile
    by_stack: dict[str, list[dict]] = {}
    for r in records:
        if "z" in r:
            by_stack.setdefault(r["image"], []).append(r)
    made = []
    for image, slices in by_stack.items():
        slices.sort(key=lambda r: r["z"])
        stem = slices[0]["name"].rsplit("[z=", 1)[0]
        (out / "stacks").mkdir(exist_ok=True)
        masks = np.stack([np.asarray(Image.open(out / r["mask"])) for r in slices])
        tifffile.imwrite(out / "stacks" / f"{stem}.tif", masks, metadata={"axes": "ZYX"}, compression="zlib")
        entry = {"image": image, "slices": len(slices), "masks": f"stacks/{stem}.tif"}
        if objects:
            ids = np.stack([np.asarray(Image.open(out / r["instances"])) for r in slices])
            tifffile.imwrite(out / "stacks" / f"{stem}_instances.tif", ids, metadata={"axes": "ZYX"},
                             compression="zlib")
            entry["instances"] = f"stacks/{stem}_instances.tif"
        made.append(entry)
    return made


# ---- the output folder ------------------------------------------------------------------------------

def prepare_out(out: Path, source_root: Path, overwrite: bool) -> None:
    "Never write over a user's files: a new or empty folder, or an earlier prediction with `overwrite`."
    out = Path(out).expanduser().resolve()
    if out.is_relative_to(source_root.resolve()) and out != source_root.resolve():
        raise PredictError(f"--out {out} is inside the input folder {source_root}: the masks written would "
                           f"be read as images next time. Choose a folder outside it.")
    if out.exists() and not out.is_dir():
        raise PredictError(f"--out {out} is a file; give a folder.")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "prediction.json").is_file():
            raise PredictError(f"--out {out} holds other files; choose a new or empty folder (nothing was changed).")
        if not overwrite:
            raise PredictError(f"--out {out} holds an earlier prediction; pass --overwrite to replace it, or "
                               f"choose a new folder (nothing was changed).")
        for name in OUTPUTS:  # only what a prediction writes; anything else in the folder stays
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    (out / "masks").mkdir(parents=True, exist_ok=True)
    (out / "previews").mkdir(exist_ok=True)


def predict(run_dir, source, out, *, measure_objects: bool = False, pixel_size: float | None = None,
            rois: bool = False, unit: str = "um", which: str = "best", bs: int = 8, overwrite: bool = False,
            progress=None, model: Model | None = None, access: Access, runtime: str = "auto") -> dict:
    """Predict every image of `source` (a path, or `Inputs`) with the run's model into `out`; `access`: what
    the app's viewer may read of a path; `rois`: each image's objects for Fiji, QuPath and napari
    (seg/prediction/rois.py); `runtime`: what computes the masks (seg/prediction/runtimes.py). Returns
    prediction.json's content. Raises PredictError before writing anything for bad input."""
    measure.check_pixel_size(pixel_size)
    model = model or Model.load(run_dir, which)
    objects = model.objects is not None  # learned interiors and boundaries: masks, and objects split apart
    codes = model.mask_codes
    src = source if isinstance(source, Inputs) else inputs(source, codes, access, objects)
    out = Path(out).expanduser().resolve()
    prepare_out(out, src.root, overwrite)
    if objects:
        (out / "instances").mkdir(exist_ok=True)
    split = objects_split(model.run) if objects else None
    started = time.time()
    predictor = predictor_for(model, bs, runtime)
    overlay = Overlay(Codes.given(codes), 0.55)
    total = np.zeros((len(codes),) * 2, np.int64)
    per_image, per_image_objects, tables, records, failed = [], [], [], [], []
    items = {it.image: it for it in src.items}
    large = [it for it in src.items if is_large(it.image)]  # read by regions, predicted by tiles
    for i, item in enumerate(large):
        try:
            record, note, table = into_folder(predictor, item.name, item.image, out, overlay, measure_objects)
        except ImageError as e:
            failed.append({"image": str(item.image), "problem": e.problem, "fix": e.fix})
        else:
            records.append(record)
            src.notes.append(note)
            if table is not None:
                tables.append(table)
        if progress:
            progress(i + 1, len(src.items))
    paths = [it.image for it in src.items if it not in large]
    for i, (path, image, mask) in enumerate(predict_files(predictor, paths, probabilities=objects), len(large)):
        item = items[path]
        if image is None:
            failed.append({"image": str(path), "problem": mask.problem, "fix": mask.fix})
        else:
            ids = None
            if objects:
                mask, ids = split_probabilities(mask, split)
            truth = src.dataset.mask(item.pair) if item.pair is not None else None
            if truth is not None and truth.shape != mask.shape:
                failed.append({"image": str(path), "problem": f"mask {truth.shape[::-1]} and image "
                               f"{mask.shape[::-1]} differ in size", "fix": "Give the mask the image's size."})
                truth = None
            true_ids = src.dataset.ids(item.pair) if objects and truth is not None else None
            Image.fromarray(mask).save(out / "masks" / f"{item.name}.png")
            image = model.input.show(image)  # what a person sees: channels as a composite
            shown = preview_objects(image, ids, true_ids if truth is not None else None) if objects \
                else preview(image, mask, truth, overlay)
            Image.fromarray(shown).save(out / "previews" / f"{item.name}.png")
            records.append({"name": item.name, "image": str(path), **({"z": path.z} if stacks.z_of(path) is not None
                                                                         else {}), "mask": f"masks/{item.name}.png",
                            "preview": f"previews/{item.name}.png", "width": mask.shape[1], "height": mask.shape[0],
                            "tiled": predictor.needs_tiles(*mask.shape),
                            "truth": str(item.pair.mask) if truth is not None else None})
            if objects:
                save_ids(out / "instances" / f"{item.name}.png", ids)
                records[-1].update({"instances": f"instances/{item.name}.png", "objects": int(ids.max())})
            if truth is not None:
                m = pixel_scores.confusion(truth, mask, len(codes))
                total += m
                per_image.append({"image": item.name, "file": str(path), **pixel_scores.image_scores(m, codes)})
                if objects:
                    per_image_objects.append({"image": item.name, **matching.image_scores(true_ids, ids)})
            if rois:  # the objects as ImageJ ROIs, QuPath GeoJSON and a label image (seg/prediction/rois.py)
                from seg.prediction import rois as outlines
                found = outlines.objects_of(mask, codes, ids if objects else None)
                records[-1].update(outlines.write(out, item.name, found, [overlay.codes.display_color(k)
                                                                          for k in range(1, len(codes))]))
            if measure_objects:  # sizes, shapes, and intensities in the file's own values
                values = named_channels(path)
                tables.append(measure.objects_of_ids(ids, codes[1], image=item.name, intensity=values) if objects
                              else measure.objects(mask, codes, image=item.name, intensity=values))
        if progress:
            progress(i + 1, len(src.items))
    meta = {
        "run": str(model.run), "weights": str(model.weights), "codes": codes, "input": str(src.root),
        "source": src.source, "images": records, "failed": failed, "notes": src.notes + predictor.notes,
        "measured": measure_objects, "rois": rois, "pixel_size": pixel_size, "unit": unit if pixel_size else "px",
        "device": predictor.device.label, "seconds": round(time.time() - started, 2),
        "precision": predictor.precision.label if predictor.precision else None,
        "runtime": predictor.label,
        "precision_timings": predictor.timings,
        "objects": {"name": codes[1], "split": split.to_json()} if objects else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if per_image:
        headline = pixel_scores.headline(total)
        write_json(out / "metrics.json", {
            "codes": codes, "resolution": "each image's own size",
            "mean_dice": headline["dice"], "mean_iou": headline["iou"],
            "pixel_accuracy": pixel_scores.accuracy(total),
            "mean_image_dice": pixel_scores.nanmean(r["dice"] for r in per_image),
            "per_class": pixel_scores.per_class(total, codes), "confusion": total.tolist(),
            "per_image": pixel_scores.worst_first(per_image),
            **({"objects": {"split": split.to_json(), "summary": matching.summary(per_image_objects),
                            "per_image": sorted(per_image_objects, key=lambda r: (r["ap50"], r["image"]))}}
               if objects else {})})
    if measure_objects:
        measure.in_units(measure.combine(tables), pixel_size, unit).to_csv(out / "measurements.csv", index=False)
    meta["stacks"] = stack_masks(out, records, objects)
    write_json(out / "prediction.json", meta)
    return meta
