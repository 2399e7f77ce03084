"""The trials of a planned run set up from its settings: the candidates around the rule's plan (windows of scaled
images, the other backbones), the images they are scored on, the trials' share of the budget; then
seg/training/trials.py tries them (`search`). `train()` calls `run_trials` before training proper."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from seg.runs import EventLog
from seg.training.halving import TRIAL_MAX_S, TRIAL_SHARE, Candidate, candidates, how_many, on_windows_when_slow
from seg.training.trials import MIN_IMAGES, FastaiTrials, Outcome, scoring_images, search, skip


def other_backbones(ts) -> tuple[str, ...]:
    """The backbones the trials try beside the run's: TRIED, when the run's is the default (a run on another one
    was asked for it) and each starts as the run's does (from ImageNet weights in the torch cache for both, or from
    scratch for both: a race between one pretrained and one not would be decided by that, not by the backbone);
    none when a weights file is named (it is one backbone's)."""
    from seg.model.pretrained import choose_pretrained
    from seg.model.registry import DEFAULT_ARCH, TRIED
    if ts.arch != DEFAULT_ARCH or ts.weights:
        return ()
    used = choose_pretrained(ts).used
    return tuple(b for b in TRIED if b != ts.arch and choose_pretrained(replace(ts, arch=b)).used == used)


def run_trials(run, dataset, device, ds, ts, learn, make, precision, valid_pairs, log: EventLog,
               stopped: Callable[[], bool], budget, keep_size: bool = False) -> Outcome:
    """The trials of a planned run: candidates around the plan's rule (`learn`: the rule's learner, made to time
    the number formats; `make(data_settings, train_settings)` makes the others), in a quarter of the budget
    at most (and half the time left). `keep_size`: every candidate at the rule's size and scale (a run continuing
    from a model keeps the size it learned at; the trials choose the learning rate and loss). Windows of scaled
    images (planner.windows_for) are tried beside whole images, unless the images are large (crops already), the
    size is kept or a scale was asked for (every candidate then keeps it); other backbones (`other_backbones`)
    unless the size is kept (the model continued from has its backbone)."""
    from seg.training.format_choice import apply as apply_precision
    from seg.training.planner import MIN_SIDE, sides, sizes_to_try, windows_for
    rule = Candidate(ds.hw, ts.lr, ts.loss, ds.scale)
    typical = dataset.typical_size() or ds.hw
    top = max(sizes_to_try(typical)[0])

    def around(size: tuple[int, int]):
        "The training size at a share of `size`'s longer side."
        if keep_size:
            return lambda share: size
        return lambda share: sides(typical, min(top, max(MIN_SIDE, int(round(max(size) * share / 32)) * 32)))

    fractions = dataset.class_fractions()
    plan = getattr(budget, "plan", None)
    windows = [] if dataset.crops or keep_size or ds.scale is not None else \
        windows_for(typical, rule.size, getattr(plan, "thinnest", None))
    others = () if keep_size else other_backbones(ts)
    cands = candidates(rule.size, rule.lr, rule.loss, around(rule.size), fractions, windows, ds.scale, others)

    def build(c: Candidate):
        if c == rule and learn is not None and rule not in built:
            built.add(rule)
            return learn
        made = make(replace(ds, size=c.size, scale=c.scale), replace(ts, lr=c.lr, loss=c.loss, arch=c.arch or ts.arch))
        return apply_precision(made, precision, device.kind)

    seen = learn.dls.input if learn is not None else dataset.input_plan(
        dataset.split(ds.valid_pct, ds.seed)[0], ds.pick, ds.scaling)
    images = scoring_images(dataset, valid_pairs, seen)
    if len(images) < MIN_IMAGES:
        return skip(run.path, log, Outcome(None, None, [], f"No trials: {len(images)} validation image(s) cannot "
                                                           f"tell candidates apart (at least {MIN_IMAGES}); the "
                                                           "rule's plan trains as it is.", 0.0), images=len(images))
    built: set = set()
    trainer = FastaiTrials(build, budget.pace, ds.batch_size(len(dataset.split(ds.valid_pct, ds.seed)[0])),
                           images, list(dataset.train_codes.names), ts.arch, None if dataset.crops else typical, device,
                           precision, stopped)
    left = budget.deadline - time.time()
    seconds = min(TRIAL_MAX_S, TRIAL_SHARE * budget.seconds, 0.5 * left)
    cands = on_windows_when_slow(cands, rule, lambda c: c not in how_many(cands, trainer, seconds))  # not tried
    if not how_many(cands, trainer, seconds):
        # The rule's size and its neighbours are too slow for a turn (large images, little time): the rule
        # may be wrong exactly there (a few steps at full size learn nothing), so the candidates go around
        # the largest size at which two turns fit; the rule stays first, and is said to be too slow.
        anchor = next((s for s in sizes_to_try(typical)
                       if trainer.min_seconds(Candidate(s, rule.lr, rule.loss, ds.scale)) <= seconds / 4), None)
        if anchor is not None and anchor != rule.size:
            cands = [rule, *candidates(anchor, rule.lr, rule.loss, around(anchor), fractions, windows, ds.scale,
                                       others)]
    return search(cands, trainer, seconds, run.path, log, rule, spent=time.time() - (budget.deadline - budget.seconds))

