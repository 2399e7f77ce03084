"""Trials decide a planned run: the halving logic on a fake pace and a fake scorer (which candidate wins,
how the time is shared), the schedule to a clock, and a real short trial run from the CLI."""

import json
import math
import time

import pytest
from conftest import ROOT
from makers import MACHINE
from streamlit.testing.v1 import AppTest
from training import cli, demo, seg

from seg.prediction.model import Model
from seg.training.budget import NoValidation, Schedule
from seg.training.halving import (
    MIN_STEPS,
    Candidate,
    Standing,
    candidates,
    explain,
    halve,
    how_many,
    rounds,
)


class Clock:
    "A fake clock the fake trainer moves on."

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Fake:
    """A fake trainer: a candidate's Dice grows with its steps towards its `ceiling`; a step takes `step_s`
    (a fake pace: larger images, slower steps); a turn takes the seconds it is given times `over`."""

    def __init__(self, clock, ceiling, step_s, over=1.0, first_over=None):
        self.clock, self.ceiling, self.step_s, self.over, self.first_over = clock, ceiling, step_s, over, first_over
        self.steps, self.turns, self.dropped, self.culls = {}, [], [], []

    def min_seconds(self, c, cull=False):
        return MIN_STEPS * self.step_s[c] + (0.5 if cull else 1.0)  # a culling round scores on fewer images

    def turn(self, c, seconds, cull=False):
        self.culls.append(cull)
        over = self.first_over if self.first_over and not self.turns else self.over
        self.turns.append((c, seconds))
        steps = max(1, int(seconds // self.step_s[c]))
        self.steps[c] = self.steps.get(c, 0) + steps
        self.clock.now += seconds * over
        dice = self.ceiling[c] * (1 - math.exp(-self.steps[c] / 40))
        return dice, dice, steps

    def drop(self, c):
        self.dropped.append(c)


def six():
    sizes = [(64, 64), (96, 96), (128, 128)]
    return [Candidate(s, lr, "dice-ce") for s in sizes for lr in (1e-3, 3e-3)]


def test_the_better_half_goes_on_each_round_and_the_best_wins():
    clock = Clock()
    cands = six()
    ceiling = {c: 0.5 + 0.05 * i for i, c in enumerate(cands)}  # the last is best
    fake = Fake(clock, ceiling, {c: 0.5 for c in cands})
    winner, standings = halve(cands, fake, 600.0, clock=clock)
    assert winner == cands[-1] and standings[0].candidate == winner
    assert rounds(6) == [6, 3, 2] and len(fake.turns) == 6 + 3 + 2
    assert [c for c, _ in fake.turns[6:9]] == cands[3:]  # round 2: the better half of round 1, in order
    assert set(fake.dropped) == set(cands) - {winner}
    assert [s.out for s in standings] == [None, 3, 2, 1, 1, 1]  # the later out, the higher in the table
    assert clock.now == pytest.approx(600.0)  # the whole time, and not more
    first_round = sum(s for _, s in fake.turns[:6])
    assert first_round == pytest.approx(200.0)  # each round an equal share of the time
    assert fake.culls == [True] * 9 + [False] * 2  # rounds that only drop may score on fewer images; the last on all
    fake = Fake(clock, ceiling, {c: 0.5 for c in cands})
    halve(cands[:2], fake, 60.0, clock=clock)
    assert fake.culls == [False, False]  # one round: it picks the winner


def test_a_turn_that_runs_over_takes_from_the_later_rounds_not_from_its_rivals():
    clock = Clock()
    cands = six()[:4]
    fake = Fake(clock, {c: 0.6 for c in cands}, {c: 0.5 for c in cands}, first_over=3.0)
    halve(cands, fake, 400.0, clock=clock)
    assert clock.now == pytest.approx(400.0)  # the overrun came out of the trials' own time
    assert [s for _, s in fake.turns[:4]] == [50.0] * 4  # the same turn for every candidate of a round
    assert [s for _, s in fake.turns[4:]] == [50.0] * 2  # round 2: the 100 s left of its 200


def test_more_steps_win_when_the_ceiling_is_the_same_the_smaller_size_at_the_same_time():
    "A fake pace: the larger size takes four times as long a step; in the same time it learns less."
    clock = Clock()
    small, large = Candidate((64, 64), 3e-3, "dice-ce"), Candidate((128, 128), 3e-3, "dice-ce")
    fake = Fake(clock, {small: 0.7, large: 0.75}, {small: 0.25, large: 1.0})
    winner, standings = halve([large, small], fake, 60.0, clock=clock)
    assert winner == small and standings[1].candidate == large and standings[1].out == 1
    assert fake.steps[small] == 4 * fake.steps[large]


def test_the_rules_choice_keeps_its_place_unless_clearly_beaten_and_soft_dice_decides_before_anything_is_learned():
    a, b, c = (Candidate((64, 64), lr, "ce") for lr in (1e-3, 2e-3, 3e-3))
    assert Standing(a, dice=0.0, soft=0.2).key() < Standing(b, dice=0.0, soft=0.3).key()  # nothing predicted yet
    assert Standing(a, dice=0.01, soft=0.5).key() < Standing(b, dice=0.2, soft=0.1).key()  # once learned, Dice

    class Scores(Fake):
        def turn(self, cand, seconds, cull=False):
            self.clock.now += seconds
            return self.ceiling[cand], 0.4, 10

    clock = Clock()  # the demo at 5 min: the rule 0.785, a smaller size 0.793 (then trained to 0.906; the rule 0.931)
    winner, _ = halve([a, b], Scores(clock, {a: 0.785, b: 0.793}, {}), 30.0, clock=clock)
    assert winner == a
    winner, _ = halve([a, b], Scores(clock, {a: 0.785, b: 0.80}, {}), 30.0, clock=clock)
    assert winner == b  # beaten by more than the margin
    winner, _ = halve([b, c, a], Scores(clock, {a: 0.7, b: 0.5, c: 0.5}, {}), 30.0, clock=clock, favour=b)
    assert winner == a
    winner, _ = halve([a, b, c], Scores(clock, {a: 0.5, b: 0.5, c: 0.5}, {}), 30.0, clock=clock)
    assert winner == a  # a tie goes to the earlier


def test_a_lead_the_images_disagree_about_does_not_displace_the_rules_choice():
    a, b = Candidate((96, 96), 1e-3, "dice-ce"), Candidate((64, 64), 3e-3, "dice-ce")

    class PerImage(Fake):
        def turn(self, cand, seconds, cull=False):
            self.clock.now += seconds
            images = self.ceiling[cand]
            return sum(images) / len(images), 0.4, 10, images

    rule = [0.80, 0.85, 0.78, 0.86, 0.83, 0.82, 0.81, 0.84]
    noisy = [0.86, 0.82, 0.84, 0.83, 0.90, 0.80, 0.85, 0.83]  # 0.017 ahead on average, behind on three images
    steady = [x + 0.017 for x in rule]  # 0.017 ahead on every image
    clock = Clock()
    rows = []
    winner, standings = halve([a, b], PerImage(clock, {a: rule, b: noisy}, {}), 30.0, clock=clock, report=rows.append)
    assert winner == a and standings[1].per_image == noisy
    assert rows[0]["per_image"] == rule and rows[-1]["margin"] > 0.017  # two standard errors of the differences
    said = explain(winner, standings, a, 30.0, 8)
    assert "64 x 64 px, lr 3e-03, weighted cross-entropy + Dice led by 0.017" in said and "image by image" in said
    winner, _ = halve([a, b], PerImage(clock, {a: rule, b: steady}, {}), 30.0, clock=clock)
    assert winner == b  # the same lead on every image: a real one


def test_the_trials_end_early_when_the_rules_choice_is_far_ahead():
    cands = six()
    rule = cands[0]

    class Scores(Fake):
        def turn(self, cand, seconds, cull=False):
            self.turns.append((cand, seconds))
            self.clock.now += seconds
            return self.ceiling[cand], 0.4, 10

    clock = Clock()  # the rule at 0.7, every other at most 0.6 after round 1: far more than twice the margin
    fake = Scores(clock, {c: 0.7 if c == rule else 0.5 + 0.02 * i for i, c in enumerate(cands)}, {})
    rows = []
    winner, standings = halve(cands, fake, 600.0, clock=clock, report=rows.append)
    assert winner == rule and len(fake.turns) == 6  # round 1 only: the 400 s of rounds 2 and 3 go to its training
    assert clock.now == pytest.approx(200.0) and set(fake.dropped) == set(cands) - {rule}
    assert [s.out for s in standings] == [None, 1, 1, 1, 1, 1] and rows[-1]["settled"] is True
    assert "so the trials ended there" in explain(winner, standings, rule, 200.0, 8)
    clock = Clock()  # a lead of 0.015 is more than the margin but not twice it: every round is played
    fake = Scores(clock, {c: 0.7 if c == rule else 0.685 for c in cands}, {})
    winner, standings = halve(cands, fake, 600.0, clock=clock)
    assert winner == rule and len(fake.turns) == 6 + 3 + 2 and clock.now == pytest.approx(600.0)
    assert "so the trials ended there" not in explain(winner, standings, rule, 600.0, 8)
    clock = Clock()  # far ahead, but not the rules' choice: halving goes on (only the rule's lead ends it early)
    fake = Scores(clock, {c: 0.7 if c == cands[1] else 0.5 for c in cands}, {})
    winner, _ = halve(cands, fake, 600.0, clock=clock)
    assert winner == cands[1] and len(fake.turns) == 6 + 3 + 2


def test_how_many_candidates_fit_the_time():
    clock = Clock()
    cands = six()
    fake = Fake(clock, {}, {c: 0.01 * c.size[0] for c in cands})  # 0.64, 0.96, 1.28 s a step
    assert len(how_many(cands, fake, 1000.0)) == 6
    some = how_many(cands, fake, 60.0)  # 6 need turns of 60/3/6 s: too short; fewer, the fast ones
    assert 2 <= len(some) < 6 and all(fake.min_seconds(c) <= 60.0 / len(rounds(len(some))) / len(some) for c in some)
    assert how_many(cands, fake, 10.0) == []  # not two turns of MIN_STEPS steps: no trials
    # three candidates play two rounds, so their first turns are culling ones, estimated as such (fewer images scored)
    three = [Candidate((64, 64), lr, "dice-ce") for lr in (1e-3, 2e-3, 3e-3)]
    fake = Fake(clock, {}, {c: 0.64 for c in three})
    assert fake.min_seconds(three[0], cull=True) * 6 < 35.0 < fake.min_seconds(three[0]) * 6
    assert how_many(three, fake, 35.0) == three


def test_no_trials_is_said_in_the_run_folder_with_its_figures(tmp_path):
    "Too little time for two candidates: trials.jsonl holds one `skipped` line, and a `trials` event the same."
    from seg.runs import EventLog, Run
    from seg.training.trials import search
    clock = Clock()
    cands = six()
    fake = Fake(clock, {}, {c: 0.01 * c.size[0] for c in cands})  # the two at 64 px: 6.12 s for a first turn
    out = search(cands, fake, 10.0, tmp_path, EventLog(tmp_path / "events.jsonl"), cands[0], spent=20.0)
    assert out.winner is None and out.learn is None and not fake.turns
    rows = [json.loads(line) for line in (tmp_path / "trials.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["type"] == "skipped"
    row = rows[0]
    assert row["reason"] == out.reason and row["seconds"] == 10.0 and row["needed"] == pytest.approx(12.2)
    assert how_many(cands, fake, row["needed"] - 0.1) == [] and len(how_many(cands, fake, row["needed"] + 0.1)) == 2
    assert row["budget_min"] == 1.0  # a quarter of it holds the 12.2 s, and half of what is left after 20 s
    assert "10 s of trials" in out.reason and "12 s needed" in out.reason and "about 1 min" in out.reason
    run = Run(tmp_path)
    run.poll()
    said = run.of_type("trials")
    assert len(said) == 1 and said[0]["status"] == "skipped" and said[0]["reason"] == out.reason
    assert said[0]["needed"] == row["needed"] and said[0]["budget_min"] == 1.0
    assert run.trials() == {"status": "skipped", "rows": [], "winner": None, "reason": out.reason}
    late = tmp_path / "late"  # start-up and planning took the whole budget: no time at all for trials
    late.mkdir()
    out = search(cands, fake, -31.0, late, EventLog(late / "events.jsonl"), cands[0], spent=122.0)
    row = json.loads((late / "trials.jsonl").read_text())
    assert row["seconds"] == 0.0 and "left no time of the budget" in out.reason and row["budget_min"] == 2.5


def test_the_train_page_says_why_no_trials_ran(finished, home):
    from apps import open_app
    from training import RUN

    from seg.runs import EventLog
    from ui.text import md
    run = finished.into(home)
    reason = "No trials: 15 s of trials do not hold two candidates' first turns of 8 steps each."
    EventLog(run / "events.jsonl").write("trials", status="skipped", reason=reason, seconds=15.0, needed=40.0,
                                         budget_min=3.0)
    at = open_app("train", run=RUN)
    assert not at.exception, at.exception
    assert any(m.value.startswith("**Trials**: none") for m in at.markdown)
    assert any(c.value == md(reason) for c in at.caption)  # as written: Markdown escaped
    assert not [d for d in at.dataframe if "soft_dice" in d.value.columns]


def test_candidates_are_around_the_rule_smaller_and_larger_and_the_loss_on_a_close_call():
    from seg.training.planner import sides
    typical = (320, 480)

    def at(share):
        return sides(typical, min(480, max(64, int(round(320 * share / 32)) * 32)))

    rare = {"background": 0.98, "crack": 0.02}
    out = candidates((224, 320), 1e-3, "dice-ce", at, rare)
    assert out[0] == Candidate((224, 320), 1e-3, "dice-ce")  # the rule's own first
    longer = sorted({max(c.size) for c in out})
    assert longer[0] < 320 < longer[-1]  # a smaller size and a larger one
    assert {c.lr for c in out} == {1e-3, 3e-3} and {c.loss for c in out} == {"dice-ce"}  # 2%: not a close call
    close = candidates((224, 320), 1e-3, "dice-ce", at, {"background": 0.9, "cell": 0.1})
    assert Candidate((224, 320), 1e-3, "ce") in close
    full = candidates((320, 480), 1e-3, "dice-ce", lambda share: sides(typical, min(480, int(480 * share) // 32 * 32)),
                      rare)  # the rule is at the images' own size: two smaller ones, nothing larger
    assert max(max(c.size) for c in full) == 480 and len({c.size for c in full}) == 3


def test_the_outcome_is_said_in_words():
    rule, other = Candidate((320, 480), 1e-3, "dice-ce"), Candidate((160, 240), 3e-3, "dice-ce")
    text = explain(other, [Standing(other, dice=0.41, steps=60), Standing(rule, dice=0.12, steps=15, out=1)], rule,
                   150.0, 8)
    assert "160 x 240 px, lr 3e-03" in text and "won with Dice 0.410" in text and "320 x 480 px" in text
    assert "out after round 1" in text and "2.5 min" in text and "first round" not in text
    three = [Standing(other, dice=0.41, steps=60), Standing(rule, dice=0.12, steps=15, out=2),
             Standing(Candidate((96, 96), 3e-3, "dice-ce"), dice=0.1, steps=30, out=1)]
    assert "scored on 8 validation images at their own size, the first round on 4)" in explain(other, three, rule,
                                                                                                150.0, 8, 4)
    untried = explain(other, [Standing(other, dice=0.41, steps=60)], rule, 150.0, 8)
    assert "320 x 480 px" in untried and "too slow here for a trial turn" in untried


def test_a_schedule_holds_the_steps_that_fit_the_time():
    s = Schedule.of(10, 4)
    assert (s.epochs, s.per_epoch) == (3, 4) and s.steps >= 10
    assert Schedule.of(3, 10) == Schedule(1, 3)  # fewer steps than a pass: one shorter pass
    f = Schedule.fitting(100.0, 1.0, 20, 5.0)  # passes of 20 steps + 5 s: four fit (100 s), nothing more
    assert f.steps == 80 and f.epochs == 4
    assert Schedule.fitting(0.0, 1.0, 20, 5.0).steps == 1


@pytest.mark.slow
def test_a_short_trial_run_from_the_cli_ends_within_its_budget_and_the_train_page_shows_it(tmp_path, home,
                                                                                          monkeypatch):
    """A 1-minute budget tries candidates, or, on a machine too slow (or too busy) for two first turns in its
    quarter minute, tries none and says so with its figures; either way it ends within its budget, and the
    Train page shows what config.json records."""
    from ui.text import md
    data = demo(tmp_path / "d", n=24, size=64)
    budget = 1.0
    run = home / "runs" / "trial-run"
    start = time.time()
    r = seg("train", data, "--run-dir", run, "--budget", budget, "--no-pretrained")  # the default backbone: the
    # trials may try resnet18 beside it (both from scratch)
    took = time.time() - start
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("plan for 1 min: ") and "candidates around it are tried first" in r.stdout
    assert took <= budget * 60 * 1.05 + 2, took  # the whole command, start-up and final scoring included
    rows = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["budget"]["trials"] is True
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "status" and events[-1]["status"] == "completed"
    assert [e for e in events if e["type"] == "scores"][0]["images"] == 5
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["run"] = "trial-run"
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    if rows[0]["type"] == "skipped":  # no two candidates fit on this machine now: the folder and the page say why
        said = rows[0]
        assert len(rows) == 1 and said["reason"].startswith("No trials: ") and said["needed"] > said["seconds"] >= 0
        assert said["budget_min"] > budget and f"about {said['budget_min']:g} min" in said["reason"]
        assert cfg["trials"]["winner"] is None and cfg["trials"]["reason"] == said["reason"]
        assert cfg["data"]["size"] == cfg["plan"]["size"]  # the rule's plan, as it is
        assert [(e["status"], e["reason"]) for e in events if e["type"] == "trials"] == [("skipped", said["reason"])]
        assert not any(e["type"] == "trial" for e in events) and f"note: {said['reason']}" in r.stdout
        assert any(m.value.startswith("**Trials**: none") for m in at.markdown)
        assert any(c.value == md(said["reason"]) for c in at.caption)  # as written: Markdown escaped
    else:
        turns = [row for row in rows if row["type"] == "turn"]
        assert len({json.dumps(t["candidate"]) for t in turns}) >= 2
        assert all(t["dice"] is not None and t["minutes"] > 0 and t["steps"] >= 1 for t in turns)
        winner = rows[-1]
        assert winner["type"] == "winner" and winner["standings"][0]["candidate"] == winner["candidate"]
        assert cfg["trials"]["winner"] == winner["candidate"]
        assert cfg["data"]["size"] == winner["candidate"]["size"] and cfg["train"]["lr"] == winner["candidate"]["lr"]
        assert cfg["train"]["arch"] == (winner["candidate"]["arch"] or "resnet34")  # the backbone that won trains on
        assert Model.load(run).arch == cfg["train"]["arch"]  # and is the one saved
        assert [e["status"] for e in events if e["type"] == "trials"] == ["running", "done"]
        assert any(e["type"] == "trial" for e in events)
        assert any("won with Dice" in e.get("message", "") for e in events)
        assert "won with Dice" in r.stdout  # the reason, printed with the notes
        table = next(d.value for d in at.dataframe if "soft_dice" in d.value.columns)
        assert len(table) == len({json.dumps(t["candidate"]) for t in turns})
        won = table[table[""] == "won"]
        assert len(won) == 1 and won.iloc[0]["candidate"] == winner["candidate"]["label"]
        assert all(v.startswith("out after round") for v in table[table[""] != "won"][""])
        assert any("won with Dice" in c.value for c in at.caption)

    # --no-trials: the rule's plan as it is, in its own number format (timed once, by the plan); in this process,
    # its budget counted from now as a fresh `python -m seg` counts it from its start
    monkeypatch.setattr("seg.cli.STARTED", time.time())
    rc, out, err = cli("train", data, "--run-dir", tmp_path / "rule", "--budget", "0.25", "--no-trials", "--arch",
                       "resnet18", "--no-pretrained")
    assert rc == 0, out + err
    assert out.startswith("plan for 0.25 min: ") and "tried first" not in out
    cfg = json.loads((tmp_path / "rule" / "config.json").read_text())
    p = cfg["plan"]
    assert cfg["budget"]["trials"] is False and cfg["trials"] is None
    assert not (tmp_path / "rule" / "trials.jsonl").exists()
    assert p["budget_min"] == 0.25 and cfg["data"]["size"] == p["size"] and cfg["train"]["lr"] == p["lr"]
    assert cfg["precision"]["name"] == p["precision"] and cfg["precision"]["timings"] == {}  # the plan's, not re-timed
    events = [json.loads(line) for line in (tmp_path / "rule" / "events.jsonl").read_text().splitlines()]
    assert any("the fastest when the plan timed the formats" in e.get("message", "") for e in events)
    if p["find_lr"]:
        lr = next(e for e in events if e["type"] == "lr")
        assert 3e-4 <= lr["lr"] <= 3e-3
    scores = [e for e in events if e["type"] == "scores"]
    assert scores and scores[0]["resolution"] == "original" and scores[0]["images"] == 5
    assert "at their own size" in out
    rc, _, err = cli("train", data, "--run-dir", tmp_path / "r2", "--budget", "0")
    assert rc == 2 and "--budget 0" in err and not (tmp_path / "r2").exists()


def test_too_few_validation_images_fall_back_to_the_rule_and_say_so(tmp_path):
    from seg import Dataset
    from seg.model.device import cpu
    from seg.model.settings import DataSettings, TrainSettings
    from seg.runs import EventLog, Run
    from seg.training.budget import Budget
    from seg.training.planner import plan
    from seg.training.trial_setup import run_trials
    ds = Dataset.open(demo(tmp_path / "d", n=12, size=64), access=MACHINE)
    p = plan(ds, 5, cpu(), TrainSettings(arch="resnet18"), pace=20.0)
    train, valid = ds.split(0.2, 42)
    run = Run(tmp_path / "run")
    run.path.mkdir()
    out = run_trials(run, ds, cpu(), p.data_settings(DataSettings()), p.train_settings(TrainSettings()), None, None,
                     None, valid[:1], EventLog(run.events_path), lambda: False, Budget(p, time.time() + 300))
    assert out.winner is None and "1 validation image(s) cannot tell candidates apart" in out.reason
    row = json.loads((run.path / "trials.jsonl").read_text())  # one line, saying so
    assert row["type"] == "skipped" and row["reason"] == out.reason and row["images"] == 1
    run.poll()
    assert run.trials()["status"] == "skipped" and run.trials()["reason"] == out.reason


def tiny_learner(tmp_path, n: int):
    "A real fastai learner on `n` demo pairs at 64 px (batch 4, resnet18, from scratch), without a progress bar."
    import torch
    from fastai.callback.progress import ProgressCallback

    from seg import Dataset
    from seg.data.dataloaders import dataloaders
    from seg.model.device import cpu
    from seg.model.learner import learner
    from seg.model.settings import DataSettings, TrainSettings
    ds = Dataset.open(demo(tmp_path / "d", n=n, size=64), access=MACHINE)
    dls = dataloaders(ds, DataSettings(size=64, bs=4, augment=False), device=torch.device("cpu"))
    learn = learner(dls, TrainSettings(arch="resnet18", pretrained=False), cpu())
    learn.remove_cb(ProgressCallback)
    return learn


def test_a_budgeted_fit_refits_its_epochs_to_the_time_left(tmp_path):
    "An estimate of one epoch where three fit: the fit goes on to use the time, and ends by it."
    from seg.model.settings import TrainSettings
    from seg.training.budget import Deadline, fit_budgeted, room
    learn = tiny_learner(tmp_path, 12)
    dls = learn.dls
    learn.fit(1, 1e-3)  # warmed up: the pace below is the fit's own
    start = time.time()
    epoch_s = time.time()
    learn.fit(1, 1e-3)
    epoch_s = time.time() - epoch_s
    changes = []
    guard = Deadline(start + 4.5 * epoch_s + 1.0, 1, room(1), lambda epochs, steps: changes.append(epochs))
    fit_budgeted(learn, Schedule(1, len(dls.train)), TrainSettings(arch="resnet18"), False, guard)
    took = time.time() - start
    assert guard.epochs >= 2 and changes and changes[-1] == guard.epochs == learn.n_epoch  # more than estimated
    assert learn.epoch + 1 == guard.epochs and not guard.hit  # every epoch of its schedule, none cut
    assert took <= 4.5 * epoch_s + 1.0 + epoch_s  # by the time, give or take the epoch it measured by


def test_a_first_step_faster_than_the_estimate_grows_the_first_epoch(tmp_path):
    """Large images: the plan's estimate fitted ONE step, the first step shows a whole pass and more fit. The
    first epoch grows to the pass (refitting after it could only add epochs of one step, each validated),
    the one-cycle's position follows the new schedule, and the fit still ends by its time."""
    from seg.model.settings import TrainSettings
    from seg.training.budget import Deadline, fit_budgeted, room
    learn = tiny_learner(tmp_path, 12)  # 3 batches a pass
    learn.fit(1, 1e-3, cbs=[NoValidation()])  # warmed up
    step_s = time.time()
    learn.fit(1, 1e-3, cbs=[NoValidation()])
    step_s = (time.time() - step_s) / 3
    changes = []
    start = time.time()
    at = start + 20 * step_s + 2.0
    guard = Deadline(at, 1, room(1), lambda epochs, steps: changes.append((epochs, steps)), epoch_extra_s=step_s)
    fit_budgeted(learn, Schedule(1, 1), TrainSettings(arch="resnet18"), False, guard)
    # grown at the first step (its loading makes it the slowest): epochs of more than one step, a pass or near
    assert guard.per_epoch(1) >= 2 and changes and changes[0][1] > 3
    assert learn.train_iter > 3 and (guard.hit or learn.train_iter == changes[-1][1])  # the final schedule's steps
    assert learn.pct_train == pytest.approx(1.0)  # the one-cycle ended where it should
    assert time.time() <= at + 4 * step_s + 1.0


def test_a_first_step_slower_than_the_estimate_leaves_the_schedule(tmp_path):
    "Never shrinks at the first step: the refit after the epoch and the deadline guard the end."
    from seg.model.settings import TrainSettings
    from seg.training.budget import Deadline, fit_budgeted
    learn = tiny_learner(tmp_path, 12)
    guard = Deadline(time.time() + 600, 1, 1, epoch_extra_s=1000.0)  # room for the one epoch it has
    fit_budgeted(learn, Schedule(1, 2), TrainSettings(arch="resnet18"), False, guard)
    assert guard.grown is None and learn.train_iter == 2 and learn.pct_train == pytest.approx(1.0)


def test_an_epoch_of_fewer_steps_logs_every_value_under_its_own_name(tmp_path):
    "The Recorder's log keeps the training loss after an epoch ended by its step count, so names and values agree."
    from seg.training.budget import fit_steps
    learn = tiny_learner(tmp_path, 12)
    fit_steps(learn, Schedule(1, 2), 1e-3)
    names, values = learn.recorder.metric_names[1:-1], learn.recorder.values[-1]
    assert len(values) == len(names)
    got = dict(zip(names, values))
    assert got["iou_cell"] <= got["dice_cell"] and got["dice"] == got["dice_cell"]  # IoU is never over Dice
    assert got["train_loss"] != got["valid_loss"]


def test_refit_fills_the_time_with_whole_epochs_and_a_shorter_last():
    from seg.training.budget import refit
    # drive at full size on 2 cores: 5 steps of 48 s and 80 s of validation an epoch; 500 s left
    assert refit(2, 5, 48.0, 80.0, 500.0, 10) == (4, 2)  # one whole epoch (320 s), then 2 steps + validation
    assert refit(2, 8, 10.0, 20.0, 130.0, 10) == (3, None)  # the rest holds 1 step of 8: not worth a validation
    assert refit(3, 5, 1.0, 1.0, -5.0, 10) == (3, None)  # past the time: the epochs done
    assert refit(1, 5, 1.0, 0.0, 1000.0, 4) == (4, None)  # never past the room the fit was started with
    assert refit(1, 5, 10.0, 10.0, 10.0, 4) == (1, None)  # nothing fits: stop


def test_a_shorter_last_epoch_still_ends_the_one_cycle(tmp_path):
    "fastai's one-cycle reads its position per batch: a last epoch of 2 steps of 4 brings it to its end."
    from seg.training.budget import StepsPerEpoch
    learn = tiny_learner(tmp_path, 24)
    steps = StepsPerEpoch(4)
    steps.last = (1, 2)
    learn.fit_one_cycle(2, 1e-3, cbs=[steps])
    assert learn.train_iter == 6 and learn.pct_train == pytest.approx(1.0)
    lrs = learn.recorder.lrs  # at each batch's start: positions 0, 1/8 ... 1/2 (epoch 2), then 3/4
    assert len(lrs) == 6 and lrs[2] == pytest.approx(1e-3) and lrs[4] == pytest.approx(7.5e-4, rel=0.01)
    # the last step is at 3/4 of the schedule (2.5e-4), not at 5/8 (5e-4) as a cut epoch would leave it
    assert lrs[-1] == pytest.approx(2.5e-4, rel=0.01)
