"""A run's model as a BioImage Model Zoo package (model spec 0.5), for Fiji with deepImageJ, ilastik, QuPath,
BiaPy and the `bioimageio` tools: `python -m seg export RUN_DIR --format bioimageio --out DIR`.

The package folder (DIR; the Predict page downloads it zipped, the zoo's package format):

    rdf.yaml             the description (bioimageio.spec builds and validates it)
    weights.torchscript  the U-Net with a softmax, traced (TorchScript)
    weights.onnx         the same as ONNX
    test_input.npy       a validation image of the run at the training size: float32 (1, 3, H, W), RGB 0..255
    test_output.npy      the model's output for it: float32 (1, classes, H, W), class probabilities
    cover.png            that image | its predicted mask
    README.md            what the model is, its classes, its scores, how it was trained
    codes.txt, config.json   the class names and the run's settings, for segboard and people

Input `image`: RGB values 0..255 as float32, at the training size (the height and width are fixed: a tool
tiles or resizes larger images); the preprocessing in rdf.yaml is the training normalisation (ImageNet
mean and standard deviation, per channel, on 0..255). Output `probabilities`: one channel per class,
summing to 1; the class of a pixel is the channel with the largest value. A run on objects outputs its
three classes (background, interior, boundary): its split into objects is segboard's (README.md says how).

Every export is tested with bioimageio.core's own `test_model` (the package reproduces its test output
with both weight formats, offline) when the package is installed; the outcome is in `export.json`.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seg.errors import PredictError
from seg.prediction.exports import LICENSE
from seg.prediction.model import Model
from seg.util import write_json

OPSET = 17


class WithSoftmax(torch.nn.Module):
    "The U-Net with a softmax over the classes: tools that read the zoo's format expect probabilities."

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def _test_image(model: Model) -> tuple[np.ndarray, str]:
    """The package's test input at the training size, (H, W, C): uint8 RGB for an RGB model, else the image's raw
    channels (float32, in their own values: the package's preprocessing scales them); the run's first validation
    image, else a generated one."""
    from seg.data.channels import raw_channels, resize_channels
    from seg.data.images import load_image
    from seg.prediction.inference import resize
    from seg.prediction.output import validation
    from seg.runs import Run
    try:
        items = validation(Run(model.run)).items
        if model.input.rgb:
            return resize(load_image(items[0].image), model.size), f"the run's validation image {items[0].name}"
        raw = raw_channels(items[0].image)[..., list(model.input.pick)].astype(np.float32)
        return resize_channels(raw, model.size), f"the run's validation image {items[0].name}"
    except Exception:  # the dataset moved or is unreadable: a package still needs a test image
        rng = np.random.default_rng(0)
        if model.input.rgb:
            return rng.integers(0, 256, (*model.size, 3), dtype=np.uint8), "random pixels (the run's dataset is gone)"
        low, high = np.asarray(model.input.low or [0.0]), np.asarray(model.input.high or [1.0])
        values = low + rng.random((*model.size, model.input.n_in)) * (high - low)
        return values.astype(np.float32), "random values (the run's dataset is gone)"


def export_bioimageio(run_dir, out, which: str = "best", license: str = LICENSE, authors: list[str] | None = None,
                      check: bool = True) -> dict:
    """Write the package described above into `out` (a new or empty folder) and test it; returns export.json's
    content: {"format", "folder", "rdf", "run", "weights", "test_image", "test": {"passed", "status", "details",
    "checks"} or None}."""
    from seg.data.codes import Codes
    from seg.data.overlay import Overlay, side_by_side
    from seg.prediction.export import new_folder
    from seg.prediction.inference import _to_batch
    from seg.runs import Run

    out = new_folder(out)
    model = Model.load(run_dir, which)
    run = Run(model.run)
    run.poll()
    cfg = run.config()
    full = run.full_size()  # the best weights' scores at the images' own size, for the README and config
    h, w = model.size
    net = WithSoftmax(model.module.cpu().eval().to(memory_format=torch.contiguous_format)).eval()
    image, source = _test_image(model)
    x = np.ascontiguousarray(image.transpose(2, 0, 1)[None].astype(np.float32))  # (1, C, H, W) as the file holds it
    prepared = image if model.input.rgb else model.input.prepare(image)
    with torch.no_grad():  # normalised as segboard predicts; rdf.yaml's preprocessing does the same on x
        y = net(_to_batch([prepared])).numpy().astype(np.float32)
    shown = model.input.show(prepared)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "test_input.npy", x)
        np.save(tmp / "test_output.npy", y)
        example = torch.zeros(1, model.input.n_in, h, w)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on fastai's size checks: the size is fixed here
            torch.jit.trace(net, example).save(str(tmp / "weights.torchscript"))
            torch.onnx.export(net, (example,), str(tmp / "weights.onnx"), input_names=["image"],
                              output_names=["probabilities"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})
        overlay = Overlay(Codes.given(model.mask_codes if not model.objects else model.codes), 0.55)
        Image.fromarray(side_by_side([shown, overlay(shown, y[0].argmax(0).astype(np.uint8))])).save(tmp / "cover.png")
        (tmp / "README.md").write_text(_readme(model, cfg, source, full), encoding="utf-8")
        (tmp / "codes.txt").write_text("\n".join(model.codes) + "\n", encoding="utf-8")
        (tmp / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
        descr = _description(model, tmp, license, authors or ["segboard user"], full)
        from bioimageio.spec import save_bioimageio_package_as_folder
        out.mkdir(parents=True, exist_ok=True)
        save_bioimageio_package_as_folder(descr, output_path=out)
    result = {"format": "bioimageio", "folder": str(out), "rdf": str(out / "rdf.yaml"), "run": str(model.run),
              "weights": str(model.weights), "test_image": source, "test": test(out) if check else None}
    write_json(out / "export.json", result)
    if result["test"] is not None and not result["test"]["passed"]:
        raise PredictError(f"The package in {out} failed the bioimageio test: {result['test']['details']}")
    return result


def _description(model: Model, folder: Path, license: str, authors: list[str], full: dict | None):
    from bioimageio.spec.model import v0_5 as m

    from seg.data.channels import MEAN, STD
    from seg.prediction.inference import IMAGENET_MEAN, IMAGENET_STD
    h, w = model.size
    name = _name(f"segboard U-Net {model.arch} - {' '.join(model.codes[1:])}")
    seen = model.input
    if seen.rgb:
        channels, described, values = ("red", "green", "blue"), "RGB image, values 0..255", (0.0, 255.0)
        preprocessing = [m.FixedZeroMeanUnitVarianceDescr(kwargs=m.FixedZeroMeanUnitVarianceAlongAxisKwargs(
            axis=m.AxisId("channel"), mean=[v * 255 for v in IMAGENET_MEAN], std=[v * 255 for v in IMAGENET_STD]))]
    else:
        channels = [_identifier(n, i + 1) if n else f"channel{i + 1}"
                    for i, n in zip(seen.pick, seen.names or [""] * len(seen.pick))]
        described, values = f"{seen.n_in} channel(s) in their own values (scaled in preprocessing)", (None, None)
        preprocessing = [_scaling(m, seen), m.ClipDescr(kwargs=m.ClipKwargs(min=0.0, max=1.0)),
                         m.FixedZeroMeanUnitVarianceDescr(kwargs=m.FixedZeroMeanUnitVarianceKwargs(mean=MEAN, std=STD))]
    image_in = m.InputTensorDescr(
        id=m.TensorId("image"), description=f"{described}, at the training size",
        axes=[m.BatchAxis(), m.ChannelAxis(channel_names=[m.Identifier(c) for c in channels]),
              m.SpaceInputAxis(id=m.AxisId("y"), size=h), m.SpaceInputAxis(id=m.AxisId("x"), size=w)],
        test_tensor=m.FileDescr(source=folder / "test_input.npy"),
        data=m.IntervalOrRatioDataDescr(type="float32", range=values),
        preprocessing=preprocessing)
    probs_out = m.OutputTensorDescr(
        id=m.TensorId("probabilities"), description="class probabilities; the class of a pixel is the largest",
        axes=[m.BatchAxis(), m.ChannelAxis(channel_names=[m.Identifier(_identifier(c, i))
                                                          for i, c in enumerate(model.codes)]),
              m.SpaceOutputAxis(id=m.AxisId("y"), size=h), m.SpaceOutputAxis(id=m.AxisId("x"), size=w)],
        test_tensor=m.FileDescr(source=folder / "test_output.npy"),
        data=m.IntervalOrRatioDataDescr(type="float32", range=(0.0, 1.0)))
    version = torch.__version__.split("+")[0]
    return m.ModelDescr(
        name=name, description=(f"Semantic segmentation into {len(model.codes)} classes "
                                f"({', '.join(model.codes)}), trained with segboard (fastai U-Net, {model.arch})."
                                )[:1024],
        authors=[m.Author(name=a) for a in authors],
        cite=[m.CiteEntry(text="fastai: A Layered API for Deep Learning (Howard and Gugger, 2020)",
                          doi=m.Doi("10.3390/info11020108"))],
        license=m.LicenseId(license), documentation=m.FileDescr(source=folder / "README.md"),
        covers=[m.FileDescr(source=folder / "cover.png")],
        tags=["segmentation", "unet", "fastai", "segboard", model.arch, "2d"],
        inputs=[image_in], outputs=[probs_out],
        weights=m.WeightsDescr(
            torchscript=m.TorchscriptWeightsDescr(source=folder / "weights.torchscript", pytorch_version=version),
            onnx=m.OnnxWeightsDescr(source=folder / "weights.onnx", opset_version=OPSET, parent="torchscript")),
        attachments=[m.FileDescr(source=folder / "codes.txt"), m.FileDescr(source=folder / "config.json")],
        config={"segboard": {"classes": model.codes, "run": Path(model.run).name,
                             "dice_own_size": (full or {}).get("dice")}},
    )


def _scaling(m, seen):
    """The package's step from raw channel values to 0..1 as segboard scales them: the training images'
    percentiles as a linear map per channel, or each image's own percentiles (`scale_range` per sample)."""
    from seg.model.settings import PERCENTILES
    if seen.scaling == "dataset":
        gain = [1 / max(hi - lo, 1e-12) for lo, hi in zip(seen.low, seen.high)]
        return m.ScaleLinearDescr(kwargs=m.ScaleLinearAlongAxisKwargs(
            axis=m.AxisId("channel"), gain=gain, offset=[-lo * g for lo, g in zip(seen.low, gain)]))
    return m.ScaleRangeDescr(kwargs=m.ScaleRangeKwargs(axes=[m.AxisId("y"), m.AxisId("x")],
                                                       min_percentile=PERCENTILES[0], max_percentile=PERCENTILES[1]))


def _name(text: str) -> str:
    "The spec's name: letters, digits and _+- () only (a class name may hold anything), at most 128."
    import re
    return re.sub(r"[^A-Za-z0-9_+\- ()]+", "_", text)[:128].strip() or "segboard U-Net"


def _identifier(name: str, i: int) -> str:
    "A channel name the spec takes: the class name, or class{i} where it holds other characters."
    return name if name.isidentifier() and len(name) <= 32 else f"class{i}"


def _readme(model: Model, cfg: dict, source: str, full: dict | None) -> str:
    h, w = model.size
    lines = [f"# {', '.join(model.codes[1:])}: a U-Net trained with segboard", "",
             f"A fastai U-Net with a {model.arch} backbone, {len(model.codes)} classes:", ""]
    lines += [f"- channel {i}: {c}" for i, c in enumerate(model.codes)]
    lines += ["", "## Input and output", "",
              f"- input `image`: {'RGB, values 0..255' if model.input.rgb else model.input.describe()} (float32), "
              f"{h} x {w} pixels (height x width): {model.seen}"
              + ("." if model.tiles else "; resize an image to it, or tile a larger one at the training scale."),
              "- preprocessing: per channel, minus the ImageNet mean and over its standard deviation, both times 255 "
              "(in rdf.yaml)." if model.input.rgb else f"- preprocessing (in rdf.yaml): {model.input.recipe()}.",
              "- output `probabilities`: one channel per class, summing to 1; the class of a pixel is the channel "
              "with the largest probability.", ""]
    if model.objects:
        lines += ["This run learned objects as three classes (background, interior, boundary between touching "
                  "objects); segboard splits them into objects with a seeded watershed (see its objects.json).", ""]
    ds = cfg.get("dataset", {})
    lines += ["## Training", "",
              f"- dataset: {Path(str(ds.get('root', ''))).name} (fingerprint {ds.get('fingerprint')}), "
              f"{ds.get('train')} training and {ds.get('valid')} validation pairs",
              f"- epochs {cfg.get('train', {}).get('epochs')}, learning rate {cfg.get('train', {}).get('lr')}, "
              f"loss {cfg.get('train', {}).get('loss')}, batch size {cfg.get('batch_size_used')}",
              f"- versions: {', '.join(f'{k} {v}' for k, v in cfg.get('versions', {}).items())}", ""]
    if full and full.get("dice") is not None:
        lines += ["## Validation", "",
                  f"Dice {full['dice']:.3f}, IoU {full['iou']:.3f} on {full['images']} validation images at their "
                  "own size (best weights). Per class:", ""]
        lines += [f"- {c}: Dice {v.get('dice') if v.get('dice') is None else round(v['dice'], 3)}"
                  for c, v in full.get("per_class", {}).items()]
        lines += [""]
    lines += ["## Test image", "", f"test_input.npy is {source}; test_output.npy is this model's output for it.", ""]
    return "\n".join(lines)


def test(folder: Path) -> dict:
    """bioimageio.core's `test_model` on the package (both weight formats, their test output reproduced),
    offline; None when bioimageio.core is not installed."""
    try:
        from bioimageio.core import test_model
    except ImportError:
        return None
    summary = test_model(Path(folder) / "rdf.yaml")
    failed = [f"{d.name}: {'; '.join(str(e.msg) for e in d.errors)}" for d in summary.details if d.status == "failed"]
    return {"passed": summary.status == "passed", "status": summary.status,
            "details": failed[:10], "checks": len(summary.details)}
