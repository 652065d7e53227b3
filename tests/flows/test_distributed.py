"""fit under MirroredStrategy on two logical CPUs equals single-device fit."""

import keras
import numpy as np
import tensorflow as tf

from tfgen import flows


def _one_step(strategy, weights, x):
    with strategy.scope():
        model = flows.RealNVP([2], num_couplings=2, hidden_units=[8])
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    data = tf.data.Dataset.from_tensor_slices(x).batch(len(x))
    history = model.fit(data, epochs=1, verbose=0)
    return history.history["nll"][0], [w.numpy() for w in model.weights]


def test_mirrored_strategy_step_equals_single_device_step():
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py sets up two logical CPUs"
    keras.utils.set_random_seed(0)
    reference = flows.RealNVP([2], num_couplings=2, hidden_units=[8])
    rng = np.random.default_rng(0)
    weights = [w + 0.2 * rng.normal(size=w.shape).astype(np.float32)
               for w in reference.get_weights()]
    # Uneven halves of the global batch would differ: replicas see 32 each.
    x = (rng.normal(size=(64, 2)) * [1.0, 0.2] + [0.5, 0.0]).astype(np.float32)

    mirrored = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    assert mirrored.num_replicas_in_sync == 2
    loss_single, after_single = _one_step(tf.distribute.get_strategy(), weights, x)
    loss_mirrored, after_mirrored = _one_step(mirrored, weights, x)

    expected = -float(np.mean(_log_prob_with(weights, x)))
    np.testing.assert_allclose(loss_single, expected, rtol=1e-5)
    np.testing.assert_allclose(loss_mirrored, loss_single, rtol=1e-5)
    # Same update: gradients are averaged over the global batch, not summed.
    for a, b, w0 in zip(after_mirrored, after_single, weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, w0) for a, w0 in zip(after_single, weights))


def _log_prob_with(weights, x):
    model = flows.RealNVP([2], num_couplings=2, hidden_units=[8])
    model.set_weights(weights)
    return model.log_prob(x).numpy()
