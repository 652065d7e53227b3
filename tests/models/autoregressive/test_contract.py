"""The family contract for autoregressive models: a MirroredStrategy step
equals the one-device step, and `.keras` round trips keep outputs,
samples and optimizer state."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.data import Dequantizer
from tfgen.models.autoregressive import MADE, NADE, PixelCNN

from tests.helpers import assert_same_state, one_fit_step, perturb

DEQ = Dequantizer(5)
MODELS = {
    "made_ensemble": lambda: MADE([6], dequantizer=DEQ, hidden_units=[8], num_orderings=2,
                                  ema_decay=0.5),
    "nade": lambda: NADE([6], dequantizer=DEQ, hidden_units=8),
    "pixelcnn_class_conditional": lambda: PixelCNN([2, 3, 1], dequantizer=DEQ, num_classes=2,
                                                   channels=4, num_blocks=2, head_units=4),
}


def _data(model, n=64, seed=0):
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, 5, size=(n, *model.event_shape)).astype(np.int32)
    x = DEQ.from_levels(levels).numpy()
    return (x, np.arange(n, dtype=np.int32) % 2) if model.conditional else (x,)


@pytest.mark.parametrize("name", ["nade", "pixelcnn_class_conditional"])
def test_mirrored_step_equals_the_one_device_step(name, mirrored):
    make = MODELS[name]
    reference = perturb(make(), scale=0.3)
    weights = reference.get_weights()
    data = _data(reference)
    loss_single, after_single = one_fit_step(make, tf.distribute.get_strategy(), weights, data)
    loss_mirrored, after_mirrored = one_fit_step(make, mirrored, weights, data)
    np.testing.assert_allclose(loss_single, -np.mean(reference.log_prob(*data)), rtol=1e-5)
    np.testing.assert_allclose(loss_mirrored, loss_single, rtol=1e-5)
    for a, b in zip(after_mirrored, after_single, strict=True):   # averaged, not summed
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, w0) for a, w0 in zip(after_single, weights))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_round_trip_keeps_outputs_samples_and_optimizer(name, tmp_path):
    model = MODELS[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = _data(model)
    model.fit(tf.data.Dataset.from_tensor_slices(data).batch(32), epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.log_prob(*data), model.log_prob(*data))
    condition = data[1][:7] if model.conditional else None
    np.testing.assert_array_equal(loaded.sample(7, condition, seed=2),
                                  model.sample(7, condition, seed=2))
    assert_same_state(model, loaded)
