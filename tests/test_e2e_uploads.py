"""Uploads to the served app: Streamlit's upload route (PUT /_stcore/upload_file/<session>/<file>) stores nothing
for a session that has not signed in, nor for any session of a read-only app, and a tab holds at most
MAX_SESSION_UPLOADS bytes (ui/upload_guard.py). The attack replayed: a script opens a WebSocket session, sets
its own XSRF cookie and PUTs 4 x 50 MB; before the guard all four got 204 and the server's memory grew by them."""

import asyncio
import re
import tomllib

import pytest
from conftest import ROOT
from served import serve
from st_socket import Session, sign_in, upload
from starlette.exceptions import HTTPException
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from seg.data.uploads import MAX_UPLOAD
from ui import upload_guard

PASSWORD = "plate reader 7"
MB = 2**20


def rss(pid: int) -> int:
    "The process's resident memory, in bytes."
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


def ok(status: int) -> bool:
    return 200 <= status < 300


# ---- the route, served ------------------------------------------------------------------------------

@pytest.mark.e2e
def test_nothing_is_stored_before_sign_in(tmp_path):
    async def attack(url):
        async with Session(url) as s:
            form = await s.run()  # the sign-in form: all a visitor sees, and how a script learns its session id
            assert "Password" in form.widgets and s.session_id
            await asyncio.sleep(2)  # the first run's imports settle before the baseline
            before = rss(url.pid)
            codes = [(await asyncio.to_thread(upload, url, s.session_id, size=50 * MB))[0] for _ in range(4)]
            await asyncio.sleep(1)
            grown = rss(url.pid) - before
            # the same session, once signed in, uploads; a second session that has not is still refused
            await sign_in(s, PASSWORD, form)
            signed, _ = await asyncio.to_thread(upload, url, s.session_id, data=b"PK\x05\x06" + bytes(18))
            async with Session(url) as other:
                await other.run()
                stranger, _ = await asyncio.to_thread(upload, url, other.session_id, data=b"x" * 1000)
            return codes, grown, signed, stranger

    with serve(tmp_path / "home", tmp_path, env={"SEGBOARD_PASSWORD": PASSWORD}) as url:
        codes, grown, signed, stranger = asyncio.run(attack(url))
    print(f"before sign-in: {codes}, server RSS grew {grown / MB:.1f} MB; signed in: {signed}; "
          f"another session: {stranger}")
    assert not any(map(ok, codes)), codes
    assert grown < 10 * MB, f"the server grew by {grown / MB:.0f} MB for uploads it refused"
    assert ok(signed), signed  # uploads still work for whoever signed in
    assert not ok(stranger), stranger


@pytest.mark.e2e
def test_a_read_only_app_takes_no_upload(tmp_path):
    async def signed_in_upload(url):
        async with Session(url) as s:
            await sign_in(s, PASSWORD)
            return (await asyncio.to_thread(upload, url, s.session_id, data=b"x" * 1000))[0]

    with serve(tmp_path / "home", tmp_path, env={"SEGBOARD_PASSWORD": PASSWORD, "SEGBOARD_READ_ONLY": "1"}) as url:
        status = asyncio.run(signed_in_upload(url))
    assert status == 403, status


# ---- the guard's rules, on Streamlit's own upload manager ---------------------------------------------

class Runtime:
    "Streamlit's runtime as the upload route sees it: every session it is asked about exists."

    def is_active_session(self, session_id: str) -> bool:
        return True


def rec(file_id: str, n: int) -> UploadedFileRec:
    return UploadedFileRec(file_id=file_id, name=f"{file_id}.zip", type="application/zip", data=bytes(n))


def test_a_tab_holds_at_most_its_share(monkeypatch):
    monkeypatch.setattr(upload_guard, "MAX_SESSION_UPLOADS", 1000)
    runtime, manager = Runtime(), MemoryUploadedFileManager("/_stcore/upload_file")
    manager.add_file("early", rec("a", 10))  # an upload that raced the guard's installation
    assert upload_guard.guard(runtime, manager) and not upload_guard.guard(runtime, manager)  # once
    assert "early" not in manager.file_storage  # dropped
    upload_guard.admit("tab", True)
    try:
        assert runtime.is_active_session("tab")
        manager.add_file("tab", rec("a", 600))
        manager.add_file("tab", rec("a", 900))  # the same file again: replaced, not added
        with pytest.raises(HTTPException) as e:
            manager.add_file("tab", rec("b", 200))
        assert e.value.status_code == 413
        manager.add_file("tab", rec("b", 100))
        with pytest.raises(HTTPException) as e:  # full: refused before the body is read
            runtime.is_active_session("tab")
        assert e.value.status_code == 413
        for ask in (lambda: runtime.is_active_session("stranger"), lambda: manager.add_file("stranger", rec("c", 1))):
            with pytest.raises(HTTPException) as e:
                ask()
            assert e.value.status_code == 403
        assert "stranger" not in manager.file_storage
        manager.remove_session_files("tab")  # the session ended: its files and its admission go
        assert not upload_guard.admitted("tab") and "tab" not in manager.file_storage
    finally:
        upload_guard.admit("tab", False)


def test_the_per_file_limit_is_the_one_streamlit_applies():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * MB == MAX_UPLOAD
    assert MAX_UPLOAD <= upload_guard.MAX_SESSION_UPLOADS
