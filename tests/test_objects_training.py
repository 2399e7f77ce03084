"""Training on objects: the target the DataLoaders give (background / interior / boundary, the band kept
at the training size), the loss's weights, and a real tiny run whose end tunes the split into objects
and records it with the object scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from makers import MACHINE, disc_image, discs, save
from training import cli, copy_run

from seg import Dataset
from seg.data.dataloaders import dataloaders
from seg.model.settings import DataSettings


@pytest.fixture(scope="module")
def nuclei(tmp_path_factory):
    "12 images of 192 x 192 px with 20 touching discs each (16-bit ids)."
    root = tmp_path_factory.mktemp("nuclei")
    rng = np.random.default_rng(4)
    for i in range(12):
        ids = discs(rng, (192, 192), n=20, radius=(10, 16), touching=0.6)
        save(root / "images" / f"{i:02d}.png", disc_image(rng, ids))
        save(root / "masks" / f"{i:02d}.png", ids)
    return root


def test_the_dataloaders_give_interior_and_boundary_at_the_training_size(nuclei):
    ds = Dataset.open(nuclei, access=MACHINE)
    assert list(ds.train_codes.names) == ["background", "object", "object boundary"]
    dls = dataloaders(ds, DataSettings(size=64, bs=4, augment=False))
    assert dls.vocab == ["background", "object", "object boundary"]
    _, y = dls.one_batch()
    assert set(np.unique(y.cpu().numpy())) == {0, 1, 2}  # the band, 3 px wide at 192 px, survives 64 px
    f = ds.train_fractions((64, 64))
    assert list(f) == list(ds.train_codes.names) and f["object boundary"] > 0.05 and f["object"] > 0.05
    assert sum(f.values()) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def objects_run(nuclei, tmp_path_factory):
    "A real tiny run on the touching discs: 2 epochs at 96 px, resnet18 (about a minute on 2 cores)."
    run = tmp_path_factory.mktemp("objects") / "20260102-120000-nuclei"
    rc, _, err = cli("train", nuclei, "--run-dir", run, "--epochs", "2", "--size", "96", "--bs", "4", "--arch",
                     "resnet18", "--no-augment", "--lr", "3e-3", "--no-pretrained")
    assert rc == 0, err
    return run


@pytest.mark.slow
def test_a_run_on_objects_tunes_the_split_and_scores_objects(objects_run, tmp_path):
    run = objects_run
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["codes"] == ["background", "object", "object boundary"] and len(cfg["class_weights"]) == 3
    assert cfg["objects"]["name"] == "object" and cfg["objects"]["source"] == "masks"
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    scores = next(e for e in events if e["type"] == "scores")
    assert list(scores["per_class"]) == ["background", "object"] and scores["images"] == 2
    found = next(e for e in events if e["type"] == "objects")
    record = json.loads((run / "objects.json").read_text())
    assert record["split"] == found["split"] and set(record["split"]) == {"seed", "min_size"}
    assert record["summary"]["true"] == 40 and record["summary"]["images"] == 2
    assert len(record["candidates"]) >= 6 and len(record["per_image"]) == 2
    assert record["per_image"][0]["ap50"] <= record["per_image"][1]["ap50"]  # worst first
    assert record["summary"]["ap50"] == max(c["ap50"] for c in record["candidates"])
    # prediction: the objects' masks, instances split by the tuned split, object scores, measurements
    out = tmp_path / "pred"
    rc, stdout, err = cli("predict", run, "--valid", "--out", out, "--measure")
    assert rc == 0, err
    assert "objects found" in stdout and "of 40 true" in stdout
    meta = json.loads((out / "prediction.json").read_text())
    assert meta["codes"] == ["background", "object"] and meta["objects"]["split"] == record["split"]
    from PIL import Image
    for r in meta["images"]:
        ids = np.asarray(Image.open(out / r["instances"]))
        mask = np.asarray(Image.open(out / r["mask"]))
        assert ids.dtype == np.uint16 and set(np.unique(mask)) <= {0, 1} and r["objects"] == int(ids.max())
        assert not ((ids > 0) & (mask == 0)).any()  # objects lie within the objects' mask
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["objects"]["summary"]["true"] == 40
    # the same images and split; the number format may differ from the run's (timed anew here)
    assert metrics["objects"]["summary"]["ap50"] == pytest.approx(record["summary"]["ap50"], abs=0.15)
    import pandas as pd
    table = pd.read_csv(out / "measurements.csv")
    assert len(table) == sum(r["objects"] for r in meta["images"]) and set(table["class"]) <= {"object"}


@pytest.mark.slow
def test_the_bundle_of_a_run_on_objects_carries_its_split(objects_run):
    "The download holds objects.json (the tuned split and its scores) and says in README.txt how objects are made."
    import io
    import zipfile

    from seg.prediction.bundle import bundle
    record = json.loads((objects_run / "objects.json").read_text())
    with zipfile.ZipFile(io.BytesIO(bundle(objects_run))) as zf:
        assert "objects.json" in zf.namelist() and "model.onnx" in zf.namelist()
        assert json.loads(zf.read("objects.json")) == record
        readme = zf.read("README.txt").decode()
        assert zf.read("codes.txt").decode() == "background\nobject\nobject boundary\n"
    assert "seeded watershed" in readme and f"over {record['split']['seed']:g}" in readme
    assert f"under {record['split']['min_size']} pixels" in readme


def nuclei_name(run) -> str:
    return Path(json.loads((run / "config.json").read_text())["dataset"]["root"]).name


@pytest.mark.slow
def test_the_pages_show_a_run_on_objects(objects_run, home):

    from conftest import ROOT
    from streamlit.testing.v1 import AppTest
    copy_run(objects_run, home / "runs" / objects_run.name)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert 0 <= float(metrics["Objects: AP at IoU 0.5"]) <= 1 and metrics["Objects found / true"].endswith("/ 40")
    # the headline is the objects' (AP, count error, the objects' pixels' Dice), then the classes the model learned
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Objects: AP at IoU 0.5", "Count error (median)", "Dice of the objects' pixels"]
    full = [json.loads(line) for line in (objects_run / "events.jsonl").read_text().splitlines()
            if '"scores"' in line][-1]
    assert metrics["Dice of the objects' pixels"] == metrics["Dice at the images' own size"] == f"{full['dice']:.3f}"
    assert "Dice (interior and boundary)" in labels and "Dice (foreground)" not in labels
    at.switch_page("pages/predict.py").run()
    at.button(key="predict").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Objects found / true"].endswith("/ 40") and 0 <= float(metrics["AP at IoU 0.5"]) <= 1
    captions = " ".join(str(i.proto) for i in at.image)
    assert "found of" in captions and "AP at 0.5" in captions  # each image: counts and AP, worst first
    assert "Objects (zip of 16-bit PNGs)" in [b.proto.label for b in at.get("download_button")]
    out = next((home / "predictions").iterdir())
    assert sorted(p.name for p in (out / "instances").iterdir()) == sorted(p.name for p in (out / "masks").iterdir())
    # corrected: in a set of objects, started from the run's objects (one id each, split as the run splits)
    next(b for b in at.button if b.label == "Correct this mask").click().run()
    assert not at.exception, at.exception
    from seg.labels.store import LabelSet
    s = LabelSet(home / "labels" / f"{nuclei_name(objects_run)}-corrections")
    assert s.objects and s.classes == ["background", "object"]
    ((_, key), (run_name, start)), = at.session_state["label_start"].items()
    from PIL import Image
    predicted = np.asarray(Image.open(out / "instances" / f"{key}.png"))
    assert run_name == objects_run.name and start.dtype == np.uint16
    # the objects the Predict page showed (batched there, one image here: equal up to float rounding)
    assert ((start > 0) == (predicted > 0)).mean() > 0.99
    assert abs(len(np.unique(start)) - len(np.unique(predicted))) <= 1
    assert any(c.value.startswith("Objects: object, one id each") for c in at.caption)
