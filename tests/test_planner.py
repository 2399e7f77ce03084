"""The planner: what it reads from the data, the plans it makes for a time budget, and a planned run
from the CLI and from the Train page (real fastai, real timing of batches)."""

import json
import math

import numpy as np
import pytest
from conftest import ROOT
from makers import MACHINE, dataset, save
from streamlit.testing.v1 import AppTest
from training import demo

from seg import Dataset
from seg.model.device import cpu
from seg.model.settings import TrainSettings
from seg.training.planner import MIN_EPOCHS, DataFacts, clip_lr, measure_pace, plan, sizes_to_try, thinnest

PACE = 20.0  # s per training image per megapixel: about this 2-core CPU's, so plans here look like real ones


def lines(root, n=6, size=(256, 256), width=3, every=40):
    "Images with thin horizontal lines `width` px wide (cracks, membranes), rare foreground."
    rng = np.random.default_rng(0)
    for i in range(n):
        mask = np.zeros(size, np.uint8)
        for y in range(10 + i % 7, size[0] - width, every):
            mask[y:y + width, 5:-5] = 1
        image = np.clip(rng.integers(30, 60, (*size, 3)) + mask[..., None] * 150, 0, 255).astype(np.uint8)
        save(root / "images" / f"{i:02d}.png", image)
        save(root / "masks" / f"{i:02d}.png", mask)
    return root


def test_thinnest_structures_are_measured(tmp_path):
    for width in (2, 3, 6):
        ds = Dataset.open(lines(tmp_path / f"w{width}", width=width), access=MACHINE)
        assert thinnest(ds, ds.pairs) == pytest.approx(width, abs=1.0)
    ds = Dataset.open(dataset(tmp_path / "blobs", n=4), access=MACHINE)
    assert thinnest(ds, ds.pairs) > 4


def test_sizes_keep_the_images_aspect_in_multiples_of_32():
    sizes = sizes_to_try((320, 480))
    assert sizes[0] == (320, 480) and sizes[-1][1] == 64
    assert all(h % 32 == 0 and w % 32 == 0 and w >= h for h, w in sizes)
    assert sizes_to_try((100, 100))[0] == (96, 96)  # never larger than the images


def test_facts_of_a_dataset(tmp_path):
    facts = DataFacts.of(Dataset.open(demo(tmp_path / "d", n=20, size=96), access=MACHINE))
    assert (facts.n_train, facts.n_valid, facts.typical) == (16, 4, (96, 96))
    assert list(facts.fractions) == ["background", "cell"] and facts.fractions["cell"] < 0.2


def test_more_time_gives_a_larger_size_or_more_epochs(tmp_path):
    ds = Dataset.open(demo(tmp_path / "d", n=64, size=256), access=MACHINE)
    plans = [plan(ds, m, cpu(), pace=PACE) for m in (5, 15, 60)]
    for p in plans:
        assert p.epochs >= MIN_EPOCHS and p.seconds <= p.budget_min * 60
        assert p.size[0] % 32 == 0 and p.loss == "dice-ce"  # the demo's cells are 8% of the pixels
    assert [p.size[0] for p in plans] == sorted(p.size[0] for p in plans) and plans[0].size < plans[-1].size
    assert plans[0].size[0] < 256  # five minutes on a CPU: not the tutorial's full size
    assert any("Rare foreground" in r for r in plans[0].reasons)
    forever = plan(ds, None, cpu(), pace=PACE)
    assert forever.budget_min is None and any("Until you stop it" in r for r in forever.reasons)


def test_a_run_continuing_from_a_model_keeps_the_size_it_learned_at(tmp_path):
    ds = Dataset.open(demo(tmp_path / "d", n=64, size=256), access=MACHINE)
    chosen = plan(ds, 5, cpu(), pace=PACE)
    kept = plan(ds, 5, cpu(), pace=PACE, size=(256, 256))
    assert chosen.size != (256, 256) and kept.size == (256, 256)  # five minutes alone would choose a smaller one
    assert kept.epochs < chosen.epochs  # the time buys fewer epochs at the larger size, and says so
    assert kept.reasons[0].startswith("256 x 256 px (images 256 x 256): the size the model it continues from "
                                      f"learned at, kept; {kept.epochs} epochs fit in 5 min.")


def test_thin_structures_keep_their_pixels_even_when_time_is_short(tmp_path):
    ds = Dataset.open(lines(tmp_path / "cracks", n=40, size=(512, 512), width=3), access=MACHINE)
    p = plan(ds, 5, cpu(), pace=PACE)
    assert 3 * max(p.size) / 512 >= 1.5  # the 3-px lines are still 1.5 px wide after the resize
    assert any("thin structures" in r for r in p.reasons)
    assert p.epochs < MIN_EPOCHS  # and the plan says that fewer epochs fit


def test_few_pairs_take_the_safe_learning_rate_and_common_foreground_keeps_the_loss(tmp_path):
    ds = Dataset.open(dataset(tmp_path / "few", n=8, size=(96, 96)), access=MACHINE)  # blobs: a third of the pixels
    p = plan(ds, 5, cpu(), pace=PACE)
    assert not p.find_lr and p.lr == 1e-3 and any("too few for lr_find" in r for r in p.reasons)
    assert p.loss == "dice-ce"  # the default, as no class is rare here: TrainSettings' loss is kept
    assert clip_lr(None) == 1e-3 and clip_lr(1.0) == 3e-3 and clip_lr(1e-6) == 3e-4 and clip_lr(2e-3) == 2e-3


def test_the_pace_is_measured_on_this_device(tmp_path):
    ds = Dataset.open(demo(tmp_path / "d", n=8, size=64), access=MACHINE)
    pace = measure_pace(ds, cpu(), "resnet18")
    assert 0 < pace.seconds < 1000 and math.isfinite(pace.seconds)
    from seg.model.number_formats import BY_NAME, fastest, formats_for
    assert set(pace.timings) == {c.name for c in formats_for("cpu", "auto")}  # each format timed ...
    assert pace.precision == fastest([BY_NAME[n] for n in pace.timings], pace.timings).name  # ... the fastest
    p = plan(ds, 5, cpu(), pace=pace)
    assert p.precision == pace.precision and p.train_settings().precision == pace.precision
    assert any("the fastest on this device" in r for r in p.reasons)
    assert plan(ds, 5, cpu(), TrainSettings(precision="fp32"), pace=pace).train_settings(
        TrainSettings(precision="fp32")).precision == "fp32"  # asked for: kept


def test_the_train_page_plans_for_a_budget(home, tmp_path):
    from training import end_runs
    data = demo(tmp_path / "d", n=24, size=64)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.segmented_control(key="source").set_value("folder").run()
    at.text_input(key="folder").set_value(str(data)).run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="arch").set_value("resnet18").run()
    at.segmented_control(key="budget").set_value("5 min").run()
    assert not at.exception, at.exception
    assert "Plan for 5 min" in at.success[0].value
    planned = at.slider(key="epochs").value
    assert at.select_slider(key="train_size").value == 64  # the images' own size: nothing larger
    assert any("planned from batches timed on it" in c.value for c in at.caption)
    try:
        at.button(key="start").click().run()
        assert not at.exception, at.exception
        run = next((home / "runs").iterdir())
        cmd = json.loads((run / "launch.json").read_text())["cmd"]
        assert "--plan" in cmd and cmd[cmd.index("--epochs") + 1] == str(planned)
        assert cmd[cmd.index("--budget") + 1] == "5" and "--no-trials" not in cmd  # the run tries candidates first
    finally:
        end_runs(home / "runs")
    at.slider(key="epochs").set_value(3).run()  # a setting moved by hand: manual again
    assert at.segmented_control(key="budget").value == "manual" and not at.success



def test_imagenet_weights_the_user_names_are_used_by_the_plan(tmp_path):
    import torch
    from torchvision.models import resnet18

    from seg.model.settings import TrainSettings
    weights = tmp_path / "resnet18-imagenet.pth"
    torch.save(resnet18().state_dict(), weights)  # the file a user names (untrained here: no download)
    ds = Dataset.open(demo(tmp_path / "d", n=12, size=64), access=MACHINE)
    p = plan(ds, 5, cpu(), TrainSettings(arch="resnet18", weights=str(weights)), pace=PACE)
    assert p.pretrained and any(str(weights) in r and "fine_tune" in r for r in p.reasons)
    scratch = plan(ds, 5, cpu(), TrainSettings(arch="resnet18", pretrained=False), pace=PACE)
    assert not scratch.pretrained and not any("fine_tune" in r for r in scratch.reasons)
