"""The hierarchical VAE: its bounds against the exact log p(x) of a linear-
Gaussian hierarchy, training on digits, the `.keras` round trip, conditions,
MirroredStrategy and exports."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfgen import data, export
from tfgen.models.vae import HierarchicalVAE

from .contract import check_samples_are_levels, check_served_encode_decode_sample

D, D1, D2, N = 3, 2, 2, 256


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


def _batch(source, n=32):
    return next(iter(source.dataset("test", n, shuffle=False)))


def _small(source, **kwargs):
    return HierarchicalVAE(source.event_shape, latent_dims=(4, 2), hidden_units=[16],
                           dequantizer=source.dequantizer, eval_samples=20, **kwargs)


@pytest.fixture(scope="module")
def trained(digits):
    model = _small(digits, ema_decay=0.9)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(digits.dataset("train", 32, repeat=True), steps_per_epoch=5, epochs=1, verbose=0)
    return model


def _set_linear(network, kernel, bias, scale):
    """A one-layer `ConditionedMLP` giving N(z K + b, diag(scale^2)):
    `[mean, raw_scale]` outputs, the scale `1e-4 + softplus(raw)` fixed."""
    raw = np.log(np.expm1(scale - 1e-4))
    out = kernel.shape[1]
    network.dense_layers[0].set_weights([
        np.concatenate([kernel, np.zeros([kernel.shape[0], out])], axis=1),
        np.concatenate([bias, np.full(out, raw)])])


def _linear_gaussian_hvae():
    """z2 ~ N(0, I), z1 | z2 ~ N(A z2 + a, s1^2 I), x | z1 ~ N(W z1 + b, s^2 I):
    p(x) = N(W a + b, W (A A^T + s1^2 I) W^T + s^2 I). The model's networks
    are set to these (linear layers: no hidden units); x is drawn from p.

    q has the exact posteriors' means, of p(z1 | x) and p(z2 | z1) (x says
    nothing more of z2), and diagonal scales 0.6 times their marginal
    deviations: too narrow, so there is a gap that IWAE closes slowly."""
    rng = np.random.default_rng(0)
    a_mat, a, s1 = rng.normal(size=(D1, D2)), rng.normal(size=D1), 0.7
    w, b, s = rng.normal(size=(D, D1)), rng.normal(size=D), 0.5
    prior_cov = a_mat @ a_mat.T + s1**2 * np.eye(D1)  # of z1
    marginal = stats.multivariate_normal(w @ a + b, w @ prior_cov @ w.T + s**2 * np.eye(D))
    x = marginal.rvs(size=N, random_state=1)

    model = HierarchicalVAE([D], latent_dims=(D1, D2), hidden_units=[],
                            decoder_likelihood="gaussian", eval_samples=300)
    _set_linear(model.top_down, a_mat.T, a, s1)
    # p(z1 | x) = N(C x + c, P), linear in x.
    cov1 = np.linalg.inv(np.linalg.inv(prior_cov) + w.T @ w / s**2)
    c_mat = cov1 @ w.T / s**2
    _set_linear(model.encoder, c_mat.T, cov1 @ np.linalg.solve(prior_cov, a) - c_mat @ b,
                0.6 * np.sqrt(np.diag(cov1)))
    # p(z2 | z1) = N(E (z1 - a), Q).
    cov2 = np.linalg.inv(np.eye(D2) + a_mat.T @ a_mat / s1**2)
    e_mat = cov2 @ a_mat.T / s1**2
    _set_linear(model.upper_encoder, e_mat.T, -e_mat @ a, 0.6 * np.sqrt(np.diag(cov2)))
    # The learned-scale Gaussian's decoder emits [mean, log(scale - 1e-3)]
    # per value, interleaved: fix the scale at s.
    kernel = np.zeros([D1, 2 * D])
    kernel[:, 0::2] = w.T
    bias = np.full(2 * D, np.log(s - 1e-3))
    bias[0::2] = b
    model.decoder.dense_layers[0].set_weights([kernel, bias])
    return model, x, marginal.logpdf(x)


def test_elbo_below_iwae_below_the_exact_log_likelihood(float64):
    model, x, exact = _linear_gaussian_hvae()
    seed = tf.constant([3, 4])
    _, reconstruction, kl = model._terms(x, None, seed, num_samples=4000)
    lower = float(np.mean(reconstruction - kl))
    bounds = [float(np.mean(model._iwae(x, None, k, seed))) for k in (1, 10, 100, 1000)]
    log_p = float(np.mean(exact))
    assert abs(bounds[0] - lower) < 0.2  # IWAE_1 is a one-sample ELBO
    assert lower < bounds[1] < bounds[2] < bounds[3] <= log_p + 1e-3
    assert log_p - lower > 0.3  # q is imperfect: a real gap to close
    assert log_p - bounds[3] < 0.2 * (log_p - lower)
    # nll_bounds: the same bounds, as NLLs.
    nll = model.nll_bounds(x)
    assert set(nll) == {"elbo", "iwae_300"}
    assert -np.mean(nll["elbo"]) < -np.mean(nll["iwae_300"]) <= log_p + 1e-3
    np.testing.assert_allclose(nll["iwae_300"], -model._iwae(x, None, 300, tf.constant([1, 0])),
                               rtol=1e-12)


def test_training_on_digits_reports_the_elbo_and_its_terms(digits, trained):
    history = trained.history.history
    assert set(history) == {"loss", "reconstruction", "kl", "elbo", "elbo_bits_per_dim"}
    assert np.all(np.isfinite(history["loss"]))
    logs = trained.evaluate(digits.dataset("validation", 64), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "reconstruction", "kl", "elbo", "elbo_bits_per_dim"}
    assert logs["elbo"] == pytest.approx(logs["reconstruction"] - logs["kl"], rel=1e-5)
    assert logs["loss"] == pytest.approx(-logs["elbo"], rel=1e-5)  # beta = 1
    assert logs["elbo_bits_per_dim"] == pytest.approx(-logs["elbo"] / (64 * np.log(2)),
                                                      rel=1e-5)
    x = _batch(digits)
    bounds = trained.nll_bounds(x)
    assert np.mean(bounds["iwae_20"]) < np.mean(bounds["elbo"])
    mean, stddev = trained.encode(x)  # of z1
    assert mean.shape == stddev.shape == (32, 4)
    samples = trained.sample(6, seed=4)
    np.testing.assert_array_equal(samples, trained.sample(6, seed=4))
    levels = digits.dequantizer.to_levels(samples).numpy()
    assert samples.shape == (6, 8, 8, 1) and levels.min() >= 0 and levels.max() <= 16


def test_keras_round_trip(digits, trained, tmp_path):
    path = os.fspath(tmp_path / "hvae.keras")
    trained.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, HierarchicalVAE) and loaded.latent_dims == [4, 2]
    x = _batch(digits, 8)
    for name, value in trained.nll_bounds(x, seed=3).items():
        np.testing.assert_array_equal(loaded.nll_bounds(x, seed=3)[name], value)
    np.testing.assert_array_equal(loaded.sample(5, seed=2), trained.sample(5, seed=2))
    assert loaded.optimizer.iterations.numpy() == 5


def test_conditional_samples_follow_their_labels(digits):
    model = _small(digits, num_classes=10)
    x, labels = next(iter(digits.dataset("test", 16, labels=True)))
    bounds, other = model.nll_bounds(x, labels), model.nll_bounds(x, (labels + 1) % 10)
    assert not np.allclose(bounds["elbo"], other["elbo"])
    assert model.sample(4, 3, seed=0).shape == (4, 8, 8, 1)
    assert model.sample(10, np.arange(10, dtype=np.int32), seed=0).shape == (10, 8, 8, 1)
    with pytest.raises(ValueError, match="conditional"):
        model.sample(4, seed=0)


def test_fit_under_mirrored_strategy_trains(digits, mirrored):
    with mirrored.scope():
        model = _small(digits)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=10,
                        epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["loss"][1] < history["loss"][0]


def test_export_serves_sample_encode_and_decode(digits, trained, tmp_path):
    export.export(trained, tmp_path / "export")
    served = tf.saved_model.load(os.fspath(tmp_path / "export")).signatures
    check_served_encode_decode_sample(trained, served, _batch(digits, 8))
    check_samples_are_levels(trained, digits.dequantizer)


@pytest.mark.parametrize("latent_dims", [(8,), (8, 4, 2), (8, 0), "84"])
def test_bad_latent_dims_name_themselves(latent_dims):
    with pytest.raises(ValueError, match="latent_dims"):
        HierarchicalVAE([2], latent_dims=latent_dims)


def test_free_bits_of_one_layer_are_refused():
    with pytest.raises(ValueError, match="free_bits"):
        HierarchicalVAE([2], free_bits=0.5)


def test_the_decoders_latents_come_through_the_top_down_prior():
    """`latents` draws z1 ~ p(z1 | z2) (what `sample` and the two-phase
    schedule's `sample_variance` decode): with the top-down network's
    output fixed by hand, z1 ~ N(m, s) whatever z2."""
    model = HierarchicalVAE([4], latent_dims=(2, 3), hidden_units=[8],
                            kl_schedule="two_phase")
    last = model.top_down.dense_layers[-1]
    last.kernel.assign(tf.zeros_like(last.kernel))
    last.bias.assign([3.0, -1.0, 0.0, 0.0])  # mean (3, -1), scale 1e-4 + softplus(0)
    z1 = model.latents(20000, None, tf.constant([0, 1])).numpy()
    np.testing.assert_allclose(z1.mean(0), [3.0, -1.0], atol=0.03)
    np.testing.assert_allclose(z1.std(0), [np.log(2.0) + 1e-4] * 2, rtol=0.03)
    # z1 varies (scale 0.69), so the untrained decoder's modes vary with it.
    assert float(model.sample_variance(64)) > 0.0
