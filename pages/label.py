"""Label: masks for images that have none, drawn by hand or with help; saved in the workspace on each change."""

from functools import partial
from pathlib import Path

import streamlit as st

from seg import runs
from seg.data.codes import Codes
from seg.data.images import is_large, load_image
from seg.data.overlay import Overlay
from seg.data.report import Report
from seg.errors import ImageError, LabelsError, RunError
from seg.labels import windows
from seg.labels.assist import UNMARKED, NoStrokes
from seg.labels.store import key_of
from ui import access, frame, labelling, text, zoom
from ui.editor import Change, Click, edit

frame.require_frame()
st.title("Label")
st.caption("Draw masks for images that have none, or let a few strokes fill the rest. Labels are kept in the "
           "workspace's labels sets (your folder is only read), shared with everyone who uses this app, and "
           "each set is a dataset the Data and Train pages can choose.")

# -- Which labels set
NEW = "+ New labels set"
chosen = st.selectbox("Labels set", [*labelling.sets(), NEW], key="label_set")
if chosen == NEW:
    if access.read_only():
        st.info("Read-only: labels sets are made where the app may be changed.")
        st.stop()
    with st.form("new_set"):
        st.text_input("Name", placeholder="nuclei-2026", key="new_set_name")
        st.text_input("Classes, background first, comma-separated", value="background, cell", key="new_set_classes")
        st.checkbox("One id per object", key="new_set_objects",
                    help="To count and measure objects that touch: each object its own id (16-bit masks), and "
                         "classes the background and what the objects are, e.g. \"background, nucleus\".")
        st.text_input("Folder of images on the server (empty: upload images next)", placeholder="/data/slides",
                      key="new_set_source")
        st.form_submit_button("Make the set", on_click=labelling.create_from_form)
    if problem := st.session_state.pop("label_error", None):
        st.error(text.md(problem))
    st.stop()

s = labelling.open_set(chosen)
writable = not access.read_only()
left_out = Report(s.source or s.path)
sources = s.sources(access.access(), left_out)
keys = {f: key_of(f.resolve(), s.source) for f in sources}  # each image's key in the set, once
done = set(s.labelled())
counts = st.empty()  # drawn again after a save further down, so the figures are never one save behind


def show_counts():
    with counts.container():
        c1, c2, c3 = st.columns(3)
        c1.metric("Images", len(sources))
        c2.metric("Labelled", len(s.labelled()))
        c3.metric("Version", s.version, help="Saves in all: a run trained on the set records the version it used.")


show_counts()
if left_out.warnings:  # links out of this viewer's folders: said, not silently missing
    st.warning(f"{len(left_out.warnings)} file(s) of the source folder left out: "
               + "  \n".join(f"{text.code(p.file)}: {text.md(p.problem)} **Fix:** {text.md(p.fix)}"
                             for p in left_out.warnings[:5]))
kind = f"Objects: {text.md(s.classes[1])}, one id each" if s.objects else f"Classes: {text.md(', '.join(s.classes))}"
st.caption(f"{kind} · from {text.code(s.source or 'uploads')} · "
           f"{text.code(s.path)}")
if writable:
    with st.expander("Add images", expanded=not sources):
        uploads = st.file_uploader("Images to label", type=["png", "jpg", "jpeg", "tif", "tiff", "bmp"],
                                   accept_multiple_files=True, key=f"label_uploads:{chosen}",
                                   help="Kept in the labels set (shared with everyone who uses this app).")
        if uploads and st.button("Add them to the set", icon=":material/add_photo_alternate:"):
            added, refused = s.add_images([(f.name, f.getvalue()) for f in uploads], listed=keys.values())
            for why in refused:
                st.warning(text.md(why))
            if added:
                st.success(f"Added {len(added)} image(s).")
                sources = s.sources(access.access())
                keys = {f: key_of(f.resolve(), s.source) for f in sources}
if not sources:
    st.info("The set has no images yet: add some above, or make a set from a folder on the server.")
    st.stop()

# -- Which image: in the folder's order, or those a model is least sure of first (label next)
models = labelling.models_for(s)
unsure: dict[str, float] = {}
if models and writable and len(done) < len(sources):  # the ranking computes: not for a read-only viewer
    o1, o2 = st.columns([1, 2], vertical_alignment="bottom")
    if o1.toggle("Least sure first", key="label_next", help="Unlabelled images ranked by a model's uncertainty "
                 "(mean per-pixel entropy): labelling those first teaches it most."):
        ranker = o2.selectbox("Ranked by", models, format_func=text.run_label, key="label_next_run")
        unsure = dict(labelling.queue(s, ranker))
        sources = sorted(sources, key=lambda f: -unsure.get(str(f), -1.0))
if (go := st.session_state.pop("label_go", None)) is not None:  # a window just added: open it
    st.session_state[f"label_at:{chosen}"] = next((i for i, f in enumerate(sources) if keys[f] == go), 0)
position = st.session_state.setdefault(f"label_at:{chosen}", 0) % len(sources)
left, mid, right = st.columns([1.5, 5, 1.5])
if left.button("Previous", icon=":material/arrow_back:", width="stretch"):
    position = (position - 1) % len(sources)
if right.button("Next", icon=":material/arrow_forward:", width="stretch"):
    position = (position + 1) % len(sources)
shown = [f"{'✓ ' if keys[f] in done else ''}{labelling.relative(s, f)}"
         + (f" · uncertainty {unsure[str(f)]:.3f}" if str(f) in unsure else "") for f in sources]
position = mid.selectbox("Image", range(len(sources)), index=position, format_func=lambda i: shown[i],
                         label_visibility="collapsed")
st.session_state[f"label_at:{chosen}"] = position
path = sources[position]
key = keys[path]
try:
    readable = s.readable(path, access.access())  # checked again as it is read: a file may be a link now
    if is_large(readable):  # read by regions (seg/data/large.py): a window of it is labelled, not the whole
        st.info(f"{text.code(path.name)} is past the size an image may have whole and is read by regions: the mask "
                "editor opens a window of it. Place the window, then label it: its pixels are copied into the set "
                "as an image of their own (this file is only read), which trains as any other.")
        box = zoom.large(readable, partial(labelling.window_mask, s, readable), Overlay(Codes(tuple(s.classes))),
                         key=f"label_zoom:{key}")
        made = sum(1 for k in keys.values() if k.startswith(f"{key}@"))
        if box is not None and writable and st.button("Label this window", type="primary", icon=":material/crop:"):
            try:
                st.session_state["label_go"] = labelling.add_window(s, path, box)
                st.rerun()
            except LabelsError as e:
                st.error(f"{text.md(e.problem)} **Fix:** {text.md(e.fix)}")
        st.caption(f"Windows of it in the set: {made}." if made else "No window of it is in the set yet.")
        st.stop()
    image = load_image(readable)
except (ImageError, LabelsError) as e:
    st.error(f"{text.code(path.name)}: {text.md(e.problem)} **Fix:** {text.md(e.fix)}")
    st.stop()
if window := windows.window_of(s, key):
    st.caption(f"A window of {text.code(Path(window[0]).name)}: x {window[1][1]:,}, y {window[1][0]:,}, "
               f"{window[1][3]:,} x {window[1][2]:,} pixels.")

codes = Codes(tuple(s.classes))
colors = [codes.display_color(i) if i else (160, 160, 160) for i in range(len(codes))]
if not writable:
    st.info("Read-only: you can look at the masks; changes are not saved.")

# -- Draw, or strokes and a fill
mode = st.segmented_control("How", ["Draw", "Strokes, then fill"], default="Draw", key="label_mode") or "Draw"
if warning := st.session_state.pop("label_warning", None):
    st.warning(text.md(warning))
opened = labelling.base(s, key)  # the version this session's editing starts from: a save by another since is kept
if mode == "Draw":
    if models and writable:
        m1, m2 = st.columns([4, 1], vertical_alignment="bottom")
        run = m1.selectbox("Start from a model's prediction", models, format_func=text.run_label,
                           help="A trained run with as many classes as the set: correct its mask instead of "
                                "drawing from nothing.")
        if m2.button("Predict this image", icon=":material/auto_fix_high:", width="stretch"):
            with st.spinner("Predicting ..."):
                labelling.start_from(s, key, run, path)
    start = labelling.started(s, key)
    mask = start[1] if start else s.mask(key)
    record = s.record(key)["history"]
    status = (f"The prediction of {start[0]}: correct it (saved at your first change)" if start
              else f"Version {record[-1]['version']}: {record[-1]['how']}" if record else "Not labelled yet")
    if s.objects:
        status += f" · {labelling.count(mask)} object(s). A stroke begun on the background makes a new object, " \
                  "one begun on an object grows it."
    change = edit("label_editor", f"{chosen}/{key}", image, mask, s.classes, colors,
                  labelling.editor_version(s, key), status=status, objects=s.objects, writable=writable)
    how = "corrected" if start else "drawn"
    clicked = isinstance(change, Click)
    if clicked:  # the Object tool: the object under the click takes the class
        change = Change(change.id, labelling.with_object(image, mask, change, s.objects))
        how = "assisted"
    if change is not None:  # None in a read-only app: a viewer's edits are not even read
        try:
            out = s.save(path, change.mask, how, access=access.access(), base=opened,
                         run=start[0] if start else None)
        except LabelsError as e:
            st.error(f"{text.md(e.problem)} **Fix:** {text.md(e.fix)}")
        else:
            labelling.saved(s, key, out.version)
            labelling.start_saved(s, key)
            show_counts()
            if clicked:  # the editor takes the mask with the object, on a run of its own
                labelling.renew(s, key)
                st.session_state["label_warning"] = out.warning
                st.rerun()
            if out.warning:
                st.warning(text.md(out.warning))
            st.toast(f"Saved (version {out.version}).")
else:
    st.caption("Draw a few strokes of every class (the background too); the rest of the image is filled by a "
               "classifier trained on the strokes of every image so far. Eraser: removes strokes."
               + (" Each connected region of the fill becomes an object: part touching ones in Draw." if s.objects
                  else ""))
    drawn = labelling.strokes(s, key, image.shape[:2])
    change = edit("label_strokes", f"{chosen}/{key}/strokes", image, drawn, s.classes, colors,
                  labelling.editor_version(s, key), strokes=True, status="Strokes", writable=writable)
    if isinstance(change, Click):  # the object under the click, as a stroke of its class
        labelling.keep_strokes(s, key, labelling.with_object(image, drawn, change))
        labelling.renew(s, key)
        st.rerun()
    elif change is not None:
        drawn = change.mask
        labelling.keep_strokes(s, key, drawn)
    if st.button("Fill from strokes", icon=":material/format_paint:",
                 disabled=not writable or not (drawn != UNMARKED).any()) and writable:
        try:
            helper = labelling.assistant(s)
            helper.learn(key, image, drawn)
            st.session_state["label_fill"] = (chosen, key, helper.fill(image, drawn))
        except NoStrokes as e:
            st.warning(text.md(e))
    fill = st.session_state.get("label_fill")
    if fill and fill[:2] == (chosen, key):
        st.image(Overlay(codes)(image, fill[2]), caption="The fill: accept it to edit and save it",
                 width="stretch")
        st.button("Accept the fill", type="primary", disabled=not writable, on_click=labelling.accept,
                  args=(s, path, key, fill[2]))

# -- Retrain with the corrections
fixes = labelling.corrections(s)
if fixes and writable:
    st.subheader("Retrain with the corrections")
    r1, r2, r3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    source_run = r1.selectbox("Corrected from", list(fixes), key="retrain_from",
                              format_func=lambda n: f"{n} ({fixes[n]} mask(s) corrected)")
    minutes = r2.number_input("Minutes", 0.5, 240.0, 5.0, step=0.5, key="retrain_minutes")
    if r3.button("Retrain", type="primary", icon=":material/model_training:", width="stretch"):
        try:
            labelling.retrain(s, source_run, minutes)
        except (RunError, ValueError) as e:
            st.error(text.md(e))
    retrained = st.session_state.get("label_retrained")
    if retrained and retrained["set"] == chosen:
        after = runs.Run(runs.runs_dir() / retrained["after"])
        active = after.status().active

        @st.fragment(run_every=2.0 if active else None)
        def retrain_status():
            after.poll()
            status = after.status()
            if active and not status.active:
                st.rerun()  # it just ended: the page again, with the scores and without the timer
            st.caption(f"{text.md(retrained['after'])}: {text.md(status.status)}. The corrected images train; the "
                       "validation images nobody corrected judge the model before and after.")
            st.page_link("pages/train.py", label="Watch it on the Train page", icon=":material/monitoring:",
                         query_params={"run": retrained["after"]})
            if status.status == "failed":
                st.error(text.md(status.message))
            if status.status == "completed":
                scores = labelling.before_after(str(runs.runs_dir() / retrained["before"]), str(after.path),
                                                retrained["data"])
                b1, b2, b3 = st.columns(3)
                b1.metric("Dice before", text.score(scores["before"]))
                b2.metric("Dice after", text.score(scores["after"]),
                          delta=f"{scores['after'] - scores['before']:+.3f}")
                b3.metric("Images judged", scores["images"], help="Validation images nobody corrected")
                if "No epoch beat the weights it continued from" in status.message:  # best.pth is the model before
                    st.info("No epoch of the retrain beat the model it started from on these images, so it keeps "
                            "that model's weights. Correct more images, or retrain for longer.")

        retrain_status()

# -- Take it away
st.divider()
# zipped when the button is clicked, not on every run of the page
st.download_button("Download the set (zip)", partial(labelling.zipped, s), on_click="ignore",
                   file_name=f"{s.path.name}.zip", mime="application/zip", icon=":material/download:",
                   disabled=not done)
unlabelled = sum(1 for f in sources if keys[f] not in done)
st.caption(f"Train on it: choose the folder {text.code(s.path)} on the Data page. {unlabelled} of {len(sources)} "
           "images have no mask yet.")
