"""Predict: a trained run's model on its validation set, a server folder or uploaded images; the result
side by side with the truth, worst first; scores per class; objects counted and sized; downloads.

The work is `seg.prediction.predict`, which writes a folder (masks, previews, metrics, measurements)
under the workspace; this page draws that folder."""

from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from seg.errors import AccessError, SettingsError, UploadError
from seg.prediction import bundle, exports
from seg.prediction.measure import counts, size_distribution
from ui import access, frame, labelling, predictions, text, training, zoom

frame.require_frame()
st.title("Predict")

# -- The model
trained = training.trained_runs()
if not trained:
    st.info("No trained model yet: train one on the Train page; its best weights appear here after its first "
            "epoch.")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/model_training:")
    st.stop()
names = [r.name for r in trained]
wanted = st.query_params.get("run")
run_name = st.selectbox("Model (a run)", names, index=names.index(wanted) if wanted in names else 0,
                        key="predict_run", format_func=lambda n: text.run_label(trained[names.index(n)]))
if run_name != wanted:
    st.query_params["run"] = run_name
run = trained[names.index(run_name)]
if run.status().active:
    st.caption("This run is still training: its best weights so far are used.")

# -- The model for other tools: one section a format of seg/prediction/exports.py
with st.expander("Use this model in other tools"):
    for fmt in exports.FORMATS.values():
        st.markdown(f"**{fmt.label}**")
        st.caption(f"{fmt.a_label[0].upper()}{fmt.a_label[1:]}: {fmt.about}. Checked with {fmt.checked_with} "
                   "before it is offered.")
        exported = st.session_state.get("exported", {}).get((run.name, fmt.name))
        if st.button(f"Export as {fmt.a_label}", key=f"export_{fmt.name}", disabled=access.read_only(),
                     help="Not in a read-only app: exporting converts and tests the model on the server."
                     if access.read_only() else None):
            with st.spinner(f"{fmt.doing} ..."):
                try:
                    exported = predictions.export(run, fmt.name)
                except SettingsError as e:
                    st.error(text.md(e))
                else:
                    st.session_state.setdefault("exported", {})[(run.name, fmt.name)] = exported
        if exported:
            st.success(f"{fmt.label} exported ({fmt.outcome(exported)}). {fmt.zip_hint}")
            st.download_button(f"{fmt.label} (zip)", partial(predictions.export_zip, exported["folder"]),
                               on_click="ignore", file_name=f"{run.name}-{fmt.name}.zip", mime="application/zip",
                               key=f"download_{fmt.name}")

# -- What to predict (not in a read-only app: colleagues browse the predictions already made)
SOURCES = {"valid": "Its validation images", "folder": "A folder on the server", "upload": "Upload images"}
if not access.read_only():
    what = st.segmented_control("Predict", list(SOURCES), format_func=SOURCES.get, default="valid",
                                key="predict_source") or "valid"
    folder = ""
    if what == "valid":
        st.caption("The images the run was scored on, with their masks: each prediction is compared with the "
                   "truth.")
    elif what == "folder":
        folder = st.text_input("Folder or image file on the server", key="predict_folder",
                               placeholder="/data/new_slides  (a dataset folder with masks adds the scores)")
    else:
        uploads = st.file_uploader("Images", type=["png", "jpg", "jpeg", "tif", "tiff", "bmp"],
                                   accept_multiple_files=True, key="predict_upload",
                                   help="Kept in a folder private to this browser tab, removed when it closes.")
        if uploads:
            try:
                folder = str(access.save_uploads(uploads))
            except (UploadError, SettingsError) as e:
                st.error(text.md(e))

    ready = what == "valid" or bool(folder.strip())
    if st.button("Predict", type="primary", disabled=not ready, key="predict"):
        bar = st.progress(0.0, text="Predicting ...")
        try:
            out = predictions.predict(run, what, folder,
                                 lambda i, n: bar.progress(i / n, text=f"Predicting {i} / {n} ..."))
        except SettingsError as e:  # bad folder, classes that do not match: the message names the fix
            bar.empty()
            st.error(text.md(e))
        else:
            bar.empty()
            st.session_state["shown_prediction"] = out.name

# -- Which prediction: any made with this model, by anyone; the address names it, so a link shares it
made = {p.name: p for p in predictions.predictions(run)}
if not made:
    st.info("No predictions with this model yet." + (" Whoever runs the app can make them." if access.read_only()
                                                     else " Choose what to predict above."))
    st.stop()
made_names = list(made)
if st.session_state.get("shown_prediction") not in made:
    wanted = st.query_params.get("prediction")
    st.session_state["shown_prediction"] = wanted if wanted in made else made_names[0]
shown = st.selectbox("Prediction shown", made_names, key="shown_prediction",
                     help="Every prediction made with this model, newest first.")
if st.query_params.get("prediction") != shown:
    st.query_params["prediction"] = shown
pred = predictions.read_prediction(made[shown])

# -- Summary
meta, metrics = pred.meta, pred.metrics
st.divider()
runtime = f" ({text.md(meta['runtime'])})" if meta.get("runtime") else ""  # older predictions do not say
st.caption(f"{len(meta['images'])} image(s) from {text.code(meta['input'])} with {text.code(run.name)} on "
           f"{text.md(meta['device'])}{runtime} in {meta['seconds']:.1f} s. Files: {text.code(pred.path)}")
for note in meta["notes"]:
    st.info(text.md(note))
if meta["failed"]:
    with st.expander(f"{len(meta['failed'])} file(s) could not be read", expanded=True):
        st.dataframe(pd.DataFrame(meta["failed"]), hide_index=True)

c1, c2 = st.columns(2)
pixel_size = c1.number_input("Pixel size (0: sizes in pixels)", min_value=0.0, value=0.0, step=0.01,
                             format="%.4f", key="pixel_size",
                             help="The width of one pixel in your unit, from the microscope or camera.")
unit = c2.selectbox("Unit", ["um", "nm", "mm", "cm"], key="unit", disabled=not pixel_size)
table = predictions.measurements(str(pred.path), pixel_size or None, unit)

split = meta.get("objects")  # a run on objects: touching objects split apart, each its own id
scored = pred.objects  # and with truth, their scores
m = st.columns(4)
m[0].metric("Images", len(meta["images"]))
if scored:
    o = scored["summary"]
    m[1].metric("Dice (objects' pixels)", text.score(metrics["mean_dice"]))
    m[2].metric("AP at IoU 0.5", text.score(o["ap50"]),
                help=f"Mean over images of TP / (TP + FP + FN), objects matched at IoU > 0.5; mean AP over IoU "
                     f"0.5 to 0.95: {text.score(o['ap'])}")
    error = "-" if o["count_error_median"] is None else f"{o['count_error_median']:.0%}"
    m[3].metric("Objects found / true", f"{o['found']} / {o['true']}",
                help=f"Median count error per image: {error}")
else:
    if metrics:
        m[1].metric("Dice (foreground)", text.score(metrics["mean_dice"]))
        m[2].metric("IoU (foreground)", text.score(metrics["mean_iou"]))
    found = counts(table, pred.codes) if table is not None else {}
    m[3].metric("Objects found", sum(found.values()))

# -- Scores per class
if metrics:
    st.subheader("Scores per class")
    st.caption("Computed at each image's own size, over all pixels of the set.")
    c1, c2 = st.columns([1, 1])
    per_class = pd.DataFrame(metrics["per_class"]).T.reset_index(names="class")
    c1.dataframe(per_class, hide_index=True, column_config={
        k: st.column_config.NumberColumn(format="%.3f") for k in ("dice", "iou", "accuracy")})
    cm = np.array(metrics["confusion"], dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    cells = [[f"{v:.1%}<br>{int(n):,} px" for v, n in zip(rs, rn)] for rs, rn in zip(share, cm)]
    classes = [text.plot_text(c) for c in pred.codes]
    fig = go.Figure(go.Heatmap(z=share, x=classes, y=classes, colorscale="Blues", zmin=0, zmax=1, text=cells,
                               texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>"))
    fig.update_layout(title="Confusion (share of each true class)", xaxis_title="predicted", yaxis_title="true",
                      yaxis_autorange="reversed", height=320, margin=dict(t=40, b=40, l=40, r=10))
    c2.plotly_chart(fig, key="confusion")

# -- Side by side
st.subheader("Worst first" if metrics else "Predictions")
if split:
    st.caption(("image | true objects | found objects, worst AP at IoU 0.5 first" if metrics else
                "image | found objects") + ": each object in its own colour, outlined.")
else:
    st.caption("image | truth | prediction | errors: :green[right], :red[false positive], :blue[false negative], "
               ":orange[wrong class]" if metrics else "image | prediction")
images = pred.images
correctable = labelling.correctable(run) if metrics and not access.read_only() else (lambda image: False)
PER_PAGE = 6
pages = max(1, -(-len(images) // PER_PAGE))
page = st.number_input(f"Page (of {pages})", 1, pages, key="predict_page") if pages > 1 else 1
for r in images[(page - 1) * PER_PAGE: page * PER_PAGE]:
    dice = f" · Dice {text.score(r['dice'])}" if "dice" in r else ""
    if "ap50" in r:
        dice = f" · {r['found']} found of {r['true']} true · AP at 0.5 {text.score(r['ap50'])}"
    elif "objects" in r:
        dice += f" · {r['objects']} objects"
    st.image(str(pred.path / r["preview"]), caption=f"{text.md(r['name'])} ({r['width']} x {r['height']}"
             f"{', in tiles' if r['tiled'] else ''}){dice}")
    if r.get("large"):  # read by regions: its overview above; a window at its own pixels here
        with st.expander("Zoom to its own pixels", icon=":material/zoom_in:"):
            try:
                source, mask = access.allowed(r["image"]), predictions.output_file(pred, r["mask"])
            except AccessError as e:
                st.caption(f"The image cannot be read here: {text.md(str(e))}")
            else:
                zoom.large(source, partial(predictions.mask_window, mask), predictions.overlay(pred),
                           key=f"zoom:{r['name']}")
    if correctable(r["image"]) and st.button("Correct this mask", key=f"correct:{r['name']}", icon=":material/brush:",
                                             help="Open it on the Label page, started from this model's "
                                                  "prediction, to fix it and retrain with it"):
        labelling.correct(run, r["image"])
        st.switch_page("pages/label.py")

# -- Objects
st.subheader("Objects")
if table is None or table.empty:
    st.caption("No objects predicted.")
else:
    if split:
        st.caption(f"Objects split where they touch (seed {split['split']['seed']:g}, smallest "
                   f"{split['split']['min_size']} px, tuned on the run's validation images); `object` is its id in "
                   "instances/. Objects cut by the image edge are marked: their size is a lower bound.")
    else:
        st.caption("Connected regions of each class (8-connected). Objects cut by the image edge are marked: their "
                   "size is a lower bound.")
    size_units = table["unit"].iloc[0]
    dist = size_distribution(table)
    c1, c2 = st.columns([1, 1])
    c1.dataframe(dist, hide_index=True, column_config={
        k: st.column_config.NumberColumn(f"{k} ({size_units})", format="%.3g") for k in ("mean", "d10", "d50", "d90")})
    measure = c2.selectbox("Size measure", ["equivalent_diameter", "area", "major_axis", "circularity", "aspect_ratio"],
                           key="size_measure")
    fig = go.Figure([go.Histogram(x=g[measure], name=text.plot_text(name), opacity=0.7)
                     for name, g in table.groupby("class")])
    unit_of = {"area": f"{size_units}²", "circularity": "", "aspect_ratio": ""}.get(measure, size_units)
    fig.update_layout(title="Size distribution", xaxis_title=f"{measure.replace('_', ' ')} {unit_of}".strip(),
                      yaxis_title="objects", barmode="overlay", height=320, margin=dict(t=40, b=40, l=40, r=10))
    c2.plotly_chart(fig, key="sizes")
    st.dataframe(table, hide_index=True, height=300)

# -- Downloads
st.subheader("Downloads")
c1, c2, c3 = st.columns(3)
if split:
    st.download_button("Objects (zip of 16-bit PNGs)", partial(bundle.zip_folder, pred.path / "instances"),
                       on_click="ignore", file_name=f"{pred.path.name}-instances.zip", mime="application/zip",
                       key="download_instances", help="One 16-bit PNG per image: 0 background, one id per object.")
c1.download_button("Masks (zip of PNGs)", partial(bundle.zip_folder, pred.path / "masks", pattern=("*.png", "*.tif")),
                   on_click="ignore", file_name=f"{pred.path.name}-masks.zip", mime="application/zip",
                   key="download_masks", help="One 8-bit PNG per image, the image's size; pixel value = class index "
                                              "(an image read by regions: a tiled TIFF).")
c2.download_button("Measurements (CSV)", table.to_csv(index=False) if table is not None else "", on_click="ignore",
                   file_name=f"{pred.path.name}-measurements.csv", mime="text/csv", key="download_measurements",
                   disabled=table is None)
if (pred.path / "labels").is_dir():  # predictions made before ROIs were written have none
    c1.download_button("Objects for Fiji, QuPath, napari (zip)",
                       partial(bundle.zip_folder, pred.path / "rois", pred.path / "labels", pattern="*"),
                       on_click="ignore", file_name=f"{pred.path.name}-objects.zip", mime="application/zip",
                       key="download_rois", help="Per image: an ImageJ ROI set (rois/NAME.zip: drag it onto Fiji), "
                                                 "a QuPath GeoJSON (rois/NAME.geojson: drag it onto the image) and a "
                                                 "label image (labels/NAME.tif) for napari.")
c3.download_button("Model bundle (zip)", partial(predictions.model_bundle, run), on_click="ignore",
                   file_name=f"{run.name}-model.zip", mime="application/zip", key="download_model",
                   disabled=access.read_only(),  # each download converts and checks the model again
                   help="Not in a read-only app: the bundle is made on the server (a fastai export, an ONNX "
                        "conversion checked against PyTorch), each time it is downloaded." if access.read_only()
                   else "State dict, config and classes, a fastai export for load_learner, and ONNX.")

