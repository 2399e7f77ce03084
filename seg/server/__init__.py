"""What the served app needs, without Streamlit.

- workspace  where segboard keeps what it makes (demo, runs, predictions, sessions, kept datasets)
- sharing    password, read-only, the roots; `Access`: what one viewer may read
- scratch    each browser session's private folder for uploads
- signin     the sign-in throttle across sessions
"""
