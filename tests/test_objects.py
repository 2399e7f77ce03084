"""Objects from ids: recognition of instance masks, the training target, the split of a prediction into
objects, and the object scores, on generated discs and hand-counted cases."""

from __future__ import annotations

import numpy as np
import pytest
from makers import discs, shapes

from seg.objects.ids import IdFacts, evidence, explained_by_value, looks_like_objects, single_regions, summary
from seg.objects.matching import image_scores, iou_matrix
from seg.objects.matching import summary as score_summary
from seg.objects.split import Split, instances, tune
from seg.objects.target import BACKGROUND, BOUNDARY, INTERIOR, target, width_for


def two_squares(gap=0):
    "Two 10 x 10 squares side by side (ids 1 and 2), `gap` columns apart, in a 20 x 40 image."
    a = np.zeros((20, 40), np.int32)
    a[5:15, 5:15] = 1
    a[5:15, 15 + gap:25 + gap] = 2
    return a


# -- scores against hand-counted cases
def test_perfect_prediction_scores_one_whatever_the_ids():
    t = two_squares()
    found = np.where(t == 1, 7, np.where(t == 2, 300, 0))
    s = image_scores(t, found)
    assert (s["true"], s["found"], s["ap50"], s["ap"], s["count_error"], s["matched"]) == (2, 2, 1.0, 1.0, 0.0, 2)


def test_two_touching_objects_found_as_one_score_zero():
    t = two_squares()
    merged = (t > 0).astype(np.int32)  # IoU with each square: 100 / 200 = 0.5, not above 0.5
    assert iou_matrix(t, merged).tolist() == [[0.5], [0.5]]
    s = image_scores(t, merged)
    assert (s["found"], s["ap50"], s["count_error"]) == (1, 0.0, 0.5)  # TP 0, FP 1, FN 2


def test_an_extra_object_and_a_shrunken_one():
    t = two_squares(gap=5)
    found = t.copy()
    found[0:2, 0:2] = 9  # invented: FP
    found[found == 2] = 0
    found[6:14, 21:29] = 2  # 64 px inside the true 100: IoU 0.64, a hit up to 0.6, a miss from 0.65
    s = image_scores(t, found)
    assert s["ap50"] == pytest.approx(2 / 3)  # TP 2, FP 1, FN 0
    # thresholds 0.5..0.6 (3 of 10): 2 / 3; 0.65..0.95 (7 of 10): TP 1, FP 2, FN 1 -> 1 / 4
    assert s["ap"] == pytest.approx((3 * 2 / 3 + 7 * 1 / 4) / 10)
    assert s["count_error"] == pytest.approx(0.5)


def test_empty_images():
    empty = np.zeros((8, 8), np.int32)
    one = empty.copy()
    one[2:4, 2:4] = 1
    assert image_scores(empty, empty)["ap"] == 1.0  # nothing to find, nothing invented
    s = image_scores(empty, one)
    assert (s["ap50"], s["count_error"]) == (0.0, None)
    assert image_scores(one, empty)["ap50"] == 0.0
    total = score_summary([image_scores(one, one), image_scores(one, empty), image_scores(empty, one)])
    assert total["ap50"] == pytest.approx(1 / 3) and total["count_error_median"] == pytest.approx(0.5)
    assert (total["true"], total["found"]) == (2, 2)


def test_sizes_must_agree():
    with pytest.raises(ValueError, match="differ"):
        iou_matrix(np.zeros((4, 4), int), np.zeros((4, 5), int))


# -- the training target
def test_target_marks_the_line_between_touching_objects_and_every_edge():
    t = target(two_squares())
    assert t[0, 0] == BACKGROUND
    assert t[10, 14] == BOUNDARY and t[10, 15] == BOUNDARY  # where the squares meet, on both sides
    assert t[5, 10] == BOUNDARY and t[10, 5] == BOUNDARY  # their outer edge
    assert t[10, 10] == INTERIOR and t[10, 20] == INTERIOR
    # the interiors do not touch: they seed two objects
    from skimage.measure import label
    assert label(t == INTERIOR, connectivity=2).max() == 2


def test_target_band_width_and_image_edge():
    ids = np.zeros((20, 20), np.int32)
    ids[0:12, 0:12] = 3  # cut by the image's top and left edges
    t = target(ids, width=2)
    assert t[0, 0] == INTERIOR  # the image's edge is not the object's boundary
    assert (t[0:12, 10:12] == BOUNDARY).all() and t[5, 9] == INTERIOR
    assert (t[ids == 0] == BACKGROUND).all()


@pytest.mark.parametrize("image, train, width", [((512, 512), (256, 256), 2), ((100, 100), (128, 128), 1),
                                                 ((300, 200), (100, 100), 3), ((584, 565), (96, 96), 7)])
def test_band_width_survives_the_resize(image, train, width):
    assert width_for(image, train) == width


# -- probabilities split into objects
def probabilities(ids: np.ndarray, sure: float = 0.9) -> np.ndarray:
    "What a good model would say of `ids`: its target's classes with probability `sure`."
    t = target(ids)
    p = np.full((3, *ids.shape), (1 - sure) / 2)
    for k in range(3):
        p[k][t == k] = sure
    return p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_touching_discs_are_counted_exactly(seed):
    ids = discs(np.random.default_rng(seed), size=(128, 128), n=16, touching=0.7)
    assert len(IdFacts.of(ids).areas) == 16 and IdFacts.of(ids).touching >= 4
    found = instances(probabilities(ids))
    s = image_scores(ids, found)
    assert (s["true"], s["found"], s["ap50"]) == (16, 16, 1.0)
    # connected regions of the foreground, the old path, merge the touching ones
    from skimage.measure import label
    assert label(ids > 0, connectivity=2).max() < 16


def test_foreground_without_a_seed_is_an_object_and_specks_go():
    p = np.zeros((3, 30, 30))
    p[0] = 1.0
    p[:, 2:5, 2:5] = np.array([0.1, 0.2, 0.7])[:, None, None]  # object, all boundary, no interior seed
    p[:, 20:21, 20:21] = np.array([0.2, 0.8, 0.0])[:, None, None]  # a one-pixel speck
    assert instances(p, Split(0.5, 0)).max() == 2
    assert instances(p, Split(0.5, 4)).max() == 1
    assert instances(np.stack([np.ones((5, 5)), np.zeros((5, 5)), np.zeros((5, 5))])).max() == 0


def test_tune_finds_a_split_that_counts_right_on_blurred_probabilities():
    from scipy import ndimage
    rng = np.random.default_rng(5)
    truths = [discs(rng, size=(96, 96), n=10, touching=0.6) for _ in range(3)]
    probs = []
    for ids in truths:  # softened: interiors fade towards their edges, as a real model's do
        p = ndimage.gaussian_filter(probabilities(ids, 0.8), sigma=(0, 1.5, 1.5))
        probs.append(p / p.sum(0, keepdims=True))
    best, s, rows = tune(probs, truths)
    assert len(rows) >= 6 and s["ap50"] == max(r["ap50"] for r in rows)
    assert s["ap50"] >= 0.9 and s["count_error_median"] <= 0.1
    assert Split.from_json(best.to_json()) == best


# -- instance masks recognised
def test_id_facts_of_16_bit_ids_one_object_and_empty():
    ids = discs(np.random.default_rng(3), n=8, touching=0.5).astype(np.uint16)
    ids[ids > 0] += 1000  # ids past 8 bits
    f = IdFacts.of(ids)
    assert (f.ids, f.single) == (8, 8) and len(f.areas) == 8 and f.touching >= 2
    one = np.zeros((20, 20), np.uint8)
    one[3:9, 3:9] = 1
    assert (IdFacts.of(one).ids, IdFacts.of(one).touching, IdFacts.of(one).areas) == (1, 0, [36])
    assert IdFacts.of(np.zeros((5, 5), np.uint8)).ids == 0


def test_an_id_in_two_places_is_not_one_object():
    a = np.zeros((10, 10), np.uint8)
    a[1:3, 1:3] = 5
    a[6:8, 6:8] = 5
    f = IdFacts.of(a)
    assert (f.ids, f.single) == (1, 0)


def test_instance_masks_are_told_from_class_masks():
    rng = np.random.default_rng(0)
    objects = [IdFacts.of(discs(rng, n=24, touching=0.5).astype(np.uint8)) for _ in range(8)]  # ids reused
    ev = evidence(objects, 24, 24)
    assert looks_like_objects(ev, 32) and ev.median_ids == 24 and ev.single_share == 1.0
    # class masks: few values, each in several places
    classes = [IdFacts.of(shapes(np.random.default_rng(i), (64, 64), classes=4)[1]) for i in range(8)]
    assert not looks_like_objects(evidence(classes, 3, 3), 32)
    # two-value masks never are objects on their own
    binary = [IdFacts.of((discs(rng, n=3) > 0).astype(np.uint8)) for _ in range(4)]
    assert not looks_like_objects(evidence(binary, 1, 1), 32)


def organs(rng, size=(96, 96), n=6) -> np.ndarray:
    "A class mask in which every class is one region of its own size (as organs in a scan): value v about 6 + 4v px."
    a = np.zeros(size, np.uint8)
    for v in range(1, n + 1):
        side = 6 + 4 * v + int(rng.integers(-1, 2))
        y = (v - 1) // 3 * 46 + 2
        x = (v - 1) % 3 * 31 + 1
        a[y:y + min(side, 44), x:x + min(side, 29)] = v
    return a


def test_values_that_tell_the_size_are_classes_not_ids():
    """The same values one region each in every mask: ids when an id's size is any object's (discs of
    random sizes, ids in any order), classes when each value keeps its own size (organs)."""
    rng = np.random.default_rng(1)
    objects = [IdFacts.of(discs(rng, n=12, radius=(3, 10)).astype(np.uint8)) for _ in range(8)]
    classes = [IdFacts.of(organs(rng)) for _ in range(8)]
    ids, cls = evidence(objects, 12, 12), evidence(classes, 6, 6)
    assert ids.size_by_value is not None and ids.size_by_value < 0.2 and looks_like_objects(ids, 32)
    assert cls.size_by_value > 0.8 and cls.single_share == 1.0 and cls.median_ids == 6
    assert single_regions(cls, 32) and not looks_like_objects(cls, 32)
    # more values than classes can be: objects whatever their sizes say (--objects is not needed there)
    assert looks_like_objects(evidence(classes, 40, 6), 32)
    # discs all of one size: the value cannot tell anything, which is no evidence of classes
    same = [IdFacts.of(discs(rng, n=8, radius=(5, 5)).astype(np.uint8)) for _ in range(4)]
    assert explained_by_value(same) is None or explained_by_value(same) < 0.5


def test_summary_of_objects():
    a = np.zeros((20, 40), np.uint16)
    a[two_squares() == 1] = 1
    a[two_squares() == 2] = 2
    a[16:18, 30:32] = 3
    s = summary([IdFacts.of(a), IdFacts.of(np.zeros((4, 4), np.uint16))])
    assert s["objects"] == 3 and s["per_image"] == {"min": 0, "median": 1.5, "max": 3}
    assert s["touching_share"] == pytest.approx(2 / 3)
    assert s["diameter_px"]["d50"] == pytest.approx(np.sqrt(400 / np.pi))
