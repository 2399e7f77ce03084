"""The upload route's guard: no file is stored for a session that may not upload (one that has not given the
password, or any session of a read-only app), and a session holds at most MAX_SESSION_UPLOADS bytes.

Why a patch of Streamlit's server: the password gate is in the script (app.py, ui/access.py), but Streamlit
serves `PUT /_stcore/upload_file/<session id>/<file id>` for any session that exists, whether its script
ever got past the gate or not, and keeps every file in memory until the session ends. Streamlit has no hook
for this (its own auth, `st.login`, is OpenID Connect and does not guard the route either).

Read at Streamlit 1.67.0, which serves only with Starlette (`streamlit run` included):
- web/server/starlette/starlette_routes.py `create_upload_routes._upload_put` checks XSRF (a cookie and a
  header the client sets itself), then `runtime.is_active_session(session_id)` (400 when false) before it
  reads any of the body, then the per-file limit `server.maxUploadSize` (413, also while streaming), then
  `upload_mgr.add_file(session_id, UploadedFileRec)`. It is `is_active_session`'s only caller.
- runtime/memory_uploaded_file_manager.py keeps the files in `file_storage[session_id][file_id]`;
  app_session.py `shutdown` calls `remove_session_files` when a session ends.
- A client learns its session id only from the `new_session` message, sent as a script run starts: a
  WebSocket that asks for no run gets no message at all (tried). So the first run of app.py on a fresh
  server installs this guard before anyone can name a session, and `install` drops whatever an early
  client managed to upload during that very first run.

`install` wraps those methods on the server's own Runtime and upload manager (not on the classes: AppTest
uses the same manager class). The script tells the guard which sessions may upload (`admit`), on every run.
"""

from __future__ import annotations

import threading

from seg.data.uploads import MAX_SESSION_UPLOADS

_admitted: set[str] = set()  # sessions that may upload, as the script last said
_lock = threading.Lock()
_installing = threading.Lock()


def admit(session_id: str, may: bool) -> None:
    "Whether the session may upload, as the app decides it (signed in, or no password; not read-only)."
    with _lock:
        (_admitted.add if may else _admitted.discard)(session_id)


def admitted(session_id: str) -> bool:
    return session_id in _admitted


def held(manager, session_id: str, but: str | None = None) -> int:
    "Bytes the upload manager holds for the session (all its files but `but`)."
    with manager._lock:
        files = dict(manager.file_storage.get(session_id, {}))
    return sum(len(f.data) for fid, f in files.items() if fid != but)


def _refuse(status: int, why: str):
    from starlette.exceptions import HTTPException
    return HTTPException(status_code=status, detail=why)


def guard(runtime, manager) -> bool:
    """Wrap the runtime's `is_active_session` and the manager's `add_file` and `remove_session_files`, once.
    True when it was installed now."""
    if getattr(runtime.is_active_session, "segboard_guard", False):
        return False
    active, add, remove = runtime.is_active_session, manager.add_file, manager.remove_session_files

    def is_active_session(session_id: str) -> bool:
        # before the body is read: refusing here costs the server nothing
        if not active(session_id):
            return False
        if not admitted(session_id):
            raise _refuse(403, "Sign in before uploading (or the app is read-only).")
        if held(manager, session_id) >= MAX_SESSION_UPLOADS:
            raise _refuse(413, f"This tab holds {MAX_SESSION_UPLOADS / 2**30:g} GiB of uploads already: "
                               "remove some, or give a folder on the server.")
        return True

    def add_file(session_id: str, file) -> None:
        # after the body is read: the session may have been let go meanwhile, or this file breaks the total
        if not admitted(session_id):
            raise _refuse(403, "Sign in before uploading (or the app is read-only).")
        if held(manager, session_id, but=file.file_id) + len(file.data) > MAX_SESSION_UPLOADS:
            raise _refuse(413, f"Uploads in one tab are limited to {MAX_SESSION_UPLOADS / 2**30:g} GiB in all.")
        add(session_id, file)

    def remove_session_files(session_id: str) -> None:
        remove(session_id)
        admit(session_id, False)  # the session ended: forget it

    is_active_session.segboard_guard = True
    runtime.is_active_session, manager.add_file = is_active_session, add_file
    manager.remove_session_files = remove_session_files
    for session_id in list(manager.file_storage):  # uploaded before the guard (the first run's race): dropped
        if not admitted(session_id):
            remove(session_id)
    return True


def install() -> None:
    "Guard the running server's upload route (a no-op under AppTest, which has no server); idempotent."
    from streamlit.runtime import Runtime
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:  # AppTest's is a mock: no server to guard
        return
    runtime = Runtime.instance()
    manager = runtime.uploaded_file_mgr
    if not isinstance(manager, MemoryUploadedFileManager):  # another Streamlit than the one read: fail closed
        raise RuntimeError(f"segboard's upload guard does not know {type(manager).__name__}: check ui/upload_guard.py "
                           "against this Streamlit version.")
    with _installing:  # two sessions' first runs at once wrap once
        guard(runtime, manager)
