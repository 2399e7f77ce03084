"""The app in Streamlit's AppTest, opened one way for every test that drives it in this process."""

from conftest import ROOT
from streamlit.testing.v1 import AppTest


def open_app(page: str | None = None, *, run: str | None = None, secrets: dict | None = None, timeout: float = 120,
             started: bool = True) -> AppTest:
    """app.py in AppTest, as a browser opens it: on the Data page, or given `page` straight on pages/<page>.py
    (as a link to it opens); `run` is the `?run=` a link carries, `secrets` st.secrets (the password). Started
    (the default), it has run once and raised nothing; started=False gives it before its first run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    if page is not None:
        at.switch_page(f"pages/{page}.py")
    if run is not None:
        at.query_params["run"] = run
    if not started:
        return at
    at.run()
    assert not at.exception, at.exception
    return at
