"""fit under MirroredStrategy on two logical CPUs equals single-device fit
(Glow's included: its ActNorm initialization from the first global batch)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import flows

from tests.helpers import one_fit_step, perturb

MODELS = {
    "realnvp": lambda: flows.RealNVP([2], num_couplings=2, hidden_units=[8]),
    "maf": lambda: flows.MAF([2], num_layers=2, hidden_units=[8]),  # wraps tf_keras MADE
    "maf_conditional": lambda: flows.MAF([2], num_layers=1, hidden_units=[8], num_classes=2),
    "glow": lambda: flows.Glow([2, 2, 1], num_levels=1, num_steps=1, hidden_channels=4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mirrored_strategy_step_equals_single_device_step(name, mirrored):
    make = MODELS[name]
    keras.utils.set_random_seed(0)
    reference = perturb(make(), scale=0.2)
    weights = reference.get_weights()
    rng = np.random.default_rng(0)
    # Uneven halves of the global batch would differ: replicas see 32 each.
    x = (rng.normal(size=(64, 2, 2)) * [1.0, 0.2] + [0.5, 0.0]).astype(np.float32)
    x = x.reshape([64, -1])[:, :reference.event_size].reshape([64, *reference.event_shape])
    labels = np.arange(64, dtype=np.int32) % 2
    data = (x, labels) if reference.conditional else (x,)

    assert mirrored.num_replicas_in_sync == 2
    loss_single, after_single = one_fit_step(make, tf.distribute.get_strategy(), weights, data)
    loss_mirrored, after_mirrored = one_fit_step(make, mirrored, weights, data)

    reference.initialize(*data)  # ActNorm (Glow): from the whole first batch
    expected = -float(np.mean(reference.log_prob(*data)))
    np.testing.assert_allclose(loss_single, expected, rtol=1e-5)
    np.testing.assert_allclose(loss_mirrored, loss_single, rtol=1e-5)
    # Same update: gradients are averaged over the global batch, not summed.
    for a, b, w0 in zip(after_mirrored, after_single, weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, w0) for a, w0 in zip(after_single, weights))
