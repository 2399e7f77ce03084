"""The fastai U-Net learner and the ImageNet weights its backbone may start from.

Everything a run chooses is in `TrainSettings`; `learner(dls, settings, ...)` builds the same model the
fastai tutorial builds (`unet_learner(dls, resnet34)`), with the backbone and loss named in the registry
(seg/model/registry.py) and the metrics of seg/model/metrics.py.
"""

from __future__ import annotations

import torch
from fastai.vision.all import unet_learner

from seg.errors import SettingsError
from seg.model.device import Device
from seg.model.metrics import metrics
from seg.model.pretrained import Pretrained
from seg.model.registry import BACKBONES, LOSSES
from seg.model.settings import TrainSettings

BODY = {"conv1": 0, "bn1": 1, "layer1": 4, "layer2": 5, "layer3": 6, "layer4": 7}  # torchvision resnet -> U-Net body


def load_backbone(learn, path: str) -> None:
    "Load a torchvision ResNet state dict into the U-Net's encoder (its first module)."
    try:  # weights_only: a file from a user is never unpickled into code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SettingsError(f"Weights file {path} is not a plain state dict of tensors "
                            f"({type(e).__name__}); save it with torch.save(model.state_dict(), path).") from None
    body = {}
    for key, value in state.items():
        top, _, rest = key.partition(".")
        if top in BODY:
            body[f"{BODY[top]}.{rest}"] = value
    first = learn.model[0][0].weight
    if "0.weight" in body and body["0.weight"].ndim == 4 and body["0.weight"].shape[1] != first.shape[1]:
        body["0.weight"] = first_layer(body["0.weight"], first.shape[1])
    try:
        learn.model[0].load_state_dict(body, strict=True)
    except RuntimeError as e:
        raise SettingsError(f"Weights file {path} does not fit a {learn.arch.__name__} backbone: "
                            f"{str(e).splitlines()[0]}") from None


def first_layer(rgb: torch.Tensor, n_in: int) -> torch.Tensor:
    """ImageNet's first convolution (out, 3, k, k) for `n_in` input channels, as fastai adapts it
    (`fastai.vision.learner._load_pretrained_weights`): one channel takes the sum, two the first two times 1.5,
    more keep RGB's three and start the others at zero."""
    if n_in == 1:
        return rgb.sum(dim=1, keepdim=True)
    if n_in == 2:
        return rgb[:, :2] * 1.5
    out = torch.zeros(rgb.shape[0], n_in, *rgb.shape[2:], dtype=rgb.dtype)
    out[:, :3] = rgb[:, :3]
    return out


# ---- learner --------------------------------------------------------------------------------------

def learner(dls, settings: TrainSettings, device: Device, weights: list[float] | None = None,
            pretrained: Pretrained | None = None, cbs=None):
    "A fastai U-Net learner on `dls`, in float32; seg/training/format_choice.py sets the number format a run uses."
    pretrained = pretrained or Pretrained(False, "", "")
    n_in = dls.input.n_in if hasattr(dls, "input") else 3  # the image's channels (seg/data/channels.py)
    learn = unet_learner(dls, BACKBONES[settings.arch].arch(), pretrained=False, normalize=False, n_in=n_in,
                         loss_func=LOSSES[settings.loss].build(weights, torch.device(dls.device).type),
                         metrics=metrics(list(dls.vocab)), cbs=cbs)
    if pretrained.used:
        load_backbone(learn, pretrained.source)
        learn.freeze()  # as unet_learner(pretrained=True) does; `fine_tune` unfreezes after one epoch
    return learn


def set_threads(device: Device) -> None:
    if device.kind == "cpu" and device.threads:
        torch.set_num_threads(device.threads)
