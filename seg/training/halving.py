"""Successive halving: a plan for a time budget decided by short trials on the user's own data, not by
rules alone. The rules of seg/training/planner.py propose candidates around their choice (image sizes,
learning rates, the loss where it is a close call); every candidate trains a short time and is scored on
validation images at their own size (a round before the last, which only drops, on fewer of them); the
better half goes on, continuing from its own weights, until one is left, which trains to the end of the
budget (seg/training/trials.py runs it with fastai).

This module is the logic only, over a `Trainer` that trains and scores a candidate: the tests drive it
with a fake one and a fake clock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from seg.model.registry import LOSSES

TRIAL_SHARE = 0.25  # trials take at most this share of the budget ...
TRIAL_MAX_S = 15 * 60.0  # ... and never more than this
MIN_STEPS = 8  # a candidate that cannot train this many steps in its first turn is not tried
MAX_CANDIDATES = 6
LRS = (1e-3, 3e-3)  # around the default: 1e-3 learns from scratch on both benchmark sets; 3e-3 needs fewer steps
CLOSE_CALL = (0.04, 0.25)  # a rare class's share of the pixels where weighting the loss may or may not help
SMALLER, SMALLEST, LARGER = 0.7, 0.5, 1.4  # image sizes tried, as a share of the rule's longer side
MARGIN = 0.01  # Dice by which another candidate must beat the rules' own choice to displace it, at least ...
SPREAD = 2.0  # ... and by this many standard errors of the two's per-image Dice differences (a lead the images
# disagree about is noise: with a few images and short turns, what learns fastest first leads by chance)
NOTHING = 0.05  # Dice under this: a candidate has learned nothing yet
SETTLED = 2.0  # the trials end early when the rules' choice leads every other by this many times the lead a rival
# would need to displace it: later rounds would only take time from its training (measured: the losers' turns
# cost about 0.01 Dice on the demo at 5 min when the rules' choice won anyway)


@dataclass(frozen=True)
class Candidate:
    """One way to train: the training size (height, width), the peak learning rate and the loss; with a `scale`,
    windows of that size cut from the images scaled by it (seg/data/scaled_crops.py), else whole images squeezed;
    with an `arch`, that backbone instead of the run's (seg/model/registry.py)."""

    size: tuple[int, int]
    lr: float
    loss: str
    scale: float | None = None
    arch: str | None = None

    @property
    def label(self) -> str:
        seen = f" windows at scale {self.scale:g}" if self.scale is not None else ""
        backbone = f"{self.arch}, " if self.arch else ""
        return f"{backbone}{self.size[0]} x {self.size[1]} px{seen}, lr {self.lr:.0e}, {LOSSES[self.loss].label}"

    def to_json(self) -> dict:
        return {"size": list(self.size), "lr": self.lr, "loss": self.loss, "scale": self.scale, "arch": self.arch,
                "label": self.label}


@dataclass
class Standing:
    "A candidate's trials so far: its time, steps and latest scores; `out` the round it was dropped after."

    candidate: Candidate
    seconds: float = 0.0  # trial time spent on it: building, training and scoring
    steps: int = 0
    dice: float | None = None  # foreground Dice on the trial's validation images at their own size
    soft: float | None = None  # the same from the probabilities: tells apart candidates that predict nothing yet
    out: int | None = None
    per_image: list[float] | None = None  # each scoring image's Dice, the same images for every candidate

    def key(self, margin: float = 0.0) -> tuple[float, float]:
        """Higher is better: Dice at the images' own size (what users get), plus `margin` for the candidate
        the rules chose (another must beat it by more: a few turns' scores are noisy); while a candidate
        has learned nothing yet (Dice under NOTHING, every one predicting mostly background), its soft
        Dice from the probabilities tells them apart instead."""
        dice = -1.0 if self.dice is None or self.dice != self.dice else self.dice
        soft = -1.0 if self.soft is None or self.soft != self.soft else self.soft
        if dice < NOTHING:
            return -1.0, soft
        return dice + margin, 0.0


class Trainer(Protocol):
    def min_seconds(self, candidate: Candidate, cull: bool = False) -> float:
        """The least time a first turn of `candidate` takes: MIN_STEPS steps, building and scoring (`cull`: in a
        round that is not the last, where the trainer may score on fewer images)."""

    def turn(self, candidate: Candidate, seconds: float, cull: bool = False) -> tuple:
        """Train `candidate` for about `seconds` in all (scoring included); (Dice, soft Dice, steps), and
        optionally each scoring image's Dice. `cull`: a round that is not the last (it only drops the worse
        half; the last round, which picks the winner, is scored on every image)."""

    def drop(self, candidate: Candidate) -> None:
        "Forget a candidate that is out (its weights, its data)."


def candidates(size: tuple[int, int], lr: float, loss: str, sizes: Callable[[float], tuple[int, int]],
               fractions: dict[str, float], windows: tuple = (), scale: float | None = None,
               backbones: tuple[str, ...] = ()) -> list[Candidate]:
    """The candidates around the rule's choice (`size`, `lr`, `loss`), in the order they are kept when time
    allows fewer: the rule's own first, then `windows` at the higher rate ((size, scale) pairs: training on
    windows of scaled images, seg/training/planner.py: windows_for), the other `backbones` as the rule's own
    choice otherwise (the backbone the only difference), a smaller size at the higher rate (more
    steps in the time), the rule's size at the other rate, a larger size, the loss the rule did not pick where
    it is a close call. `sizes(share)` is the training size at `share` of the rule's longer side (the images'
    aspect, multiples of 32, never over the images' own size). `scale`: the rule's own (every candidate keeps it:
    a run continuing from a model on windows)."""
    other_lr = LRS[1] if lr < 0.7 * LRS[1] else LRS[0]
    high, low = max(lr, other_lr), min(lr, other_lr)
    smaller, larger = sizes(SMALLER), sizes(LARGER)
    if larger == size:  # the rule is at the images' own size already: a second, smaller one instead
        larger = sizes(SMALLEST)
    rare = [v for v in list(fractions.values())[1:] if v > 0]
    close = bool(rare) and CLOSE_CALL[0] <= min(rare) <= CLOSE_CALL[1]
    other_loss = "ce" if loss != "ce" else "dice-ce"
    out = [Candidate(s, r, loss, scale) for s, r in ((size, lr), (smaller, high), (size, other_lr), (larger, low),
                                                      (smaller, low), (larger, high))]
    if close:
        out.insert(3, Candidate(size, lr, other_loss, scale))
    out[1:1] = [Candidate(tuple(hw), high, loss, s) for hw, s in windows] + \
        [Candidate(size, lr, loss, scale, b) for b in backbones]
    seen, unique = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            unique.append(c)
    return unique


def on_windows_when_slow(cands: list[Candidate], rule: Candidate, slow: Callable[[Candidate], bool]
                         ) -> list[Candidate]:
    """The other backbones' candidates are the rule's choice on another backbone; when the rule's choice is too
    `slow` for a turn (drive's 576 px and membrane's 384 px at 15 minutes here), that candidate is too, and
    the trials would never choose the backbone: then they are the first windows candidate on the other backbone."""
    base = next((c for c in cands if c.scale is not None and c.arch is None and c != rule), None)
    if base is None or not slow(rule):
        return cands
    out = [Candidate(base.size, base.lr, base.loss, base.scale, c.arch)
           if c.arch and (c.size, c.lr, c.loss, c.scale) == (rule.size, rule.lr, rule.loss, rule.scale) else c
           for c in cands]
    return list(dict.fromkeys(out))


def rounds(n: int) -> list[int]:
    "How many candidates each round trains: n, then the better half (rounded up), down to two."
    out = []
    while n > 1:
        out.append(n)
        n = math.ceil(n / 2)
    return out


def how_many(cands: list[Candidate], trainer: Trainer, seconds: float) -> list[Candidate]:
    """The most candidates (of the first MAX_CANDIDATES, in order) whose first turns fit `seconds` split
    evenly over the rounds: a candidate too slow for its turn is left out. Fewer than two: no trials."""
    for n in range(min(MAX_CANDIDATES, len(cands)), 1, -1):
        turn = seconds / len(rounds(n)) / n
        fit = [c for c in cands if trainer.min_seconds(c, cull=len(rounds(n)) > 1) <= turn][:n]
        if len(fit) == n:
            return fit
    return []


def halve(cands: list[Candidate], trainer: Trainer, seconds: float, clock: Callable[[], float] = time.monotonic,
          report: Callable[[dict], None] = lambda row: None, favour: Candidate | None = None
          ) -> tuple[Candidate, list[Standing]]:
    """Successive halving of `cands` within `seconds`: each round has an equal share of the time left, split
    evenly over its candidates when it starts (the same turn for each: a turn that ran over takes from the
    later rounds, not from the candidates after it in its round); the better half by `Standing.key` goes
    on; `favour` (the rules' own choice, by default the first) keeps its place unless beaten by MARGIN.
    `report` gets a row per turn (trials.jsonl). Returns the winner and every candidate's standing, the
    winner first."""
    favour = cands[0] if favour is None else favour
    standings = {c: Standing(c) for c in cands}
    alive = list(cands)
    end = clock() + seconds
    plan = rounds(len(cands))
    for r, _ in enumerate(plan, start=1):
        turn = max(0.0, (end - clock()) / (len(plan) - r + 1) / len(alive))
        for c in alive:
            start = clock()
            dice, soft, steps, *per_image = trainer.turn(c, turn, cull=r < len(plan))
            s = standings[c]
            s.seconds += clock() - start
            s.steps += steps
            s.dice, s.soft = dice, soft
            s.per_image = list(per_image[0]) if per_image else None
            report({"round": r, "candidate": c.to_json(), "seconds": round(clock() - start, 1),
                    "minutes": round(s.seconds / 60, 2), "steps": s.steps, "dice": dice, "soft_dice": soft,
                    **({"per_image": s.per_image} if s.per_image is not None else {})})
        margin = favour_margin(standings, favour, alive)
        ranked = sorted(alive, key=lambda c: standings[c].key(margin if c == favour else 0.0),
                        reverse=True)  # stable: the earlier wins a tie
        best = ranked[:math.ceil(len(alive) / 2)] if len(alive) > 2 else ranked[:1]
        keep = [c for c in alive if c in best]  # in their first order: the turns of a round go as before
        for c in alive:
            if c not in keep:
                standings[c].out = r
                trainer.drop(c)
        if r < len(plan) and settled(standings, favour, keep):
            for c in keep[:]:
                if c != favour:
                    standings[c].out = r
                    trainer.drop(c)
            keep = [favour]
        report({"round": r, "kept": [c.to_json() for c in keep], "margin": round(margin, 4),
                **({"settled": True} if len(keep) == 1 and r < len(plan) else {})})
        alive = keep
        if len(alive) == 1:
            break
    winner = alive[0]
    rest = [s for c, s in standings.items() if c != winner]  # the later out, the better
    return winner, [standings[winner], *sorted(rest, key=lambda s: (s.out or 0, s.key()), reverse=True)]


def paired_se(a: Standing, b: Standing) -> float:
    """The standard error of the mean difference of two candidates' Dice image by image (scored on the same
    images); 0 where either has no per-image scores or fewer than three images count."""
    if not a.per_image or not b.per_image or len(a.per_image) != len(b.per_image):
        return 0.0
    d = [x - y for x, y in zip(a.per_image, b.per_image) if x == x and y == y]
    if len(d) < 3:
        return 0.0
    mean = sum(d) / len(d)
    return math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))


def favour_margin(standings: dict, favour: Candidate, alive: list[Candidate]) -> float:
    """How much Dice the rules' choice is given in a round's ranking: MARGIN, or SPREAD standard errors of its
    per-image differences with the best of the others, whichever is more."""
    others = [c for c in alive if c != favour]
    if favour not in alive or not others:
        return MARGIN
    best = max(others, key=lambda c: standings[c].key())
    return needed(standings[favour], standings[best])


def settled(standings: dict, favour: Candidate, alive: list[Candidate]) -> bool:
    """Whether the rules' choice leads every other candidate still in by more than SETTLED times what a rival
    would need to displace it (a lead the images agree about): then no later round is worth its time."""
    f = standings.get(favour)
    if favour not in alive or len(alive) < 2 or f.dice is None or f.dice < NOTHING:
        return False
    return all(standings[c].dice is not None and f.dice - standings[c].dice > SETTLED * needed(f, standings[c])
               for c in alive if c != favour)


def needed(favour: Standing, rival: Standing) -> float:
    "The lead `rival` needs to displace `favour`: MARGIN, or SPREAD standard errors of their differences."
    return max(MARGIN, SPREAD * paired_se(favour, rival))


def explain(winner: Candidate, standings: list[Standing], rule: Candidate, seconds: float, images: int,
            culled: int | None = None) -> str:
    """The trials' outcome in words, for the run's notes and the Train page (`culled`: the images the rounds before
    the last were scored on, where fewer)."""
    won = standings[0]
    first = f", the first round{'s' if len(rounds(len(standings))) > 2 else ''} on {culled}" \
        if culled and culled < images else ""
    text = (f"Trials ({seconds / 60:.1f} min, {len(standings)} candidates, scored on {images} validation images "
            f"at their own size{first}): {winner.label} won with Dice {fmt(won.dice)} after {won.steps} steps")
    r = next((s for s in standings if s.candidate == rule), None)
    if winner == rule:
        text += "; it is the rule's own choice"
        last = max((x.out or 0) for x in standings[1:]) if standings[1:] else 0
        if sum(x.out == last for x in standings[1:]) > 1:  # a full last round drops one; an early end all the rest
            text += (f", ahead of every other by far after round {last}, so the trials ended there and the time "
                     "left went to its training")
        rival = next((s for s in standings[1:] if s.key() > won.key()), None)
        if rival is not None and rival.dice is not None and won.dice is not None:
            need = needed(won, rival)
            text += (f" ({rival.candidate.label} led by {rival.dice - won.dice:.3f}, less than the {need:.3f} needed "
                     f"to displace it: {MARGIN} Dice and {SPREAD:g} standard errors of the two's differences image "
                     "by image)")
    elif r is None:
        text += f"; the rule's choice ({rule.label}) was too slow here for a trial turn of {MIN_STEPS} steps"
    else:
        text += (f"; the rule's choice ({rule.label}) had Dice {fmt(r.dice)}"
                 + (f" and was out after round {r.out}" if r.out else ""))
    return text + "."


def fmt(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"


def to_json(s: Standing) -> dict:
    d = asdict(s)
    d["candidate"] = s.candidate.to_json()
    return d
