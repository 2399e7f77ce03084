"""The Label page in Streamlit's AppTest: a set made from a folder, images walked, a fill from strokes accepted
and saved. (Drawing with the mouse in the editor is tested in Chromium: tests/test_e2e_label.py.)"""

import numpy as np
import pytest
from conftest import ROOT
from makers import save
from streamlit.testing.v1 import AppTest
from test_labels import cells

from seg.labels.assist import UNMARKED
from seg.labels.store import LabelSet


@pytest.fixture
def app(home):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/label.py").run()
    assert not at.exception, at.exception
    return at


def test_a_set_made_from_a_folder_and_a_fill_accepted(app, home, tmp_path):
    rng = np.random.default_rng(0)
    truths = {}
    for i in range(3):
        image, truth = cells(rng)
        save(tmp_path / "slides" / f"s{i}.png", image)
        truths[f"s{i}"] = truth
    app.text_input[0].set_value("cells")
    app.text_input[1].set_value("background, disc, rod")
    app.text_input[2].set_value(str(tmp_path / "slides"))
    app.button[0].click().run()  # the form's submit
    assert not app.exception, app.exception
    assert app.selectbox(key="label_set").value == "cells"
    assert [m.value for m in app.metric][:3] == ["3", "0", "0"]
    s = LabelSet(home / "labels" / "cells")
    # strokes as the editor would send them: kept for this session, then filled and accepted
    from test_labels import strokes_from
    drawn = strokes_from(truths["s0"], rng)
    app.session_state["label_strokes"] = {(str(s.path), "s0"): drawn}
    app.segmented_control(key="label_mode").set_value("Strokes, then fill").run()
    assert not app.exception, app.exception
    next(b for b in app.button if b.label == "Fill from strokes").click().run()
    assert not app.exception, app.exception
    next(b for b in app.button if b.label == "Accept the fill").click().run()
    assert not app.exception, app.exception
    mask = s.mask("s0")
    assert mask is not None and set(np.unique(mask)) <= {0, 1, 2}
    assert (mask[drawn != UNMARKED] == drawn[drawn != UNMARKED]).all()
    assert s.record("s0")["history"][0]["how"] == "assisted"
    assert app.segmented_control(key="label_mode").value == "Draw"  # on to correct it
    assert [m.value for m in app.metric][:3] == ["3", "1", "1"]
    next(b for b in app.button if b.label == "Next").click().run()
    assert app.selectbox[1].value == 1  # the second image


def test_a_set_refuses_a_folder_outside_what_the_viewer_may_read(app, monkeypatch, tmp_path):
    app.text_input[0].set_value("x")
    app.text_input[2].set_value("/etc")
    monkeypatch.setenv("SEGBOARD_ROOTS", str(tmp_path))
    app.button[0].click().run()
    assert app.error and "outside the folders" in app.error[0].value
