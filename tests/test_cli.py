"""`python -m seg` in a real subprocess, as scripts outside the project call it (refusals through main() in
this process)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from makers import dataset
from PIL import Image


def seg(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "seg", *map(str, args)], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_inspect_json_contract(tmp_path):
    dataset(tmp_path, n=6, mask_values=(0, 255), codes=["pipe", "crack"])
    s = json.loads(seg("inspect", tmp_path, "--json").stdout)
    assert s["pairs"] == 6 and s["codes"] == ["pipe", "crack"]
    assert s["errors"] == [] and isinstance(s["warnings"], list)
    assert set(s["class_fractions"]) == {"pipe", "crack"}
    assert abs(sum(s["class_fractions"].values()) - 1) < 1e-9
    assert s["split"]["kind"] == "random" and s["split"]["train"] + s["split"]["valid"] == 6
    assert "per_image" not in s
    assert len(json.loads(seg("inspect", tmp_path, "--json", "--per-image").stdout)["per_image"]) == 6


def test_inspect_reports_problems_and_exits_1(tmp_path):
    dataset(tmp_path, n=3)
    (tmp_path / "images" / "01.png").write_bytes(b"garbage")
    r = seg("inspect", tmp_path, "--json", check=False)
    assert r.returncode == 1 and r.stderr == ""
    s = json.loads(r.stdout)
    assert s["errors"][0]["file"] == "images/01.png"
    assert set(s["errors"][0]) == {"file", "problem", "fix"}
    text = seg("inspect", tmp_path, check=False).stdout
    assert "images/01.png: Not a readable image" in text and "not ready" in text


def test_inspect_text_and_folder_split(tmp_path):
    dataset(tmp_path / "train", n=4)
    dataset(tmp_path / "val", n=2, layout="flat")
    out = seg("inspect", tmp_path).stdout
    assert "pairs    6" in out and "4 train / 2 valid (given by the folders)" in out and "ready to train" in out


def test_inspect_codes_option(tmp_path):
    dataset(tmp_path, n=4)
    s = json.loads(seg("inspect", tmp_path, "--json", "--codes", "background,crystal").stdout)
    assert s["codes"] == ["background", "crystal"]


def test_demo_is_deterministic_and_valid(tmp_path):
    seg("demo", tmp_path / "a", "--n", 4, "--size", 64)
    seg("demo", tmp_path / "b", "--n", 4, "--size", 64)
    for sub in ("images/000.png", "masks/003.png", "codes.txt"):
        assert (tmp_path / "a" / sub).read_bytes() == (tmp_path / "b" / sub).read_bytes()
    s = json.loads(seg("inspect", tmp_path / "a", "--json").stdout)
    assert s["pairs"] == 4 and s["codes"] == ["background", "cell"] and s["errors"] == []
    assert 0.02 < s["class_fractions"]["cell"] < 0.5
    image = np.asarray(Image.open(tmp_path / "a" / "images" / "000.png"))
    assert image.shape == (64, 64, 3) and image.std() > 5  # textured, not flat


def files(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_refuses_a_folder_that_holds_anything(tmp_path):
    "In this process through main(), as the other refusals: exit 2, one line naming the folder and the fix."
    from training import cli
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's own file")
    rc, out, err = cli("demo", mine, "--n", 2, "--size", 64)
    assert rc == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert str(mine) in err and "new or empty" in err and "nothing was changed" in err
    assert files(mine) == {Path("notes.txt"): b"the user's own file"}
    # --objects over a plain demo: refused, its class masks kept (it once kept them and said "one id per cell")
    assert cli("demo", tmp_path / "demo", "--n", 2, "--size", 64)[0] == 0
    before = files(tmp_path / "demo")
    rc, out, err = cli("demo", tmp_path / "demo", "--n", 2, "--size", 64, "--objects")
    assert rc == 2 and "one id per cell" not in out and files(tmp_path / "demo") == before
    # a file given as the folder is refused too; an empty folder (mktemp -d) is fine
    rc, _, err = cli("demo", mine / "notes.txt")
    assert rc == 2 and "not an empty folder" in err
    (tmp_path / "empty").mkdir()
    rc, out, _ = cli("demo", tmp_path / "empty", "--n", 2, "--size", 64, "--objects")
    assert rc == 0 and "one id per cell" in out
    assert (tmp_path / "empty" / "codes.txt").read_text() == "background\nobjects: cell\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "empty", "mine"]  # no partial folder left


def test_a_demo_is_never_half_written(tmp_path, monkeypatch):
    """`make demo` and the app's ensure_demo write the demo while its codes.txt is missing: an interrupted write
    leaves no folder (which `seg demo` would now refuse); a half-written one from before is completed, its files
    kept."""
    from seg.data import demo
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    real = demo.sample
    monkeypatch.setattr(demo, "sample", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.write_demo(tmp_path / "demo", n=3, size=32)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(demo, "sample", real)
    old = tmp_path / "old"
    (old / "images").mkdir(parents=True)
    (old / "images" / "000.png").write_bytes(b"an older version's")
    demo.write_demo(old, n=3, size=32)
    assert (old / "images" / "000.png").read_bytes() == b"an older version's"
    assert sorted(str(p) for p in files(old)) == ["codes.txt", *(f"{d}/00{i}.png" for d in ("images", "masks")
                                                                  for i in range(3))]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_unknown_command_is_a_usage_error():
    r = seg("train-everything", check=False)
    assert r.returncode == 2 and "usage:" in r.stderr


def test_settings_and_the_command_line_round_trip():
    "The app starts runs with `to_argv`; the CLI reads them back with `from_args`: every field survives."
    from seg.cli import parser
    from seg.cli.options import OPTIONS, from_args, to_argv
    from seg.model.settings import DataSettings, TrainSettings
    cases = [
        (DataSettings(), TrainSettings()),
        (DataSettings(size=(96, 160), bs=3, valid_pct=0.35, seed=7, augment=False, workers=2,
                      within=("/data/a", "/data/b c"), objects=True, scale=0.37, fg_share=0.6),
         TrainSettings(epochs=37, lr=3.3e-4, arch="resnet18", pretrained=False, weights="/w/r18.pth",
                       loss="ce", find_lr=True, precision="bf16")),
        (DataSettings(size=512, objects=False),
         TrainSettings(lr=0.1 + 0.2, loss="weighted-ce", arch="resnet50", precision="fp32-cl")),
    ]
    for data, train in cases:
        args = parser().parse_args(["train", "DATA", "--run-dir", "RUN", *to_argv(data, train)])
        assert from_args(args) == (data, train)
    # and every field of both settings has its option (a new field without one fails the import)
    assert {o.field for o in OPTIONS} == {*DataSettings.__dataclass_fields__, *TrainSettings.__dataclass_fields__}


def test_a_run_s_options_that_are_not_settings_round_trip():
    "`run_argv` (every run the app starts) writes --from, --budget, --no-trials, --plan and --codes as parsed back."
    from seg.cli import parser
    from seg.cli.options import from_args, run_argv
    from seg.model.settings import DataSettings, TrainSettings
    data, train = DataSettings(objects=True, within=("/data/a b",)), TrainSettings(arch="resnet18", pretrained=False)
    argv = run_argv(data, train, codes="background,cell", from_run=Path("/runs/a b"), budget=0.5,
                    plan={"epochs": 7}, trials=False)
    args = parser().parse_args(["train", "DATA", "--run-dir", "RUN", *argv])
    assert from_args(args) == (data, train)
    assert (args.from_run, args.budget, json.loads(args.plan), args.no_trials, args.codes) == \
        ("/runs/a b", 0.5, {"epochs": 7}, True, "background,cell")
    args = parser().parse_args(["train", "DATA", "--run-dir", "RUN", *run_argv(data, train, trials=False)])
    assert (args.from_run, args.budget, args.plan, args.no_trials, args.codes) == (None, None, None, False, None)


def test_under_a_budget_the_plan_s_fields_are_the_plan_s_though_every_field_is_written(capsys):
    """`to_argv` writes every field; under --budget the plan still decides size, batch, augmentation, epochs,
    learning rate, lr_find, loss and (asked for auto) the number format, and every other setting is kept: what
    the command line says pins only what the planner plans around (seg/cli/options.py)."""
    from dataclasses import replace

    from seg.cli import parser
    from seg.cli.commands import _planned
    from seg.cli.options import from_args, run_argv
    from seg.model.settings import DataSettings, TrainSettings
    from seg.training.planner import Plan
    plan = Plan(budget_min=5.0, size=(96, 128), bs=4, epochs=23, lr=2e-3, find_lr=True, loss="dice-ce", augment=True,
                pretrained=False, seconds=250.0, seconds_per_image=0.01, device="cpu", precision="bf16-cl")
    data = DataSettings(size=512, bs=32, augment=False, valid_pct=0.3, seed=7, workers=1, within=("/d",), objects=True)
    train = TrainSettings(epochs=3, lr=0.1, arch="resnet18", pretrained=False, loss="ce")
    for asked, used in (("auto", "bf16-cl"), ("fp32", "fp32")):
        argv = run_argv(data, replace(train, precision=asked), budget=5, plan=plan.to_json(), trials=False)
        args = parser().parse_args(["train", "DATA", "--run-dir", "RUN", *argv])
        got_data, got_train, budget = _planned("DATA", *from_args(args), args, json.loads(args.plan))
        assert got_data == replace(data, size=(96, 128), bs=4, augment=True)
        assert got_train == replace(train, epochs=23, lr=2e-3, find_lr=True, loss="dice-ce", precision=used)
        assert not budget.trials
    assert "plan for 5 min" in capsys.readouterr().out
