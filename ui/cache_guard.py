"""Streamlit's `clear_cache` message ignored: any client may send it, and it would empty every cache of the
server for every user.

Read at Streamlit 1.67.0: runtime/app_session.py `AppSession.handle_backmsg` calls `_handle_clear_cache_request`
for a `BackMsg` whose `clear_cache` is set, from any WebSocket client, signed in or not (the script's password gate
never sees it); that handler clears `st.cache_data` and `st.cache_resource` for the whole server ("Because this
cache is global, it will be cleared for all users") and the session's state. It is the developer menu's "Clear
cache", which `client.toolbarMode = "viewer"` hides but does not refuse. Sent before each password try, it reset
a throttle kept in `st.cache_resource` (found by an attack on a served app); sent in a loop, it makes every
viewer's galleries, thumbnails and models load again. segboard's caches are keyed by what they read (a folder's
signature, a run's weights), so nobody needs to clear them: the message is dropped, with a line in the log.
"""

from __future__ import annotations

import logging
import threading

_installing = threading.Lock()
log = logging.getLogger("segboard")


def install() -> None:
    "Make every session ignore `clear_cache` (AppSession's own handler, replaced once); idempotent."
    from streamlit.runtime.app_session import AppSession
    with _installing:
        if not hasattr(AppSession, "_handle_clear_cache_request"):  # another Streamlit than the one read
            raise RuntimeError("segboard's cache guard does not know this Streamlit's AppSession: check "
                               "ui/cache_guard.py against this Streamlit version.")
        if getattr(AppSession._handle_clear_cache_request, "segboard_guard", False):
            return

        def ignored(self) -> None:
            log.warning("a client asked to clear every cache of the server: ignored (ui/cache_guard.py)")

        ignored.segboard_guard = True
        AppSession._handle_clear_cache_request = ignored
