"""The documentation keeps up with the code: every command-line option, every file and event type a run
writes and every key of its config.json appear in docs/, and every link in README.md and docs/ leads
to a file that exists."""

import json
import re

from conftest import ROOT

from seg.cli import parser

DOCS = ROOT / "docs"


def words(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def test_every_command_and_option_is_in_the_cli_page():
    import argparse
    page = words("cli.md")
    missing = []
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, p in sub.choices.items():
        if f"`{command}" not in page and f"{command} " not in page:
            missing.append(command)
        for action in p._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help" and flag not in page:
                    missing.append(f"{command} {flag}")
    assert not missing, f"not in docs/cli.md: {missing}"


def test_every_file_event_and_config_key_a_run_writes_is_in_the_run_folder_page(finished):
    page = words("run-folder.md")
    code = "\n".join(p.read_text() for d in ("runs", "training") for p in (ROOT / "seg" / d).glob("*.py"))
    # files: what the session's run holds, and every name the code that writes runs joins onto a folder
    files = {p.name for p in finished.run.iterdir()}
    files |= set(re.findall(r'(?:run_dir|run\.path|self\.path|path)\s*/\s*"([\w.]+)"', code))
    files |= {"launch.json", "output.log", "stop", ".lr_find"}
    missing = sorted(f for f in files if f"`{f}" not in page and f not in page)
    assert not missing, f"files a run writes, not in docs/run-folder.md: {missing}"
    # event types: every type the code writes to an event log
    types = set(re.findall(r'\blog\.write\("(\w+)"', code)) | set(re.findall(r'\.write\("(\w+)",', code))
    assert {"status", "batch", "epoch", "note", "heartbeat", "lr", "scores"} <= types
    missing = sorted(t for t in types if f"| `{t}` |" not in page)
    assert not missing, f"event types not in docs/run-folder.md's table: {missing}"
    # config.json: every key, and the keys of its settings
    config = json.loads((finished.run / "config.json").read_text())
    keys = set(config) | set(config["data"]) | set(config["train"]) | set(config["dataset"])
    missing = sorted(k for k in keys if not re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", page))
    assert not missing, f"config.json keys not in docs/run-folder.md: {missing}"


def test_every_file_a_prediction_writes_is_in_the_prediction_page():
    page = words("prediction.md")
    code = (ROOT / "seg" / "prediction" / "output.py").read_text()
    names = set(re.findall(r'out\s*/\s*"([\w.]+)"', code))
    assert {"masks", "previews", "metrics.json", "measurements.csv", "prediction.json"} <= names
    assert not [n for n in names if f"`{n}" not in page]


def test_every_link_leads_somewhere():
    broken = []
    for page in [ROOT / "README.md", ROOT / "DEVELOPERS.md", *DOCS.glob("*.md")]:
        text = re.sub(r"`[^`]*`", "", page.read_text(encoding="utf-8"))  # code spans quote, they do not link
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_the_size_limits_in_the_data_page_are_the_code_s():
    from seg.data.images import MAX_DECODED_BYTES, max_pixels
    page = re.sub(r"\s+", " ", words("data.md"))
    assert f"{MAX_DECODED_BYTES:,} bytes ({MAX_DECODED_BYTES / 2**30:g} GiB)" in page
    assert f"{max_pixels():,} pixels" in page
