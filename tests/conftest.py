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
# Every home shares one cache (SEGBOARD_CACHE): the number formats timed once and a model prepared for INT8 once
# per weights, however many homes a test makes (in a fresh home each first training timed its formats, ~4 s, and
# each copy of the shared run quantised its model again, 5-8 s). Tests of the cache itself take the home's.
os.environ["SEGBOARD_CACHE"] = tempfile.mkdtemp(prefix="segboard-test-cache-")
# All three go when the session ends (the machine's /tmp is shared: every session left two folders behind).
for _made in (os.environ["SEGBOARD_LOCK_DIR"], os.environ["SEGBOARD_HOME"], os.environ["SEGBOARD_CACHE"]):
    atexit.register(shutil.rmtree, _made, True)


# The browser tests' fixtures, one of each a module (Playwright's sync API allows one at a time in a thread, so
# a module's Chromium is closed before the next module's opens).
@pytest.fixture(scope="module")
def module_chromium():
    "Debian's Chromium driven by Playwright, started once for the module's tests."
    from served import chromium
    with chromium() as b:
        yield b


@pytest.fixture
def browser(module_chromium):
    """The module's Chromium for one test: the pages (contexts) the test opens are closed after it, so none
    goes on polling a server that has gone while later tests run."""
    before = set(module_chromium.contexts)
    yield module_chromium
    for context in module_chromium.contexts:
        if context not in before:
            context.close()


@pytest.fixture(scope="module")
def app_home(tmp_path_factory):
    "The SEGBOARD_HOME of the module's served app (`server`)."
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def server(tmp_path_factory, app_home):
    "The app served on `app_home` for the module's tests: its address."
    from served import serve
    with serve(app_home, tmp_path_factory.mktemp("log")) as url:
        yield url


@pytest.fixture(autouse=True)
def fresh_sign_in_counts():
    """The app counts wrong passwords for the whole server process (ui.access.throttle), and AppTest runs
    every app in this one: each test starts with none counted."""
    access = sys.modules.get("ui.access")
    if access is not None:
        from seg.server.signin import Throttle
        access._THROTTLE = Throttle()
    yield




# Seconds each of the longest modules took in one process (2 threads, 2 cores, 2026-12-07), for the order below;
# a module not here counts half a second a test. Out of date, it only makes the order less good.
MODULE_SECONDS = {
    "test_train_cli": 113, "test_e2e_journey": 107, "test_channels": 107, "test_e2e_browser": 103,
    "test_e2e_attacks": 98, "test_trials": 95, "test_bad_input": 69, "test_large": 58, "test_e2e_sharing": 53,
    "test_sharing": 52, "test_faults": 47, "test_e2e_label": 45, "test_predict": 43, "test_export": 42,
    "test_app_train": 42, "test_runtimes": 35, "test_objects_training": 31, "test_scaled_crops": 25,
    "test_planner": 25, "test_compare": 20, "test_e2e_uploads": 19, "test_app_predict": 16, "test_image_bytes": 15,
}


def pytest_collection_modifyitems(config, items):
    """The modules that take longest first, each module's tests in their own order: make test's workers take
    whole modules (xdist's loadfile) in this order, so a long module started last does not keep one worker
    going alone at the end while the other has finished."""
    def module(item) -> str:
        return Path(item.nodeid.split("::")[0]).stem
    count: dict[str, int] = {}
    for item in items:
        count[module(item)] = count.get(module(item), 0) + 1
    items.sort(key=lambda item: -MODULE_SECONDS.get(module(item), count[module(item)] * 0.5))  # stable
