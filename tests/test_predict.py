"""Prediction and measurement: a real run's model against fastai's own predictions, tiles, the CLI's
output folder, safe loading, bad inputs. One short real training run is shared by the module."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from makers import MACHINE
from PIL import Image
from training import cli, seg

from seg import Dataset
from seg.errors import PredictError
from seg.prediction.folder import Prediction
from seg.prediction.inference import Predictor
from seg.prediction.model import Model
from seg.prediction.output import predict


@pytest.fixture(scope="module")
def trained(finished):
    "The session's run (conftest): a demo dataset of 128 px images, 3 epochs at 64 px."
    return finished.data, finished.run


def test_masks_equal_fastai_get_preds(trained):
    from seg.data.dataloaders import dataloaders
    from seg.model.device import detect
    from seg.model.learner import learner
    from seg.model.settings import DataSettings, TrainSettings
    from seg.prediction.inference import _to_batch, resize
    data, run = trained
    ds = Dataset.open(data, access=MACHINE)
    dls = dataloaders(ds, DataSettings(size=64, bs=4, augment=False), device="cpu")
    learn = learner(dls, TrainSettings(arch="resnet18", pretrained=False), detect())
    learn.model.load_state_dict(torch.load(run / "best.pth", weights_only=True))
    with learn.no_bar():
        probs, _ = learn.get_preds(dl=dls.test_dl(ds.pairs))
    theirs = probs.argmax(1).numpy()
    model = Model.load(run)
    images = [ds.read(p)[0] for p in ds.pairs]
    exact = Predictor(model, precision="fp32")  # float32, as fastai's get_preds computes
    ours = exact.probabilities(_to_batch([resize(im, model.size) for im in images])).argmax(1).numpy()
    assert (ours == theirs).mean() >= 0.999
    assert 0.02 < ours.mean() < 0.5  # the model found cells, not nothing or everything
    # and at each image's own size
    masks = list(Predictor(model).predict_many(images))
    assert [m.shape for m in masks] == [im.shape[:2] for im in images] and masks[0].dtype == np.uint8


def test_tiles_agree_with_the_whole_image(trained):
    data, run = trained
    model = Model.load(run)
    assert model.scale == (0.5, 0.5)  # 128 px images trained at 64
    image = Dataset.open(data, access=MACHINE).read(Dataset.open(data, access=MACHINE).pairs[3])[0]
    p = Predictor(model)
    whole = p.predict(image, tiles=False)
    assert (p.predict(image, tiles=True) == whole).all()  # an image that fits: one tile, the same pixels
    small = Predictor(model, tile=(32, 32)).predict(image, tiles=True)  # 3 x 3 overlapping, blended
    assert (small == whole).mean() >= 0.98
    big = np.tile(image, (6, 6, 1))  # 768 px: six times the training images, so tiled by itself
    assert p.needs_tiles(768, 768) and not p.needs_tiles(128, 128)
    out = p.predict(big)
    assert out.shape == (768, 768)
    assert (out[:128, :128] == whole).mean() >= 0.95  # scaled as in training: the same objects found


def test_scores_by_hand():
    from seg.model import pixel_scores
    truth = np.array([[0, 0, 1, 1], [0, 2, 2, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 0]])
    m = pixel_scores.confusion(truth, pred, 4)
    assert m.tolist() == [[2, 1, 0, 0], [1, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert pixel_scores.dice(m, 1) == pytest.approx(2 * 2 / (3 + 3))
    assert pixel_scores.iou(m, 2) == pytest.approx(1 / 2)
    assert pixel_scores.recall(m, 1) == pytest.approx(2 / 3)
    assert pixel_scores.accuracy(m) == pytest.approx(5 / 8)
    s = pixel_scores.image_scores(m, ["bg", "a", "b", "never"])
    assert np.isnan(s["per_class"]["never"]["dice"])  # absent from both: no score, and left out of the mean
    assert s["dice"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    rows = [{"dice": 0.9}, {"dice": float("nan")}, {"dice": 0.1}]
    assert [r["dice"] for r in pixel_scores.worst_first(rows)][:2] == [0.1, 0.9]


def test_measurements_of_known_shapes():
    from skimage.draw import disk

    from seg.prediction.measure import counts, in_units, objects, size_distribution
    mask = np.zeros((100, 120), np.uint8)
    for y, x in ((10, 10), (40, 10), (70, 10)):
        mask[y:y + 10, x:x + 20] = 1  # three 10 x 20 rectangles of class 1
    rr, cc = disk((50, 80), 12)
    mask[rr, cc] = 2
    disc_area = len(rr)
    mask[90:100, 110:120] = 2  # a square cut by the corner
    t = objects(mask, ["bg", "rect", "disc"], image="a")
    assert counts(t, ["bg", "rect", "disc"]) == {"rect": 3, "disc": 2}
    rect = t[t["class"] == "rect"]
    assert rect["area_px"].tolist() == [200, 200, 200]
    assert rect["equivalent_diameter"].iloc[0] == pytest.approx(np.sqrt(4 * 200 / np.pi))
    assert rect["aspect_ratio"].iloc[0] == pytest.approx(2.0, rel=0.02)
    assert not rect["touches_border"].any()
    disc = t[t["class"] == "disc"].iloc[0]
    assert disc["area_px"] == disc_area and 0.85 < disc["circularity"] <= 1.1 and disc["aspect_ratio"] < 1.05
    assert (disc["centroid_x"], disc["centroid_y"]) == pytest.approx((80, 50))
    assert t[t["class"] == "disc"]["touches_border"].tolist() == [False, True]
    um = in_units(t, 0.5, "um")
    assert um["area"].iloc[0] == pytest.approx(50.0)
    assert um["perimeter"].iloc[0] == pytest.approx(t["perimeter"].iloc[0] / 2)
    assert (um["unit"] == "um").all() and (um["area_px"] == t["area_px"]).all()
    dist = size_distribution(um).set_index("class")
    assert dist.loc["rect", "count"] == 3 and dist.loc["rect", "d50"] == pytest.approx(np.sqrt(800 / np.pi) / 2)


def _write_masks_sizes(out):
    return {p.stem: Image.open(p).size for p in (out / "masks").glob("*.png")}


def test_cli_predict_dataset_writes_the_contract(trained, tmp_path):
    data, run = trained
    out = tmp_path / "out"
    rc, stdout, err = cli("predict", run, data, "--out", out, "--measure", "--pixel-size", 0.25, "--json")
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary["images"] == 12 and summary["failed"] == [] and 0.3 < summary["mean_dice"] <= 1
    sizes = _write_masks_sizes(out)
    assert len(sizes) == 12 and set(sizes.values()) == {(128, 128)}
    mask = np.asarray(Image.open(out / "masks" / "000.png"))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert Image.open(out / "previews" / "000.png").size[0] > 4 * 128  # image | truth | prediction | errors
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"mean_dice", "per_class", "per_image", "confusion"}
    assert set(metrics["per_class"]) == {"background", "cell"}
    dices = [r["dice"] for r in metrics["per_image"]]
    assert len(dices) == 12 and dices == sorted(dices) and all("iou" in r for r in metrics["per_image"])
    table = pd.read_csv(out / "measurements.csv")
    assert len(table) == summary["objects"]["cell"] > 0 and (table["unit"] == "um").all()
    assert table["area"].tolist() == pytest.approx((table["area_px"] * 0.0625).tolist())
    shown = Prediction(out)
    assert shown.images[0]["name"] == metrics["per_image"][0]["image"]  # worst first
    # again into the same folder: refused, nothing changed; with --overwrite the user's own file stays
    (out / "my notes.txt").write_text("mine")
    before = (out / "metrics.json").stat().st_mtime_ns
    rc, _, err = cli("predict", run, data, "--out", out)  # the same main(), in this process: quicker
    assert rc == 2 and "--overwrite" in err and (out / "metrics.json").stat().st_mtime_ns == before
    rc, _, _ = cli("predict", run, data, "--out", out, "--overwrite")
    assert rc == 0 and (out / "my notes.txt").read_text() == "mine"
    assert not (out / "measurements.csv").exists()  # this time without --measure: no stale table left
    # a folder of someone's files, and a folder inside the input: refused
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.docx").write_text("x")
    rc, _, err = cli("predict", run, data, "--out", theirs)
    assert rc == 2 and "holds other files" in err and list(theirs.iterdir()) == [theirs / "thesis.docx"]
    rc, _, err = cli("predict", run, data, "--out", data / "predictions")
    assert rc == 2 and "inside the input folder" in err and not (data / "predictions").exists()


def test_cli_predict_images_and_bad_files(trained, tmp_path):
    import tifffile
    data, run = trained
    folder = tmp_path / "images"
    (folder / "day2").mkdir(parents=True)
    rgb = np.asarray(Image.open(data / "images" / "001.png").convert("RGB"))
    Image.fromarray(rgb).save(folder / "rgb.png")
    Image.fromarray(rgb[..., 0]).save(folder / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])).save(folder / "alpha.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 200).save(folder / "deep16.png")
    Image.fromarray(rgb[40:100, :]).save(folder / "day2" / "rgb.png")  # same stem in a subfolder, other size
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    tifffile.imwrite(folder / "stack.tif", np.zeros((5, 32, 32, 7), np.uint8))
    Image.new("L", (9500, 9500)).save(folder / "huge.png")  # past Pillow's decompression-bomb limit
    out = tmp_path / "out"
    r = seg("predict", run, folder, "--out", out, "--measure", "--json")
    assert r.returncode == 1, r.stderr  # some files failed: said, and the rest written
    summary = json.loads(r.stdout)
    assert summary["images"] == 5 and "mean_dice" not in summary and not (out / "metrics.json").exists()
    sizes = _write_masks_sizes(out)
    assert sizes == {"rgb": (128, 128), "gray": (128, 128), "alpha": (128, 128), "deep16": (128, 128),
                     "day2_rgb": (128, 60)}
    failed = {f["image"].rsplit("/", 1)[-1]: f["problem"] for f in summary["failed"]}
    assert set(failed) == {"broken.png", "stack.tif", "huge.png"}
    assert "Not a readable image" in failed["broken.png"] and "not a 2-D image" in failed["stack.tif"]
    assert "decompression-bomb" in failed["huge.png"]
    assert "warning: " in r.stderr and "huge.png" in r.stderr
    m = {k: np.asarray(Image.open(out / "masks" / f"{k}.png")) for k in ("rgb", "gray", "alpha")}
    assert (m["rgb"] == m["alpha"]).all()  # the alpha channel is ignored
    # one file; not an image; nothing there; a pixel size of zero
    rc, _, _ = cli("predict", run, folder / "rgb.png", "--out", tmp_path / "one")
    assert rc == 0 and _write_masks_sizes(tmp_path / "one") == {"rgb": (128, 128)}
    (tmp_path / "notes.txt").write_text("x")
    for args, says in (([tmp_path / "notes.txt"], "not an image file"), ([tmp_path / "nowhere"], "not found"),
                       ([folder, "--pixel-size", 0], "Pixel size 0"), ([], "or --valid")):
        rc, _, err = cli("predict", run, *args, "--out", tmp_path / "x")
        assert rc == 2 and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()


def test_validation_set_of_the_run(trained, tmp_path):
    data, run = trained
    cfg = json.loads((run / "config.json").read_text())
    rc, stdout, err = cli("predict", run, "--valid", "--out", tmp_path / "v", "--json")
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary["images"] == cfg["dataset"]["valid"] == 2 and summary["notes"] == []


def test_loading_refuses_a_pickle(trained, tmp_path):
    import shutil
    _, run = trained
    evil = tmp_path / "evil-run"
    shutil.copytree(run, evil, ignore=shutil.ignore_patterns("*.pth"))
    marker = tmp_path / "ran"
    with open(evil / "best.pth", "wb") as f:
        pickle.dump(_Exploit(str(marker)), f)
    with pytest.raises(PredictError, match="could not be read as a state dict"):
        Model.load(evil)
    assert not marker.exists()
    rc, _, err = cli("predict", evil, trained[0], "--out", tmp_path / "o")
    assert rc == 2 and "could not be read as a state dict" in err and not marker.exists()
    with pytest.raises(PredictError, match="not a run folder"):
        Model.load(tmp_path)


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.slow  # two clean interpreters, one importing fastai
def test_python_api_and_bundle_for_fastai_users(trained, tmp_path):
    import io
    import zipfile

    from seg.prediction.bundle import bundle
    data, run = trained
    meta = predict(run, data, tmp_path / "api", measure_objects=True, access=MACHINE)
    assert len(meta["images"]) == 12 and (tmp_path / "api" / "measurements.csv").exists()
    with zipfile.ZipFile(io.BytesIO(bundle(run))) as zf:
        assert set(zf.namelist()) == {"model.pth", "config.json", "codes.txt", "README.txt", "export.pkl",
                                      "model.onnx"}
        zf.extractall(tmp_path / "bundle")
    assert (tmp_path / "bundle" / "codes.txt").read_text() == "background\ncell\n"
    image = tmp_path / "small.png"
    Image.open(data / "images" / "002.png").convert("RGB").resize((64, 64)).save(image)
    # load_learner in a clean interpreter (-I: no segboard on the path), as a fastai user would
    code = ("import importlib.util, numpy as np; assert importlib.util.find_spec('seg') is None\n"
            "from fastai.vision.all import load_learner\n"
            "learn = load_learner('export.pkl')\n"
            f"mask, _, _ = learn.predict({str(image)!r})\n"
            "np.save('theirs.npy', mask.numpy())\n")
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path / "bundle", capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    theirs = np.load(tmp_path / "bundle" / "theirs.npy")
    ours = Predictor(Model.load(run)).predict(np.asarray(Image.open(image)))
    assert (theirs == ours).mean() >= 0.999
    # and model.onnx in ONNX Runtime, with no segboard: the masks PyTorch gives, from the README's recipe
    code = ("import importlib.util, numpy as np, onnxruntime as ort; from PIL import Image\n"
            "assert importlib.util.find_spec('seg') is None\n"
            f"x = np.asarray(Image.open({str(image)!r}).convert('RGB'), np.float32)[None].transpose(0, 3, 1, 2) / 255\n"
            "x = (x - np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]) / "
            "np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]\n"
            "logits = ort.InferenceSession('model.onnx').run(['logits'], {'image': x.astype(np.float32)})[0]\n"
            "np.save('onnx.npy', logits.argmax(1)[0])\n")
    r = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path / "bundle", capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert (np.load(tmp_path / "bundle" / "onnx.npy") == ours).mean() >= 0.999


def test_prediction_keeps_a_faster_format_only_where_its_masks_agree(trained, tmp_path):
    from seg.model.number_formats import BF16_CL, FP32, fastest, formats_for
    data, run = trained
    model = Model.load(run)
    images = [Dataset.open(data, access=MACHINE).read(p)[0] for p in Dataset.open(data, access=MACHINE).pairs[:4]]
    exact = list(Predictor(model, precision=FP32).predict_many(images))
    cache = tmp_path / "formats.json"
    auto = Predictor(model, remember=cache)  # each candidate's forward timed on the first batch
    masks = list(auto.predict_many(images))
    options = formats_for("cpu", "auto")
    assert set(auto.timings) == {p.name for p in options} and auto.precision == fastest(options, auto.timings)
    assert np.mean([(a == b).mean() for a, b in zip(masks, exact)]) >= 0.995
    again = Predictor(model, remember=cache)  # the next prediction of this kind: remembered, not timed
    list(again.predict_many(images[:1]))
    assert again.timings == auto.timings and again.precision == auto.precision
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)  # another thread count: its own timings (the speeds differ)
    try:
        other = Predictor(model, remember=cache)
        list(other.predict_many(images[:1]))
    finally:
        torch.set_num_threads(threads)
    assert set(other.timings) == set(auto.timings) and len(json.loads(cache.read_text())) == 2
    bf16 = Predictor(model, precision=BF16_CL)  # asked for: kept, whatever it costs
    assert np.mean([(a == b).mean() for a, b in zip(bf16.predict_many(images), exact)]) >= 0.99
    assert bf16.precision == BF16_CL


def test_a_dataset_with_a_broken_pair_says_it_was_left_out(trained, tmp_path):
    import shutil
    data, run = trained
    copy = shutil.copytree(data, tmp_path / "data")
    (copy / "masks" / "003.png").write_bytes(b"not a png any more")
    meta = predict(run, copy, tmp_path / "out", access=MACHINE)
    assert len(meta["images"]) == 11
    assert any("1 pair(s) left out for problems" in n for n in meta["notes"]), meta["notes"]


def test_an_int8_runtime_calibrates_on_the_tiles_of_images_it_tiles(trained):
    """The inputs an INT8 runtime calibrates on are prepared as prediction prepares them: the tiles of an image it
    tiles (a model on windows: every image). Calling a helper that had left the Predictor raised here, and the
    runtime's build fell back to PyTorch with a note: no INT8 for any model on windows."""
    from seg.prediction.tiles import TILE_MARGIN
    _, run = trained
    model = Model.load(run)
    (h, w), (sh, sw) = model.size, model.scale
    large = np.random.default_rng(0).integers(0, 256, (int(h / sh * TILE_MARGIN * 2), int(w / sw * TILE_MARGIN * 2),
                                                       3), dtype=np.uint8)
    predictor = Predictor(model, precision="fp32", bs=2)
    assert predictor.needs_tiles(*large.shape[:2])
    batches = list(predictor.prepared([large], 4))
    assert sum(len(b) for b in batches) == 4 and all(tuple(b.shape[-2:]) == (h, w) for b in batches)
    int8 = Predictor(model, runtime="onnx-int8", calibration=[large], bs=2)
    list(int8.predict_many([large]))
    assert "INT8" in int8.label and not [n for n in int8.notes if "could not be prepared" in n], int8.notes
