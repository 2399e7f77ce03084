"""A run's model for other tools: ONNX (ONNX Runtime, OpenVINO, and the tools built on them).

The file holds the plain U-Net (`nn.Module`, float32, the training layout): input `image`, a batch of
images (N, C, H, W) at the training size prepared as in training (`Input.recipe`: RGB scaled to 0..1 and
normalised with the ImageNet mean and standard deviation); output `logits` (N, classes, H, W), whose
argmax over the classes is the mask. The batch size may vary; the height and width are the training size's.
Every export is checked: ONNX Runtime (when installed) must give PyTorch's logits on a test batch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from seg.errors import PredictError
from seg.prediction.model import Model

OPSET = 17
README = """model.onnx: a U-Net trained with segboard (run {run}; {arch} backbone, {n} classes: {codes}).

Input `image`: float32 (N, {c}, {h}, {w}), {recipe}: {seen}, as in
training. Output `logits` (N, {n}, {h}, {w}):
the class of a pixel is the argmax over the classes (codes.txt: class index = line number - 1).

    import numpy as np, onnxruntime as ort
    session = ort.InferenceSession("model.onnx")
    logits = session.run(["logits"], {{"image": x}})[0]
    mask = logits.argmax(1)

config.json holds the run's settings; `python -m seg predict` with the run folder also tiles large images.
"""
TOLERANCE = 1e-3  # largest difference of a logit allowed between ONNX Runtime and PyTorch


def export_onnx(model: Model, path: Path, check: bool = True) -> Path:
    "Write the model as ONNX to `path`, and check it against PyTorch when ONNX Runtime is installed."
    path = Path(path)
    net = model.module.cpu().eval().to(memory_format=torch.contiguous_format)
    example = torch.zeros(1, model.input.n_in, *model.size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on fastai's size checks: the size is fixed here
        torch.onnx.export(net, (example,), str(path), input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    if check:
        agreement(model, path)
    return path


def test_batch(model: Model, n: int = 2, seed: int = 0) -> torch.Tensor:
    "A batch of images as the model takes them (random pixels, normalised), to compare runtimes on."
    from seg.prediction.inference import _to_batch
    rng = np.random.default_rng(seed)
    h, w = model.size
    if not model.input.rgb:
        return _to_batch([rng.random((h, w, model.input.n_in), dtype=np.float32) for _ in range(n)])
    return _to_batch([rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)])


def agreement(model: Model, path: Path, batch: torch.Tensor | None = None) -> float | None:
    """The largest difference between ONNX Runtime's and PyTorch's logits on a batch (None when ONNX Runtime is
    not installed); PredictError when it passes TOLERANCE."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    batch = test_batch(model) if batch is None else batch
    with torch.no_grad():
        ours = model.module.cpu().eval()(batch).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(["logits"], {"image": batch.numpy()})[0]
    diff = float(np.abs(ours - theirs).max())
    if diff > TOLERANCE:
        raise PredictError(f"The ONNX export of {model.run} disagrees with PyTorch (largest logit difference "
                           f"{diff:.2g}); it was not kept.")
    return diff


def new_folder(out) -> Path:
    "`out` resolved: a new or empty folder for an export, else PredictError (nothing is written over)."
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PredictError(f"--out {out} exists and is not an empty folder; choose a new one (nothing was changed).")
    return out


def export_folder(run_dir, out, which: str = "best") -> dict:
    """`python -m seg export RUN --format onnx`: model.onnx (checked against PyTorch), codes.txt, config.json and
    README.txt (the input's normalisation, how to run it) in `out`, a new or empty folder. The model is written as
    model.unchecked.onnx and named model.onnx once it passed its check; one that fails it, or whose writing fails,
    is removed (and `out` too, when this made it and it is empty): nothing is left that looks like a good export."""
    out = new_folder(out)
    model = Model.load(run_dir, which)
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    unchecked = out / "model.unchecked.onnx"
    try:
        export_onnx(model, unchecked, check=False)
        diff = agreement(model, unchecked)
    except BaseException:
        unchecked.unlink(missing_ok=True)
        if made and not any(out.iterdir()):
            out.rmdir()
        raise
    unchecked.replace(out / "model.onnx")
    h, w = model.size
    (out / "codes.txt").write_text("\n".join(model.codes) + "\n", encoding="utf-8")
    (out / "config.json").write_text((Path(model.run) / "config.json").read_text(encoding="utf-8"), encoding="utf-8")
    (out / "README.txt").write_text(README.format(arch=model.arch, n=len(model.codes), codes=", ".join(model.codes),
                                                  h=h, w=w, run=Path(model.run).name, c=model.input.n_in,
                                                  recipe=model.input.recipe(), seen=model.seen), encoding="utf-8")
    return {"format": "onnx", "folder": str(out), "model": str(out / "model.onnx"), "run": str(model.run),
            "weights": str(model.weights), "max_difference": diff}
