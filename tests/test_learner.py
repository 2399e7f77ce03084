"""The learner's parts on their own: scores against counts done by hand, class weights, losses,
pretrained weights from a named file (never a download), and refusing a file that is not weights."""

import math
import pickle
from types import SimpleNamespace

import pytest
import torch
from makers import MACHINE
from training import demo

from seg.data.dataloaders import dataloaders
from seg.data.dataset import Dataset
from seg.errors import SettingsError
from seg.model.device import detect
from seg.model.learner import learner
from seg.model.losses import DiceCE, class_weights
from seg.model.metrics import metrics
from seg.model.pretrained import Pretrained, choose_pretrained
from seg.model.registry import BACKBONES, LOSSES
from seg.model.settings import DataSettings, TrainSettings


def scores_for(pred_classes, targ, codes):
    "Run the metrics over one batch as fastai's Recorder does."
    n = len(codes)
    logits = torch.nn.functional.one_hot(pred_classes, n).permute(0, 3, 1, 2).float()
    learn = SimpleNamespace(pred=logits, y=targ, to_detach=lambda b: b)
    ms = metrics(codes)
    for m in ms:
        m.reset()
    for m in ms:
        m.accumulate(learn)
    return {m.name: m.value for m in ms}


def test_scores_match_counts_by_hand():
    targ = torch.tensor([[[0, 0, 1, 1], [0, 2, 2, 0]]])
    pred = torch.tensor([[[0, 1, 1, 0], [0, 2, 0, 0]]])
    s = scores_for(pred, targ, ["background", "crack", "rust"])
    # crack: tp 1, fp 1, fn 1 -> dice 2/4, iou 1/3; rust: tp 1, fn 1 -> dice 2/3, iou 1/2
    assert s["dice_crack"] == pytest.approx(0.5) and s["iou_crack"] == pytest.approx(1 / 3)
    assert s["dice_rust"] == pytest.approx(2 / 3) and s["iou_rust"] == pytest.approx(0.5)
    assert s["dice"] == pytest.approx((0.5 + 2 / 3) / 2) and s["iou"] == pytest.approx((1 / 3 + 0.5) / 2)
    assert s["fg_acc"] == pytest.approx(2 / 4)  # 4 foreground pixels, 2 right
    # background: tp 3, fp 2 (crack->bg, rust->bg), fn 1 (bg->crack): dice 6/9
    assert s["dice_background"] == pytest.approx(6 / 9)


def test_a_class_absent_from_truth_and_prediction_is_not_a_zero():
    targ = torch.zeros(1, 4, 4, dtype=torch.long)
    targ[0, 0, 0] = 1
    s = scores_for(targ.clone(), targ, ["background", "cell", "nucleus"])
    assert math.isnan(s["dice_nucleus"]) and s["dice"] == 1.0  # the mean skips the class seen nowhere


def test_class_weights_favour_the_rare_class_and_are_capped():
    assert class_weights([0.9, 0.1]) == [1.0, 9.0]
    assert class_weights([0.999999, 0.000001])[1] == 50.0
    assert class_weights([0.5, 0.0, 0.5]) == [1.0, 1.0, 1.0]  # a class with no pixels gets no boost


def test_losses_run_and_decode():
    pred = torch.randn(2, 3, 8, 8, requires_grad=True)
    targ = torch.randint(0, 3, (2, 8, 8))
    for loss in LOSSES.values():  # every loss the registry names
        f = loss.build([1.0, 5.0, 5.0], "cpu")
        value = f(pred, targ)
        value.backward()
        assert value.item() > 0 and f.decodes(pred).shape == (2, 8, 8)
    assert isinstance(LOSSES["dice-ce"].build(None, "cpu"), DiceCE)
    assert LOSSES["ce"].build([1.0, 5.0], "cpu").func.weight is None  # plain ce ignores the weights
    assert LOSSES["weighted-ce"].build([1.0, 5.0], "cpu").func.weight.tolist() == [1.0, 5.0]


def test_every_backbone_builds_a_unet_and_names_its_imagenet_file():
    from fastai.vision.learner import create_unet_model
    for b in BACKBONES.values():
        model = create_unet_model(b.arch(), 2, (64, 64), pretrained=False)
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2, 64, 64)
        assert b.imagenet.startswith(b.name + "-") and b.imagenet.endswith(".pth")


@pytest.fixture(scope="module")
def dls(tmp_path_factory):
    ds = Dataset.open(demo(tmp_path_factory.mktemp("d") / "demo", n=6), access=MACHINE)
    return dataloaders(ds, DataSettings(size=64, bs=2, augment=False), device="cpu")


def test_weights_from_a_named_file(dls, tmp_path):
    import torchvision
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(state, path)
    settings = TrainSettings(arch="resnet18", weights=str(path))
    chosen = choose_pretrained(settings)
    assert chosen.used and chosen.source == str(path) and str(path) in chosen.message
    learn = learner(dls, settings, detect(), pretrained=chosen)
    assert torch.equal(learn.model[0][0].weight, state["conv1.weight"])
    assert torch.equal(learn.model[0][7][1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert not next(learn.model[0].parameters()).requires_grad  # frozen for the first epoch, as fastai does


def test_no_weights_anywhere_says_from_scratch(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch cache
    chosen = choose_pretrained(TrainSettings())
    assert not chosen.used and "training from scratch" in chosen.message and str(tmp_path) in chosen.message
    assert "switched off" in choose_pretrained(TrainSettings(pretrained=False)).message


def test_weights_for_another_backbone_or_not_weights_at_all_are_refused(dls, tmp_path):
    import torchvision
    wrong = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), wrong)
    with pytest.raises(SettingsError, match="does not fit a resnet18 backbone"):
        learner(dls, TrainSettings(arch="resnet18"), detect(), pretrained=Pretrained(True, str(wrong), ""))

    class Evil:  # a pickle that would run code when loaded without weights_only
        def __reduce__(self):
            return (print, ("pwned",))
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"conv1.weight": Evil()}))
    with pytest.raises(SettingsError, match="not a plain state dict"):
        learner(dls, TrainSettings(arch="resnet18"), detect(), pretrained=Pretrained(True, str(evil), ""))


def test_formats_are_timed_in_alternating_rounds_and_the_best_time_counts():
    from seg.model.number_formats import FP32, FP32_CL, ROUNDS, fastest, time_each
    calls, slow_first = [], iter([9.0, 1.1, 1.0, 1.2])  # a slow spell hits the first timing only
    timings = time_each([FP32, FP32_CL], lambda p: calls.append(p.name) or next(slow_first))
    assert ROUNDS == 2 and calls == ["fp32", "fp32-cl", "fp32", "fp32-cl"]  # A B A B, not A A B B
    assert timings == {"fp32": 1.0, "fp32-cl": 1.1}
    assert fastest([FP32, FP32_CL], timings) == FP32  # one slow spell does not decide the format
    assert fastest([FP32, FP32_CL], {"fp32": 1.0, "fp32-cl": 0.96}) == FP32  # within the 5% margin: float32
    assert fastest([FP32, FP32_CL], {"fp32": 1.0, "fp32-cl": 0.8}) == FP32_CL


def test_the_cpu_threads_are_the_cores_or_fewer_where_omp_num_threads_asks(monkeypatch):
    "torch's own convention: a machine shared with other work (or the suite's workers) asks for fewer threads."
    from seg.model.device import cpu
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = cpu().threads
    assert cores >= 1 and cpu().name == f"{cores} cores"
    for asked, threads in (("1", 1), (str(cores + 8), cores), ("0", cores), ("two", cores), ("", cores)):
        monkeypatch.setenv("OMP_NUM_THREADS", asked)
        assert cpu().threads == threads and cpu().name == f"{cores} cores", asked
