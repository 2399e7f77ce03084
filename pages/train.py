"""Train: choose the settings, start a run, watch it learn live, stop it; earlier runs below.

A run is its own process writing its own folder (seg/runs/); this page only reads that folder and
asks the run to stop, so a refresh, another tab or a colleague sees the same run."""

from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from seg import runs
from seg.errors import RunError, SettingsError
from seg.model.registry import BACKBONES, LOSSES
from seg.model.settings import MAX_EPOCHS, PRECISIONS, DataSettings, TrainSettings
from seg.runs import charts, manage
from seg.training import planner
from seg.training.pace import estimate
from seg.util import duration
from ui import access, datasets, frame, state, text, training

frame.require_frame()
st.title("Train")

device = training.device()
choice = state.chosen_dataset()
history = training.run_history()
busy = runs.training_now(device.kind)  # the folder of the run on this device, if any
read_only = access.read_only()

# -- Settings
PRECISION_CHOICES = [p for p in PRECISIONS[:4] if p != "fp16" or device.kind == "cuda"]  # auto, fp32, bf16 (, fp16)
saved = state.train_settings()
data_settings = choice.settings if choice else DataSettings()
SIZES = list(range(64, 1025, 32))  # the U-Net takes multiples of 32
state.widget_defaults({  # the widgets start from the settings kept across page switches
    "epochs": saved.epochs, "lr": state.nearest_lr(saved.lr), "arch": saved.arch, "loss": saved.loss,
    "precision": saved.precision if saved.precision in PRECISION_CHOICES else "auto",
    # on when ImageNet weights are on disk (or a file was named): off is what happens without them anyway
    "pretrained": saved.pretrained and (bool(saved.weights) or training.pretrained_on_disk(saved.arch)),
    "weights": saved.weights or "",
    "train_size": data_settings.hw[0] if data_settings.hw[0] in SIZES else 256, "train_bs": data_settings.bs,
    "train_valid_pct": data_settings.valid_pct, "train_augment": data_settings.augment})
st.subheader("Settings")
if choice:
    st.caption(f"Dataset: **{text.md(choice.name)}** ({text.code(choice.path)}), chosen on the Data page.")
else:
    st.info("No dataset chosen yet: pick one on the Data page first. Earlier runs are listed below.")
    st.page_link("pages/data.py", label="Go to the Data page", icon=":material/photo_library:")

# -- Time: a plan for this data on this device, or the settings by hand
BUDGETS = [*planner.BUDGETS, "manual"]
budget = st.segmented_control(
    "Time for training", BUDGETS, key="budget", default="manual", disabled=read_only,
    help="Pick the time you have: segboard plans image size, batch, epochs, learning rate, loss and augmentation "
         "for your data, timing a few batches on this device. Moving a setting below switches to manual."
         + (" Not in a read-only app: planning computes on the server." if read_only else "")) or "manual"
plan = None
if budget != "manual" and choice and not read_only:
    planned_from = datasets.open_dataset(choice.path, choice.codes, choice.settings.objects)
    if planned_from.ok:
        try:
            plan = training.plan(choice, budget, state.train_settings(),
                                 st.session_state.get("train_valid_pct", data_settings.valid_pct))
        except (RunError, SettingsError) as e:  # the device is busy: the timing waits for it
            st.error(text.md(e))
    if plan:
        state.apply_plan(plan)
        trials = st.toggle(
            "Try a few settings first", key="trials", value=True,
            help="Up to a quarter of the time goes to short trials of candidates around this plan (smaller and larger "
                 "images, two learning rates, the loss where it is a close call), scored on validation images at "
                 "their own size; the better half goes on until one is left, which trains to the end. Off: this "
                 "plan trains as it is.")
        st.success(f"**Plan for {budget}**: {plan.summary()}; about **{duration(plan.seconds)}** in all"
                   + (". Candidates around it are tried first; the best one trains to the end." if trials else "."))
        with st.expander("Why this plan"):
            st.markdown("\n".join(f"- {text.md(r)}" for r in plan.reasons))

c1, c2 = st.columns(2)
epochs = c1.slider("Epochs", 1, MAX_EPOCHS, key="epochs", on_change=state.to_manual,
                   help="Passes over the training images. From scratch on a CPU, 10 or more; see "
                        "docs/training.md#defaults-and-why-they-are-not-the-tutorials.")
lr = c2.select_slider("Learning rate", state.LRS, key="lr", format_func=lambda v: f"{v:.0e}",
                      on_change=state.to_manual,
                      help="Peak of fastai's one-cycle schedule. The learning-rate finder below suggests one.")
c1, c2, c3, c4 = st.columns(4)
size = c1.select_slider("Image size (px)", SIZES, key="train_size", on_change=state.to_manual,
                        help="Images are squeezed to this square; smaller trains faster.")
bs = c2.number_input("Batch size", 1, 256, key="train_bs", on_change=state.to_manual)
arch = c3.selectbox("Backbone", list(BACKBONES), key="arch",
                    help="; ".join(f"{b.name}: {b.note}" for b in BACKBONES.values()))
loss = c4.selectbox("Loss", list(LOSSES), format_func=lambda name: LOSSES[name].label, key="loss",
                    on_change=state.to_manual,
                    help="Weighted losses help when objects cover a small part of the image (cracks, sparse cells).")
c1, c2, c3, c4 = st.columns(4)
valid_pct = c1.slider("Validation fraction", 0.05, 0.5, step=0.05, key="train_valid_pct",
                      help="Ignored when the dataset has its own train/valid folders.")
number_format = c2.selectbox(
    "Number format", PRECISION_CHOICES, key="precision", on_change=state.to_manual,
    format_func=lambda p: {"auto": "fastest here (timed)", "fp32": "float32", "bf16": "bfloat16",
                           "fp16": "float16 (GPU)"}.get(p, p),
    help="How the numbers are computed. 'Fastest here' times float32, float32 channels-last and bfloat16 (where "
         "the processor has it; float16 and bfloat16 on a GPU) on a few steps and takes the fastest. Weights stay "
         "float32.")
augment = c3.toggle("Augmentation", key="train_augment", on_change=state.to_manual,
                    help="Flips, rotation, zoom, lighting and warp on image and mask together.")
pretrained = c4.toggle("Start from ImageNet weights", key="pretrained")
# A path box reads the server's disk: confined like every other path, and not offered to read-only viewers.
typed_weights = st.text_input("ImageNet weights file for the backbone (optional)", key="weights",
                              placeholder="/path/to/resnet34-b627a593.pth") if pretrained and not read_only else ""
problem = None
try:
    weights = access.weights_file(typed_weights)
except SettingsError as e:
    weights, problem = None, str(e)

data_settings = replace(data_settings, size=plan.size if plan else size, bs=int(bs), valid_pct=valid_pct,
                        augment=augment)
train_settings = TrainSettings(epochs=epochs, lr=lr, arch=arch, pretrained=pretrained, weights=weights, loss=loss,
                               find_lr=bool(plan and plan.find_lr),
                               precision=plan.precision if plan and number_format == "auto" else number_format)
state.keep_settings(data_settings, replace(train_settings, weights=typed_weights.strip() or None))
try:
    data_settings.check()
    train_settings.check()
except SettingsError as e:
    problem = problem or str(e)
if problem:
    st.error(text.md(problem))
else:
    st.caption(text.md(training.pretrained_note(train_settings)))

dataset = datasets.open_dataset(choice.path, choice.codes, choice.settings.objects) if choice else None
if dataset is not None and not dataset.ok:
    problem = "The dataset has errors: fix them on the Data page first."
    st.error(problem)

# -- Learning-rate finder
with st.expander("Learning-rate finder"):
    st.caption("A short mock training with a rising learning rate (fastai's `lr_find`). Pick a rate a little "
               "before the loss is lowest: *valley* is usually a good choice.")
    if st.button("Find a learning rate", disabled=bool(problem or busy or not choice or read_only), key="find_lr"):
        with st.spinner("Trying learning rates from 1e-7 to 10 ..."):
            try:
                st.session_state["lr_found"] = training.find_lr(choice, data_settings, train_settings)
            except (SettingsError, RunError) as e:
                st.error(text.md(e))
    found = st.session_state.get("lr_found")
    if found:
        fig = go.Figure(go.Scatter(x=found["lrs"], y=found["losses"], mode="lines", name="loss"))
        for name, value in found["suggestions"].items():
            if value:
                fig.add_vline(x=value, line_dash="dot", annotation_text=name, annotation_position="top")
        fig.update_layout(xaxis_type="log", xaxis_title="learning rate", yaxis_title="loss", height=320,
                          margin=dict(t=30, b=40, l=40, r=10))
        st.plotly_chart(fig, key="lr_curve")
        cols = st.columns(4)
        for col, (name, value) in zip(cols, found["suggestions"].items()):
            col.button(f"Use {name} ({value:.0e})" if value else f"{name}: none", key=f"use_{name}",
                       disabled=not value, on_click=state.take_lr, args=(value,))

# -- Start
if choice and dataset is not None and dataset.ok:
    n_train = len(dataset.split(valid_pct, data_settings.seed)[0])
    if plan:
        seconds, basis = plan.seconds, "planned from batches timed on it"
    else:
        seconds, basis = estimate(n_train, data_settings.hw, epochs, arch, device.kind, history)
    st.caption(f"Estimated time: about **{duration(seconds)}** on {text.md(device.label)} ({basis}).")
if busy:
    st.warning(f"A run is training on this {device.kind.upper()}: {text.md(Path(busy).name)}. "
               "One run at a time per device: it is shown below; stop it to start another.")
if read_only:
    st.info("Read-only: this app is shared for browsing. Runs are started by whoever runs it.")
elif st.button("Start training", type="primary", disabled=bool(problem or busy or not choice), key="start"):
    try:
        run = training.start_run(choice, data_settings, train_settings, device.kind, plan,
                                 trials=st.session_state.get("trials", True))
    except (RunError, SettingsError) as e:
        st.error(text.md(e))
    else:
        st.query_params["run"] = run.name
        st.rerun()

# -- The run shown: the one in the address, else the active one, else the newest
st.divider()
names = [r.name for r in history]
if not names:
    st.info("No runs yet.")
    st.stop()
wanted = st.query_params.get("run") or (Path(busy).name if busy else names[0])
shown = st.selectbox("Run", names, index=names.index(wanted) if wanted in names else 0, key="shown_run",
                     format_func=lambda n: manage.label(history[names.index(n)]))
if shown != st.query_params.get("run"):
    st.query_params["run"] = shown
run = training.watched(shown)
active = run.status().active


# Two timers: the status and progress bar every second, the charts and samples every few seconds. With
# several viewers the charts are most of the server's work, and the run shares the machine with it.
@st.fragment(run_every=1.0 if active else None)
def live_status():
    run.poll()
    status = run.status()
    if active and not status.active:
        st.rerun()  # the run just ended: redraw the page without the timer
    p = run.progress()
    cfg = run.config()
    badge = {"running": "blue", "starting": "gray", "completed": "green", "stopped": "orange", "failed": "red"}
    c1, c2 = st.columns([4, 1])
    with c1:
        st.badge(status.status, color=badge.get(status.status, "gray"))
        if cfg.get("device"):
            st.badge(text.md(training.device_text(cfg["device"])), icon=":material/memory:", color="gray")
        if cfg.get("precision"):
            st.badge(text.md(cfg["precision"]["label"]), icon=":material/speed:", color="gray")
    if status.active:
        c2.button("Stop", key="stop", on_click=training.stop_run, args=(run,),
                  disabled=run.stop_requested() or read_only,
                  help="Ends the run after the current batch; the best weights are kept.")
    if status.status == "failed":
        st.error(text.md(status.message))
    elif status.message and not status.active:
        st.caption(text.md(status.message))
    for note in run.notes():
        st.caption(text.md(note))
    if p["total"]:
        left = f", about {duration(p['left'])} left" if p["left"] is not None else ""
        st.progress(p["fraction"], text=f"epoch {p['epoch']}/{p['epochs']}, batch {p['iteration']}/{p['total']}, "
                                        f"{duration(p['elapsed'])} so far{left}")
    if run.stop_requested() and status.active:
        st.info("Stopping after the current batch ...")


@st.fragment(run_every=5.0 if active else None)
def live_charts():
    run.poll()
    status = run.status()
    trials = run.trials()
    if trials and trials["status"] == "skipped":  # a planned run that could try no candidates says why
        st.markdown("**Trials**: none; the plan trains as it is")
        st.caption(text.md(trials["reason"] or ""))
    elif trials:
        st.markdown("**Trials**: " + ("the winner trains to the end of the time" if trials["status"] == "done"
                                      else "candidates training a short time each; the better half goes on"))
        rows = [{**r, "": "won" if r["candidate"] == trials["winner"] else
                 (f"out after round {r['out_after']}" if r["out_after"] else "trying")} for r in trials["rows"]]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="trials_table",
                     column_order=["", "candidate", "round", "minutes", "steps", "dice", "soft_dice"],
                     column_config={"dice": st.column_config.NumberColumn("Dice, own size", format="%.3f"),
                                    "soft_dice": st.column_config.NumberColumn("soft Dice", format="%.3f"),
                                    "minutes": st.column_config.NumberColumn(format="%.2f")})
        if trials["reason"]:
            st.caption(text.md(trials["reason"]))
    batches, epochs = run.batches(), run.epochs()
    c1, c2, c3 = st.columns(3)
    if batches:
        c1.plotly_chart(charts.batch_loss(batches), key="batch_loss")
    if epochs:
        c2.plotly_chart(charts.epoch_loss(epochs), key="epoch_loss")
        c3.plotly_chart(charts.epoch_scores(epochs, title="Validation scores (foreground)"), key="epoch_scores")
        last, full = epochs[-1], run.full_size()
        on_objects = bool(run.config().get("objects"))  # it learned interior and boundary; users judge the objects
        objects = run.object_scores()  # a run on objects, once it ended: touching objects split apart, scored
        if objects:  # the headline of a run on objects: what a user counts and measures
            error = "-" if objects["count_error_median"] is None else f"{objects['count_error_median']:.0%}"
            o = st.columns(5)
            o[0].metric("Objects: AP at IoU 0.5", text.score(objects["ap50"]),
                        help="Validation images at their own size: TP / (TP + FP + FN), objects matched at IoU > 0.5.")
            o[1].metric("Count error (median)", error, help="|found - true| / true, per image.")
            o[2].metric("Dice of the objects' pixels", text.score(full.get("dice")) if full else "-",
                        help="All objects together against the true objects' pixels, at the images' own size: the "
                             "Dice a run on classes reports.")
            o[3].metric("Objects found / true", f"{objects['found']} / {objects['true']}")
            o[4].metric("Mean AP, IoU 0.5 to 0.95", text.score(objects["ap"]),
                        help=f"Split tuned on the validation images: seed {objects['split']['seed']:g}, objects "
                             f"under {objects['split']['min_size']} px dropped.")
        m = st.columns(5)
        what = "interior and boundary" if on_objects else "foreground"
        m[0].metric(f"Dice ({what})", text.score(last.get("dice")),
                    help="Last epoch, validation images at the training size."
                         + (" The mean of the two classes the model learns, not a score of objects." if on_objects
                            else ""))
        m[1].metric(f"IoU ({what})", text.score(last.get("iou")),
                    help="Last epoch, validation images at the training size.")
        m[2].metric("Dice at the images' own size", text.score(full.get("dice")) if full else "after the run",
                    help="Best weights, validation images predicted at their own size: what your masks will be. "
                         "Lower than at the training size when objects are small.")
        m[3].metric("Valid loss", text.score(last.get("valid_loss")))
        m[4].metric("Epochs done", f"{len(epochs)}")
        with st.expander("Every epoch"):
            st.dataframe(pd.DataFrame(epochs).drop(columns=["type", "t"]), hide_index=True)
    samples = run.samples()
    if samples:
        st.image(str(samples[-1]), width=720, caption=f"Validation images after {samples[-1].stem.replace('-', ' ')}: "
                                           "image | truth | prediction")
    elif status.active:
        st.caption("Validation predictions appear here after the first epoch.")


live_status()
live_charts()

# -- This run: a title and a note, its report, deleting it
with st.expander("Title, note, report, delete"):
    about = manage.about(run)
    with st.form("about_run", border=False):
        c1, c2 = st.columns([1, 2])
        new_title = c1.text_input("Title", value=about["title"], max_chars=manage.TITLE_MAX, disabled=read_only,
                                  help="Shown beside the folder name, which stays (links and predictions use it).")
        new_note = c2.text_area("Note", value=about["note"], max_chars=manage.NOTE_MAX, disabled=read_only, height=80)
        if st.form_submit_button("Save title and note", disabled=read_only):
            training.save_about(run, new_title, new_note)
            st.rerun()
    st.download_button("Report (HTML, opens offline)", partial(training.report_html, run), on_click="ignore",
                       file_name=f"{run.name}-report.html", mime="text/html", key="download_report",
                       help="Settings and plan, dataset, curves, scores per class, the worst predictions, versions: "
                            "one file for a colleague or a lab notebook.")
    if not read_only:
        st.markdown("**Delete this run**: its folder, weights and samples go; predictions made with it stay.")
        typed = st.text_input("Type the run's folder name to delete it", key="delete_confirm",
                              placeholder=run.name, disabled=active)
        if st.button("Delete", key="delete_run", disabled=active or typed.strip() != run.name,
                     help="Stop the run first." if active else None):
            try:
                training.delete_run(run)
            except RunError as e:
                st.error(text.md(e))
            else:
                st.query_params.pop("run", None)
                st.session_state.pop("delete_confirm", None)
                st.rerun()

# -- Earlier runs
st.subheader("All runs")
st.page_link("pages/compare.py", label="Compare runs: curves, scores and settings side by side",
             icon=":material/compare_arrows:")
st.dataframe(pd.DataFrame([r.summary() for r in history]).drop(columns=["message", "note"]), hide_index=True,
             column_config={"dice": st.column_config.NumberColumn(format="%.3f"),
                            "best_dice": st.column_config.NumberColumn("best dice", format="%.3f"),
                            "dice_full_size": st.column_config.NumberColumn("Dice, own size", format="%.3f"),
                            "ap50": st.column_config.NumberColumn("objects AP 0.5", format="%.3f"),
                            "iou": st.column_config.NumberColumn(format="%.3f"),
                            "valid_loss": st.column_config.NumberColumn("valid loss", format="%.3f")})
