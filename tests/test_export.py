"""The model for other tools: every format of seg/prediction/exports.py written and checked; a BioImage Model Zoo
package that passes bioimageio.core's own test offline and whose test output is segboard's prediction; ONNX, and
a failed ONNX check that keeps nothing; the Predict page's buttons."""

import json
from pathlib import Path

import numpy as np
import pytest
from apps import open_app
from training import RUN, cli

from seg.prediction.exports import FORMATS

pytestmark = pytest.mark.slow  # converting and testing a model: 20 to 40 s each


@pytest.fixture(scope="module")
def exported(finished, tmp_path_factory):
    """Each format exported once by the CLI, when a test first asks: name -> (its folder, what --json printed).
    Every format is given --author: a format ignores the options of others."""
    done = {}

    def export(name: str):
        if name not in done:
            out = tmp_path_factory.mktemp("export") / name
            rc, said, err = cli("export", finished.run, "--format", name, "--out", out, "--author", "A. Tester",
                                "--json")
            assert rc == 0, err
            done[name] = out, json.loads(said)
        return done[name]
    return export


@pytest.fixture(scope="module")
def package(exported):
    return exported("bioimageio")


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_writes_its_folder_and_says_its_check(exported, name):
    fmt = FORMATS[name]
    out, result = exported(name)
    assert result["format"] == name and Path(result["folder"]) == out.resolve()
    assert (out / fmt.main).is_file()
    assert not list(out.glob("*.unchecked.*"))
    line = fmt.said(result)  # what the command prints without --json
    assert line.startswith(f"{fmt.label} in {out.resolve()} (") and "not " not in fmt.outcome(result)


def test_the_package_passes_the_bioimageio_test(package):
    from bioimageio.core import test_model
    from bioimageio.spec import load_model_description
    out, said = package
    assert said["test"]["passed"] and said["test"]["checks"] >= 7
    summary = test_model(out / "rdf.yaml")  # again, by the package's own tool: both weight formats, offline
    assert summary.status == "passed", [(d.name, d.errors) for d in summary.details if d.status != "passed"]
    names = {d.name for d in summary.details}
    assert any("(torchscript)" in n for n in names) and any("(onnx)" in n for n in names)
    descr = load_model_description(out / "rdf.yaml")
    assert [a.name for a in descr.authors] == ["A. Tester"]
    assert descr.outputs[0].axes[1].channel_names == ["background", "cell"]
    assert [p.id for p in descr.inputs[0].preprocessing][-2:] == ["fixed_zero_mean_unit_variance", "ensure_dtype"]
    for f in ("cover.png", "README.md", "test_input.npy", "test_output.npy", "weights.torchscript", "weights.onnx",
              "codes.txt", "config.json"):
        assert (out / f).is_file(), f


def test_its_test_output_is_segboards_prediction(package, finished):
    from seg.prediction.inference import Predictor
    from seg.prediction.model import Model
    out, _ = package
    x = np.load(out / "test_input.npy")  # (1, 3, H, W), RGB 0..255: a validation image at the training size
    y = np.load(out / "test_output.npy")  # (1, classes, H, W): probabilities
    assert np.allclose(y.sum(1), 1, atol=1e-4)
    image = x[0].transpose(1, 2, 0).round().astype(np.uint8)
    model = Model.load(finished.run)
    ours = Predictor(model, precision="fp32").predict(image, tiles=False)  # what segboard predicts for it
    theirs = y[0].argmax(0)
    assert ours.shape == theirs.shape
    assert (ours == theirs).mean() > 0.999


def test_onnx_export_and_bad_output_folders(finished, tmp_path):
    import onnxruntime as ort

    from seg.prediction.export import test_batch
    from seg.prediction.model import Model
    rc, said, err = cli("export", finished.run, "--format", "onnx", "--out", tmp_path / "onnx", "--json")
    assert rc == 0, err
    assert json.loads(said)["max_difference"] < 1e-3
    model = Model.load(finished.run)
    batch = test_batch(model)
    logits = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx")).run(["logits"], {"image": batch.numpy()})[0]
    assert logits.shape == (2, 2, *model.size)
    assert (tmp_path / "onnx" / "codes.txt").read_text().split() == ["background", "cell"]
    rc, _, err = cli("export", finished.run, "--format", "onnx", "--out", tmp_path / "onnx")  # never over files
    assert rc == 2 and "not an empty folder" in err


def test_a_failed_onnx_check_keeps_nothing(finished, tmp_path, monkeypatch):
    "The message says the model was not kept: no model.onnx (nor any file) is left that could pass for a good one."
    from seg.prediction import export
    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # every difference, even 0, fails the check
    rc, said, err = cli("export", finished.run, "--format", "onnx", "--out", tmp_path / "new")
    assert rc == 2 and "disagrees with PyTorch" in err and "it was not kept" in err
    assert not (tmp_path / "new").exists()  # the folder the command made, removed with the model
    (tmp_path / "empty").mkdir()  # a folder the user made stays, empty
    rc, said, err = cli("export", finished.run, "--format", "onnx", "--out", tmp_path / "empty")
    assert rc == 2 and "it was not kept" in err
    assert (tmp_path / "empty").is_dir() and not list((tmp_path / "empty").iterdir())


def test_the_predict_page_exports_every_format_checked(finished, home):
    finished.into(home)
    at = open_app("predict", run=RUN, timeout=240)
    assert not at.exception
    for name, fmt in FORMATS.items():
        at.button(key=f"export_{name}").click().run()
        assert not at.exception and not at.error
        assert any(s.value.startswith(f"{fmt.label} exported (") for s in at.success)
        made = list((home / "exports").glob(f"*-{RUN}-{name}/{fmt.main}"))
        assert len(made) == 1, name
        assert any(getattr(b, "label", "") == f"{fmt.label} (zip)" for b in at.get("download_button"))
    assert any("bioimageio test: passed" in s.value for s in at.success)
    assert any("largest logit difference from PyTorch" in s.value for s in at.success)
