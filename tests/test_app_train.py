"""The Train page in Streamlit's AppTest: settings, a real run started from the page, live metrics, stop."""

import time

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from training import demo, end_runs

from seg.runs import Run


@pytest.fixture
def train_page(home, tmp_path):
    "The app with a tiny dataset chosen on the Data page, on the Train page."
    data = demo(tmp_path / "tiny")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.segmented_control(key="source").set_value("folder").run()
    at.text_input(key="folder").set_value(str(data)).run()
    assert at.session_state["data"].path == data
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    yield at
    end_runs(home / "runs")


def poll(at, until, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        at.run()
        assert not at.exception, at.exception
        if until(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"timed out: {[m.value for m in at.markdown]}")


def test_without_a_dataset_the_page_says_where_to_go(home):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.segmented_control(key="source").set_value("folder").run()  # no folder typed: no dataset
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert "No dataset chosen yet" in at.info[0].value
    assert at.button(key="start").disabled
    assert "No runs yet." in [i.value for i in at.info]


def test_settings_are_checked_and_estimated(train_page):
    at = train_page
    assert at.slider(key="epochs").value == 10 and at.select_slider(key="lr").value == 1e-3
    assert any("Estimated time: about" in c.value for c in at.caption)
    # no ImageNet weights on this machine: the toggle starts off, and switched on the caption says why
    assert not at.toggle(key="pretrained").value
    assert any("Training from scratch (pretrained weights switched off)" in c.value for c in at.caption)
    at.toggle(key="pretrained").set_value(True).run()
    assert any("training from scratch" in c.value for c in at.caption)
    at.text_input(key="weights").set_value("/no/such/weights.pth").run()
    assert "Weights file /no/such/weights.pth: not found" in at.error[0].value
    assert at.button(key="start").disabled
    at.toggle(key="pretrained").set_value(False).run()
    assert not at.error and not at.button(key="start").disabled
    # The training-data settings live in one place: the Data page's choice.
    at.select_slider(key="train_size").set_value(64).run()
    assert at.session_state["data"].settings.size == 64


@pytest.mark.slow
def test_start_watch_stop(train_page, home):
    at = train_page
    at.select_slider(key="train_size").set_value(64).run()
    at.number_input(key="train_bs").set_value(4).run()
    at.selectbox(key="arch").set_value("resnet18").run()
    at.toggle(key="train_augment").set_value(False).run()
    at.slider(key="epochs").set_value(100).run()
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    name = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    assert (home / "runs" / name).is_dir()
    poll(at, lambda a: any(m.label == "Dice (foreground)" for m in a.metric) and a.image)
    assert at.button(key="start").disabled  # one run at a time
    assert any(f"A run is training on this CPU: {name}" in w.value for w in at.warning)  # the run, by name
    assert len(at.get("plotly_chart")) >= 2  # batch loss and the per-epoch chart
    assert "image | truth | prediction" in at.image[0].proto.imgs[0].caption
    assert at.get("progress")
    at.button(key="stop").click().run()
    run = Run(home / "runs" / name)
    poll(at, lambda a: run.poll() is not None and run.status().status == "stopped")
    at.run()
    assert not at.button(key="start").disabled
    table = at.dataframe[-1].value
    assert table.iloc[0]["run"] == name and table.iloc[0]["status"] == "stopped"
    # the best weights scored at the images' own size once the run ended, beside the training-size scores
    own = next(m for m in at.metric if m.label == "Dice at the images' own size")
    assert 0 <= float(own.value) <= 1 and 0 <= table.iloc[0]["dice_full_size"] <= 1


@pytest.mark.slow
def test_learning_rate_finder_and_taking_a_suggestion(train_page):
    at = train_page
    at.select_slider(key="train_size").set_value(64).run()
    at.number_input(key="train_bs").set_value(4).run()
    at.selectbox(key="arch").set_value("resnet18").run()
    at.button(key="find_lr").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    found = at.session_state["lr_found"]
    assert found["suggestions"]["valley"] and len(found["lrs"]) > 20
    assert at.get("plotly_chart")  # the curve, with the suggestions marked
    at.button(key="use_valley").click().run()
    from ui.state import nearest_lr
    assert at.select_slider(key="lr").value == nearest_lr(found["suggestions"]["valley"])
    # The settings outlive a visit to another page.
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/train.py").run()
    assert at.select_slider(key="lr").value == nearest_lr(found["suggestions"]["valley"])
    assert at.selectbox(key="arch").value == "resnet18" and at.select_slider(key="train_size").value == 64
