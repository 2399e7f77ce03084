"""The mask editor's messages are untrusted input: checked before any decoding, a bad one is a MessageError
(one line on the page), never a crash, an overflow or a write past an array."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from seg.labels.messages import MAX_MESSAGE_ITEMS, Change, Click, MessageError, change, click
from seg.labels.rle import RLEError, decode, encode

H, W = 12, 10


def message(runs, **kw):
    return {"id": "set/a", "width": W, "height": H, "runs": runs, **kw}


def test_the_attack_that_killed_the_server_is_refused():
    "Counts whose int64 sum wraps to h*w: once np.repeat wrote past the mask and the process died (SIGSEGV)."
    wrap = [1, 2**62, 1, 2**62, 1, 2**62, 1, 2**62, 0, H * W]
    assert np.asarray(wrap[1::2], np.int64).sum() == H * W  # the old check's sum, wrapped around
    with pytest.raises(MessageError, match="length"):
        change(message(wrap), "set/a", H, W, objects=False, values=3)
    with pytest.raises(RLEError):
        decode(wrap, H, W)


@pytest.mark.parametrize("runs, says", [
    ([0, -5, 1, H * W + 5], "length"),  # negative counts
    ([0, H * W + 1], "length"),
    ([0, 0, 1, H * W], "length"),  # a run of nothing
    ([0, H * W - 1], "cover"),
    ([0, float("nan"), 1, H * W], "whole numbers"),
    ([0, float("inf"), 1, H * W], "whole numbers"),
    ([0, 1.5, 1, H * W - 1.5], "whole numbers"),
    ([True, H * W], "whole numbers"),  # JSON's true is no class
    (["0", H * W], "whole numbers"),
    ([None, H * W], "whole numbers"),
    ([[0], H * W], "whole numbers"),
    ([3, H * W], "outside 0 to 2"),  # a class the set has not
    ([-1, H * W], "outside 0 to 2"),
    ([10**30, H * W], "outside"),  # past int64: Python ints, never an OverflowError
    ([0, 10**30], "length"),
    ([0, 1] * (H * W + 1), "runs for"),  # more runs than pixels
    ([0], "pairs"),
])
def test_hostile_runs_get_a_sentence(runs, says):
    with pytest.raises(MessageError, match=says):
        change(message(runs), "set/a", H, W, objects=False, values=3)


@pytest.mark.parametrize("bad", [None, "runs", 7, {"runs": []}, [1, 2], {"id": "set/a"}])
def test_a_message_of_the_wrong_shape_gets_a_sentence(bad):
    with pytest.raises(MessageError):
        change(bad if not isinstance(bad, dict) or "id" in bad else {**bad, "id": "set/a"}, "set/a", H, W, False, 3)


def test_sizes_other_than_the_images_and_oversized_lists_are_refused_before_decoding():
    with pytest.raises(MessageError, match="another size"):
        change(message([0, 4], width=2, height=2), "set/a", H, W, False, 3)
    with pytest.raises(MessageError, match="another size"):
        change(message([0, H * W], width="10"), "set/a", H, W, False, 3)
    with pytest.raises(MessageError, match="size the image allows"):
        change(message(range(10)), "set/a", H, W, False, 3)  # not a list
    big = 4000
    with pytest.raises(MessageError, match="size the image allows"):  # refused by its length alone, not decoded
        change({"id": "x", "width": big, "height": big, "runs": [0] * (MAX_MESSAGE_ITEMS + 2)}, "x", big, big,
               False, 3)


def test_good_messages_decode_exactly_and_others_images_are_ignored():
    mask = np.zeros((H, W), np.uint8)
    mask[2:5, 3:7] = 2
    got = change(message(encode(mask)), "set/a", H, W, objects=False, values=3)
    assert isinstance(got, Change) and (got.mask == mask).all() and got.mask.dtype == np.uint8
    assert change(message(encode(mask), id="set/b"), "set/a", H, W, False, 3) is None  # an earlier image's
    ids = np.zeros((H, W), np.uint16)
    ids[1:3, 1:3], ids[5:9, 5:9] = 700, 65535
    got = change(message(encode(ids)), "set/a", H, W, objects=True, values=2)
    assert got.mask.dtype == np.uint16 and (got.mask == ids).all()
    strokes = np.full((H, W), 255, np.uint8)
    strokes[0, :4] = 1
    assert (change(message(encode(strokes)), "set/a", H, W, False, 3, extra=255).mask == strokes).all()
    strokes[0, 0] = 9
    with pytest.raises(MessageError, match="outside 0 to 2"):
        change(message(encode(strokes)), "set/a", H, W, False, 3, extra=255)


@pytest.mark.parametrize("x, y, value, says", [
    (math.inf, 1, 1, "whole number"),  # int(Infinity) raised OverflowError, uncaught
    (math.nan, 1, 1, "whole number"),
    (1, -math.inf, 1, "whole number"),
    (10**400, 1, 1, "outside the image"),
    (-1, 1, 1, "outside the image"),
    (W, 1, 1, "outside the image"),
    (1, H, 1, "outside the image"),
    (1, 1, 3, "classes"),
    (1, 1, -1, "classes"),
    ("1", 1, 1, "whole number"),
    (None, 1, 1, "whole number"),
    (True, 1, 1, "whole number"),
    (1.5, 1, 1, "whole number"),
])
def test_hostile_clicks_get_a_sentence(x, y, value, says):
    with pytest.raises(MessageError, match=says):
        click({"id": "set/a", "x": x, "y": y, "value": value}, "set/a", H, W, 3)


def test_a_good_click_and_one_on_another_image():
    assert click({"id": "set/a", "x": 3.0, "y": 4, "value": 2}, "set/a", H, W, 3) == Click("set/a", 3, 4, 2)
    assert click({"id": "set/b", "x": math.inf}, "set/a", H, W, 3) is None


def test_fuzz_random_and_hostile_messages_never_escape_as_anything_but_message_error():
    """Random messages (as a client that ignores editor.js sends them, after JSON): only a checked Change or
    Click, None, or MessageError come out; every Change is exactly the image's size with valid values."""
    rng = random.Random(29)
    atoms = [0, 1, 2, -1, 255, 256, 65535, 65536, 2**31, 2**62, 2**63, -(2**63), 10**30, H * W, H * W - 1,
             0.0, 1.0, 0.5, -0.0, math.inf, -math.inf, math.nan, True, False, None, "", "1", [], {}, [1, 2]]
    outcomes = {"change": 0, "click": 0, "none": 0, "refused": 0}
    n = 20_000
    for _ in range(n):
        kind = rng.random()
        if kind < 0.45:  # runs made of atoms, sometimes summing right
            runs = [rng.choice(atoms) for _ in range(rng.choice([0, 1, 2, 4, 6, 10]))]
            if rng.random() < 0.5 and len(runs) >= 2:
                runs[-1] = H * W - sum(v for v in runs[1:-1:2] if type(v) is int)
            msg = message(runs)
        elif kind < 0.6:  # a valid mask, one item damaged
            runs = encode(np.asarray([rng.randrange(3) for _ in range(H * W)], np.uint8).reshape(H, W))
            runs[rng.randrange(len(runs))] = rng.choice(atoms)
            msg = message(runs)
        elif kind < 0.7:  # the message around the runs damaged
            msg = message(encode(np.zeros((H, W), np.uint8)))
            msg[rng.choice(["id", "width", "height", "runs"])] = rng.choice(atoms)
        else:  # clicks
            msg = {"id": rng.choice(["set/a", "set/a", "set/b", None]), "x": rng.choice(atoms), "y": rng.choice(atoms),
                   "value": rng.choice(atoms)}
        msg = json.loads(json.dumps(msg))  # what arrives: JSON (Infinity and NaN included, as Python's json reads)
        try:
            got = click(msg, "set/a", H, W, 3) if "x" in msg else change(msg, "set/a", H, W, False, 3)
        except MessageError:
            outcomes["refused"] += 1
            continue
        if got is None:
            outcomes["none"] += 1
        elif isinstance(got, Change):
            assert got.mask.shape == (H, W) and got.mask.dtype == np.uint8 and int(got.mask.max()) <= 2
            outcomes["change"] += 1
        else:
            assert 0 <= got.x < W and 0 <= got.y < H and 0 <= got.value < 3
            outcomes["click"] += 1
    assert sum(outcomes.values()) == n and outcomes["refused"] > n / 2 and outcomes["change"] > 0
