"""Real tiny trainings through `python -m seg train` in a subprocess, read back from the run folder."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from makers import dataset
from training import TINY, cli, demo, seg, start, wait_for

from seg import runs
from seg.errors import RunError
from seg.runs import Run


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return demo(tmp_path_factory.mktemp("demo") / "demo")


def test_run_folder_holds_config_events_weights_samples(finished):
    run_dir = finished.run
    *_, done, full = finished.stdout.strip().splitlines()
    assert done.startswith("completed: Completed 3 epochs.")
    assert "validation images at their own size (best weights" in full  # besides the training-size scores
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["train"]["epochs"] == 3 and cfg["train"]["arch"] == "resnet18" and cfg["data"]["size"] == 64
    assert cfg["codes"] == ["background", "cell"]
    assert cfg["dataset"]["pairs"] == 12 and cfg["dataset"]["train"] == 10 and len(cfg["dataset"]["fingerprint"]) == 16
    assert cfg["dataset"]["typical_size"] == [128, 128] and cfg["data"]["within"] == []
    assert cfg["device"]["kind"] == "cpu" and cfg["versions"]["fastai"] and cfg["versions"]["torch"]
    assert cfg["pretrained"]["used"] is False and "from scratch" in cfg["pretrained"]["message"]
    assert cfg["class_weights"][0] == 1.0 and cfg["class_weights"][1] > 1.0  # cells are the rarer class

    lines = (run_dir / "events.jsonl").read_text().splitlines()
    events = [json.loads(x) for x in lines]
    assert all("type" in e and "t" in e for e in events)
    assert events[0]["type"] == "status" and events[0]["status"] == "running"
    assert events[0]["plan"] == {"epochs": 3, "batches_per_epoch": 2, "total_iterations": 6}
    assert events[-1] == {**events[-1], "type": "status", "status": "completed"}
    batches = [e for e in events if e["type"] == "batch"]
    assert [b["iteration"] for b in batches] == [1, 2, 3, 4, 5, 6] and all(b["loss"] > 0 and b["lr"] > 0
                                                                          for b in batches)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    for e in epochs:
        assert {"train_loss", "valid_loss", "dice", "iou", "fg_acc", "dice_cell", "iou_background"} <= set(e)
        assert 0 <= e["dice"] <= 1 and e["dice"] == e["dice_cell"]  # one foreground class: the mean is it
    notes = [e["message"] for e in events if e["type"] == "note"]
    assert any("training from scratch" in n for n in notes)

    from fastai.vision.all import resnet18
    from fastai.vision.learner import create_unet_model
    model = create_unet_model(resnet18, 2, (64, 64), pretrained=False)
    for name in ("best", "last"):
        state = torch.load(run_dir / f"{name}.pth", weights_only=True)  # plain tensors: no pickle of code
        model.load_state_dict(state)
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["epoch-01.png", "epoch-02.png", "epoch-03.png"]
    assert not list(run_dir.glob(".*"))  # nothing temporary left: no .tmp files, no .lr_find


def test_the_number_format_is_timed_chosen_and_recorded(finished, data, tmp_path):
    from seg.model.number_formats import BY_NAME, fastest, formats_for
    cfg = json.loads((finished.run / "config.json").read_text())
    used = cfg["precision"]
    timed = used["timings"]
    assert used["requested"] == "auto" and set(timed) == {p.name for p in formats_for("cpu", "auto")}
    assert used["name"] == fastest([BY_NAME[n] for n in timed], timed).name  # the fastest (float32 on a tie)
    events = [json.loads(x) for x in (finished.run / "events.jsonl").read_text().splitlines()]
    assert [e["name"] for e in events if e["type"] == "precision"] == [used["name"]]
    assert any(e["type"] == "note" and "the fastest of a few steps timed" in e["message"] for e in events)
    # asked for: bfloat16 on this CPU trains (emulated where not native), weights float32 and plain
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "bf16", "--epochs", 1, "--precision", "bf16", *TINY)
    assert rc == 0, err
    cfg = json.loads((tmp_path / "bf16" / "config.json").read_text())
    assert cfg["precision"]["name"] == "bf16-cl" and cfg["precision"]["timings"] == {}
    state = torch.load(tmp_path / "bf16" / "last.pth", weights_only=True)
    assert all(v.dtype in (torch.float32, torch.int64) and v.is_contiguous() for v in state.values())
    epoch = json.loads([x for x in (tmp_path / "bf16" / "events.jsonl").read_text().splitlines()
                        if '"epoch"' in x][-1])
    assert 0 <= epoch["dice"] <= 1 and epoch["valid_loss"] == epoch["valid_loss"]
    # the same kind of run again on this device: the timings are remembered, not timed again
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "again", "--epochs", 1, *TINY)
    assert rc == 0, err
    again = json.loads((tmp_path / "again" / "config.json").read_text())["precision"]
    assert again["remembered"] and again["timings"] == timed and again["name"] == used["name"]
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "fp16", "--precision", "fp16", *TINY)
    assert rc == 2 and "needs a CUDA GPU" in err and not (tmp_path / "fp16").exists()


def test_runs_lists_and_reads_incrementally(finished, tmp_path):
    import shutil
    run_dir = Path(shutil.copytree(finished.run, tmp_path / "first"))  # a copy: this test appends to it
    run = Run(run_dir)
    first = run.poll()
    assert first and run.poll() == []  # nothing new: the second read returns nothing
    with open(run_dir / "events.jsonl", "a") as f:  # a half-written line waits for its newline
        f.write('{"type": "heartbeat", "t": 1')
    assert run.poll() == []
    with open(run_dir / "events.jsonl", "a") as f:
        f.write('}\n')
    assert run.poll() == [{"type": "heartbeat", "t": 1}]
    row = run.summary()
    assert row["status"] == "completed" and row["epochs"] == "3/3" and row["dice"] is not None
    listed = json.loads(seg("runs", run_dir.parent, "--json").stdout)
    assert [r["run"] for r in listed] == ["first"]


def test_stop_request_ends_stopped_with_weights(data, tmp_path):
    run = runs.start(data, tmp_path / "r", ["--epochs", "100", *TINY])  # the app's way: its own process
    wait_for(run, lambda r: r.epochs())
    run.request_stop()
    wait_for(run, lambda r: r.status().status == "stopped", timeout=60)
    assert run.status().message.startswith("Stopped on request")
    assert len(run.epochs()) < 100
    torch.load(run.path / "best.pth", weights_only=True)
    torch.load(run.path / "last.pth", weights_only=True)


def test_sigterm_stops_after_the_batch(data, tmp_path):
    p = start("train", data, "--run-dir", tmp_path / "r", "--epochs", "100", *TINY)
    run = wait_for(Run(tmp_path / "r"), lambda r: r.epochs())
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0, out
    run.poll()
    assert run.status().status == "stopped" and (run.path / "best.pth").exists()


def test_sigkill_is_seen_as_failed_and_frees_the_device(data, tmp_path):
    p = start("train", data, "--run-dir", tmp_path / "r", "--epochs", "100", *TINY)
    run = wait_for(Run(tmp_path / "r"), lambda r: r.batches())
    assert run.status().status == "running"
    # A second start while it runs (here through the same main(), the lock being the other process's): refused,
    # naming the run, nothing written.
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "second", *TINY)
    assert rc == 2 and "busy" in err and str(tmp_path / "r") in err and not (tmp_path / "second").exists()
    with pytest.raises(RunError, match="already training"):
        runs.start(data, tmp_path / "third", TINY)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    s = run.status()
    assert s.status == "failed" and "ended without a word" in s.message
    # The kernel released the lock with the process: the next run may start.
    assert runs.DeviceLock("cpu").busy() is None


def test_a_slow_start_is_starting_not_failed_and_a_budget_too_short_says_why(data, tmp_path, monkeypatch):
    """Under load a planned run's process took more than STARTING_S before its first line or event (imports,
    then the planner's timing of the device): the app judged it `failed` with an empty output.log while it
    lived, and went on to train. Here every start is that slow (STARTING_S 0), and the budget (3 s) is used
    up by the start: the run is starting while its process lives, trains a step and says why it trained no
    more, in its status and its output; a process that dies before a word is failed, saying what that means."""
    from seg.runs import folder
    monkeypatch.setattr(folder, "STARTING_S", 0.0)
    run = runs.start(data, tmp_path / "r", ["--budget", "0.05", "--no-trials", "--arch", "resnet18",
                                            "--no-pretrained"])  # as the Label page's retrain starts one
    seen = []
    end = time.time() + 180
    while time.time() < end:
        run.poll()
        seen.append(run.status())
        if not seen[-1].active:
            break
        time.sleep(0.2)
    log = (run.path / "output.log").read_text()
    s = seen[-1]
    assert seen[0].status == "starting" and "so far" in seen[0].message
    assert [x.status for x in seen if not x.active] == [s.status] == ["completed"], (s, log)
    assert "budget was used up before training began" in s.message and "give at least" in s.message, s.message
    assert s.message in log and "Traceback" not in log  # what the page shows, the output says too
    assert (run.path / "last.pth").exists() and len(run.batches()) == 1
    launch = json.loads((run.path / "launch.json").read_text())
    assert launch["cmd"][-6:-4] == ["--budget", "0.05"] and launch["host"] and launch["started"] > 0

    quiet = runs.start(data, tmp_path / "q", TINY)  # killed before it printed a word
    pid = json.loads((quiet.path / "launch.json").read_text())["pid"]
    assert quiet.status().status == "starting"
    os.kill(pid, signal.SIGKILL)
    end = time.time() + 30
    while folder.pid_alive(pid) and time.time() < end:
        time.sleep(0.1)
    s = quiet.status()
    assert s.status == "failed" and "ended before it printed a word" in s.message and "killed" in s.message
    (quiet.path / "launch.json").write_text(json.dumps({**launch, "pid": os.getpid()}))  # a pid now another's
    assert quiet.status().status == "failed"


def test_a_file_broken_during_training_fails_the_run_with_its_message(tmp_path):
    data = demo(tmp_path / "demo")
    run = runs.start(data, tmp_path / "r", ["--epochs", "100", *TINY])
    wait_for(run, lambda r: r.epochs())
    for f in (data / "images").iterdir():
        f.write_bytes(b"not an image any more")
    wait_for(run, lambda r: r.status().status == "failed", timeout=60)
    assert "not a readable image" in run.status().message.lower() or "Error" in run.status().message
    assert "Traceback" not in run.status().message
    torch.load(run.path / "last.pth", weights_only=True)  # what was learnt before is kept


def test_from_continues_from_the_earlier_weights(data, finished, tmp_path):
    first = finished.run
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "next", "--from", first, "--epochs", "1", "--lr", "1e-7",
                     *TINY)
    assert rc == 0, err
    cfg = json.loads((tmp_path / "next" / "config.json").read_text())
    assert cfg["from"] == str(first / "best.pth")
    before = torch.load(first / "best.pth", weights_only=True)
    after = torch.load(tmp_path / "next" / "last.pth", weights_only=True)
    conv = [k for k in before if k.endswith("weight") and before[k].ndim == 4][0]
    assert torch.allclose(before[conv], after[conv], atol=1e-4)  # lr 1e-7: still the first run's weights
    # Another backbone cannot take them: refused in one line.
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "bad", "--from", first, "--size", 64, "--arch", "resnet34")
    assert rc == 2 and "pass --arch resnet18" in err
    assert not (tmp_path / "bad").exists()


def test_a_run_continuing_from_a_model_never_hands_back_worse_weights(data, finished, tmp_path):
    """The model it continues from is scored first and is the bar for best.pth: an epoch at a ruinous learning
    rate does not replace it, and the run says so (a retrain with corrections once ended 0.03 Dice below the
    model it started from, on a busy machine)."""
    first = finished.run
    rc, out, err = cli("train", data, "--run-dir", tmp_path / "next", "--from", first, "--epochs", "1", "--lr", "1",
                       *TINY)
    assert rc == 0, out + err
    run = Run(tmp_path / "next")
    run.poll()
    note = next(n for n in run.notes() if n.startswith("The weights it continues from score "))
    assert note.endswith("on the validation images: best.pth keeps them until an epoch beats them.")
    before = torch.load(first / "best.pth", weights_only=True)
    best = torch.load(tmp_path / "next" / "best.pth", weights_only=True)
    last = torch.load(tmp_path / "next" / "last.pth", weights_only=True)
    conv = [k for k in before if k.endswith("weight") and before[k].ndim == 4][0]
    assert torch.equal(before[conv], best[conv]) and not torch.allclose(before[conv], last[conv])
    assert "No epoch beat the weights it continued from (" in run.status().message
    dice = run.epochs()[-1].get("dice")
    assert dice is None or dice != dice or dice < float(note.split("Dice ")[1].split(" ")[0])  # the epoch: worse


def test_a_run_that_finds_its_learning_rate_first_trains_to_the_end(data, tmp_path):
    # lr_find is a fit of its own; fastai resets every callback's `run` after a fit, which once turned the
    # run folder of the stop, checkpoint and sample callbacks into True: every planned run with the finder
    # failed at its first batch ("'bool' object has no attribute 'stop_requested'")
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    rc, out, err = cli("train", data, "--run-dir", tmp_path / "r", "--find-lr", "--epochs", "2", *TINY)
    assert rc == 0, out + err
    # in this process: the run's own handlers (end after the batch) are gone again, Ctrl-C is as it was
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    run = Run(tmp_path / "r")
    run.poll()
    assert run.status().status == "completed", run.of_type("status")[-1]
    assert len(run.of_type("lr")) == 1 and len(run.epochs()) == 2
    assert (run.path / "best.pth").exists() and (run.path / "samples" / "epoch-02.png").exists()
    assert not (run.path / ".lr_find").exists()


def test_bad_settings_and_data_exit_with_one_line(data, tmp_path, finished):
    cases = [
        (["--epochs", "0"], "Epochs 0"),
        (["--lr", "-1"], "Learning rate -1"),
        (["--size", "100"], "multiples of 32"),
        (["--bs", "0"], "Batch size 0"),
        (["--weights", tmp_path / "missing.pth"], "not found"),
    ]
    r = seg("train", data, "--run-dir", tmp_path / "x", *cases[0][0])  # one in a real process: its exit code
    assert r.returncode == 2 and cases[0][1] in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for args, message in cases:  # the rest through the same main() in this process (no second fastai import)
        rc, out, err = cli("train", data, "--run-dir", tmp_path / "x", *args)
        assert rc == 2 and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and not out and not (tmp_path / "x").exists()
    broken = dataset(tmp_path / "broken", n=3)
    (broken / "images" / "01.png").write_bytes(b"garbage")
    rc, _, err = cli("train", broken, "--run-dir", tmp_path / "x")
    assert rc == 2 and "images/01.png" in err and "seg inspect" in err
    # An existing run is never overwritten.
    run_dir = finished.run
    before = (run_dir / "events.jsonl").read_bytes()
    rc, _, err = cli("train", data, "--run-dir", run_dir, *TINY)
    assert rc == 2 and "already holds a run" in err
    assert (run_dir / "events.jsonl").read_bytes() == before


@pytest.mark.slow
def test_lr_find_writes_curve_and_suggestions(data, tmp_path):
    out = tmp_path / "lr.json"
    rc, stdout, err = cli("lr-find", data, "--num-it", "30", "--out", out, *TINY)
    assert rc == 0, err
    found = json.loads(out.read_text())
    assert set(found["suggestions"]) == {"valley", "minimum", "steep", "slide"}
    assert all(1e-7 <= v <= 10 for v in found["suggestions"].values() if v is not None)
    assert found["suggestions"]["valley"] is not None and found["suggestions"]["minimum"] is not None
    assert len(found["lrs"]) == len(found["losses"]) > 5 and found["lrs"] == sorted(found["lrs"])
    assert "valley" in stdout
    rc, _, err = cli("lr-find", data, "--num-it", "5", *TINY)
    assert rc == 2 and "at least 20" in err


@pytest.mark.slow
def test_the_same_command_under_accelerate_launch(data, tmp_path):
    "The single-process path of `accelerate launch` on the CPU (fastai's multi-process path needs CUDA)."
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from conftest import ROOT
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate, "accelerate is in requirements.txt"
    r = subprocess.run([accelerate, "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "seg", "train", str(data),
                        "--run-dir", str(tmp_path / "r"), "--epochs", "1", *TINY],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    run = Run(tmp_path / "r")
    run.poll()
    assert run.status().status == "completed" and len(run.epochs()) == 1 and (tmp_path / "r" / "best.pth").exists()
