"""The Label page in Streamlit's AppTest: a set made from a folder, images walked, a fill from strokes accepted
and saved. (Drawing with the mouse in the editor is tested in Chromium: tests/test_e2e_label.py.)"""

import numpy as np
import pytest
from apps import open_app
from conftest import ROOT
from makers import MACHINE, save
from PIL import Image
from streamlit.testing.v1 import AppTest
from test_labels import cells

from seg.labels.assist import UNMARKED
from seg.labels.store import LabelSet


@pytest.fixture
def app(home):
    return open_app("label")


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
    app.session_state["label_kept_strokes"] = {(str(s.path), "s0"): drawn}
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
    # the set's zip is made when asked for, not on every run of the page (a set of many images took a second
    # of the server's CPU on each click; found by an attack on a served app)
    download = next(b.proto for b in app.get("download_button") if b.proto.label == "Download the set (zip)")
    assert download.deferred_file_id and not download.url and not download.disabled
    next(b for b in app.button if b.label == "Next").click().run()
    assert app.selectbox[1].value == 1  # the second image


def test_a_set_refuses_a_folder_outside_what_the_viewer_may_read(app, monkeypatch, tmp_path):
    app.text_input[0].set_value("x")
    app.text_input[2].set_value("/etc")
    monkeypatch.setenv("SEGBOARD_ROOTS", str(tmp_path))
    app.button[0].click().run()
    assert app.error and "outside the folders" in app.error[0].value


def test_the_retrain_s_command_line_reads_back_as_the_run_s_settings_left_to_the_planner(app, home, finished,
                                                                                         monkeypatch):
    """Retrain starts its run as the Train page does (`run_argv`): its command line reads back (`from_args`) as
    the earlier run's backbone and objects, no ImageNet weights, the viewer's folders; from its weights,
    planned for the minutes, no trials; every other setting the default, so what the earlier run's plan chose
    (number format, loss, size ...) is the planner's to choose again."""
    import json
    from pathlib import Path

    from seg import Dataset, runs
    from seg.cli import parser
    from seg.cli.options import from_args
    from seg.model.settings import DataSettings, TrainSettings
    name = finished.into(home, "20260101-120000-cells").name
    cfg = json.loads((finished.run / "config.json").read_text())
    _, valid = Dataset.open(finished.data, access=MACHINE).split(cfg["data"]["valid_pct"], cfg["data"]["seed"])
    s = LabelSet.create(home / "labels", "demo-corrections", ["background", "cell"], source=finished.data)
    s.save(valid[0].image, Dataset.open(finished.data, access=MACHINE).mask(valid[0]), "corrected", access=MACHINE,
           run=name)
    started = {}

    def start(data, run_dir, options, device="cpu"):  # the process itself is tested above
        started.update(data=data, options=options)
        Path(run_dir).mkdir(parents=True)
        return runs.Run(run_dir)

    monkeypatch.setattr(runs, "start", start)
    monkeypatch.setenv("SEGBOARD_ROOTS", str(finished.data))
    app.run()
    app.selectbox(key="label_set").set_value("demo-corrections").run()
    app.number_input(key="retrain_minutes").set_value(1.5)
    next(b for b in app.button if b.label == "Retrain").click().run()
    assert not app.exception, app.exception
    args = parser().parse_args(["train", str(started["data"]), "--run-dir", "RUN", *started["options"]])
    data, train = from_args(args)
    assert cfg["train"]["arch"] == "resnet18" != TrainSettings().arch and not cfg["objects"]
    assert train == TrainSettings(arch="resnet18", pretrained=False)
    assert data == DataSettings(objects=False, within=data.within)
    assert {Path(w) for w in data.within} == {home.resolve(), finished.data.resolve()}  # the viewer's folders
    assert Path(args.from_run) == home / "runs" / name and args.budget == 1.5 and args.no_trials and not args.plan
    assert Path(args.data) == Path(app.session_state["label_retrained"]["data"])


def test_label_next_orders_the_unlabelled_images_least_sure_first(app, home, finished, tmp_path):
    finished.into(home, "20260101-120000-cells")
    src = tmp_path / "next"
    for f in sorted((finished.data / "images").iterdir())[:4]:
        save(src / f.name, np.asarray(Image.open(f).convert("RGB")))
    s = LabelSet.create(home / "labels", "next", ["background", "cell"], source=src)
    first = s.sources(MACHINE)[0]
    s.save(first, np.zeros((128, 128), np.uint8), "drawn", access=MACHINE)
    app.run()
    app.selectbox(key="label_set").set_value("next").run()
    app.toggle(key="label_next").set_value(True).run()
    assert not app.exception, app.exception
    options = next(b for b in app.selectbox if b.label == "Image").options
    ranked = [o for o in options if "uncertainty" in o]
    values = [float(o.rsplit(" ", 1)[-1]) for o in ranked]
    assert len(ranked) == 3 and values == sorted(values, reverse=True)  # the labelled one is not ranked ...
    assert options[-1].startswith("✓ ") and first.name in options[-1]  # ... and comes last


def test_a_labels_set_is_chosen_on_the_data_page_and_reads_as_a_dataset(home, tmp_path):
    rng = np.random.default_rng(3)
    for i in range(3):
        save(tmp_path / "in" / f"c{i}.png", cells(rng)[0])
    s = LabelSet.create(home / "labels", "cells", ["background", "disc", "rod"], source=tmp_path / "in")
    for image in s.sources(MACHINE)[:2]:
        s.save(image, cells(rng)[1], "drawn", access=MACHINE)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.segmented_control(key="source").set_value("labels").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="data_labels").value == "cells"
    assert [m.value for m in at.metric][:2] == ["2", "3"]  # the two images labelled so far; three classes
    assert at.session_state["data"].path == s.path and at.session_state["data"].source == "labels"
