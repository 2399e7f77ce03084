"""segboard: train and use a U-Net on your own images and masks. The frame around the pages."""

from pathlib import Path

import streamlit as st

from ui import access, frame, state, text, training

# The icon ships with the app: a material-symbol icon would be fetched from Google's servers.
st.set_page_config(page_title="segboard", page_icon=str(Path(__file__).parent / "assets" / "icon.png"), layout="wide")

pages = [
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/center_focus_strong:"),
    st.Page("pages/label.py", title="Label", icon=":material/brush:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
]

# What Streamlit's server does for any client: no upload stored before the password (ui/upload_guard.py), no
# cache emptied for everyone on a client's word (ui/cache_guard.py)
access.guard_server()

# The password, when one is set, guards every page: no page runs before it is given. The address
# (/train?run=...) is kept, so a colleague's link opens its page after signing in.
if not access.signed_in():
    st.navigation(pages, position="hidden")
    access.sign_in()
    st.stop()

page = st.navigation(pages)

with st.sidebar:
    st.markdown("**segboard**")
    st.caption(f"Device: {text.md(training.device_label())}")
    chosen = state.chosen_dataset()
    st.caption(f"Dataset: {text.md(chosen.name) if chosen else 'none chosen yet'}")
    training.training_caption()
    if access.read_only():
        st.caption(":material/visibility: Read-only: browse data, runs and predictions.")
    if access.sharing().open_to_network:
        st.warning("Served on the network with no password: anyone who reaches this address can use the app. "
                   "Set a password to share it (see docs/sharing.md).", icon=":material/lock_open:")

frame.frame(True)
try:
    page.run()
finally:
    frame.frame(False)
