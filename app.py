"""segboard: train and use a U-Net on your own images and masks. The frame around the pages."""

import streamlit as st

from pages import common
from seg import runs

st.set_page_config(page_title="segboard", page_icon=":material/biotech:", layout="wide")

page = st.navigation([
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
])

with st.sidebar:
    st.markdown("**segboard**")
    st.caption(f"Device: {common.device_label()}")
    chosen = common.chosen_dataset()
    st.caption(f"Dataset: {chosen.name if chosen else 'none chosen yet'}")
    training = runs.DeviceLock(common.device().kind).busy()
    st.caption(f"Training: {common.Path(training.get('run', '?')).name}" if training else "Training: nothing")

page.run()
