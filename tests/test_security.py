"""What a shared instance protects, rule by rule: paths checked as text, reads confined to what a viewer
may see (links followed only inside the roots, never segboard's own folders), the sign-in throttle across
sessions, the safe default address, read-only mode computing nothing, and text shown as text. The same
attacks against the served app, in Chromium and over the WebSocket, are in test_e2e_attacks.py."""

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest
from apps import open_app
from conftest import ROOT
from makers import MACHINE, dataset
from streamlit.testing.v1 import AppTest

from seg import Dataset
from seg.data.report import Report
from seg.errors import AccessError, SettingsError
from seg.model.settings import DataSettings, TrainSettings
from seg.server import workspace
from seg.server.sharing import Sharing, describe, serve_address, typed_path
from seg.server.signin import LOCK_AFTER, LOCKOUT_S, Throttle

# ---- paths as text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, says", [
    ("/data/cells\x00/../../etc", "NUL character (at position 12)"),
    ("/data/cells\nrm -rf", "control character (U+000A at position 12)"),
    ("/data/\x1b[31mred", "control character (U+001B"),
    ("/" + "a" * 6000, "6,001 characters long"),
    ("/data/" + "b" * 300 + "/x", "each folder name 255"),
    ("/data/\udcff", "not valid text"),
])
def test_bad_paths_get_a_sentence_not_an_os_error(typed, says):
    with pytest.raises(AccessError, match=r".*") as e:
        typed_path(typed)
    assert says in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(AccessError):
        Sharing().confine(typed)  # the same before any disk access, shared or not


def test_a_pasted_path_loses_its_quotes_and_blanks():
    assert typed_path('  "/data/my cells"\n') == "/data/my cells"


# ---- what a viewer may read -------------------------------------------------------------------------

def workspace_with_others(home):
    "A workspace as a busy server has it: another session's upload, a run, a prediction, the demo."
    other = dataset(workspace.sessions_dir() / "0123456789abcdef" / "cafe", n=3, names=["secret-a", "secret-b",
                                                                                        "secret-c"])
    run = workspace.runs_dir() / "20260101-120000-cells"
    run.mkdir(parents=True)
    (run / "events.jsonl").write_text('{"type": "start"}\n')
    dataset(workspace.predictions_dir() / "20260101-130000-cells", n=2, names=["pred-a", "pred-b"])
    dataset(home / "demo", n=3, names=["demo-a", "demo-b", "demo-c"], codes=["background", "cell"])
    return other


def test_the_workspace_typed_as_a_dataset_shows_only_what_its_viewer_may_see(home):
    other = workspace_with_others(home)
    viewer = Sharing(password="x").access()
    assert viewer.check(home) == home.resolve()  # the folder itself may be named ...
    ds = Dataset.open(home, access=viewer)  # ... and reading it skips every folder of segboard's own
    said = "\n".join(str(p) for p in ds.report.problems)
    assert sorted(p.image.stem for p in ds.pairs) == ["demo-a", "demo-b", "demo-c"]
    assert "secret" not in said and "events.jsonl" not in said and "pred-" not in said
    assert "segboard's own folders" in said  # a note says why they were left out
    for private in (other, workspace.runs_dir(), workspace.predictions_dir() / "20260101-130000-cells"):
        with pytest.raises(AccessError, match="private to their sessions"):
            viewer.check(private)
    mine = Sharing(password="x").access(own=(other.parent,))  # the session that uploaded it reads it
    assert mine.check(other) == other.resolve()
    assert len(Dataset.open(other, access=mine).pairs) == 3
    # a root above the workspace: the same
    root_viewer = Sharing(password="x", roots=(home.parent,)).access()
    assert "secret" not in "\n".join(p.image.name for p in Dataset.open(home.parent, access=root_viewer).pairs)


def test_links_that_leave_the_roots_are_left_out_with_a_warning(home, tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    dataset(outside / "stolen", n=3, names=["x1", "x2", "x3"], codes=["background", "secret class"])
    data = root / "cells"
    dataset(data, n=3)
    (data / "images" / "linked.png").symlink_to(outside / "stolen" / "images" / "x1.png")
    (data / "masks" / "linked.png").symlink_to(outside / "stolen" / "masks" / "x1.png")
    sneaky = root / "sneaky"
    sneaky.mkdir()
    (sneaky / "images").symlink_to(outside / "stolen" / "images")
    (sneaky / "masks").symlink_to(outside / "stolen" / "masks")
    (sneaky / "codes.txt").symlink_to(outside / "stolen" / "codes.txt")
    inside = root / "inside"
    inside.mkdir()
    (inside / "images").symlink_to(data / "images")  # a link that stays in the roots is followed
    (inside / "masks").symlink_to(data / "masks")
    viewer = Sharing(roots=(root,)).access()

    ds = Dataset.open(data, access=viewer)
    assert sorted(p.image.name for p in ds.pairs) == ["00.png", "01.png", "02.png"]
    left = [p for p in ds.report.warnings if "outside the folders this app may read" in p.problem]
    assert sorted(p.file for p in left) == ["images/linked.png", "masks/linked.png"]
    ds = Dataset.open(sneaky, access=viewer)
    assert not ds.pairs and not ds.ok
    assert sorted(p.file for p in ds.report.warnings if "outside" in p.problem) == ["codes.txt", "images", "masks"]
    assert "secret class" not in str(ds.summary())
    assert len(Dataset.open(inside, access=viewer).pairs) == 3
    assert len(Dataset.open(sneaky, access=MACHINE).pairs) == 3  # the command line is not confined: it has the machine

    # A run the app starts reads as the app did (--within: the roots).
    from seg.training.prepare import prepare
    with pytest.raises(SettingsError, match="cannot be trained on"):
        prepare(sneaky, DataSettings(within=(str(root),)), TrainSettings())
    assert len(prepare(data, DataSettings(within=(str(root),)), TrainSettings()).pairs) == 3



def test_a_labels_set_made_from_the_workspace_lists_nothing_private(home):
    """Attack: a new labels set from the workspace folder itself listed other sessions' uploads and runs'
    samples, and the editor served their pixels to anyone who opened the set (read-only viewers too)."""
    from seg.errors import LabelsError
    from seg.labels.queue import images_of
    from seg.labels.store import LabelSet
    other = workspace_with_others(home)
    victim = other / "images" / "secret-a.png"
    s = LabelSet.create(workspace.labels_dir(), "everything", ["background", "cell"], source=home)
    viewer = Sharing(password="x", read_only=True).access()
    listed = s.sources(viewer)
    assert sorted(f.stem for f in listed) == ["demo-a", "demo-b", "demo-c"]
    assert not any("secret" in str(f) or "pred-" in str(f) for f in images_of(s.path, viewer))
    with pytest.raises(LabelsError, match="private to their sessions"):
        s.readable(victim, viewer)  # what the page checks as it reads an image, whatever was listed
    with pytest.raises(LabelsError, match="private to their sessions"):
        s.save(victim, np.zeros((48, 64), np.uint8), "drawn", access=viewer)
    assert s.labelled() == [] and not any((s.path / "images").iterdir())  # nothing copied
    mine = Sharing(password="x").access(own=(other.parent,))  # the uploader's own session may label its upload
    assert s.readable(victim, mine) == victim.resolve()


def test_a_link_out_of_the_roots_under_a_sets_folder_is_neither_shown_copied_nor_zipped(home, tmp_path):
    """Attack: an image in a source folder inside the roots, a link to a file outside them, was served to a
    read-only viewer, copied into the set by a save and handed out in the set's zip."""
    from seg.errors import LabelsError
    from seg.labels.store import LabelSet
    from ui.labelling import zipped
    root, outside = tmp_path / "root", tmp_path / "outside"
    dataset(outside / "stolen", n=1, names=["x1"])
    src = root / "slides"
    src.mkdir(parents=True)
    dataset(root / "tmp", n=2, names=["a", "b"])
    for f in (root / "tmp" / "images").iterdir():
        f.rename(src / f.name)
    (src / "linked.png").symlink_to(outside / "stolen" / "images" / "x1.png")
    s = LabelSet.create(workspace.labels_dir(), "slides", ["background", "cell"], source=src)
    viewer = Sharing(password="x", roots=(root,)).access()
    said = Report(src)
    assert sorted(f.name for f in s.sources(viewer, said)) == ["a.png", "b.png"]
    assert [(p.file, p.level) for p in said.problems] == [("linked.png", "warning")]  # said once, for the page
    assert "linked.png" in [f.name for f in s.sources(MACHINE)]  # the command line has the machine
    with pytest.raises(LabelsError, match="outside the folders this app may read"):
        s.readable(src / "linked.png", viewer)
    with pytest.raises(LabelsError, match="outside the folders"):
        s.save(src / "linked.png", np.zeros((48, 64), np.uint8), "drawn", access=viewer)
    # a file listed as plain, replaced by a link before it is saved: checked again as it is read
    s.save(src / "a.png", np.ones((48, 64), np.uint8), "drawn", access=viewer)
    (src / "b.png").unlink()
    (src / "b.png").symlink_to(outside / "stolen" / "images" / "x1.png")
    with pytest.raises(LabelsError, match="outside the folders"):
        s.save(src / "b.png", np.ones((48, 64), np.uint8), "drawn", access=viewer)
    (s.path / "images" / "planted.png").symlink_to(outside / "stolen" / "images" / "x1.png")  # by hand, on disk
    assert "planted.png" not in [f.name for f in s.sources(viewer)]
    import io
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(zipped(s))).namelist()
    assert "slides/images/a.png" in names and not any("planted" in n or "x1" in n or "b.png" in n for n in names)


# ---- the rule that keeps it so: no reading without an Access ------------------------------------------

READERS = {"discover": 2, "image_files": 2, "images_of": 1, "for_run": 3, "sources": 0, "inputs": 2}


def optional_accesses(source: str) -> list[str]:
    """Functions in `source` whose `access` parameter has a default: a caller could forget it and read
    unconfined. (name, line) of each."""
    import ast
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            positional = a.posonlyargs + a.args
            defaults = dict(zip([x.arg for x in positional[len(positional) - len(a.defaults):]], a.defaults))
            defaults.update({x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
            found += [f"{node.name} (line {node.lineno})" for name in defaults if name.lstrip("_") == "access"]
    return found


def unconfined_calls(source: str) -> list[str]:
    "Calls of a reading function that give it no access: (function, line) of each."
    import ast
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
        if isinstance(f, ast.Attribute) and name == "open" and getattr(f.value, "id", None) == "Dataset":
            at = None
        elif name in READERS and (name != "sources" or isinstance(f, ast.Attribute)):
            at = READERS[name]
        else:
            continue
        given = any(k.arg in ("access", "_access") for k in node.keywords) or \
            (at is not None and len(node.args) > at)
        if not given:
            found.append(f"{name} (line {node.lineno})")
    return found


def test_every_reading_function_takes_the_readers_access_and_every_call_gives_it():
    """The structural rule (DEVELOPERS.md): a function that lists or opens a user's files takes an Access with
    no default, and every call passes one (the command line: Access.machine()). A new page that forgets
    fails here, not in an attack."""
    files = [*(ROOT / "seg").rglob("*.py"), *(ROOT / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py"),
             ROOT / "app.py", *(ROOT / "bench").glob("*.py")]
    optional = {str(f.relative_to(ROOT)): o for f in files if (o := optional_accesses(f.read_text()))}
    forgot = {str(f.relative_to(ROOT)): c for f in files if (c := unconfined_calls(f.read_text()))}
    assert not optional, f"an optional access (give it no default): {optional}"
    assert not forgot, f"a read without the reader's access: {forgot}"
    assert len(files) > 80
    # the checks catch what they are for
    assert optional_accesses("def listing(root, access=None):\n    pass") == ["listing (line 1)"]
    assert optional_accesses("def f(root, *, _access: 'Access' = ALL): ...") == ["f (line 1)"]
    assert optional_accesses("def f(root, access, n=3): ...") == []
    assert unconfined_calls("Dataset.open(p, codes=c)\ns.sources()\ndiscover(p, r)") == \
        ["open (line 1)", "sources (line 2)", "discover (line 3)"]
    assert unconfined_calls("Dataset.open(p, access=a)\ns.sources(a)\ndiscover(p, r, a)") == []


# ---- the safe default -------------------------------------------------------------------------------

def test_on_the_network_without_a_password_reads_are_confined_and_it_says_so(home, tmp_path):
    local = Sharing.configured({}, env={}, address="127.0.0.1")
    assert not local.exposed and local.confined_to == () and not local.open_to_network
    for address in ("0.0.0.0", "", "192.0.2.7", "::"):
        s = Sharing.configured({}, env={}, address=address)
        assert s.exposed and s.open_to_network and s.confined_to == (home.resolve(),)
        with pytest.raises(AccessError, match="outside the folders"):
            s.confine(tmp_path)
        assert any("WARNING: served on the network with no password" in line for line in describe(s, 8501))
    guarded = Sharing.configured({}, env={"SEGBOARD_PASSWORD": "pw"}, address="0.0.0.0")
    assert guarded.exposed and not guarded.open_to_network
    assert not any("WARNING" in line for line in describe(guarded, 8501))
    assert "this machine only" in describe(local, 8501)[1]
    assert serve_address(Sharing()) == "127.0.0.1"  # no password: this machine only
    assert serve_address(Sharing(password="pw")) == "0.0.0.0"  # a password: colleagues may come
    assert serve_address(Sharing(), "0.0.0.0") == "0.0.0.0"  # said explicitly: as said (and warned)


# ---- the sign-in throttle ---------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_one_address_gets_a_few_free_tries_then_growing_waits_then_a_lockout():
    clock = Clock()
    t = Throttle(clock)
    for _ in range(3):
        assert t.begin("198.51.100.1").allowed  # typos cost nothing
    v = t.begin("198.51.100.1")
    assert not v.allowed and v.wait_s == pytest.approx(1.0) and "Try again in 1 s" in v.message()
    assert t.begin("198.51.100.2").allowed  # another address is not slowed by this one
    waits = []
    while len(waits) < LOCK_AFTER - 3:
        v = t.begin("198.51.100.1")
        if v.allowed:
            waits.append(clock.now)
        clock.now += 0.25
    gaps = [round(b - a) for a, b in zip(waits, waits[1:])]
    assert gaps == sorted(gaps) and gaps[-1] >= 16  # each wait doubles
    v = t.begin("198.51.100.1")
    assert not v.allowed and "locked after 10 wrong passwords" in v.message()
    assert v.wait_s == pytest.approx(LOCKOUT_S, abs=1)
    clock.now += LOCKOUT_S + 1
    assert t.begin("198.51.100.1").allowed


def test_the_right_password_is_not_counted_and_clears_its_address():
    t = Throttle(Clock())
    for _ in range(3):
        t.begin(None)
    t.succeeded(None)
    assert t.tries_left(None) == LOCK_AFTER and t.begin(None).allowed


def test_many_addresses_meet_the_server_wide_limit():
    "Forged addresses (X-Forwarded-For through a proxy on this machine) each get their free tries, then all wait."
    clock = Clock()
    t = Throttle(clock)
    allowed = 0
    for i in range(600):  # a try every 50 ms for 30 s, each from a new address
        allowed += t.begin(f"203.0.113.{i % 250}:{i}").allowed
        clock.now += 0.05
    assert allowed <= 10 + 30 / 1.0  # after 10 failures, one try a second anywhere (then 5 s after 50)


def test_sessions_trying_at_once_share_the_waits():
    "20 sessions from one address press Sign in at the same moment: three are checked, the rest wait."
    t = Throttle()
    results, start = [], threading.Barrier(20)

    def press():
        start.wait()
        results.append(t.begin("198.51.100.9").allowed)

    threads = [threading.Thread(target=press) for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(results) == 3



def test_the_server_takes_x_forwarded_for_from_a_proxy_on_this_machine_only(monkeypatch):
    """The address the throttle counts (st.context.ip_address): Streamlit serves with uvicorn, whose proxy-headers
    middleware Streamlit leaves on with uvicorn's default trust, 127.0.0.1 and ::1 (FORWARDED_ALLOW_IPS). So
    behind a proxy on this machine it is the proxy's X-Forwarded-For, and for anyone else the TCP peer, whatever
    they send (docs/sharing.md; through a real proxy: test_e2e_proxy.py)."""
    import uvicorn
    from streamlit.web.server.starlette.starlette_server import _get_uvicorn_config_kwargs
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    kwargs = _get_uvicorn_config_kwargs()
    assert not {"proxy_headers", "forwarded_allow_ips"} & kwargs.keys()  # uvicorn's defaults, as below
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["client"][0])
    config = uvicorn.Config(app, **kwargs)
    config.load()
    for peer in ("127.0.0.1", "::1", "192.0.2.10"):  # a proxy here (IPv4, IPv6); a client of the network
        forged = [(b"x-forwarded-for", b"203.0.113.7")]
        asyncio.run(config.loaded_app({"type": "websocket", "client": (peer, 40000), "headers": forged}, None, None))
    assert seen == ["203.0.113.7", "203.0.113.7", "192.0.2.10"]

# ---- the pages --------------------------------------------------------------------------------------

def app(env=None, monkeypatch=None) -> AppTest:
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    return open_app()


def test_read_only_offers_no_weights_box_and_plans_nothing(home, monkeypatch):
    at = app({"SEGBOARD_READ_ONLY": "1"}, monkeypatch)
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.segmented_control(key="budget").disabled and at.segmented_control(key="budget").value == "manual"
    at.toggle(key="pretrained").set_value(True).run()
    assert not [t for t in at.text_input if t.key == "weights"]  # no path box to probe the disk with
    assert not at.success  # no plan


def test_the_weights_box_is_confined_like_every_path(home, monkeypatch, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    at = app({"SEGBOARD_PASSWORD": "pw", "SEGBOARD_ROOTS": str(root)}, monkeypatch)
    at.text_input(key="password_typed").set_value("pw")
    at.button[0].click().run()
    at.switch_page("pages/train.py").run()
    at.toggle(key="pretrained").set_value(True).run()
    for probe in ("/etc/hostname", "/no/such/file.pth"):  # one exists, one does not: the same answer
        at.text_input(key="weights").set_value(probe).run()
        assert "outside the folders this app may read" in at.error[0].value
        assert "not found" not in at.error[0].value
    at.text_input(key="weights").set_value(str(root / "missing.pth")).run()
    assert "not found" in at.error[0].value  # inside the roots, the user is told


@pytest.mark.parametrize("typed, says", [("/tmp/x\x00y", "NUL character"), ("/" + "a" * 6000, "characters long")])
def test_a_bad_path_typed_gets_segboards_message(home, monkeypatch, typed, says):
    at = app()
    at.segmented_control(key="source").set_value("folder").run()
    at.text_input(key="folder").set_value(typed).run()
    assert not at.exception
    assert says in at.error[0].value and at.session_state["data"] is None


def test_user_text_is_escaped_for_markdown_and_plotly():
    from ui.text import code, md, plot_text
    for payload in ("<img src=x onerror=alert(1)>", "![t](http://127.0.0.1:9/t.png)", "[x](javascript:alert(1))",
                    "b:red[red]", "$x^2$", "*bold* _it_ ~s~ `c` | &amp;"):
        escaped = md(payload)
        for ch in "<>[]`*_~$&|":
            assert escaped.count(ch) == escaped.count("\\" + ch), (payload, escaped)
    assert md("# title") == "\\# title" and md("a\nb") == "a b"
    assert md("Weights file /x: not found") == "Weights file /x: not found"  # ordinary text stays as it is
    assert code("a`b") == "``a`b``" and code("`a") == "`` `a ``"
    assert plot_text("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;" and len(plot_text("n" * 100)) == 32


def test_every_path_box_confines_the_workspace_a_link_out_and_a_private_folder(home, monkeypatch, tmp_path, finished):
    """Each page that takes a path (Data's folder, Predict's folder, Label's new set, Train's weights file),
    given the workspace folder, a folder that is a link out of the roots, and another session's upload:
    the first shows nothing private, the other two are refused in a sentence, with no exception."""
    from training import copy_run
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    dataset(outside / "stolen", n=2, names=["stolen-a", "stolen-b"])
    (root / "out").symlink_to(outside / "stolen")
    other = workspace_with_others(home)
    copy_run(finished.run, workspace.runs_dir() / finished.run.name)
    at = app({"SEGBOARD_PASSWORD": "pw", "SEGBOARD_ROOTS": str(root)}, monkeypatch)
    at.text_input(key="password_typed").set_value("pw")
    at.button[0].click().run()
    probes = {"workspace": str(home), "link out": str(root / "out"), "private": str(other)}
    refusals = {"link out": "outside the folders this app may read", "private": "private to their sessions"}

    def said(at) -> str:
        assert not at.exception, at.exception
        return "\n".join(str(e.value) for e in [*at.error, *at.warning, *at.info, *at.markdown, *at.caption])

    at.switch_page("pages/data.py").run()
    at.segmented_control(key="source").set_value("folder").run()
    for what, path in probes.items():
        text = said(at.text_input(key="folder").set_value(path).run())
        assert "secret" not in text and "stolen" not in text, (what, text)
        if what in refusals:
            assert refusals[what] in text, (what, text)
    at.switch_page("pages/predict.py").run()
    at.segmented_control(key="predict_source").set_value("folder").run()
    for what, path in probes.items():
        at.text_input(key="predict_folder").set_value(path).run()
        text = said(at.button(key="predict").click().run())
        assert "secret" not in text and "stolen" not in text, (what, text)
        if what in refusals:
            assert refusals[what] in text, (what, text)
    assert not list(workspace.predictions_dir().glob(f"{finished.run.name}*"))  # nothing predicted from them
    at.switch_page("pages/label.py").run()
    for i, (what, path) in enumerate(probes.items()):
        at.selectbox(key="label_set").set_value("+ New labels set").run()
        at.text_input(key="new_set_name").set_value(f"probe {i}")
        at.text_input(key="new_set_source").set_value(path)
        text = said(at.button[-1].click().run())
        if what in refusals:
            assert refusals[what] in text and not (workspace.labels_dir() / f"probe {i}").exists(), (what, text)
        else:  # the workspace itself may be a set's folder: what it lists is only what the viewer may read
            from seg.labels.store import LabelSet
            listed = LabelSet(workspace.labels_dir() / f"probe {i}").sources(Sharing(password="pw").access())
            assert not [f for f in listed if "secret" in f.name or "stolen" in f.name], listed
    at.switch_page("pages/train.py").run()
    at.toggle(key="pretrained").set_value(True).run()
    for what, path in probes.items():
        text = said(at.text_input(key="weights").set_value(str(Path(path) / "images" / "secret-a.png")).run())
        if what in refusals:
            assert refusals[what] in text, (what, text)


def test_the_cache_is_never_read_as_data_wherever_segboard_cache_puts_it(tmp_path, home, monkeypatch):
    "A cache moved into a root the app reads (and the home's own from before) stays segboard's, not a dataset."
    from seg.server.sharing import Access
    root = tmp_path / "data"
    moved = root / "segboard-cache" / "runtimes"
    old = home / "cache" / "runtimes"
    for folder in (moved, old, root / "cells"):
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"x")
    monkeypatch.setenv("SEGBOARD_CACHE", str(root / "segboard-cache"))
    access = Access.within([root, home], root / "cells")
    assert access.allows(root / "cells" / "model.onnx")
    assert not access.allows(moved / "model.onnx") and not access.allows(old / "model.onnx")
    monkeypatch.delenv("SEGBOARD_CACHE")
    assert not Access.within([root, home], root / "cells").allows(old / "model.onnx")


def test_read_only_refuses_a_forged_augmentation_preview_and_model_bundle(home, monkeypatch):
    """What a viewer sees disabled refuses behind the page too (Streamlit drops a press of a disabled button, and
    serves no file for a disabled download, only while its own checks hold): the augmentation preview and the
    model bundle compute nothing in a read-only app."""
    from seg.errors import AccessError
    from seg.runs import Run
    from ui import datasets
    from ui.predictions import model_bundle
    at = app({"SEGBOARD_READ_ONLY": "1"}, monkeypatch)
    assert at.button(key="preview").disabled and not at.exception
    with pytest.raises(AccessError, match="augmentations"):
        datasets.augment_preview(None, None, None)  # before anything is read
    with pytest.raises(AccessError, match="model bundle"):
        model_bundle(Run(home / "runs" / "any"))
