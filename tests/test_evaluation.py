"""`tfgen.evaluation.evaluate`: the one yardstick, checked on models whose
samples are known (real data replayed, or shifted)."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import data
from tfgen.evaluation import evaluate
from tfgen.models import GenerativeModel


class Replay(GenerativeModel):
    """A 'model' without a likelihood whose samples are the rows of `rows`
    (model space), in order: what evaluation reports for it is known."""

    family = "test"

    def __init__(self, rows, **kwargs):
        super().__init__(list(rows.shape[1:]), **kwargs)
        self.rows = tf.constant(rows, tf.float32)

    def draw(self, n, condition, seed):
        reps = -(-int(n) // int(self.rows.shape[0]))
        return tf.tile(self.rows, [reps] + [1] * (self.rows.shape.rank - 1))[:n]


def _model_space(source, split):
    return np.concatenate([np.asarray(x) for x in source.dataset(split, 512, shuffle=False)])


def test_digits_replayed_from_the_train_split_score_their_floor():
    source = data.load_data("digits")
    metrics = evaluate(Replay(_model_space(source, "train")), source)
    assert metrics["likelihood"] is None and "nll" not in metrics
    assert metrics["num_generated"] == 1257 and metrics["num_reference"] == 360
    for key in ("fid_digits", "kid_digits", "is_digits", "class_histogram"):
        assert metrics[key] == pytest.approx(metrics[f"{key}_floor"], rel=1e-6, abs=1e-9)
    assert 0 < metrics["fid_digits_floor"] < 10
    assert metrics["is_digits_floor"] > 9  # ten classes, confidently classified
    assert sum(metrics["class_histogram"]) == pytest.approx(1.0, abs=1e-3)
    assert metrics["samples_per_second"] > 0


def test_digits_of_one_class_score_far_worse_than_the_floor():
    source = data.load_data("digits")
    x, labels = _model_space(source, "train"), source.labels["train"]
    metrics = evaluate(Replay(x[labels == 3]), source)
    assert metrics["fid_digits"] > 20 * metrics["fid_digits_floor"]
    assert metrics["is_digits"] < 1.5
    assert metrics["class_histogram"][3] > 0.95
    assert metrics["kid_digits"] > 10 * metrics["kid_digits_stderr"]


class ClassReplay(GenerativeModel):
    """A conditional 'model' that returns train digits of the asked class
    (or, with `shift`, of the class `shift` places on)."""

    family = "test"

    def __init__(self, rows, labels, shift=0, **kwargs):
        super().__init__(list(rows.shape[1:]), num_classes=10, **kwargs)
        self.rows, self.labels, self.shift = rows, labels, shift

    def draw(self, n, condition, seed):
        wanted = (np.argmax(condition, axis=-1) + self.shift) % 10
        of_class = [np.flatnonzero(self.labels == k) for k in range(10)]
        index = [of_class[k][i // 10 % len(of_class[k])] for i, k in enumerate(wanted)]
        return tf.constant(self.rows[index])


def test_conditional_samples_are_scored_by_the_class_the_classifier_names():
    source = data.load_data("digits")
    x, labels = _model_space(source, "train"), source.labels["train"]
    right = evaluate(ClassReplay(x, labels), source)
    assert right["class_accuracy_digits_floor"] > 0.99
    # Real digits of the asked class: about the classifier's accuracy.
    assert right["class_accuracy_digits"] > 0.98
    wrong = evaluate(ClassReplay(x, labels, shift=1), source)
    assert wrong["class_accuracy_digits"] < 0.05
    assert "class_accuracy_digits" not in evaluate(Replay(x), source)


def test_2d_samples_of_the_data_distribution_score_near_zero_and_a_shift_does_not():
    source = data.load_data("two_moons")
    fresh = source.toy.sample(2000, 77).astype(np.float32)  # the data's own law
    metrics = evaluate(Replay(fresh), source)
    assert abs(metrics["energy_distance"]) < 0.005 and abs(metrics["mmd"]) < 0.002
    assert abs(metrics["energy_distance_floor"]) < 0.005
    shifted = evaluate(Replay(fresh + np.float32(0.5)), source)
    assert shifted["energy_distance"] > 0.05 and shifted["mmd"] > 0.01


class StandardNormalBound(GenerativeModel):
    """N(0, I) with a 'bound' that is its exact NLL plus 0.25 nats: what
    evaluation must report for it is known in closed form."""

    family = "test"
    likelihood = "bound"

    def nll_bounds(self, x, condition=None):
        nll = 0.5 * tf.reduce_sum(x**2, axis=-1) + np.log(2 * np.pi)  # D = 2
        return {"elbo": nll + 0.25}

    def draw(self, n, condition, seed):
        return tf.random.stateless_normal([n, 2], seed=seed)


def test_bounds_are_reported_as_bounds_in_nats_and_bits():
    source = data.load_data("two_moons")
    metrics = evaluate(StandardNormalBound([2]), source)
    test = _model_space(source, "test")
    expected = np.mean(0.5 * np.sum(test.astype(np.float64) ** 2, axis=1)) + np.log(2 * np.pi)
    assert metrics["likelihood"] == "bound" and "nll" not in metrics
    assert metrics["elbo_nll"] == pytest.approx(expected + 0.25, rel=1e-6)
    assert metrics["elbo_bits_per_dim"] == pytest.approx((expected + 0.25) / (2 * np.log(2)),
                                                         rel=1e-6)
    assert metrics["num_examples"] == 10_000


def test_shapes_that_differ_are_refused():
    with pytest.raises(ValueError, match=r"\[2\].*\[3\]"):
        evaluate(Replay(np.zeros([4, 3], np.float32)), data.load_data("two_moons"))
