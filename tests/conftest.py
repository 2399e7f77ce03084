import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    "One real run trained once for the whole session, shared by every test that only needs a finished run."
    from training import train_finished
    return train_finished(tmp_path_factory.mktemp("finished"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    "A private SEGBOARD_HOME, so no test touches the project's workspace/."
    h = tmp_path / "home"
    monkeypatch.setenv("SEGBOARD_HOME", str(h))
    return h


# One run per device is enforced with a lock file; the tests' runs take theirs in a folder of their own,
# so a person training with segboard on this machine neither blocks the tests nor is blocked by them.
os.environ["SEGBOARD_LOCK_DIR"] = tempfile.mkdtemp(prefix="segboard-test-locks-")
# Nor does any test write into the project's workspace/: the session has a home of its own (tests that need a
# fresh one take the `home` fixture).
os.environ["SEGBOARD_HOME"] = tempfile.mkdtemp(prefix="segboard-test-home-")
# Both go when the session ends (the machine's /tmp is shared: every session left two folders behind).
for _made in (os.environ["SEGBOARD_LOCK_DIR"], os.environ["SEGBOARD_HOME"]):
    atexit.register(shutil.rmtree, _made, True)


@pytest.fixture(autouse=True)
def fresh_sign_in_counts():
    """The app counts wrong passwords for the whole server process (ui.access.throttle), and AppTest runs
    every app in this one: each test starts with none counted."""
    access = sys.modules.get("ui.access")
    if access is not None:
        access.throttle.clear()
    yield

