"""A run's curves drawn: loss and scores per epoch, loss per batch, and several runs' curves overlaid. The one
place for the three screens that draw them: the Train page (one run, live), the Compare page (runs overlaid)
and the report (one run, in HTML). It knows nothing of Streamlit: it returns Plotly figures; a page hands one
to `st.plotly_chart`, the report writes it into its HTML (`plotly.io.to_html`, each chart's script allowed by
its hash: seg/run_report.py).

Decided here, so that a chart says the same on every screen: the series and their names, the axes and their
titles, Dice and IoU from 0 to 1, a tick at each epoch while there are few, the overlay's colour per run and
line per series, its log axis for loss. A screen chooses only its look: `height`, whether the legend goes below
the chart (a narrow column) or beside it, and a shorter title where its space asks for one.

Input, read from the run folder (`seg.runs.folder.Run`), no torch:
- rows, one dict per epoch with `epoch`, `train_loss`, `valid_loss`, `dice`, `iou`, and `minutes` to draw
  against wall time: `compare.curves(run)`; the `epoch` events themselves (`Run.epochs()`) have all but
  `minutes`. A missing value (None) is a gap in its line.
- batches, the `batch` events (`Run.batches()`): `iteration`, `loss`.
"""

from __future__ import annotations

import plotly.graph_objects as go

LOSS = (("train_loss", "train loss"), ("valid_loss", "valid loss"))  # (key in a row, the series' name)
SCORES = (("dice", "Dice"), ("iou", "IoU"))
WHOLE_EPOCHS = 20  # up to this many epochs a tick at each (Plotly would put one at 1.5); past it they crowd
MARGIN = dict(t=40, b=40, l=40, r=10)

# The overlays on Compare: (title, the keys drawn per run; the first solid, the second dotted)
OVERLAYS = {"loss": ("Loss per epoch (solid: validation, dotted: training)", ("valid_loss", "train_loss")),
            "dice": ("Dice per epoch (validation, training size)", ("dice",))}
AXES = ("epoch", "minutes")  # what the overlays are drawn against: epochs, or wall time since each run started


def batch_loss(batches: list[dict], height: int = 300) -> go.Figure:
    "Training loss per batch against the iteration: the first curve to move in a live run."
    fig = go.Figure(go.Scatter(x=[b["iteration"] for b in batches], y=[b["loss"] for b in batches], mode="lines",
                               name="batch loss"))
    return _look(fig, "Training loss per batch", "iteration", height, legend_below=False)


def epoch_loss(rows: list[dict], height: int = 300, legend_below: bool = True,
               title: str = "Loss per epoch") -> go.Figure:
    "Training and validation loss per epoch, one line each."
    return _per_epoch(rows, LOSS, title, height, legend_below)


def epoch_scores(rows: list[dict], height: int = 300, legend_below: bool = True,
                 title: str = "Validation scores per epoch (training size)") -> go.Figure:
    """Validation Dice and IoU per epoch (foreground classes, at the training size), on a fixed 0 to 1 axis:
    a gain of 0.01 is not drawn as a cliff."""
    fig = _per_epoch(rows, SCORES, title, height, legend_below)
    return fig.update_yaxes(range=[0, 1])


def overlay(curves: list[list[dict]], names: list[str], what: str, axis: str = "epoch",
            height: int = 360) -> go.Figure:
    """Several runs' curves on one chart, a colour per run (its series grouped in the legend). `curves`: each
    run's rows (`compare.curves`); `names`: one per run, the legend's; `what`: "loss" (validation solid,
    training dotted, named "NAME (train)") or "dice" (validation Dice); `axis`: "epoch" or "minutes" (wall
    time since each run started, trials and start-up included).

    Plotly reads a few HTML tags in a trace's name: a name a user supplied (a run's title) must come escaped
    (`ui.text.plot_text`) and short enough for the legend."""
    if what not in OVERLAYS or axis not in AXES:
        raise ValueError(f"overlay of {what!r} against {axis!r}: one of {list(OVERLAYS)} against one of {AXES}")
    title, keys = OVERLAYS[what]
    fig = go.Figure()
    for i, (rows, name) in enumerate(zip(curves, names, strict=True)):
        colour = f"hsl({i * 360 // len(curves)},65%,45%)"  # hues spread evenly: any number of runs tell apart
        for k in keys:
            fig.add_trace(go.Scatter(x=[r[axis] for r in rows], y=[r.get(k) for r in rows], mode="lines+markers",
                                     name=name if k == keys[0] else f"{name} (train)", legendgroup=str(i),
                                     line=dict(color=colour, dash="solid" if k == keys[0] else "dot")))
    _look(fig, title, axis, height, legend_below=True)
    if axis == "epoch":
        _whole_epochs(fig, max((len(rows) for rows in curves), default=0))
    if what == "dice":
        fig.update_yaxes(range=[0, 1])
    else:  # one run's loss far above the others' (an early blow-up) would flatten them all on a linear axis
        fig.update_yaxes(type="log")
    return fig


def _per_epoch(rows: list[dict], series, title: str, height: int, legend_below: bool) -> go.Figure:
    x = [r["epoch"] for r in rows]
    fig = go.Figure([go.Scatter(x=x, y=[r.get(k) for r in rows], mode="lines+markers", name=name)
                     for k, name in series])
    _look(fig, title, "epoch", height, legend_below)
    return _whole_epochs(fig, len(rows))


def _whole_epochs(fig: go.Figure, epochs: int) -> go.Figure:
    return fig.update_xaxes(dtick=1 if epochs <= WHOLE_EPOCHS else None)


def _look(fig: go.Figure, title: str, x_title: str, height: int, legend_below: bool) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x_title, height=height, margin=MARGIN)
    if legend_below:  # beside the chart, a legend takes half of a narrow column
        fig.update_layout(legend=dict(orientation="h", y=-0.3))
    return fig
