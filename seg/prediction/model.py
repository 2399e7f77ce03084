"""A trained run's U-Net, loaded safely: `Model.load(run_dir)` rebuilds the network from the run's
config.json and loads its state dict with `torch.load(weights_only=True)`, so a weights file is never
unpickled into code (fastai's `load_learner` unpickles a whole Learner: a crafted file would run code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from seg.data.channels import Input
from seg.errors import PredictError
from seg.runs import Run
from seg.util import hw


@dataclass
class Model:
    "A run's network in eval mode and what it expects of an image."

    module: torch.nn.Module
    codes: list[str]
    arch: str
    size: tuple[int, int]  # training (height, width)
    scale: tuple[float, float]  # training size / typical original size, per axis
    weights: Path
    run: Path
    trained: dict | None = None  # config.json's `precision` and `device`: how and where it trained
    objects: dict | None = None  # a run on objects: config.json's `objects` (name, source, ids)
    input: Input = field(default_factory=Input)  # what it sees of an image (config.json's `input`)
    tiles: bool = False  # it learned on windows of scaled images (config.json's data.scale): always predicted in tiles

    @property
    def mask_codes(self) -> list[str]:
        """The classes of the masks it writes: its own, or for a run on objects (which learned background,
        interior and boundary) the background and the objects."""
        return self.codes[:2] if self.objects else self.codes

    @property
    def seen(self) -> str:
        "How an image becomes the model's input, in words (the READMEs of its downloads say it)."
        h, w = self.size
        if self.tiles:
            return (f"images scaled by {self.scale[0]:g} (bilinear) and cut into overlapping tiles of {h} x {w} pixels "
                    f"(height x width): it learned on windows of that size at that scale, never on squeezed images")
        return f"images squeezed to {h} x {w} pixels (height x width)"

    @classmethod
    def load(cls, run_dir, which: str = "best") -> Model:
        from fastai.vision.learner import create_unet_model

        from seg.model.registry import backbone
        run = Run(run_dir)
        cfg = run.config()
        if not cfg:
            raise PredictError(f"{run.path}: no config.json, so not a run folder. Pass a folder under "
                               f"workspace/runs/ (python -m seg runs lists them).")
        weights = run.weights(which) or run.weights("last")
        if weights is None:
            raise PredictError(f"{run.path}: no best.pth or last.pth yet; the run saves weights after its "
                               f"first epoch.")
        codes, arch = list(cfg["codes"]), cfg["train"]["arch"]
        size = hw(cfg["data"]["size"])
        seen = Input.from_json(cfg.get("input"))
        module = create_unet_model(backbone(arch).arch(), len(codes), size, pretrained=False, n_in=seen.n_in)
        module.load_state_dict(read_state(weights, arch))
        return cls(module.eval(), codes, arch, size, training_scale(cfg, size), weights, run.path,
                   {"precision": cfg.get("precision"), "device": cfg.get("device", {}).get("kind")},
                   cfg.get("objects"), seen, cfg["data"].get("scale") is not None)


def read_state(path: Path, arch: str = "") -> dict:
    "A state dict of tensors, or PredictError: a file holding anything else is refused, never run."
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise PredictError(f"{path} could not be read as a state dict of tensors ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:160]}): it is damaged or holds something else, and was not "
                           f"loaded. Use the run's other weights (best/last) or train again.") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PredictError(f"{path} holds a {type(state).__name__}, not a state dict of tensors.")
    return state


def training_scale(cfg: dict, size: tuple[int, int]) -> tuple[float, float]:
    """How much the training images were shrunk: the run's `scale` (it trained on windows of scaled images), else
    training size / their most common size; 1 when the run did not record their size. Tiles are scaled the same way."""
    if cfg.get("data", {}).get("scale") is not None:
        return float(cfg["data"]["scale"]), float(cfg["data"]["scale"])
    typical = cfg.get("dataset", {}).get("typical_size")  # (width, height)
    if not typical:
        return 1.0, 1.0
    return size[0] / typical[1], size[1] / typical[0]
