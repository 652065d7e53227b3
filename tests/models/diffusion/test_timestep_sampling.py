"""Importance sampling of timesteps: the history against a sequential ring
buffer, p against its formula, draws against p, the weighted loss unbiased
(and of lower variance), and DDPM training with it under MirroredStrategy
and through `.keras`."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data
from tfgen.models.diffusion import DDPM, LossAwareTimesteps


def _ring_buffer(batches, num_timesteps, k):
    """The history of a loop adding one loss at a time."""
    history = np.zeros([num_timesteps, k], np.float32)
    counts = np.zeros(num_timesteps, np.int64)
    for t, losses in batches:
        for step, loss in zip(t, losses):
            history[step, counts[step] % k] = loss
            counts[step] += 1
    return history, counts


def _filled(losses_per_t, k=4):
    """A warm sampler whose history holds `losses_per_t` `[T]` K times."""
    sampler = LossAwareTimesteps(len(losses_per_t), history=k)
    sampler.loss_history.assign(np.tile(np.asarray(losses_per_t, np.float32)[:, None], [1, k]))
    sampler.counts.assign(np.full(len(losses_per_t), k, np.int32))
    return sampler


def test_record_is_a_ring_buffer_of_the_last_k_losses_in_order():
    rng = np.random.default_rng(0)
    sampler = LossAwareTimesteps(5, history=3)
    # Batches with repeats, one timestep drawn more than K times in a batch.
    batches = [(rng.integers(0, 5, 12), rng.random(12).astype(np.float32)) for _ in range(4)]
    batches.append((np.array([2, 2, 2, 2, 2, 0]), np.arange(6, dtype=np.float32)))
    for t, losses in batches:
        sampler.record(tf.constant(t, tf.int32), tf.constant(losses))
    history, counts = _ring_buffer(batches, 5, 3)
    np.testing.assert_array_equal(sampler.loss_history.numpy(), history)
    np.testing.assert_array_equal(sampler.counts.numpy(), counts)


def test_p_is_uniform_until_warm_then_the_mixed_root_mean_square():
    sampler = LossAwareTimesteps(4, history=2, uniform_fraction=0.1)
    sampler.record(tf.constant([0, 1, 2, 3, 0, 1, 2]), tf.constant([1., 2., 3., 4., 5., 6., 7.]))
    assert not sampler.warm
    np.testing.assert_allclose(sampler.probabilities(), np.full(4, 0.25), rtol=1e-6)
    sampler.record(tf.constant([3]), tf.constant([8.0]))
    assert sampler.warm
    rms = np.sqrt(np.mean(np.array([[1, 5], [2, 6], [3, 7], [4, 8]]) ** 2.0, axis=1))
    np.testing.assert_allclose(sampler.probabilities(), 0.9 * rms / rms.sum() + 0.1 / 4,
                               rtol=1e-6)


def test_draws_follow_p_and_the_weighted_loss_is_unbiased_with_less_variance():
    losses = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.25], np.float32)  # L_t, exact
    sampler = _filled(losses)
    p = sampler.probabilities().numpy()
    n = 20000
    t = sampler.draw(n, tf.constant([0, 7])).numpy()
    weights = sampler.importance_weights(t).numpy()
    frequencies = np.bincount(t, minlength=6) / n
    np.testing.assert_array_less(np.abs(frequencies - p), 5 * np.sqrt(p * (1 - p) / n))
    np.testing.assert_allclose(weights, 1 / (6 * p[t]), rtol=1e-6)
    estimate = weights * losses[t]
    # E_p[L_t / (T p_t)] = mean_t L_t, within 5 standard errors.
    assert abs(estimate.mean() - losses.mean()) < 5 * estimate.std() / np.sqrt(n)
    # p proportional to L_t (but for u) nearly zeroes the uniform draw's variance.
    assert estimate.var() < 0.01 * losses.var()


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="`history`"):
        LossAwareTimesteps(10, history=0)
    with pytest.raises(ValueError, match="`uniform_fraction` must be in"):
        LossAwareTimesteps(10, uniform_fraction=0.0)
    with pytest.raises(ValueError, match="`timestep_sampling` must be one of"):
        DDPM([2], timestep_sampling="stratified")


@pytest.fixture(scope="module")
def moons():
    return data.load_data("two_moons").arrays["train"][:64].astype(np.float32)


def _warm_ddpm():
    model = DDPM([2], hidden_units=[16, 16], num_timesteps=20, timestep_sampling="importance")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = np.linspace(0.1, 2.0, 20 * 10, dtype=np.float32).reshape(20, 10)
    model.timestep_sampler.loss_history.assign(history)
    model.timestep_sampler.counts.assign(np.full(20, 10, np.int32))
    return model


def test_ddpm_training_records_every_example_seen(moons):
    model = DDPM([2], hidden_units=[16, 16], num_timesteps=20, timestep_sampling="importance")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(moons, batch_size=16, epochs=2, verbose=0)
    counts = model.timestep_sampler.counts.numpy()
    assert counts.sum() == 2 * 64
    seen = model.timestep_sampler.loss_history.numpy()
    assert np.all(seen[counts >= 10] > 0)


def test_mirrored_importance_sampling_makes_the_one_device_update(moons, mirrored):
    one = _warm_ddpm()
    with mirrored.scope():
        two = _warm_ddpm()
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(moons, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    assert one.timestep_sampler.counts.numpy().sum() == 20 * 10 + 64


def test_keras_round_trip_keeps_the_history(moons, tmp_path):
    model = _warm_ddpm()
    model.fit(moons, batch_size=32, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "ddpm.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for name in ("loss_history", "counts"):
        np.testing.assert_array_equal(getattr(loaded.timestep_sampler, name).numpy(),
                                      getattr(model.timestep_sampler, name).numpy())
    np.testing.assert_array_equal(loaded.timestep_sampler.probabilities(),
                                  model.timestep_sampler.probabilities())
