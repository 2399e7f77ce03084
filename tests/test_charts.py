"""A run's curves drawn (seg/runs/charts.py), the one module the Train page, the Compare page and the report
draw them with: what each chart shows, from rows shaped as the run folder's events. The screens themselves are
tested where they are drawn (test_app_train, test_compare, test_report)."""

import subprocess
import sys

import pytest
from conftest import ROOT

from seg.runs import charts


def epochs(n: int) -> list[dict]:
    "n `epoch` events as a run writes them; epoch 2 without a Dice (a gap, not a zero)."
    return [{"type": "epoch", "t": 100.0 + 10 * i, "epoch": i + 1, "train_loss": 1 / (i + 1),
             "valid_loss": 1.2 / (i + 1), "dice": None if i == 1 else i / n, "iou": i / (2 * n)} for i in range(n)]


def test_one_run_s_charts():
    batches = [{"type": "batch", "iteration": i, "loss": 2 / (i + 1)} for i in range(12)]
    fig = charts.batch_loss(batches)
    assert [t.name for t in fig.data] == ["batch loss"] and list(fig.data[0].x) == list(range(12))
    assert fig.layout.title.text == "Training loss per batch" and fig.layout.xaxis.title.text == "iteration"
    loss, scores = charts.epoch_loss(epochs(3)), charts.epoch_scores(epochs(3), title="Validation scores")
    assert [t.name for t in loss.data] == ["train loss", "valid loss"] and loss.layout.title.text == "Loss per epoch"
    assert [t.name for t in scores.data] == ["Dice", "IoU"] and scores.layout.title.text == "Validation scores"
    assert tuple(scores.layout.yaxis.range) == (0, 1) and scores.data[0].y[1] is None  # a missing Dice is a gap
    assert loss.layout.xaxis.dtick == 1 and loss.layout.legend.orientation == "h"  # a tick per epoch, legend below
    many = charts.epoch_loss(epochs(charts.WHOLE_EPOCHS + 1), height=340, legend_below=False)
    assert many.layout.xaxis.dtick is None and many.layout.height == 340 and many.layout.legend.orientation is None


def test_runs_overlaid():
    curves = [[{**e, "minutes": e["t"] / 60} for e in epochs(n)] for n in (3, 2)]
    loss = charts.overlay(curves, ["first", "second"], "loss")
    assert [t.name for t in loss.data] == ["first", "first (train)", "second", "second (train)"]
    assert [t.line.dash for t in loss.data] == ["solid", "dot"] * 2  # validation solid, training dotted
    assert loss.data[0].line.color == loss.data[1].line.color != loss.data[2].line.color  # a colour per run
    assert loss.layout.yaxis.type == "log" and loss.layout.xaxis.title.text == "epoch"
    dice = charts.overlay(curves, ["first", "second"], "dice", axis="minutes")
    assert len(dice.data) == 2 and tuple(dice.layout.yaxis.range) == (0, 1)
    assert dice.layout.xaxis.title.text == "minutes" and dice.layout.xaxis.dtick is None
    assert list(dice.data[0].x) == [r["minutes"] for r in curves[0]]
    with pytest.raises(ValueError, match="one of"):
        charts.overlay(curves, ["first", "second"], "iou")
    with pytest.raises(ValueError):  # a name per run
        charts.overlay(curves, ["first"], "loss")


def test_the_charts_know_nothing_of_streamlit():
    "seg/ is the library: the report and the CLI draw the curves without Streamlit."
    said = subprocess.run([sys.executable, "-c", "import sys, seg.runs.charts; print('streamlit' in sys.modules)"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert said.strip() == "False"
