import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def home(tmp_path, monkeypatch):
    "A private SEGBOARD_HOME, so no test touches the project's workspace/."
    h = tmp_path / "home"
    monkeypatch.setenv("SEGBOARD_HOME", str(h))
    return h
