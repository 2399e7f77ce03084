"""Data: choose a dataset, see what is wrong with it, look at it, preview what training will see."""

import html
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from seg.data.discovery import Pair
from seg.data.overlay import Overlay, draw_objects, hex_color
from seg.data.stacks import Slice, box_of
from seg.errors import SettingsError, UploadError
from seg.model.settings import PERCENTILES, SCALINGS, DataSettings
from ui import access, datasets, frame, labelling, state, text, zoom

frame.require_frame()
st.title("Data")
st.caption("Point segboard at your images and masks. Every file is checked before anything trains.")

# -- Which dataset
SOURCES = {"demo": "Demo dataset", "demo-objects": "Demo objects", "folder": "Folder on the server",
           "labels": "A labels set", "upload": "Upload a zip"}
if access.read_only():
    SOURCES.pop("upload")
previous = state.chosen_dataset()
linked = state.linked_folder()
source = st.segmented_control("Dataset", list(SOURCES), format_func=SOURCES.get, key="source",
                              default=previous.source if previous else "folder" if linked else "demo") or "demo"
path = None
if source == "demo":
    path = datasets.demo_path()
    st.caption(f"64 generated microscopy-like images with masks of their cells, in {text.code(path)}.")
elif source == "demo-objects":
    path = datasets.demo_path(objects=True)
    st.caption(f"The demo's images with one id per cell, as Cellpose or StarDist write masks: touching cells are "
               f"counted apart. In {text.code(path)}.")
elif source == "folder":
    typed = st.text_input("Folder path on the server", key="folder",
                          value=str(previous.path) if previous and previous.source == "folder" else linked,
                          placeholder="/data/my-cells  (holding images/ and masks/, or name.png + name_mask.png)")
    if typed.strip():
        try:
            path = access.allowed(typed)
        except SettingsError as e:  # outside the folders this viewer may read, or not a path at all
            st.error(text.md(e))
elif source == "labels":
    sets = labelling.sets()
    if not sets:
        st.info("No labels set yet: make one on the Label page, draw a few masks, and choose it here.")
    else:
        before = previous.path.name if previous and previous.source == "labels" else None
        name = st.selectbox("Labels set", sets, key="data_labels", index=sets.index(before) if before in sets else 0)
        path = labelling.open_set(name).path
        st.caption(f"The images labelled so far on the Label page, with their masks, in {text.code(path)}.")
else:
    upload = st.file_uploader("A zip of your dataset folder", type=["zip"], key="upload",
                              help="Unpacked into a folder private to this browser tab, removed when it closes; "
                                   "kept if you train on it.")
    if upload is not None:
        try:
            path = access.unpack(upload)
        except (UploadError, SettingsError) as e:
            st.error(text.md(e))
    elif previous and previous.source == "upload":
        path = previous.path
state.link_folder(path if source == "folder" else None)

HOLD = {None: "Decide from the masks", False: "Classes", True: "One id per object"}
with st.expander("Class names"):
    codes = st.text_input("Class names, background first, comma-separated (empty: from codes.txt or the masks)",
                          key="codes", value=previous.codes if previous else "")
    objects = st.radio("The masks hold", list(HOLD), format_func=HOLD.get, horizontal=True, key="objects",
                       index=list(HOLD).index(previous.settings.objects) if previous else 0,
                       help="One id per object (Cellpose, StarDist, Data Science Bowl masks): objects are counted "
                            "and split where they touch. Two-class masks read as objects take each connected "
                            "region for one object.")

if path is None:
    st.info("Choose a dataset above.")
    state.choose(None)
    st.stop()

dataset = datasets.open_dataset(path, codes, objects)
report = dataset.report
settings = replace(previous.settings) if previous else DataSettings()
settings.objects = objects
summary = dataset.summary(settings.valid_pct, settings.seed)

# -- What is in it, and what is wrong
c1, c2, c3 = st.columns(3)
c1.metric("Pairs", summary["pairs"])
c2.metric("Classes", len(summary["codes"]), help=text.md(", ".join(summary["codes"])))
c3.metric("Train / valid", f"{summary['split']['train']} / {summary['split']['valid']}",
          help="Split given by the folders" if summary["split"]["kind"] == "folder"
          else f"Random {settings.valid_pct:.0%} split, seed {settings.seed}")
st.caption(f"Layout: {text.md(summary['layout'] or 'not recognised')} · {text.code(path)}")
counts = {int(k): v for k, v in summary["channels"].items()}
channel_names = summary["channel_names"]
if not summary["as_rgb"]:  # fluorescence and other images that are not 8-bit RGB: the model sees their channels
    depths = " or ".join(f"{b}-bit" for b in sorted(summary["bit_depths"], key=int))
    st.caption(f"Images: {', '.join(f'{n} channel(s) in {k}' for n, k in sorted(counts.items()))}, {depths}"
               + (f" · channels {text.md(', '.join(channel_names))}" if channel_names else ""))


def channel_label(i: int) -> str:
    return f"{i + 1}" + (f": {channel_names[i]}" if i < len(channel_names) and channel_names[i] else "")

found = summary["objects"]
if found:  # read as objects: how many, how big, how many touch (what splitting them is for)
    o1, o2, o3, o4 = st.columns(4)
    o1.metric("Objects", found["objects"], help=text.md(f"{found['name']}; ids: {found['ids']}"))
    o2.metric("Per image (median)", f"{found['per_image']['median']:g}",
              help=f"{found['per_image']['min']} to {found['per_image']['max']}")
    d = found["diameter_px"]
    o3.metric("Diameter D50 (px)", f"{d['d50']:.3g}" if d else "-",
              help=f"D10 {d['d10']:.3g}, D90 {d['d90']:.3g}: equivalent diameter" if d else None)
    o4.metric("Touching another", f"{found['touching_share']:.0%}")


def problems_table(problems):
    st.dataframe(pd.DataFrame([p.as_dict() for p in problems]), hide_index=True, width="stretch")


if report.errors:
    st.error(f"**{len(report.errors)} error(s): training is blocked until they are fixed.**  \n"
             + "  \n".join(f"{text.code(p.file)}: {text.md(p.problem)} **Fix:** {text.md(p.fix)}"
                           for p in report.errors[:5]))
    if len(report.errors) > 5:
        problems_table(report.errors)
if report.warnings:
    with st.expander(f"{len(report.warnings)} warning(s)", expanded=not report.errors, icon=":material/warning:"):
        problems_table(report.warnings)
if report.notes:
    with st.expander(f"{len(report.notes)} note(s)", icon=":material/info:"):
        problems_table(report.notes)
if dataset.ok:
    st.success(f"Ready to train: {summary['pairs']} pairs, classes {text.md(', '.join(summary['codes']))}.")
state.choose(state.DataChoice(path, source, codes, settings) if dataset.ok else None)
if not dataset.pairs:
    st.stop()

# -- Class balance and sizes
left, mid, right = st.columns(3)
overlay = Overlay(dataset.codes)
label = text.plot_text  # class names are the user's: Plotly reads tags in its text
colors = {label(name): hex_color(dataset.codes.display_color(i)) for i, name in enumerate(dataset.codes.names)}
colors[label(dataset.codes.names[0])] = "#9e9e9e"
balance = pd.DataFrame({"class": [label(name) for name in summary["class_fractions"]],
                        "pixels (%)": [100 * v for v in summary["class_fractions"].values()]})
left.plotly_chart(px.bar(balance, x="class", y="pixels (%)", color="class", color_discrete_map=colors,
                         title="Class balance (all pixels)"), key="balance")
per_image = pd.DataFrame([{"image": r["image"], **{label(k): 100 * v for k, v in r["fractions"].items()}}
                          for r in summary["per_image"]])
foreground = [label(name) for name in dataset.codes.names[1:]]
mid.plotly_chart(px.histogram(per_image, x=list(foreground), nbins=30, barmode="overlay",
                              color_discrete_map=colors, title="Per image: % of pixels",
                              labels={"value": "% of the image's pixels", "variable": "class"}), key="per_image")
sizes = pd.DataFrame(summary["per_image"]).groupby(["width", "height"]).size().reset_index(name="images")
if len(sizes) == 1:
    right.metric("Image size (px)", f"{sizes.width[0]} x {sizes.height[0]}", help=f"All {sizes.images[0]} images")
else:
    right.plotly_chart(px.scatter(sizes, x="width", y="height", size="images", title="Image sizes (px)",
                                  hover_data=["images"]), key="sizes")

# -- Gallery
st.subheader("Gallery")
view = None  # the composite of every channel (8-bit RGB as it is), or one channel in gray
if not summary["as_rgb"]:
    view = st.segmented_control("Show", [None, *range(min(counts))], key="channel_view",
                                # a segment's label is Markdown: a channel's name (the file's) shown as written
                                format_func=lambda v: "All channels" if v is None else
                                f"Channel {text.md(channel_label(v))}",
                                help="All channels: each in its colour (red, green, blue, gray, cyan, magenta, "
                                     "yellow), as Fiji's composites; one channel: in gray, stretched to its range.")
g1, g2, g3 = st.columns([2, 1, 1])
alpha = g1.slider("Mask opacity", 0.0, 1.0, 0.45, 0.05, key="alpha")
per_page = g2.selectbox("Per page", [12, 24, 48], key="per_page")
pages = max(1, -(-len(dataset.pairs) // per_page))
page = g3.number_input(f"Page (of {pages})", 1, pages, 1, key="page")
# HTML without Markdown (st.html): escaped names stay text; Markdown would still read `![..](..)` in them.
st.html("<div style='font-family:sans-serif;font-size:14px'>" + " ".join(
    f"<span style='background:{html.escape(c)};padding:2px 8px;border-radius:4px;color:#000'>{html.escape(name)}</span>"
    for name, c in overlay.legend()) + "</div>")
overlay.alpha = alpha
shown = dataset.pairs[(page - 1) * per_page: page * per_page]
cols = st.columns(6)
for i, pair in enumerate(shown):
    if dataset.objects:  # each object in its own colour, outlined: touching ones visibly apart
        image, ids = datasets.object_thumbnail(dataset, pair, 192, view)
        drawn = draw_objects(image, ids, alpha)
    else:
        image, mask = datasets.thumbnail(dataset, pair, 192, view)
        drawn = overlay(image, mask)
    cols[i % 6].image(drawn, caption=text.md(report.name(pair.image)), width="stretch")

# -- One pair, up close
st.subheader("Close look")
names = [report.name(p.image) for p in dataset.pairs]  # paths: nested folders may repeat a file name
pick = st.selectbox("Pair", range(len(names)), format_func=names.__getitem__, key="close")
pair = dataset.pairs[pick]
a, b, c = st.columns(3)
if dataset.objects:
    image, ids = datasets.object_thumbnail(dataset, pair, 768, view)
    drawn, alone = draw_objects(image, ids, alpha), draw_objects(np.zeros_like(image), ids, 1.0)
    what = f"{int(len(np.unique(ids)) - 1)} objects"
else:
    image, mask = datasets.thumbnail(dataset, pair, 768, view)
    drawn, alone, what = overlay(image, mask), overlay.colorize(mask), "mask"
a.image(image, caption=f"image: {text.md(report.name(pair.image))}", width="stretch")
b.image(drawn, caption="overlay", width="stretch")
c.image(alone, caption=f"{what}: {text.md(report.name(pair.mask))}", width="stretch")
if box_of(pair.image) is not None:  # a region of a large image: the whole, and a window at its own pixels
    def window_mask(box, pair=pair):
        part = Pair(Slice(pair.image, box=box), Slice(pair.mask, box=box))
        return (dataset.ids(part) > 0).astype(np.uint8) if dataset.objects else dataset.mask(part)

    st.caption(f"{text.md(pair.image.name)} is read by regions: training takes crops of the training size from them "
               "at the image's own pixels.")
    zoom.large(pair.image, window_mask, overlay, key=f"data_zoom_{pick}", start=box_of(pair.image)[:2],
               region=box_of(pair.image))

# -- What training will see
st.subheader("Training data")
s1, s2, s3, s4 = st.columns(4)
settings.size = s1.select_slider("Image size (px)", [64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768],
                                 value=settings.size if isinstance(settings.size, int) else 256, key="size")
settings.bs = s2.number_input("Batch size", 1, 256, settings.bs, key="bs")
folder_split = dataset.discovery.split == "folder"
settings.valid_pct = s3.slider("Validation fraction", 0.05, 0.5, settings.valid_pct, 0.05, key="valid_pct",
                               disabled=folder_split, help="The folders give the split" if folder_split else None)
settings.augment = s4.toggle("Augmentation", settings.augment, key="augment",
                             help="Flips, rotation, zoom, lighting, applied to image and mask together")
if summary["as_rgb"]:
    settings.channels = "all"  # 8-bit RGB as it is (a choice made for another dataset does not carry over)
else:
    c1, c2 = st.columns([3, 2])
    every = list(range(min(counts)))
    before = settings.pick if settings.pick is not None and max(settings.pick, default=0) < min(counts) else None
    picked = c1.multiselect("Channels the model sees, in this order", every, format_func=channel_label,
                            default=list(before) if before is not None else every if len(counts) == 1 else [],
                            key="channels", help="Leave out a channel that tells nothing about the masks; the "
                                                 "order is the order chosen. Prediction reads the same channels.")
    settings.channels = "all" if picked == every and len(counts) == 1 else ",".join(str(i + 1) for i in picked)
    SCALED = {"dataset": "the training images' percentiles", "image": "each image's own percentiles"}
    settings.scaling = c2.radio("Scale each channel between", SCALINGS, format_func=SCALED.get, key="scaling",
                                index=SCALINGS.index(settings.scaling),
                                help=f"Each channel goes to 0..1 between its {PERCENTILES[0]:g} and "
                                     f"{PERCENTILES[1]:g} percentiles. The training images' (the default) keeps a dim "
                                     "image dimmer than a bright one, as measured; each image's own suits images "
                                     "whose exposure differs for no reason.")
    if not picked:
        st.warning(f"The images have {' or '.join(map(str, sorted(counts)))} channels: choose the ones the model "
                   "sees (at most as many as the image with fewest).")
n_train = summary["split"]["train"]
if settings.bs > n_train:
    st.caption(f"The training split holds {n_train} pairs: batches will hold {settings.batch_size(n_train)}.")
if dataset.ok and (summary["as_rgb"] or picked):
    state.choose(state.DataChoice(path, source, codes, settings))
if st.button("Preview augmentations", key="preview", icon=":material/auto_awesome:", disabled=access.read_only(),
             help="Not in a read-only app: it computes on the server." if access.read_only() else None):
    try:
        views = datasets.augment_preview(dataset, pair, settings, n=8)
    except SettingsError as e:
        st.error(text.md(e))
    else:
        st.caption(f"{text.md(report.name(pair.image))} as training sees it at {settings.size} px: 8 random "
                   "augmentations.")
        cols = st.columns(8)
        seen = Overlay(dataset.train_codes, alpha)  # objects: their interiors and boundaries, as the model learns
        for col, (im, m) in zip(cols, views):
            col.image(seen(im, m), width="stretch")
