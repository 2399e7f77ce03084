"""segboard: train and use a U-Net on your own images and masks. The frame around the pages."""

import streamlit as st

from pages import common

st.set_page_config(page_title="segboard", page_icon=":material/biotech:", layout="wide")

pages = [
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/center_focus_strong:"),
]

# The password, when one is set, guards every page: no page runs before it is given. The address
# (/train?run=...) is kept, so a colleague's link opens its page after signing in.
if not common.signed_in():
    st.navigation(pages, position="hidden")
    common.sign_in()
    st.stop()

page = st.navigation(pages)

with st.sidebar:
    st.markdown("**segboard**")
    st.caption(f"Device: {common.device_label()}")
    chosen = common.chosen_dataset()
    st.caption(f"Dataset: {chosen.name if chosen else 'none chosen yet'}")
    common.training_caption()
    if common.read_only():
        st.caption(":material/visibility: Read-only: browse data, runs and predictions.")

common.frame(True)
try:
    page.run()
finally:
    common.frame(False)
