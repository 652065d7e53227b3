"""FID, KID and the Inception Score as streamed Keras metrics: against the
full-sample formulas, in `tf.function`, over repeated draws; bad input."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen.metrics import FID, KID, InceptionScore, frechet_distance, polynomial_mmd


def identity(x):
    return x


def _batches(x, sizes):
    return np.split(x, np.cumsum(sizes)[:-1])


def test_fid_streamed_equals_the_full_sample_frechet_distance():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(70, 3)) @ rng.normal(size=(3, 3)) + 5.0
    generated = rng.normal(size=(45, 3)) * [1.0, 2.0, 0.5]
    expected = frechet_distance(real.mean(0), np.cov(real.T), generated.mean(0),
                                np.cov(generated.T))
    fid = FID(identity, feature_dim=3)
    assert np.isnan(fid.result().numpy())
    for r, g in zip(_batches(real, [30, 25, 15]), _batches(generated, [5, 20, 20])):
        fid.update_state(r, g)
    assert fid.result().dtype == tf.float64
    assert fid.result().numpy() == pytest.approx(expected, rel=1e-10)
    fid.reset_state()
    step = tf.function(fid.update_state)
    for r, g in zip(_batches(real, [35, 35]), _batches(generated, [40, 5])):
        step(tf.constant(r), tf.constant(g))
    assert tf.function(fid.result)().numpy() == pytest.approx(expected, rel=1e-10)
    assert fid.feature_name == "identity"


def _kid(real, generated, **options):
    kid = KID(identity, feature_dim=real.shape[1], num_subsets=10, subset_size=50, **options)
    kid.update_state(real, generated)
    return kid


def test_kid_is_zero_in_expectation_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(1)
    null = np.array([_kid(rng.normal(size=(100, 4)), rng.normal(size=(100, 4))).result_with_error()
                     for _ in range(30)])
    kids, stderrs = null.T
    assert abs(kids.mean()) < 3 * kids.std(ddof=1) / np.sqrt(len(kids))
    # The reported standard error follows the spread over draws (conservative at 0).
    assert 0.85 < np.sqrt(np.mean(stderrs ** 2)) / kids.std(ddof=1) < 2.0
    shifted = _kid(rng.normal(size=(100, 4)), rng.normal(size=(100, 4)) + 1.0)
    kid, stderr = shifted.result_with_error()
    assert kid == pytest.approx(float(shifted.result()), rel=1e-12)
    assert kid > 3 * stderr and kid > 10 * kids.std()


def test_kid_over_all_examples_is_the_full_sample_mmd_and_streams():
    # subset_size >= n: every subset is a permutation of all examples.
    rng = np.random.default_rng(2)
    real, generated = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)) + 0.3
    kid = KID(identity, feature_dim=3, max_samples=40, num_subsets=3, subset_size=100)
    step = tf.function(kid.update_state)
    for r, g in zip(_batches(real, [10, 30]), _batches(generated, [25, 15])):
        step(tf.constant(r), tf.constant(g))
    expected, jackknife_stderr = polynomial_mmd(real, generated, return_stderr=True)
    assert kid.result().numpy() == pytest.approx(expected, rel=1e-10)
    assert kid.result_with_error()[1] == pytest.approx(jackknife_stderr, rel=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_samples"):
        step(tf.constant(real[:1]), tf.constant(generated[:1]))
    kid.reset_state()
    assert np.isnan(kid.result().numpy())
    with pytest.raises(ValueError, match="3 real and 3 generated"):
        kid.result_with_error()


def test_inception_score_extremes_and_streaming():
    one_hot = np.tile(np.eye(5), [4, 1])  # confident, 4 of each of 5 classes
    score = InceptionScore(identity, num_classes=5)
    score.update_state(one_hot)
    assert score.result().numpy() == pytest.approx(5.0, rel=1e-12)
    score.reset_state()
    score.update_state(np.tile(np.eye(5)[2], [7, 1]))
    assert score.result().numpy() == pytest.approx(1.0, rel=1e-12)

    logits = np.random.default_rng(3).normal(size=(50, 5)) * 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    mean = p.mean(0)
    expected = np.exp(np.mean(np.sum(p * np.log(p / mean), 1)))  # exp E[KL(p || pbar)]
    whole, streamed = InceptionScore(identity, 5), InceptionScore(identity, 5)
    whole.update_state(p)
    for batch in _batches(p, [10, 25, 15]):
        tf.function(streamed.update_state)(tf.constant(batch))
    assert whole.result().numpy() == pytest.approx(expected, rel=1e-12)
    assert streamed.result().numpy() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("make, error, argument", [
    (lambda: FID(identity), ValueError, "`feature_dim`"),
    (lambda: FID(identity, feature_dim=0), ValueError, "`feature_dim`"),
    (lambda: FID("features", feature_dim=2), TypeError, "`features`"),
    (lambda: KID(identity, feature_dim=2, num_subsets=1), ValueError, "`num_subsets`"),
    (lambda: KID(identity, feature_dim=2, subset_size=1), ValueError, "`subset_size`"),
    (lambda: KID(identity, feature_dim=2, seed=0.5), TypeError, "`seed`"),
    (lambda: InceptionScore(identity), ValueError, "`num_classes`"),
])
def test_bad_arguments_name_the_argument(make, error, argument):
    with pytest.raises(error, match=argument):
        make()


def test_features_of_the_wrong_width_are_refused():
    fid = FID(identity, feature_dim=3)
    with pytest.raises(ValueError, match=r"`features` must return \[batch, 3\]"):
        fid.update_state(np.zeros((4, 2)), np.zeros((4, 3)))
    score = InceptionScore(identity, num_classes=3)
    with pytest.raises(ValueError, match="`classifier`"):
        score.update_state(np.zeros((4, 2)))
