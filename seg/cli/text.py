"""What the CLI prints in words: a dataset's report (`inspect`) and a prediction's summary (`predict`).
The `--json` forms are contracts docs/cli.md documents."""

from __future__ import annotations

from pathlib import Path

SHOWN = 20  # problems of each level printed as text


def prediction_summary(out: Path) -> dict:
    "What `predict --json` prints: the headline figures of the output folder."
    from seg.prediction.folder import Prediction
    from seg.prediction.measure import counts, size_distribution
    pr = Prediction(out)
    s = {"out": str(pr.path), "images": len(pr.meta["images"]), "tiled": sum(r["tiled"] for r in pr.meta["images"]),
         "failed": pr.meta["failed"], "notes": pr.meta["notes"], "seconds": pr.meta["seconds"],
         "device": pr.meta["device"], "runtime": pr.meta.get("runtime")}
    if pr.metrics:
        s.update({k: pr.metrics[k] for k in ("mean_dice", "mean_iou", "pixel_accuracy")})
        s["per_class"] = {k: {"dice": v["dice"], "iou": v["iou"]} for k, v in pr.metrics["per_class"].items()}
        s["worst"] = [{"image": r["image"], "dice": r["dice"]} for r in pr.metrics["per_image"][:5]]
        if pr.metrics.get("objects"):
            s["object_scores"] = pr.metrics["objects"]["summary"]
    table = pr.measurements()
    if table is not None:
        s["objects"] = counts(table, pr.codes)
        s["sizes"] = size_distribution(table).to_dict(orient="records")
    return s


def format_prediction(s: dict) -> str:
    def f(x):
        return "-" if x is None else f"{x:.3f}"
    runtime = f" ({s['runtime']})" if s.get("runtime") else ""
    lines = [f"predicted {s['images']} image(s) ({s['tiled']} in tiles) in {s['seconds']:.1f} s on {s['device']}"
             f"{runtime} -> {s['out']}"]
    lines += [f"note: {n}" for n in s["notes"]]
    if "mean_dice" in s:
        lines.append(f"Dice {f(s['mean_dice'])}, IoU {f(s['mean_iou'])}, pixel accuracy {f(s['pixel_accuracy'])}"
                     " (foreground classes, at each image's own size)")
        lines += [f"  {k:20s} Dice {f(v['dice'])}  IoU {f(v['iou'])}" for k, v in s["per_class"].items()]
        lines.append("worst: " + ", ".join(f"{w['image']} ({f(w['dice'])})" for w in s["worst"]))
    if "object_scores" in s:
        o = s["object_scores"]
        error = "-" if o["count_error_median"] is None else f"{o['count_error_median']:.0%}"
        lines.append(f"objects found {o['found']} of {o['true']} true, AP at IoU 0.5 {f(o['ap50'])}, mean AP "
                     f"0.5:0.95 {f(o['ap'])}, median count error {error} per image")
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
    o = s.get("objects")
    if o:
        lines.append(f"objects  {o['objects']} ({o['name']}), {o['per_image']['min']} to {o['per_image']['max']} "
                     f"an image (median {o['per_image']['median']:g}); ids: {o['ids']}")
        if o["diameter_px"]:
            d = o["diameter_px"]
            lines.append(f"         diameter D10 {d['d10']:.3g}, D50 {d['d50']:.3g}, D90 {d['d90']:.3g} px; "
                         f"{o['touching_share']:.0%} touch another")
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
