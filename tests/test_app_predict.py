"""The Predict page in Streamlit's AppTest, on the real run trained once for the session (conftest)."""


import numpy as np
import pytest
from conftest import ROOT
from PIL import Image
from streamlit.testing.v1 import AppTest
from training import RUN


@pytest.fixture
def page(home, finished):
    "The app on the Predict page, with the session's trained run in this test's workspace."
    finished.into(home)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception, at.exception
    return at


def test_without_a_trained_run_the_page_says_where_to_go(home):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception
    assert "No trained model yet" in at.info[0].value


def test_validation_set_side_by_side_scores_objects_downloads(page, home, tmp_path):
    at = page
    assert at.selectbox(key="predict_run").value == RUN
    assert at.query_params["run"] == [RUN] or at.query_params["run"] == RUN
    at.button(key="predict").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "2" and 0 <= float(metrics["Dice (foreground)"]) <= 1
    assert int(metrics["Objects found"]) > 0
    assert len(at.image) == 2  # two validation images, side by side
    assert any("Dice" in str(i.proto) for i in at.image)
    assert at.subheader.values[:2] == ["Scores per class", "Worst first"]
    # what computed the masks: auto's runtime on this CPU, calibrated on the run's training images
    assert any("(ONNX Runtime, INT8 (static, " in c.value for c in at.caption), [c.value for c in at.caption]
    out = next((home / "predictions").iterdir())
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(p.name for p in (out / "previews").iterdir())
    assert (out / "metrics.json").exists() and (out / "measurements.csv").exists()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Masks (zip of PNGs)", "Objects for Fiji, QuPath, napari (zip)", "Measurements (CSV)",
                      "Model bundle (zip)"]
    stems = sorted(p.stem for p in (out / "masks").iterdir())
    assert sorted(p.stem for p in (out / "labels").iterdir()) == stems  # a label image each, ROIs where objects are
    assert {p.name for p in (out / "rois").glob("*.geojson")} == {f"{s}.geojson" for s in stems}
    # a pixel size turns the sizes into micrometres without predicting again
    tables = [d.value for d in at.dataframe]
    objects = next(t for t in tables if "area_px" in t.columns)
    at.number_input(key="pixel_size").set_value(0.5).run()
    objects_um = next(d.value for d in at.dataframe if "area_px" in d.value.columns)
    assert (objects_um["unit"] == "um").all() and objects_um["area"].tolist() == pytest.approx(
        (objects["area"] * 0.25).tolist())
    assert len(list((home / "predictions").iterdir())) == 1
    # the worst prediction corrected: on the Label page, in the set tied to the run's dataset, from the prediction
    correct = [b for b in at.button if b.label == "Correct this mask"]
    assert len(correct) == 2  # each validation image of the run's own dataset
    from seg.labels.store import LabelSet
    other = LabelSet.create(home / "labels", "demo-corrections", ["background", "cell"],
                            source=(tmp_path / "elsewhere" / "demo").resolve())  # another folder named demo
    correct[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["label_set"] == "demo-corrections-2"  # its own set: never the other folder's
    assert at.title[0].value == "Label" and len(at.session_state["label_start"]) == 1  # started from the prediction
    s = LabelSet(home / "labels" / "demo-corrections-2")
    assert s.classes == ["background", "cell"] and s.source.name == "demo" and s.labelled() == []
    assert s.source != other.source and LabelSet(other.path).version == 0


def test_a_folder_without_masks_and_bad_folders(page, finished, tmp_path):
    at = page
    at.segmented_control(key="predict_source").set_value("folder").run()
    at.text_input(key="predict_folder").set_value(str(tmp_path / "nowhere")).run()
    at.button(key="predict").click().run()
    assert not at.exception
    assert "not found" in at.error[0].value
    folder = tmp_path / "slides"
    folder.mkdir()
    for i in range(3):
        Image.open(finished.data / "images" / f"00{i}.png").save(folder / f"slide{i}.png")
    Image.fromarray(np.zeros((300, 500, 3), np.uint8)).save(folder / "wide.png")
    at.text_input(key="predict_folder").set_value(str(folder)).run()
    at.button(key="predict").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "4" and "Dice (foreground)" not in metrics  # no truth, no score
    assert "Predictions" in at.subheader.values and "Scores per class" not in at.subheader.values
    assert len(at.image) == 4
