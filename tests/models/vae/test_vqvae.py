"""The VQ-VAE and its quantizer: nearest codes, the straight-through
gradient, the losses, the EMA codebook, perplexity, the uniform-prior bound,
training (also under MirroredStrategy), the `.keras` round trip and exports."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export, registry
from tfgen.models.vae import VQVAE, VectorQuantizer
from tfgen.models.vae.quantizer import (codebook_loss, commitment_loss, perplexity,
                                        straight_through)

from .contract import check_samples_are_levels


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


def _batch(source, n=32):
    return next(iter(source.dataset("test", n, shuffle=False)))


def _model(source, **kwargs):
    return VQVAE(source.event_shape, num_codes=16, embedding_dim=4, channels=[8, 8],
                 dequantizer=source.dequantizer, **kwargs)


def _trained(source, steps=10, **kwargs):
    model = _model(source, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(source.dataset("train", 32, repeat=True), steps_per_epoch=steps, epochs=1,
              verbose=0)
    return model


def _quantizer(num_codes=7, dim=3, seed=0, **kwargs):
    quantizer = VectorQuantizer(num_codes, dim, **kwargs)
    codes = np.random.default_rng(seed).normal(size=(num_codes, dim)).astype(np.float32)
    quantizer.set_codebook(codes)
    return quantizer, codes


def test_nearest_codes_match_a_brute_force_argmin():
    quantizer, codes = _quantizer()
    z = np.random.default_rng(1).normal(size=(5, 2, 3, 3)).astype(np.float32)
    z_q, nearest, indices = quantizer(z)
    expected = np.argmin(((z[..., None, :] - codes) ** 2).sum(-1), axis=-1)
    assert indices.dtype == tf.int32 and indices.shape == (5, 2, 3)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(nearest, codes[expected])
    np.testing.assert_allclose(z_q, codes[expected], atol=1e-6)
    np.testing.assert_allclose(quantizer.distances(z),
                               ((z[..., None, :] - codes) ** 2).sum(-1), rtol=1e-5, atol=1e-5)


def test_the_straight_through_gradient_is_the_gradient_at_z_q():
    quantizer, _ = _quantizer()
    z_e = tf.constant(np.random.default_rng(2).normal(size=(4, 2, 2, 3)), tf.float32)
    weights = np.random.default_rng(3).normal(size=(2, 2, 3)).astype(np.float32)

    def f(z):  # a downstream loss, nonlinear in z
        return tf.reduce_sum(tf.sin(z) * weights)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z_e)
        z_q, _, _ = quantizer(z_e)
        loss = f(z_q)
    through = tape.gradient(loss, z_e)
    assert tape.gradient(loss, quantizer.codebook) is None  # codes move by their loss
    # The gradient w.r.t. z_q, by central differences.
    point, h = z_q.numpy().astype(np.float64), 1e-3
    numeric = np.zeros_like(point)
    for i in np.ndindex(point.shape):
        step = np.zeros_like(point)
        step[i] = h
        numeric[i] = (float(f(point + step)) - float(f(point - step))) / (2 * h)
    np.testing.assert_allclose(through, numeric, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(straight_through(z_e, z_q), z_q, atol=1e-6)


def test_codebook_and_commitment_losses_match_their_formulas():
    rng = np.random.default_rng(4)
    z_e = tf.constant(rng.normal(size=(3, 2, 2, 4)), tf.float32)
    codes = tf.constant(rng.normal(size=(3, 2, 2, 4)), tf.float32)
    expected = ((z_e.numpy() - codes.numpy()) ** 2).sum(axis=(1, 2, 3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([z_e, codes])
        book, commit = codebook_loss(z_e, codes), commitment_loss(z_e, codes)
    np.testing.assert_allclose(book, expected, rtol=1e-5)
    np.testing.assert_allclose(commit, expected, rtol=1e-5)
    # The codebook loss moves the codes only, the commitment loss z_e only.
    assert tape.gradient(book, z_e) is None and tape.gradient(commit, codes) is None
    np.testing.assert_allclose(tape.gradient(book, codes), 2 * (codes - z_e), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(commit, z_e), 2 * (z_e - codes), rtol=1e-5)


def test_one_ema_update_matches_a_hand_computation():
    decay, eps = 0.9, 1e-2
    quantizer, codes = _quantizer(num_codes=4, dim=2, ema=True, decay=decay, epsilon=eps)
    assert not quantizer.trainable_weights and len(quantizer.non_trainable_weights) == 3
    # Vectors near codes 0 and 2 only: codes 1 and 3 get no assignment.
    z = np.concatenate([codes[[0, 0, 2]] + 0.01, codes[[2, 0, 2]] - 0.01]).reshape(2, 3, 2)
    indices = quantizer.assign(z)
    np.testing.assert_array_equal(indices, [[0, 0, 2], [2, 0, 2]])
    quantizer.ema_update(tf.constant(z, tf.float32), indices)
    flat, assigned = z.reshape(-1, 2), np.ravel(indices)
    n = np.array([np.sum(assigned == j) for j in range(4)], np.float64)
    sums = np.stack([flat[assigned == j].sum(0) for j in range(4)])
    counts = decay * 1.0 + (1 - decay) * n           # the counts start at 1
    ema_sums = decay * codes + (1 - decay) * sums    # the sums at the codes
    total = counts.sum()
    smoothed = (counts + eps) / (total + 4 * eps) * total
    np.testing.assert_allclose(quantizer.ema_counts, counts, rtol=1e-6)
    np.testing.assert_allclose(quantizer.ema_sums, ema_sums, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(quantizer.codebook, ema_sums / smoothed[:, None], rtol=1e-5,
                               atol=1e-6)


def test_perplexity_matches_its_formula():
    assert float(perplexity(np.full([8], 5.0))) == pytest.approx(8.0, rel=1e-6)
    assert float(perplexity(np.array([0.0, 12.0, 0.0]))) == pytest.approx(1.0)
    counts = np.array([3.0, 0.0, 1.0, 6.0])
    p = counts[counts > 0] / counts.sum()
    assert float(perplexity(counts)) == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-6)


def test_the_bound_is_the_reconstruction_plus_m_log_k_and_the_metrics_add_up(digits):
    model = _trained(digits, steps=2)
    x = _batch(digits)
    reconstruction, book, commit, _, indices = model._terms(x)
    bound = model.nll_bounds(x)
    assert list(bound) == ["elbo"] and model.latent_shape == [2, 2]
    np.testing.assert_allclose(bound["elbo"], -reconstruction + 4 * math.log(16), rtol=1e-6)
    np.testing.assert_allclose(model.bits_per_dim(bound["elbo"], x),
                               bound["elbo"] / (64 * math.log(2)), rtol=1e-6)
    logs = model.evaluate(tf.data.Dataset.from_tensors(x), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "reconstruction", "codebook_loss", "commitment_loss",
                         "perplexity", "codes_used", "elbo_bits_per_dim"}
    assert logs["loss"] == pytest.approx(
        -logs["reconstruction"] + logs["codebook_loss"] + logs["commitment_loss"], rel=1e-5)
    assert logs["commitment_loss"] == pytest.approx(0.25 * logs["codebook_loss"], rel=1e-5)
    assert logs["elbo_bits_per_dim"] == pytest.approx(
        float(np.mean(bound["elbo"])) / (64 * math.log(2)), rel=1e-5)
    used = np.bincount(np.ravel(indices), minlength=16)
    assert logs["perplexity"] == pytest.approx(float(perplexity(used)), rel=1e-5)
    assert logs["codes_used"] == np.count_nonzero(used)
    # The evaluation's figures over the test split.
    figures = model.evaluation_metrics(digits, "test")
    x_all = np.concatenate(list(digits.dataset("test", 512, shuffle=False)))
    all_indices = model.encode_indices(x_all)
    assert figures["codes_used"] == len(np.unique(all_indices))
    assert figures["reconstruction_nats"] == pytest.approx(
        -float(np.mean(model._terms(x_all)[0])), rel=1e-5)


def test_the_ema_loss_leaves_the_codebook_loss_out(digits):
    model = _model(digits, ema_codebook=True)
    loss = model._loss(tf.constant([-10.0]), tf.constant([4.0]), tf.constant([4.0]))
    np.testing.assert_allclose(loss, [10.0 + 0.25 * 4.0])


def test_a_tiny_fit_lowers_the_loss_and_starts_from_data_codes(digits):
    model = _model(digits, ema_codebook=True)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    train = digits.dataset("train", 64, repeat=True)
    model.prepare_training(train, None, None)
    first = next(iter(train))
    z = model._encode(first).numpy().reshape(-1, 4)
    # Every code is one of the first batch's latent vectors.
    codebook = model.quantizer.codebook.numpy()
    assert all(np.any(np.all(np.isclose(z, code), axis=1)) for code in codebook)
    history = model.fit(train, steps_per_epoch=15, epochs=2, verbose=0).history
    assert history["loss"][1] < history["loss"][0]
    assert history["perplexity"][1] > 2


def test_keras_round_trip_gives_identical_outputs(digits, tmp_path):
    model = _trained(digits, steps=5, ema_codebook=True, ema_decay=0.9)
    path = os.fspath(tmp_path / "vqvae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == model.get_config()
    for name in ("codebook", "ema_counts", "ema_sums"):
        np.testing.assert_array_equal(getattr(loaded.quantizer, name).numpy(),
                                      getattr(model.quantizer, name).numpy())
    x = _batch(digits, 8)
    indices = model.encode_indices(x)
    np.testing.assert_array_equal(loaded.encode_indices(x), indices)
    np.testing.assert_array_equal(loaded.decode_indices(indices), model.decode_indices(indices))
    np.testing.assert_array_equal(loaded.nll_bounds(x)["elbo"], model.nll_bounds(x)["elbo"])
    np.testing.assert_array_equal(loaded.sample(5, seed=2), model.sample(5, seed=2))
    assert loaded.optimizer.iterations.numpy() == 5


def test_export_serves_the_three_signatures(digits, tmp_path):
    model = _trained(digits, steps=3)
    export.export(model, tmp_path / "export")
    served = tf.saved_model.load(os.fspath(tmp_path / "export")).signatures
    assert {"encode_indices", "decode_indices", "sample"} <= set(served)
    x = _batch(digits, 8)
    indices = served["encode_indices"](x=x)["indices"]
    assert indices.dtype == tf.int32 and indices.shape == (8, 2, 2)
    np.testing.assert_array_equal(indices, model.encode_indices(x))
    np.testing.assert_allclose(served["decode_indices"](indices=indices)["x"],
                               model.decode_indices(indices), rtol=1e-5)
    sampled = served["sample"](n=tf.constant(5), seed=tf.constant(2))
    np.testing.assert_allclose(sampled["samples"], model.sample(5, seed=2), rtol=1e-5)
    np.testing.assert_array_equal(sampled["pixels"],
                                  digits.dequantizer.to_levels(model.sample(5, seed=2)))


def test_samples_are_levels_and_deterministic_per_seed(digits):
    check_samples_are_levels(_trained(digits, steps=2), digits.dequantizer)


def test_a_mirrored_step_equals_one_device_on_the_same_global_batch(digits, mirrored):
    batches = digits.dataset("train", 32, shuffle=False).take(2)
    single = _model(digits, ema_codebook=True)
    single.compile(optimizer=keras.optimizers.Adam(1e-2))
    with mirrored.scope():
        replicated = _model(digits, ema_codebook=True)
        replicated.compile(optimizer=keras.optimizers.Adam(1e-2))
    replicated.set_weights(single.get_weights())
    history = replicated.fit(batches, epochs=1, verbose=0).history
    single.fit(batches, epochs=1, verbose=0)
    assert np.isfinite(history["loss"][0])
    assert replicated.optimizer.iterations.numpy() == 2
    for a, b in zip(single.weights, replicated.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-5, err_msg=a.path)


def test_a_gaussian_decoder_on_continuous_images():
    x = np.random.default_rng(0).normal(size=(16, 4, 4, 1)).astype(np.float32)
    model = VQVAE([4, 4, 1], num_codes=4, embedding_dim=2, channels=[4])
    model.compile(optimizer="adam")
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert model.latent_shape == [2, 2] and model.sample(3, seed=0).shape == (3, 4, 4, 1)
    assert np.all(np.isfinite(model.nll_bounds(x)["elbo"]))


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_codes=0), "num_codes"), (dict(embedding_dim=1.5), "embedding_dim"),
    (dict(beta=-1.0), "beta"), (dict(decoder_likelihood="poisson"), "decoder_likelihood"),
    (dict(decoder_likelihood="gaussian"), "continuous"),
    (dict(codebook_decay=1.0), "codebook_decay"),
    (dict(num_classes=10), "no conditional form"), (dict(channels=[]), "channels"),
    (dict(channels=[8, 0]), "channels"), (dict(channels=[1.7]), "channels")])
def test_bad_arguments_name_themselves(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        VQVAE([8, 8, 1], dequantizer=digits.dequantizer, **kwargs)


def test_shapes_it_cannot_take_are_refused(digits):
    with pytest.raises(ValueError, match="event_shape"):
        VQVAE([4])
    with pytest.raises(ValueError, match="discrete data"):
        VQVAE([8, 8, 1], decoder_likelihood="categorical")
    model = _model(digits)
    with pytest.raises(ValueError, match="indices"):
        model.decode_indices(np.zeros([2, 4], np.int32))


def test_registered_for_the_command_line(digits):
    assert registry.get_model_class("vqvae") is VQVAE
    model = VQVAE([8, 8, 1], dequantizer=digits.dequantizer,
                  **registry.default_config("vqvae", [8, 8, 1]))
    assert model.ema_codebook and model.latent_shape == [2, 2]
