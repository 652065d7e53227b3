"""Glow: ActNorm's data-dependent initialization and temperature sampling."""

import keras
import numpy as np
import pytest

from tfgen import bijectors, flows

from tests.helpers import perturb


def _images(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (2.0 * rng.normal(size=(n, 4, 4, 1)) + 1.5).astype(np.float32)


def _glow():
    return flows.Glow([4, 4, 1], num_levels=1, num_steps=2, hidden_channels=4)


def test_initialize_standardizes_each_actnorm_input():
    """Each ActNorm sees the output of the steps before it (initialized
    first) and maps it to zero mean, unit variance per channel."""
    model = perturb(_glow(), scale=0.3)
    x = _images()
    model.initialize(x)
    h = bijectors.Squeeze().forward(x)
    for actnorm, conv, coupling in model.steps[0]:
        assert actnorm.is_initialized
        out = actnorm.bijector().forward(h).numpy()
        np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
        np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
        h = coupling.bijector().forward(conv.bijector().forward(out))


def test_initialization_happens_once_and_survives_save_load(tmp_path):
    model = _glow()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    model.fit(_images(), batch_size=16, epochs=1, verbose=0)  # initializes
    first = model.steps[0][0][0]
    shift = first.shift.numpy()
    assert not np.allclose(shift, 0.0)
    model.fit(_images(seed=1) * 3.0, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(first.shift.numpy(), shift)  # not re-initialized

    model.save(tmp_path / "glow.keras")
    loaded = keras.models.load_model(tmp_path / "glow.keras")
    assert all(layer.is_initialized for level in loaded.steps for layer, _, _ in level)
    loaded.compile(optimizer=keras.optimizers.SGD(0.0))
    loaded.fit(_images(seed=2) - 5.0, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(loaded.steps[0][0][0].shift.numpy(), shift)


def test_temperature_scales_the_latent():
    """sample(T) = f^{-1}(T z) for the z that sample(1) maps from."""
    model = perturb(_glow(), scale=0.2)
    f = model.normalizing_bijector()
    z_one = f.forward(model.sample(5, seed=4)).numpy()
    z_cold = f.forward(model.sample(5, seed=4, temperature=0.5)).numpy()
    np.testing.assert_allclose(z_cold, 0.5 * z_one, atol=1e-4)
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=0.0)


def test_glow_latent_levels():
    """Two levels on 8x8x1: the first works on [4, 4, 4], the second on
    [2, 2, 8]; at initialization the flow is volume-preserving."""
    model = flows.Glow([8, 8, 1], num_levels=2, num_steps=2, hidden_channels=4)
    assert [level[0][0].event_shape for level in model.steps] == [[4, 4, 4], [2, 2, 8]]
    x = _images(4)
    x = np.concatenate([x, x], axis=1).repeat(2, axis=2)  # [4, 8, 8, 1]
    np.testing.assert_allclose(
        model.normalizing_bijector().forward_log_det_jacobian(x, event_ndims=3), 0.0,
        atol=1e-5)
