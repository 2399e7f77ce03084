"""The Data page in Streamlit's AppTest: demo, folder path, zip upload, a broken dataset, preview."""

import io
import zipfile

import pytest
from apps import open_app
from conftest import ROOT
from makers import dataset
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app(home):
    return open_app()


def test_opens_on_the_demo_dataset(app):
    assert [m.value for m in app.metric][:3] == ["64", "2", "51 / 13"]
    assert "Ready to train: 64 pairs" in app.success[0].value
    assert len(app.image) >= 12 + 3  # a gallery page and the close look
    assert app.session_state["data"].source == "demo"
    assert "Dataset: demo dataset" in [c.value for c in app.sidebar.caption]


def test_gallery_pages(app):
    app.number_input(key="page").set_value(6).run()
    # 64 pairs, 12 per page: the last page holds 4, plus the close look's 3 images
    assert len(app.image) == 4 + 3
    assert not app.exception


def test_folder_path(app, tmp_path):
    dataset(tmp_path / "cracks", n=8, mask_values=(0, 255), codes=["pipe", "crack"])
    app.segmented_control(key="source").set_value("folder").run()
    assert app.info[0].value == "Choose a dataset above."
    assert app.session_state["data"] is None
    app.text_input(key="folder").set_value(f' "{tmp_path / "cracks"}" ').run()  # pasted with quotes
    assert not app.exception
    assert app.metric[0].value == "8"
    assert "classes pipe, crack" in app.success[0].value
    assert app.session_state["data"].path == tmp_path / "cracks"


def test_zip_upload(app, tmp_path):
    src = dataset(tmp_path / "upload", n=5)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(tmp_path))
    app.segmented_control(key="source").set_value("upload").run()
    app.file_uploader(key="upload").set_value(("cells.zip", buf.getvalue(), "application/zip")).run()
    assert not app.exception
    assert app.metric[0].value == "5"
    assert app.session_state["data"].source == "upload"


def test_a_malicious_zip_is_refused(app):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escape.png", b"x")
    app.segmented_control(key="source").set_value("upload").run()
    app.file_uploader(key="upload").set_value(("evil.zip", buf.getvalue(), "application/zip")).run()
    assert "outside the archive" in app.error[0].value
    assert app.session_state["data"] is None


def test_a_broken_dataset_shows_its_errors_and_blocks_training(app, tmp_path):
    dataset(tmp_path / "bad", n=4)
    (tmp_path / "bad" / "images" / "02.png").write_bytes(b"garbage")
    app.segmented_control(key="source").set_value("folder").run()
    app.text_input(key="folder").set_value(str(tmp_path / "bad")).run()
    assert not app.exception
    assert "training is blocked" in app.error[0].value
    assert "images/02.png" in app.error[0].value and "Not a readable image" in app.error[0].value
    assert app.session_state["data"] is None
    assert len(app.success) == 0


def test_training_settings_and_augmentation_preview(app):
    app.select_slider(key="size").set_value(128).run()
    app.toggle(key="augment").set_value(True).run()
    assert app.session_state["data"].settings.size == 128
    app.button(key="preview").click().run()
    assert not app.exception
    assert any("8 random augmentations" in c.value for c in app.caption)


def test_class_names_override(app):
    app.text_input(key="codes").set_value("background, crystal").run()
    assert "classes background, crystal" in app.success[0].value


def test_a_folder_in_the_address_opens_directly(home, tmp_path):
    "A refresh or a link with ?data=/path opens that folder: colleagues get the same view."
    dataset(tmp_path / "linked", n=6)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["data"] = str(tmp_path / "linked")
    at.run()
    assert not at.exception
    assert at.segmented_control(key="source").value == "folder"
    assert at.metric[0].value == "6"
    at.segmented_control(key="source").set_value("demo").run()
    assert "data" not in at.query_params


def test_typing_a_folder_puts_it_in_the_address(app, tmp_path):
    dataset(tmp_path / "mine", n=5)
    app.segmented_control(key="source").set_value("folder").run()
    app.text_input(key="folder").set_value(str(tmp_path / "mine")).run()
    assert app.query_params["data"] == str(tmp_path / "mine")


def test_validation_fraction_changes_the_split_shown(app):
    app.slider(key="valid_pct").set_value(0.5).run()
    assert app.metric[2].value == "32 / 32"
    assert app.session_state["data"].settings.valid_pct == 0.5


def test_instance_masks_are_shown_as_objects_and_the_choice_travels(app, tmp_path):
    import numpy as np
    from makers import disc_image, discs, save
    rng = np.random.default_rng(0)
    for i in range(6):
        ids = discs(rng, (96, 96), n=12, radius=(5, 8), touching=0.6)
        save(tmp_path / "nuclei" / "images" / f"{i}.png", disc_image(rng, ids))
        save(tmp_path / "nuclei" / "masks" / f"{i}.png", ids)
    app.segmented_control(key="source").set_value("folder").run()
    app.text_input(key="folder").set_value(str(tmp_path / "nuclei")).run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Classes"] == "2" and metrics["Objects"] == "72" and metrics["Per image (median)"] == "12"
    assert metrics["Touching another"].endswith("%") and int(metrics["Touching another"][:-1]) > 20
    assert app.session_state["data"].settings.objects is None  # decided from the masks
    app.radio(key="objects").set_value(False).run()  # read as classes, as asked
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert "Objects" not in metrics and metrics["Classes"] == "13"
    assert app.session_state["data"].settings.objects is False
