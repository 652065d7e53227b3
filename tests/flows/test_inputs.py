"""What users hand a flow is checked once, the same way on every path:
`log_prob`, `sample`, `fit` (arrays and datasets) and conditional
distributions. Bad input gets a `TypeError`/`ValueError` naming the argument
and the value, before any training step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import flows

from tests.helpers import CONDITIONAL, conditions, perturb


@pytest.fixture
def realnvp():
    model = flows.RealNVP([2], num_couplings=1, hidden_units=[4])
    model.compile(optimizer="adam")
    return model


@pytest.mark.parametrize("x,error,match", [
    (np.ones([32, 2], np.int64), TypeError, r"`x` must hold floats; received dtype int64.*"
                                            r"dequantization"),
    (np.ones([32, 3], np.float32), ValueError, r"`x` must have shape \[batch, 2\]; received "
                                               r"shape \[(32|None), 3\]"),
    (np.ones([32], np.float32), ValueError, r"received shape \[(32|None)\]"),
    (np.array([[0.0, 1.0], [np.nan, 0.0]], np.float32), ValueError, "non-finite.*row 1"),
], ids=["int", "wrong_event_shape", "no_batch", "nan"])
def test_fit_checks_arrays_and_datasets_before_training(realnvp, x, error, match):
    with pytest.raises(error, match=match):
        realnvp.fit(x, batch_size=8, epochs=1, verbose=0)
    if not np.isnan(x).any():  # datasets are checked by their element spec
        with pytest.raises(error, match=match):
            realnvp.fit(tf.data.Dataset.from_tensor_slices(x).batch(32), verbose=0)
    assert int(realnvp.optimizer.iterations) == 0


def test_log_prob_gives_the_same_answers(realnvp):
    with pytest.raises(TypeError, match="`x` must hold floats; received dtype int64"):
        realnvp.log_prob(np.ones([4, 2], np.int64))
    with pytest.raises(ValueError, match=r"`x` must have shape \[batch, 2\]"):
        realnvp.log_prob(np.ones([4, 3], np.float32))
    # float64 arrays and tensors are floats too.
    np.testing.assert_allclose(realnvp.log_prob(tf.ones([3, 2], tf.float64)),
                               realnvp.log_prob(np.ones([3, 2], np.float32)))


@pytest.mark.parametrize("n,error,match", [
    (2.5, TypeError, r"`n` must be an int; received 2.5"),
    (-1, ValueError, r"`n` must be >= 1; received -1"),
    (0, ValueError, r"`n` must be >= 1; received 0"),
    (True, TypeError, r"`n` must be an int; received True"),
    (tf.constant(2.0), TypeError, r"`n` must be an int scalar; received a float32"),
])
def test_sample_count_is_a_positive_int(realnvp, n, error, match):
    with pytest.raises(error, match=match):
        realnvp.sample(n)
    assert realnvp.sample(np.int64(3), seed=0).shape == [3, 2]


def test_labels_outside_the_classes_are_refused_on_every_path():
    model = CONDITIONAL["realnvp"]()
    model.compile(optimizer="adam")
    x = np.zeros([4, 2], np.float32)
    for bad in ([0, 1, 3, 2], [-1, 0, 0, 0]):
        with pytest.raises(ValueError, match=r"`condition` labels must be in \[0, 3\); "
                                             rf"received \[{bad[2] if bad[2] == 3 else -1}\]"):
            model.log_prob(x, np.array(bad))
        with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
            model.sample(4, np.array(bad))
        with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
            model.fit(x, np.array(bad), verbose=0)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.sample(2, 3)
    with pytest.raises(TypeError, match="`condition` must be int class labels.*float32"):
        model.log_prob(x, np.array([0.0, 1.0, 2.5, 1.0], np.float32))
    # A dataset's labels are only known in the traced step: checked there.
    dataset = tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 7, 2]))).batch(4)
    before = [w.numpy() for w in model.trainable_weights]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 3\)"):
        model.fit(dataset, verbose=0)
    for w, w0 in zip(model.trainable_weights, before):  # no update was applied
        np.testing.assert_array_equal(w, w0)


def test_conditions_must_match_the_batch_and_the_model():
    model = CONDITIONAL["realnvp"]()
    model.compile(optimizer="adam")
    x = np.zeros([4, 2], np.float32)
    with pytest.raises(ValueError, match=r"one condition, or one per example \(4\); "
                                         "received 3"):
        model.log_prob(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"one per example \(5\); received 3"):
        model.sample(5, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"is conditional: pass `condition` \(in `fit`, as "
                                         r"`y`\): int labels"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(2), verbose=0)
    with pytest.raises(TypeError, match="int class labels.*float32"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, np.zeros(4, np.float32))).batch(2),
                  verbose=0)
    plain = flows.RealNVP([2], num_couplings=1, hidden_units=[4])
    plain.compile(optimizer="adam")
    with pytest.raises(ValueError, match="unconditional; received a condition"):
        plain.fit(x, np.zeros(4, np.int32), verbose=0)
    # One condition scores every example.
    labels = np.full(4, 2, np.int32)
    x = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_array_equal(model.log_prob(x, 2), model.log_prob(x, labels))


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_conditional_distribution_has_one_batch_member_per_condition(name):
    model = perturb(CONDITIONAL[name]())
    c = conditions(model, 3)
    distribution = model.conditional_distribution(c)
    assert distribution.batch_shape == [3] and distribution.event_shape == model.event_shape
    assert distribution.sample(seed=(1, 2)).shape == [3, *model.event_shape]
    samples = distribution.sample(4, seed=(1, 2))
    assert samples.shape == [4, 3, *model.event_shape]
    # Sample i of member j is scored under condition j, as the flow scores it.
    log_prob = distribution.log_prob(tf.constant(samples.numpy()))
    for i in range(4):
        np.testing.assert_allclose(log_prob[i], model.log_prob(samples[i], c),
                                   rtol=1e-5, atol=1e-4)


def test_fit_takes_lists_as_arrays():
    model = flows.RealNVP([2], num_couplings=1, hidden_units=[4])
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    model.fit([[0.0, 1.0], [1.0, 0.5]], batch_size=2, verbose=0)
    assert int(model.optimizer.iterations) == 1
