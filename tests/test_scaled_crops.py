"""Training on windows of scaled images (seg/data/scaled_crops.py, a run's `scale`): the windows and their masks,
the share centred on foreground, the DataLoaders, the settings and options, the trials' candidates, and a real
run that records its scale and is predicted in tiles at the images' own size."""

from __future__ import annotations

import json
import math
import pickle
import random

import numpy as np
import pytest
from makers import MACHINE, dataset, disc_image, discs, save
from training import cli

from seg import Dataset
from seg.data.dataloaders import ReadMask, augment_preview, dataloaders, truth_reader
from seg.data.discovery import Pair
from seg.data.scaled_crops import MAX_CROPS, VALID_CROPS, ScaledCrop, resize_mask, scaled_crops, spread
from seg.errors import SettingsError
from seg.model.settings import DataSettings


class Truth:
    "A truth reader over arrays in memory (what ReadMask.array gives from a file)."

    def __init__(self, masks):
        self.masks = masks

    def array(self, pair, hw=None):
        return self.masks[pair]


def pair(name="a"):
    return Pair(f"{name}.png", f"{name}_mask.png")


def test_a_window_is_cut_from_the_scaled_image_and_its_mask_matches():
    h, w = 200, 300
    image = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[40:80, 100:160] = 1
    image[mask == 1] = 200
    p = pair()
    random.seed(0)
    for _ in range(20):
        crop = ScaledCrop(p, (64, 64), 0.5, 1 / 3, Truth({p: mask}))
        cut = crop.cut(image)
        assert cut.shape == (64, 64, 3) and crop.mask.shape == (64, 64) and crop.mask.dtype == np.uint8
        bright = cut[..., 0] > 100
        # the image's bright pixels are the mask's foreground, bar the bilinear edge
        assert (bright == (crop.mask == 1)).mean() > 0.95
    fixed = ScaledCrop(p, (64, 64), 0.5, 0.0, Truth({p: mask}), fixed=(10, 40))
    fixed.cut(image)
    assert (fixed.mask == resize_mask(mask, (100, 150))[10:74, 40:104]).all()


def test_a_share_of_windows_is_centred_on_foreground_and_a_thin_class_is_found():
    mask = np.zeros((400, 400), np.uint8)
    mask[300, 10:390] = 2  # one thin line: 0.2% of the pixels
    mask[10:60, 10:60] = 1
    p = pair()
    image = np.zeros((400, 400, 3), np.uint8)

    def share(fg):
        random.seed(1)
        crop, hits = ScaledCrop(p, (64, 64), 1.0, fg, Truth({p: mask})), 0
        for _ in range(300):
            crop.cut(image)
            hits += bool((crop.mask == 2).any())
        return hits / 300

    assert share(0.0) < 0.25  # drawn anywhere: the line is in few windows (64 / 400 of the rows)
    assert 0.4 < share(1.0)  # every window on foreground, a class first: the line in about half
    assert share(0.0) < share(1 / 3) < share(1.0)


def test_small_images_are_padded_to_the_window_and_invalid_pixels_are_never_a_centre():
    mask = np.full((30, 40), 255, np.uint8)  # every value fits no class
    p = pair()
    crop = ScaledCrop(p, (64, 64), 1.0, 1.0, Truth({p: mask}))
    cut = crop.cut(np.full((30, 40, 3), 7, np.uint8))
    assert cut.shape == (64, 64, 3) and (cut == 7).all() and crop.mask.shape == (64, 64)


def test_items_per_pair_and_validation_windows_around_the_middle():
    a, b = pair("a"), pair("b")
    sizes = {a: (1000, 1000), b: (100, 120)}
    train = scaled_crops([a, b], sizes, (128, 128), 0.5, 1 / 3, Truth({}), valid=False)
    assert sum(c.pair == a for c in train) == min(MAX_CROPS, round(500 * 500 / 128 ** 2))  # 15
    assert sum(c.pair == b for c in train) == 1 and all(c.fixed is None for c in train)
    valid = scaled_crops([a, b], sizes, (128, 128), 0.5, 1 / 3, Truth({}), valid=True)
    spots = [c.fixed for c in valid if c.pair == a]
    assert len(spots) == VALID_CROPS and spots == [(122, 122), (122, 250), (250, 122), (250, 250)]  # the middle
    assert [c.fixed for c in valid if c.pair == b] == [(0, 0)]  # smaller than a window: one, padded
    assert spread(282, 128, 2) == [13, 141] and spread(300, 128, 1) == [86]
    assert pickle.loads(pickle.dumps(valid[0])).fixed == valid[0].fixed  # items go to worker processes


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    "10 pairs of 160 x 224 px, two classes (0/255 masks)."
    return dataset(tmp_path_factory.mktemp("wide"), n=10, mask_values=(0, 255), size=(160, 224))


def test_the_dataloaders_give_windows_at_the_scale(wide):
    ds = Dataset.open(wide, access=MACHINE)
    dls = dataloaders(ds, DataSettings(size=64, bs=4, scale=0.75))
    x, y = dls.one_batch()
    assert x.shape == (4, 3, 64, 64) and y.shape == (4, 64, 64) and set(y.unique().tolist()) <= {0, 1}
    per_pair = round(120 * 168 / 64 ** 2)  # 160 x 224 at 0.75: five windows' worth
    assert len(dls.train_ds) == 8 * per_pair and len(dls.valid_ds) == 2 * 2  # one row of two windows fits 120 x 168
    assert all(isinstance(c, ScaledCrop) and c.fixed for c in dls.valid.items)
    xv, yv = dls.valid.one_batch()
    xd = dls.valid.decode((xv, yv))[0].float().mean(1)
    assert xd[yv == 1].mean() > xd[yv == 0].mean() + 50  # the windows' masks are their images'
    shown = augment_preview(ds, ds.pairs[0], DataSettings(size=64, scale=0.75), n=3)
    assert len(shown) == 3 and all(im.shape == (64, 64, 3) and m.shape == (64, 64) for im, m in shown)


def test_windows_of_sixteen_bit_images_and_of_objects(tmp_path):
    gray = dataset(tmp_path / "gray", n=6, size=(96, 128), image_dtype=np.uint16, gray=True)
    dls = dataloaders(Dataset.open(gray, access=MACHINE), DataSettings(size=64, bs=2, scale=1.0))
    x, y = dls.one_batch()
    assert x.shape == (2, 1, 64, 64) and y.shape == (2, 64, 64)  # one channel, read as prepared channels
    rng = np.random.default_rng(3)
    for i in range(6):
        ids = discs(rng, (192, 192), n=20, radius=(10, 16), touching=0.6)
        save(tmp_path / "nuclei" / "images" / f"{i:02d}.png", disc_image(rng, ids))
        save(tmp_path / "nuclei" / "masks" / f"{i:02d}.png", ids)
    ds = Dataset.open(tmp_path / "nuclei", access=MACHINE)
    assert isinstance(truth_reader(ds, (64, 64)), object) and not isinstance(truth_reader(ds, (64, 64)), ReadMask)
    _, y = dataloaders(ds, DataSettings(size=64, bs=4, scale=0.5, augment=False)).one_batch()
    assert set(np.unique(y.cpu().numpy())) == {0, 1, 2}  # interior and a boundary band that survives the scale


@pytest.mark.parametrize("settings, said", [
    (dict(scale=0), "Scale 0"), (dict(scale=5.0), "Scale 5.0"), (dict(scale=float("nan")), "Scale nan"),
    (dict(scale=True), "Scale True"), (dict(scale="0.5"), "Scale '0.5'"),
    (dict(fg_share=-0.1), "Foreground share -0.1"), (dict(fg_share=1.5), "Foreground share 1.5"),
])
def test_bad_scales_and_shares_are_refused_with_a_sentence(settings, said):
    with pytest.raises(SettingsError) as e:
        DataSettings(**settings).check()
    assert str(e.value).startswith(said) and "use a number" in str(e.value)


def test_the_trials_try_windows_beside_whole_images():
    from seg.training.halving import Candidate, candidates
    from seg.training.planner import WINDOW_SIDE, windows_for
    # retina photographs, vessels 1.2 px at their thinnest, squeezed to 128 px: windows at the images' own pixels
    # (THIN_PX / 1.2 > 1) and at half
    assert windows_for((584, 565), (128, 128), 1.2) == [((WINDOW_SIDE, WINDOW_SIDE), 1.0), ((128, 128), 0.5)]
    # membranes 3 px: at least the squeeze's scale (192 / 512), 0.5 to keep them, in eighths; a quarter's image
    # (128 px) is no larger than a window: left out
    assert windows_for((512, 512), (192, 192), 3.0) == [((128, 128), 0.5)]
    assert windows_for((64, 64), (64, 64), None) == []  # small images: a window is the whole image
    cands = candidates((128, 128), 1e-3, "dice-ce", lambda share: (96, 96), {"b": 0.9, "f": 0.1},
                       windows=[((128, 128), 1.0), ((128, 128), 0.5)])
    assert cands[0] == Candidate((128, 128), 1e-3, "dice-ce")
    assert cands[1:3] == [Candidate((128, 128), 3e-3, "dice-ce", 1.0), Candidate((128, 128), 3e-3, "dice-ce", 0.5)]
    assert cands[1].label.startswith("128 x 128 px windows at scale 1, lr 3e-03")
    assert cands[0].to_json()["scale"] is None and cands[2].to_json()["scale"] == 0.5
    kept = candidates((128, 128), 1e-3, "dice-ce", lambda share: (96, 96), {}, scale=0.5)
    assert {c.scale for c in kept} == {0.5}  # a run continuing from windows keeps its scale


def test_the_trials_try_resnet18_beside_the_default_backbone_when_both_start_alike(tmp_path, monkeypatch):
    from seg.model.registry import BACKBONES, DEFAULT_ARCH, TRIED
    from seg.model.settings import TrainSettings
    from seg.training.halving import Candidate, candidates
    from seg.training.trial_setup import other_backbones
    cands = candidates((128, 128), 1e-3, "dice-ce", lambda share: (96, 96), {}, windows=[((128, 128), 0.5)],
                       backbones=("resnet18",))
    # after the windows, the rule's own choice on the other backbone: the backbone the only difference
    assert cands[:3] == [Candidate((128, 128), 1e-3, "dice-ce"), Candidate((128, 128), 3e-3, "dice-ce", 0.5),
                         Candidate((128, 128), 1e-3, "dice-ce", None, "resnet18")]
    assert cands[2].label.startswith("resnet18, 128 x 128 px, lr 1e-03") and cands[2].to_json()["arch"] == "resnet18"
    assert cands[0].to_json()["arch"] is None and "resnet" not in cands[0].label
    # the rule's choice too slow for a turn (drive's 576 px): the other backbone on the first windows instead
    from seg.training.halving import on_windows_when_slow
    assert on_windows_when_slow(cands, cands[0], lambda c: False) == cands
    moved = on_windows_when_slow(cands, cands[0], lambda c: c.scale is None)
    assert moved[:3] == [cands[0], cands[1], Candidate((128, 128), 3e-3, "dice-ce", 0.5, "resnet18")]
    assert moved[3:] == cands[3:] and len(moved) == len(cands)
    whole = candidates((128, 128), 1e-3, "dice-ce", lambda share: (96, 96), {}, backbones=("resnet18",))
    assert on_windows_when_slow(whole, whole[0], lambda c: True) == whole  # no windows: nothing to move it to
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache: both start from scratch
    assert DEFAULT_ARCH == TrainSettings().arch and other_backbones(TrainSettings()) == TRIED == ("resnet18",)
    assert other_backbones(TrainSettings(pretrained=False)) == ("resnet18",)
    assert other_backbones(TrainSettings(arch="resnet50")) == ()  # a backbone asked for is kept
    assert other_backbones(TrainSettings(weights=str(tmp_path / "r34.pth"))) == ()  # a named file is one backbone's
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / BACKBONES["resnet34"].imagenet).write_bytes(b"x")
    assert other_backbones(TrainSettings()) == ()  # resnet34 from ImageNet, resnet18 from scratch: not a fair race
    assert other_backbones(TrainSettings(pretrained=False)) == ("resnet18",)
    (checkpoints / BACKBONES["resnet18"].imagenet).write_bytes(b"x")
    assert other_backbones(TrainSettings()) == ("resnet18",)  # both from ImageNet


@pytest.mark.slow
def test_a_run_on_windows_records_its_scale_and_predicts_whole_images_in_tiles(wide, tmp_path):
    from seg.prediction.inference import Predictor
    from seg.prediction.model import Model
    from seg.runs import Run
    from seg.runs.compare import settings
    run = tmp_path / "windows"
    rc, out, err = cli("train", wide, "--run-dir", run, "--epochs", "1", "--size", "64", "--bs", "4", "--scale", "0.5",
                       "--arch", "resnet18", "--no-pretrained")
    assert rc == 0, out + err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["scale"] == 0.5 and cfg["data"]["fg_share"] == pytest.approx(1 / 3)
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    scores = next(e for e in events if e["type"] == "scores")
    assert scores["resolution"] == "original" and scores["images"] == 2  # whole images at their own size
    model = Model.load(run)
    assert model.tiles and model.scale == (0.5, 0.5)
    predictor = Predictor(model, precision="fp32")
    image = np.zeros((160, 224, 3), np.uint8)
    assert predictor.needs_tiles(160, 224) and predictor.predict(image).shape == (160, 224)
    table = settings(Run(run))
    assert table["windows cut at scale"] == 0.5 and table["windows centred on foreground"] == pytest.approx(1 / 3, 1e-5)
    # predicted from the command line: masks at the images' own size
    rc, out, err = cli("predict", run, wide / "images", "--out", tmp_path / "pred")
    assert rc == 0, out + err
    assert {m.name for m in (tmp_path / "pred" / "masks").iterdir()} >= {"00.png"}
    # its download says how an image becomes its input
    import io
    import zipfile

    from seg.prediction.bundle import bundle
    readme = zipfile.ZipFile(io.BytesIO(bundle(run))).read("README.txt").decode()
    assert "Images scaled by 0.5 (bilinear) and cut into overlapping tiles of 64 x 64 pixels" in readme
    assert "squeezed to" not in readme
    # a run continuing from it keeps the scale it learned at
    rc, out, err = cli("train", wide, "--run-dir", tmp_path / "more", "--epochs", "1", "--size", "64", "--bs", "4",
                       "--arch", "resnet18", "--no-pretrained", "--from", run)
    assert rc == 0, out + err
    assert json.loads((tmp_path / "more" / "config.json").read_text())["data"]["scale"] == 0.5
    assert math.isclose(Model.load(tmp_path / "more").scale[0], 0.5)


def test_the_trials_train_a_windows_candidate_and_score_it_on_whole_images_in_tiles(wide):
    "A trial turn of windows: real steps on windows, scored on the validation images at their own size, tiled."
    import torch
    from fastai.callback.progress import ProgressCallback

    from seg.model.device import cpu
    from seg.model.learner import learner
    from seg.model.number_formats import FP32
    from seg.model.settings import TrainSettings
    from seg.training.halving import Candidate
    from seg.training.trials import CULL_IMAGES, FastaiTrials, scoring_images
    ds = Dataset.open(wide, access=MACHINE)
    train, valid = ds.split(0.2, 42)
    seen = ds.input_plan(train, None, "dataset")
    images = scoring_images(ds, valid, seen)

    def make(c):
        dls = dataloaders(ds, DataSettings(size=c.size, bs=4, scale=c.scale), device=torch.device("cpu"), input=seen)
        made.append(c.arch)
        learn = learner(dls, TrainSettings(arch=c.arch or "resnet34", pretrained=False), cpu())
        learn.remove_cb(ProgressCallback)
        return learn

    made = []  # the run's backbone is resnet34; the candidate trained here is on the other one the trials try
    trainer = FastaiTrials(make, 20.0, 4, images * 3, list(ds.train_codes.names), "resnet34", ds.typical_size(),
                           cpu(), FP32, lambda: False)  # six scoring images: a culling turn scores the first four
    windows, whole = Candidate((64, 64), 3e-3, "dice-ce", 0.75, "resnet18"), Candidate((64, 64), 3e-3, "dice-ce")
    assert trainer.estimate_score(windows) > 2 * trainer.estimate_score(whole) * 0.8  # 120 x 168 scaled: tiles of 64
    assert trainer.estimate_step(windows) == pytest.approx(0.8 * trainer.estimate_step(whole))  # the registry's cost
    assert trainer.estimate_score(windows, cull=True) == pytest.approx(trainer.estimate_score(windows) * 4 / 6)
    dice, soft, steps, per_image = trainer.turn(windows, 12.0, cull=True)
    assert made == ["resnet18"] and type(trainer.learners[windows].model[0][0]).__name__ == "Conv2d"
    assert sum(p.numel() for p in trainer.learners[windows].model[0].parameters()) < 12e6  # resnet18's body
    assert steps >= 3 and soft is not None and soft == soft and len(per_image) == CULL_IMAGES == 4
    # timed apart from whole images and from the run's backbone
    assert trainer.step_s[windows] > 0 and ((64, 64), True, "resnet18") in trainer.size_step_s
