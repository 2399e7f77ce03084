"""The model bundle a user downloads: everything needed to use a run's model elsewhere.

    model.pth     the state dict (load with torch.load(..., weights_only=True))
    config.json   the run's settings, classes and versions
    codes.txt     class names, one a line (class index = line number - 1)
    export.pkl    a fastai export, for `load_learner`: built on fastai's own blocks only, so it loads
                  without segboard installed (it is a pickle: load only files you trust); for models of 8-bit
                  RGB only (fastai's image block reads nothing else)
    model.onnx    the U-Net as ONNX (checked against PyTorch), for ONNX Runtime, OpenVINO and other tools
    objects.json  a run on objects: how its three classes (background, interior, boundary) become objects
                  (the seeded watershed's two parameters, tuned at the run's end) and the scores they had
    README.txt    how to load each
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # torch: imported when a bundle is built, not for a zip of masks
    from seg.prediction.model import Model


README = """A U-Net trained with segboard ({arch} backbone, {n} classes: {codes}).
{Seen}, given as {recipe}; the output has one
channel per class (argmax = class index).
{fastai}
With plain PyTorch and fastai's model code:
    import torch
    from fastai.vision.all import create_unet_model, {arch}
    model = create_unet_model({arch}, {n}, ({h}, {w}), pretrained=False, n_in={c})
    model.load_state_dict(torch.load("model.pth", weights_only=True))

With ONNX Runtime (or any ONNX tool; no PyTorch needed):
    import numpy as np, onnxruntime as ort
    session = ort.InferenceSession("model.onnx")
    x = ...  # float32 (N, {c}, {h}, {w}), prepared as above
    logits = session.run(["logits"], {{"image": x}})[0]
    mask = logits.argmax(1)                     # class index per pixel, at {h} x {w}

With segboard: python -m seg predict RUN_DIR IMAGES --out OUT (RUN_DIR holds config.json and model.pth
renamed best.pth), which also tiles large images and returns masks at each image's size.
"""

FASTAI = """
With fastai (no segboard needed):
    from fastai.vision.all import load_learner
    learn = load_learner("export.pkl")          # a pickle: load only files you trust
    mask, _, probs = learn.predict("image.png") # mask at {h} x {w}
"""
NO_FASTAI = """
No export.pkl: fastai's image block reads 8-bit RGB only, and this model sees {c} channel(s). Load
model.pth or model.onnx and prepare images as above.
"""

OBJECTS = """
Objects ({name}): the classes are background, the objects' interior and the boundary between touching
objects. segboard makes objects from the probabilities at each image's own size with a seeded watershed
(scikit-image): seeds are connected regions where the interior's probability is over {seed:g}, inside the
foreground (background probability under 0.5); they grow over 1 - interior probability within the
foreground; objects under {min_size} pixels are dropped. objects.json holds these two figures, tuned on the
run's validation images, and the object scores they reached there. Keep objects.json beside config.json
and model.pth for `seg predict` to write instances/ with the same split.
"""


def fastai_export(model: Model, path: Path) -> None:
    """A fastai Learner around the model with empty DataLoaders built from fastai's blocks, exported. Items
    are lists, not tuples: fastai applies a transform to each element of a tuple."""
    from fastai.losses import CrossEntropyLossFlat
    from fastai.vision.all import (
        DataBlock,
        ImageBlock,
        Learner,
        MaskBlock,
        Normalize,
        Resize,
        ResizeMethod,
        imagenet_stats,
    )
    h, w = model.size
    with tempfile.TemporaryDirectory() as tmp:  # DataLoaders need one item to be built; it is not exported
        image, mask = Path(tmp) / "x.png", Path(tmp) / "y.png"
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(image)
        Image.fromarray(np.zeros((h, w), np.uint8)).save(mask)
        block = DataBlock(blocks=(ImageBlock, MaskBlock(model.codes)), get_x=itemgetter(0), get_y=itemgetter(1),
                          item_tfms=Resize((h, w), method=ResizeMethod.Squish),
                          batch_tfms=[Normalize.from_stats(*imagenet_stats)])
        dls = block.dataloaders([[str(image), str(mask)]] * 2, bs=1, num_workers=0, device="cpu")
        learn = Learner(dls, model.module.cpu(), loss_func=CrossEntropyLossFlat(axis=1), path=Path(path).parent)
        learn.export(Path(path).name)


# Weights are stored, not deflated: 56 MB of float32 weights deflate by about 8% in about 1.5 s (measured here),
# and a bundle holds three such files: seconds a user waits for every download, for nothing.
STORED = zipfile.ZIP_STORED
WEIGHTS = {".pth", ".pkl", ".onnx", ".torchscript", ".pt"}


def compression(name: str) -> int:
    "How a file goes into a download's zip: weights stored, everything else deflated."
    return STORED if Path(name).suffix.lower() in WEIGHTS else zipfile.ZIP_DEFLATED


def bundle(run_dir, which: str = "best") -> bytes:
    "The zip described above, in memory (a few tens of MB for resnet34)."
    from seg.prediction.model import Model
    model = Model.load(run_dir, which)
    cfg = json.loads((Path(run_dir) / "config.json").read_text())
    h, w = model.size
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(model.weights, "model.pth", compress_type=STORED)
        zf.writestr("config.json", json.dumps(cfg, indent=2))
        zf.writestr("codes.txt", "\n".join(model.codes) + "\n")
        c, rgb = model.input.n_in, model.input.rgb
        readme = README.format(arch=model.arch, n=len(model.codes), codes=", ".join(model.codes), h=h, w=w, c=c,
                               Seen=model.seen[0].upper() + model.seen[1:],
                               recipe=model.input.recipe(), fastai=(FASTAI if rgb else NO_FASTAI).format(h=h, w=w, c=c))
        if model.objects:
            from seg.prediction.instances import objects_split
            split = objects_split(Path(run_dir))
            tuned = Path(run_dir) / "objects.json"
            zf.writestr("objects.json", tuned.read_text(encoding="utf-8") if tuned.is_file()
                        else json.dumps({"split": split.to_json(), "tuned": False}, indent=2))
            readme += OBJECTS.format(name=model.codes[1], seed=split.seed, min_size=split.min_size)
        zf.writestr("README.txt", readme)
        if rgb:
            export = Path(tmp) / "export.pkl"
            fastai_export(model, export)
            zf.write(export, "export.pkl", compress_type=STORED)
        from seg.prediction.export import export_onnx
        zf.write(export_onnx(model, Path(tmp) / "model.onnx"), "model.onnx", compress_type=STORED)
    return buf.getvalue()


def zip_folder(*folders: Path, pattern: str | tuple[str, ...] = "*.png") -> bytes:
    """The files of each folder matching `pattern` (or any of several) in a zip, under the folder's name (the masks
    download)."""
    buf = io.BytesIO()
    patterns = (pattern,) if isinstance(pattern, str) else pattern
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in folders:
            for f in sorted({f for p in patterns for f in Path(folder).glob(p)}):
                zf.write(f, f"{Path(folder).name}/{f.name}", compress_type=compression(f.name))
    return buf.getvalue()
