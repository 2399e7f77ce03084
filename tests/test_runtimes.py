"""Prediction runtimes (seg/prediction/runtimes.py): ONNX Runtime float32 and INT8 against PyTorch on the
session's real run, the choice on the command line, and what happens when a runtime cannot be had."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from makers import MACHINE
from PIL import Image
from training import cli

from seg import Dataset
from seg.errors import SettingsError
from seg.model import pixel_scores
from seg.model.device import cpu
from seg.prediction import runtimes
from seg.prediction.inference import Predictor
from seg.prediction.model import Model
from seg.prediction.predictors import training_images


@pytest.fixture(scope="module")
def images_and_truth(finished):
    ds = Dataset.open(finished.data, access=MACHINE)
    _, valid = ds.split(0.2, 42)
    return [ds.read(p)[0] for p in valid], [ds.mask(p) for p in valid]


def dice(masks, truths) -> float:
    total = np.zeros((2, 2), np.int64)
    for m, t in zip(masks, truths):
        total += pixel_scores.confusion(t, m, 2)
    return pixel_scores.headline(total)["dice"]


def test_onnx_runtimes_give_pytorchs_masks(finished, images_and_truth):
    images, truths = images_and_truth
    model = Model.load(finished.run)
    exact = list(Predictor(model, device=cpu(), precision="fp32", runtime="pytorch").predict_many(images))
    onnx = Predictor(model, device=cpu(), runtime="onnx")
    theirs = list(onnx.predict_many(images))
    assert onnx.label == "ONNX Runtime, float32" and "QuantizeLinear" not in onnx.engine.ops
    assert np.mean([(a == b).mean() for a, b in zip(theirs, exact)]) >= 0.999
    calibration = list(training_images(model, runtimes.CALIBRATION))
    assert len(calibration) == 10 and calibration[0].shape == images[0].shape  # the demo's 10 training images
    int8 = Predictor(model, device=cpu(), runtime="onnx-int8", calibration=calibration)
    quantised = list(int8.predict_many(images))
    assert int8.engine.ops.get("QuantizeLinear", 0) > 20 and "INT8" in int8.label and not int8.notes
    assert [m.shape for m in quantised] == [t.shape for t in truths]
    # judged against the truth, not against float32: a tiny run's Dice within a few hundredths
    assert dice(quantised, truths) > dice(exact, truths) - 0.03 > 0.3


def test_without_training_images_int8_calibrates_on_what_it_predicts(finished, images_and_truth):
    images, _ = images_and_truth
    p = Predictor(Model.load(finished.run), device=cpu(), runtime="onnx-int8")
    p.predict(images[0])
    assert "INT8" in p.label and p.notes == ["ONNX Runtime INT8 was calibrated on the first images predicted "
                                             "(no training images were given)."]


def test_a_runtime_that_fails_to_build_leaves_pytorch_with_a_note(finished, images_and_truth, monkeypatch):
    images, _ = images_and_truth

    def broken(model, calibration=None, cache=None):
        raise RuntimeError("the exporter fell over\nsecond line")
    monkeypatch.setitem(runtimes.RUNTIMES, "onnx", runtimes.Runtime("onnx", "ONNX Runtime float32", ("cpu",),
                                                                    "onnxruntime", broken))
    p = Predictor(Model.load(finished.run), device=cpu(), runtime="onnx")
    mask = p.predict(images[0])
    assert mask.shape == images[0].shape[:2] and p.engine is None and p.label.startswith("PyTorch, ")
    assert p.notes == ["ONNX Runtime float32 could not be prepared (RuntimeError: the exporter fell over): "
                       "predicted with PyTorch instead."]


def test_runtimes_name_what_they_need():
    assert runtimes.runtime("auto", "cuda").name == "pytorch"
    assert runtimes.runtime("auto", "cpu").name == runtimes.AUTO["cpu"]
    assert runtimes.runtime("onnx").available("cuda") == ("ONNX Runtime float32 runs on the CPU only, not on CUDA.")
    assert runtimes.runtime("pytorch").available("cuda") is None
    with pytest.raises(SettingsError, match="use one of auto, pytorch, onnx, onnx-int8"):
        runtimes.runtime("tensorrt")
    missing = runtimes.Runtime("x", "Runtime X", ("cpu",), "no_such_module_here", None)
    assert missing.available("cpu") == "Runtime X needs the Python package no_such_module_here, which is not " \
                                       "installed here."


def test_predict_command_takes_a_runtime_and_keeps_the_prepared_model(finished, tmp_path, home, monkeypatch):
    monkeypatch.delenv("SEGBOARD_CACHE", raising=False)  # the suite shares one cache: this test reads the home's
    rc, said, err = cli("predict", finished.run, "--valid", "--out", tmp_path / "int8", "--runtime", "onnx-int8")
    assert rc == 0, err
    meta = json.loads((tmp_path / "int8" / "prediction.json").read_text())
    assert meta["runtime"] == "ONNX Runtime, INT8 (static, 10 calibration inputs)" and "(ONNX Runtime, INT8" in said
    assert len(list((tmp_path / "int8" / "masks").iterdir())) == 2
    kept = list((home / "cache" / "runtimes").iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("onnx-int8-") and kept[0].stat().st_size > 100_000
    # the next prediction reads the kept model: the same masks, no second quantisation
    first = kept[0].stat().st_mtime_ns
    rc, _, err = cli("predict", finished.run, "--valid", "--out", tmp_path / "again", "--runtime", "onnx-int8")
    assert rc == 0, err
    assert list((home / "cache" / "runtimes").iterdir()) == kept and kept[0].stat().st_mtime_ns >= first
    again = json.loads((tmp_path / "again" / "prediction.json").read_text())
    assert again["runtime"] == meta["runtime"]  # the kept model says what it is
    # kept by the weights' content: a copy of the run finds it too, and weights trained again in place do not
    copy = finished.into(home, "copied")
    rc, _, err = cli("predict", copy, "--valid", "--out", tmp_path / "copy", "--runtime", "onnx-int8")
    assert rc == 0, err
    assert list((home / "cache" / "runtimes").iterdir()) == kept
    other = tmp_path / "other.pth"  # the same size, path and time, one byte apart
    other.write_bytes(b"a" * 1000)
    key = runtimes.cache_key(SimpleNamespace(weights=other), "onnx-int8")
    os.utime(other, ns=(1, 1))
    assert runtimes.cache_key(SimpleNamespace(weights=other), "onnx-int8") == key  # the time is not the content
    other.write_bytes(b"a" * 999 + b"b")
    os.utime(other, ns=(1, 1))
    assert runtimes.cache_key(SimpleNamespace(weights=other), "onnx-int8") != key
    for m in (tmp_path / "int8" / "masks").iterdir():
        assert (np.asarray(Image.open(m)) == np.asarray(Image.open(tmp_path / "again" / "masks" / m.name))).all()
    rc, _, err = cli("predict", finished.run, "--valid", "--out", tmp_path / "torch", "--runtime", "pytorch")
    assert json.loads((tmp_path / "torch" / "prediction.json").read_text())["runtime"].startswith("PyTorch, ")
    with pytest.raises(SystemExit) as e:
        cli("predict", finished.run, "--valid", "--out", tmp_path / "x", "--runtime", "tensorrt")
    assert e.value.code == 2
    assert not (tmp_path / "x").exists()


def test_an_engine_that_fails_mid_prediction_hands_over_to_pytorch(finished, images_and_truth):
    "The ONNX model takes the training size only: a Predictor tiling at another size goes on with PyTorch."
    images, _ = images_and_truth
    model = Model.load(finished.run)
    p = Predictor(model, device=cpu(), runtime="onnx", tile=(96, 96))
    probs = p.tiled(images[0])
    assert p.engine is None and p.runtime == "pytorch" and p.label.startswith("PyTorch, ")
    assert len(p.notes) == 1 and p.notes[0].startswith("ONNX Runtime, float32 failed (")
    assert p.notes[0].endswith("the rest was predicted with PyTorch.")
    exact = Predictor(model, device=cpu(), tile=(96, 96)).tiled(images[0])
    assert probs.shape == exact.shape and (probs.argmax(0) == exact.argmax(0)).float().mean() > 0.99


def test_an_int8_model_that_ruins_the_masks_is_not_used(finished, images_and_truth, monkeypatch):
    "Only a disaster is caught at run time (the benchmark judges against the truth): masks mostly wrong."
    import torch
    images, _ = images_and_truth

    class Inverted(runtimes.Engine):  # what a saturating 8-bit multiply could do: every pixel's class swapped
        label = "ONNX Runtime, INT8 (static, 1 calibration inputs)"

        def logits(self, x):
            return -model.module.eval()(x).detach()

    model = Model.load(finished.run)
    rt = runtimes.RUNTIMES["onnx-int8"]
    monkeypatch.setitem(runtimes.RUNTIMES, "onnx-int8", runtimes.Runtime(
        rt.name, rt.label, rt.devices, rt.needs, lambda model, calibration, cache: Inverted(), calibrated=True))
    p = Predictor(model, device=cpu(), runtime="onnx-int8", calibration=images[:1])
    with torch.no_grad():
        mask = p.predict(images[0])
    assert p.engine is None and p.label.startswith("PyTorch, ") and mask.shape == images[0].shape[:2]
    assert len(p.notes) == 1 and p.notes[0].startswith("ONNX Runtime INT8 changed ")
    assert p.notes[0].endswith("of the first images' pixels against float32: predicted with PyTorch instead.")


def test_a_kept_int8_model_reads_no_training_images(finished, images_and_truth, tmp_path):
    "The Label page's start builds a Predictor per image: the calibration images are read only to make the model."
    images, _ = images_and_truth
    model = Model.load(finished.run)
    read = []

    def calibration():
        for im in images:
            read.append(im)
            yield im
    first = Predictor(model, device=cpu(), runtime="onnx-int8", calibration=calibration(), cache=tmp_path)
    first.predict(images[0])
    assert len(read) == len(images) and len(list(tmp_path.glob("onnx-int8-*.onnx"))) == 1
    read.clear()
    kept = Predictor(model, device=cpu(), runtime="onnx-int8", calibration=calibration(), cache=tmp_path)
    assert (kept.predict(images[0]) == first.predict(images[0])).all()
    assert read == [] and kept.label == first.label == f"ONNX Runtime, INT8 (static, {len(images)} calibration inputs)"
