"""The frame around every page: app.py marks the script runs it starts, and a page opened without it
(a link to a page as the first visit after the server starts) runs the frame itself."""

from __future__ import annotations

import runpy
import threading

import streamlit as st

from seg.util import PROJECT

_frame = threading.local()  # per script thread: did app.py start this run?


def frame(ran: bool) -> None:
    "app.py marks the runs it starts, so a page can tell when Streamlit ran it alone."
    _frame.ran = ran


def require_frame() -> None:
    """A link to a page (/train?run=...) opened first after the server starts makes Streamlit run the page
    file on its own, in its older pages/-folder mode: no frame, no sidebar, for every session after (and
    Streamlit's AppTest starts every run so). Switch the server to `st.navigation` (the flag Streamlit
    itself clears when st.navigation is called), run the frame now, which runs this page inside it with
    this run's clicks, and end the frameless run."""
    if getattr(_frame, "ran", False):
        return
    from streamlit.runtime.pages_manager import PagesManager
    PagesManager.uses_pages_directory = False
    runpy.run_path(str(PROJECT / "app.py"), run_name="__main__")
    st.stop()
