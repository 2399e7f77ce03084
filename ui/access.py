"""Who may do what: the password and the sign-in form, read-only mode, what a viewer may read (typed
paths, the weights file), and each browser session's private folder for uploads. The rules are in
seg/server/; this is their Streamlit side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from seg.errors import AccessError
from seg.model.settings import DataSettings
from seg.server import workspace
from seg.server.scratch import Scratch, sweep
from seg.server.sharing import Access, Sharing
from seg.server.signin import LOCKOUT_S, Throttle
from ui import cache_guard, upload_guard
from ui.text import md


def _secrets() -> dict:
    "The sharing keys of .streamlit/secrets.toml; none when there is no such file."
    from streamlit.errors import StreamlitSecretNotFoundError
    try:
        return {k: st.secrets[k] for k in ("password", "read_only", "roots") if k in st.secrets}
    except StreamlitSecretNotFoundError as e:
        if any(Path(f).expanduser().exists() for f in st.get_option("secrets.files")):
            # a secrets file that does not parse may hold a password: refuse rather than share unguarded
            raise AccessError(f"The app's secrets file could not be read, so the app stays closed: {e}") from None
        return {}


def sharing() -> Sharing:
    "The sharing settings, and whether this server listens beyond this machine (`server.address`)."
    return Sharing.configured(_secrets(), address=st.get_option("server.address") or "")


_THROTTLE = Throttle()


def throttle() -> Throttle:
    """Wrong passwords counted for the whole server, across sessions (seg/server/signin.py): a module's object,
    not a Streamlit cache, so that nothing a client sends can empty it (ui/cache_guard.py)."""
    return _THROTTLE


def client_address() -> str | None:
    """The address the server sees this browser at; None for this machine. Behind a reverse proxy on this
    machine it is the one the proxy puts in X-Forwarded-For: Streamlit's server (uvicorn) takes that header
    from a peer on 127.0.0.1 or ::1 only (FORWARDED_ALLOW_IPS), never from a client elsewhere."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def signed_in() -> bool:
    "True when no password is set or this session gave it."
    try:
        password = sharing().password
    except AccessError as e:
        st.error(md(str(e)))
        st.stop()
    return not password or st.session_state.get("signed_in", False)


def sign_in() -> None:
    """The password form: the only thing a visitor sees before giving the password. A try is checked only
    when the server-wide throttle lets it (every session counts, not only this one)."""
    st.title("segboard")
    with st.form("sign_in"):
        typed = st.text_input("Password", type="password", key="password_typed")
        if st.form_submit_button("Sign in", type="primary"):
            address = client_address()
            verdict = throttle().begin(address)
            if not verdict.allowed:
                st.error(verdict.message() + " Ask whoever shared the link if you have lost the password.")
            elif sharing().check_password(typed):
                throttle().succeeded(address)
                st.session_state["signed_in"] = True
                guard_uploads()  # this session may upload from now on
                st.session_state.pop("password_typed", None)
                st.rerun()
            else:
                left = throttle().tries_left(address)
                warn = f" {left} more wrong tries from your address lock signing in for {LOCKOUT_S // 60} minutes."
                st.error("Wrong password. Ask whoever shared the link." + (warn if left <= 5 else ""))


def guard_server() -> None:
    """What Streamlit's server does for any client, guarded before the password gate, on every run of the app:
    its `clear_cache` message ignored (ui/cache_guard.py), its upload route confined (`guard_uploads`)."""
    cache_guard.install()
    guard_uploads()


def guard_uploads() -> None:
    """Guard Streamlit's upload route (ui/upload_guard.py), which would store files for any session, and tell it
    whether this one may upload: signed in (or no password is set) and not read-only."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    upload_guard.install()
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    try:
        s = sharing()
        may = not s.read_only and (not s.password or bool(st.session_state.get("signed_in", False)))
    except AccessError:  # a secrets file that does not parse: signed_in() closes the app
        may = False
    upload_guard.admit(ctx.session_id, may)


def read_only() -> bool:
    return sharing().read_only


def require_writable(what: str) -> None:
    "Refuse `what` in a read-only app (AccessError), whatever the page drew."
    sharing().require_writable(what)


def access() -> Access:
    "What this viewer may read: the allowed folders, never segboard's own or another session's uploads."
    own = st.session_state.get("scratch")
    return sharing().access(own=(own.path,) if own else ())


def allowed(typed: str) -> Path:
    """A folder or file path typed into the app (or given in the address), checked as text, resolved and
    checked against what this viewer may read; AccessError says why not, in one sentence."""
    return access().check(typed)


def weights_file(typed: str) -> str | None:
    """The ImageNet weights file typed on the Train page, confined like every other path: whether a file
    exists is told only for paths this viewer may read."""
    return str(allowed(typed)) if typed.strip() else None


def confined(data: DataSettings) -> DataSettings:
    "The data settings with this viewer's allowed folders, so a run reads no file the viewer may not."
    return replace(data, within=tuple(map(str, access().roots)))


def scratch() -> Scratch:
    "This session's private folder for uploads; removed when the session ends (seg/server/scratch.py)."
    folder = st.session_state.get("scratch")
    if folder is None or not folder.path.exists():
        sweep(workspace.sessions_dir())  # folders of sessions long gone
        folder = st.session_state["scratch"] = Scratch(workspace.sessions_dir())
    return folder


def alive() -> None:
    "Called every few seconds while the browser is connected: keeps this session's uploads."
    folder = st.session_state.get("scratch")
    if folder is not None:
        folder.touch()


def save_uploads(files) -> Path:
    "Images uploaded in the browser, in this session's folder (within what the session may still unpack)."
    from seg.data.uploads import save_images
    require_writable("uploading")
    folder = scratch().path
    return save_images([(f.name, f.getvalue()) for f in files], folder, room=_room(folder))


def unpack(upload) -> Path:
    "A zipped dataset uploaded in the browser, unpacked into this session's folder (likewise)."
    from seg.data.uploads import extract_zip
    require_writable("uploading")
    folder = scratch().path
    return extract_zip(upload, folder, room=_room(folder))


def _room(folder: Path) -> int:
    "Bytes this session's uploads may still take unpacked (seg/data/uploads.py MAX_SESSION_UNPACKED)."
    from seg.data.uploads import MAX_SESSION_UNPACKED, on_disk
    return MAX_SESSION_UNPACKED - on_disk(folder)
