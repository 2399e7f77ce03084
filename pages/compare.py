"""Compare: two or more runs side by side: their final scores with the best marked, their curves overlaid
(against epochs or wall time), and the settings that differ. The runs chosen are in the address
(/compare?runs=a,b,c), so a link shares the comparison."""

import pandas as pd
import streamlit as st

from seg.runs import charts, compare, manage
from ui import frame, text, training

frame.require_frame()
st.title("Compare runs")

history = training.run_history()
names = [r.name for r in history]
by_name = {r.name: r for r in history}
if len(names) < 2:
    st.info("Comparing needs two runs or more: train another on the Train page.")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/model_training:")
    st.stop()

asked = [n for n in (st.query_params.get("runs") or "").split(",") if n in by_name]
if "compare_runs" not in st.session_state:
    st.session_state["compare_runs"] = asked or names[:2]
else:  # a run deleted since (on another page, by a colleague) leaves the choice
    st.session_state["compare_runs"] = [n for n in st.session_state["compare_runs"] if n in by_name]
chosen = st.multiselect("Runs", names, key="compare_runs", format_func=lambda n: manage.label(by_name[n]),
                        help="The newest first. The address holds the runs chosen: copy it to share this comparison.")
if ",".join(chosen) != (st.query_params.get("runs") or ""):
    st.query_params["runs"] = ",".join(chosen)
if len(chosen) < 2:
    st.info("Choose two runs or more.")
    st.stop()
runs = [by_name[n] for n in chosen]
labels = [manage.label(r) for r in runs]

# -- Final scores, the best marked
finals = [compare.final(r) for r in runs]
best = compare.best(finals)
classes = sorted({c for f in finals for c in f["per_class"]}, key=lambda c: (c == "background", c))
rows = []
for i, f in enumerate(finals):
    rows.append({"": "best" if i == best else "", "run": labels[i], "status": f["status"], "epochs": f["epochs"],
                 "Dice, own size": f["dice"], "IoU, own size": f["iou"],
                 **{f"Dice {c}": f["per_class"].get(c) for c in classes},
                 "objects AP 0.5": f["ap50"], "best epoch Dice": f["best_epoch_dice"], "ranked by": f["basis"]})
st.subheader("Final scores")
st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_scores",
             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                            ["Dice, own size", "IoU, own size", "objects AP 0.5", "best epoch Dice",
                             *[f"Dice {c}" for c in classes]]})
if best is not None:
    st.caption(f"Best: **{text.md(labels[best])}**, by {finals[best]['basis']} ({text.score(finals[best]['score'])}). "
               "Dice at the images' own size is on the best weights; the curves below are at the training size.")

# -- Curves
st.subheader("Curves")
axis = st.segmented_control("Against", list(charts.AXES), default="epoch", key="compare_axis",
                            help="Minutes since each run started: trials and start-up included.") or "epoch"
curves = [compare.curves(r) for r in runs]
names = [text.plot_text(label, 40) for label in labels]  # the runs' titles are the user's: Plotly reads tags
c1, c2 = st.columns(2)
c1.plotly_chart(charts.overlay(curves, names, "loss", axis), key="compare_loss")
c2.plotly_chart(charts.overlay(curves, names, "dice", axis), key="compare_dice")

# -- Settings
st.subheader("Settings that differ")
differ, values = compare.differing(runs)
if differ:
    st.dataframe(pd.DataFrame({labels[i]: ["-" if values[d][i] is None else str(values[d][i]) for d in differ]
                               for i in range(len(runs))}, index=differ), key="compare_settings")
else:
    st.caption("None: these runs were trained with the same settings.")
with st.expander("Settings they share"):
    same = compare.shared(runs)
    st.dataframe(pd.DataFrame({"setting": list(same), "value": [str(v) for v in same.values()]}), hide_index=True)
notes = [(labels[i], manage.about(r)["note"]) for i, r in enumerate(runs) if manage.about(r)["note"]]
if notes:
    st.subheader("Notes")
    for label, note in notes:
        st.markdown(f"**{text.md(label)}**: {text.md(note)}")
