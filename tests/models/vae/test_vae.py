"""The VAE on the family contract: training metrics, its bounds, the
`.keras` round trip, exports, and `tfgen train vae`."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export
from tfgen.cli import main
from tfgen.models.vae import VAE, elbo, iwae

from tests.helpers import served_without_tfgen

from .contract import check_samples_are_levels, check_served_encode_decode_sample


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


def _batch(source, n=32):
    return next(iter(source.dataset("test", n, shuffle=False)))


def _trained(source, steps=20, **kwargs):
    model = VAE(source.event_shape, latent_dim=4, hidden_units=[32],
                dequantizer=source.dequantizer, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(source.dataset("train", 32, repeat=True), steps_per_epoch=steps, epochs=1,
              verbose=0)
    return model


def test_training_reports_the_elbo_and_its_terms(digits):
    model = _trained(digits)
    logs = model.evaluate(digits.dataset("validation", 64), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "reconstruction", "kl", "elbo", "elbo_bits_per_dim"}
    assert logs["elbo"] == pytest.approx(logs["reconstruction"] - logs["kl"], rel=1e-5)
    assert logs["loss"] == pytest.approx(-logs["elbo"], rel=1e-5)  # beta = 1
    assert logs["kl"] >= 0
    assert logs["elbo_bits_per_dim"] == pytest.approx(-logs["elbo"] / (64 * np.log(2)),
                                                      rel=1e-5)


def test_the_likelihood_scores_the_exact_levels_of_the_data(digits):
    model = _trained(digits, steps=1)
    x = _batch(digits)
    levels = digits.dequantizer.to_levels(x).numpy()
    raw = next(iter(digits.raw("test").batch(32))).numpy()
    np.testing.assert_array_equal(levels, raw)  # dequantized floats -> their levels
    z = model.posterior(x).sample(seed=[0, 1])
    every_level = np.arange(17).reshape([17, 1, 1, 1, 1]) + np.zeros_like(levels)
    total = np.sum(np.exp(model.decode(z).distribution.log_prob(every_level)), axis=0)
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)  # 17 levels per pixel


def test_bounds_are_ordered_and_match_the_plain_functions(digits):
    model = _trained(digits)
    x = _batch(digits)
    bounds = model.nll_bounds(x)
    assert set(bounds) == {"elbo", "iwae_1000"}
    # -IWAE_1000 <= -ELBO on average (a tighter bound on -log p).
    assert float(np.mean(bounds["iwae_1000"])) < float(np.mean(bounds["elbo"]))
    seed = tf.constant([1, 0])
    posterior, prior = model.posterior(x), model.prior()
    log_likelihood = model._log_likelihood(x, None)
    np.testing.assert_allclose(bounds["elbo"], -elbo(posterior, prior, log_likelihood, 16,
                                                     seed=seed), rtol=1e-5)
    np.testing.assert_allclose(bounds["iwae_1000"], -iwae(posterior, prior, log_likelihood,
                                                          1000, seed=seed), rtol=1e-5)


def test_samples_are_levels_at_their_bin_centres(digits):
    check_samples_are_levels(_trained(digits, steps=2), digits.dequantizer)


def test_keras_round_trip_and_export(digits, tmp_path):
    model = _trained(digits, steps=5, ema_decay=0.9)
    path = os.fspath(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _batch(digits, 8)
    np.testing.assert_array_equal(loaded.sample(5, seed=2), model.sample(5, seed=2))
    np.testing.assert_array_equal(loaded.encode(x)[0], model.encode(x)[0])
    assert loaded.optimizer.iterations.numpy() == 5
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    export.export(model, tmp_path / "export")
    served = tf.saved_model.load(os.fspath(tmp_path / "export")).signatures
    check_served_encode_decode_sample(model, served, x)


def test_conditional_vae_uses_its_labels(digits):
    model = VAE([8, 8, 1], latent_dim=4, hidden_units=[16], num_classes=10,
                dequantizer=digits.dequantizer)
    model.compile(optimizer="adam")
    model.fit(digits.dataset("train", 64, labels=True), epochs=1, verbose=0)
    x, labels = next(iter(digits.dataset("test", 16, labels=True)))
    bounds = model.nll_bounds(x, labels)
    other = model.nll_bounds(x, (labels + 1) % 10)
    assert not np.allclose(bounds["elbo"], other["elbo"])
    assert model.sample(4, 3, seed=0).shape == (4, 8, 8, 1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(decoder_likelihood="poisson"), "decoder_likelihood"),
    (dict(objective="vlb"), "objective"), (dict(beta=-1.0), "beta"),
    (dict(latent_dim=0), "latent_dim"), (dict(hidden_units=[64, 0]), "hidden_units"),
    (dict(network="conv"), "network"), (dict(free_bits=-1.0), "free_bits"),
    (dict(free_bits=0.5, objective="iwae"), "free_bits"),
    (dict(kl_schedule="two_phase", condition_shape=[3]), "kl_schedule"),
    (dict(kl_schedule="cyclical"), "kl_schedule")])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAE([2], **kwargs)


def test_unlisted_widths_are_a_type_error_naming_the_argument():
    with pytest.raises(TypeError, match="hidden_units"):
        VAE([2], hidden_units=64)


def test_discrete_likelihood_needs_the_levels():
    with pytest.raises(ValueError, match="dequantizer"):
        VAE([2], decoder_likelihood="categorical")


def test_tfgen_train_vae_on_digits_reports_bounds_as_bounds(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", "vae", "--data", "digits", "--steps", "20", "--set", "latent_dim=4",
                 "--set", "hidden_units=[16]", "--set", "eval_samples=10",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["likelihood"] == "bound" and "bits_per_dim" not in metrics
    assert metrics["iwae_10_bits_per_dim"] <= metrics["elbo_bits_per_dim"]
    assert metrics["fid_digits"] > metrics["fid_digits_floor"]
    assert (out / "samples.png").exists() and (out / "saved_model").exists()
    assert main(["sample", str(out), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    pixels = np.load(tmp_path / "s.npy")
    assert pixels.dtype == np.int32 and pixels.shape == (5, 8, 8, 1)


def test_fit_under_mirrored_strategy_trains(digits, mirrored):
    # Each replica draws its own noise (the seed holds the replica id), so
    # the update equals one device's in distribution, not bit for bit.
    with mirrored.scope():
        model = VAE([8, 8, 1], latent_dim=4, hidden_units=[16],
                    dequantizer=digits.dequantizer)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(digits.dataset("train", 64, repeat=True), steps_per_epoch=10,
                        epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["loss"][1] < history["loss"][0]


SERVE = """
x = tf.constant(np.load(args[0]))
encoded = sig["encode"](x=x)
served = {"mean": encoded["mean"].numpy().tolist(),
          "x": sig["decode"](z=encoded["mean"])["x"].numpy().tolist(),
          "pixels": sig["sample"](n=tf.constant(3), seed=tf.constant(1))[
              "pixels"].numpy().tolist()}
"""


def test_export_runs_in_a_process_without_tfgen(digits, tmp_path):
    model = _trained(digits, steps=3)
    export.export(model, tmp_path / "export")
    x = np.asarray(_batch(digits, 4))
    np.save(tmp_path / "x.npy", x)
    served = served_without_tfgen(tmp_path / "export", SERVE, tmp_path / "x.npy")
    mean, _ = model.encode(x)
    np.testing.assert_allclose(served["mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["x"], model.decode_mean(mean), rtol=1e-5)
    levels = digits.dequantizer.to_levels(model.sample(3, seed=1)).numpy()
    np.testing.assert_array_equal(served["pixels"], levels)


def test_a_gaussian_decoder_on_discrete_data_stays_in_model_space(digits):
    model = VAE([8, 8, 1], latent_dim=2, hidden_units=[8], decoder_likelihood="gaussian",
                dequantizer=digits.dequantizer)
    x = _batch(digits, 4)
    nll = tf.constant([100.0] * 4)
    # Bits/dim of the 17-level data: the dequantizer's log-dets accounted.
    np.testing.assert_allclose(model.bits_per_dim(nll, x),
                               digits.dequantizer.bits_per_dim(nll, x), rtol=1e-6)
    samples = model.sample(64, seed=0)  # decoder draws, not levels read as model space
    assert len(np.unique(digits.dequantizer.to_levels(samples))) > 3


@pytest.mark.parametrize("kwargs,match", [
    (dict(decoder_likelihood="bernoulli"), "2 levels"),
    (dict(objective="iwae", beta=0.5), "no KL weight"),
    (dict(objective="iwae", kl_warmup=10), "no KL weight")])
def test_settings_that_would_not_be_bounds_are_refused(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAE([8, 8, 1], dequantizer=digits.dequantizer, **kwargs)


def test_a_condition_given_to_an_unconditional_vae_is_refused(digits):
    model = VAE([8, 8, 1], latent_dim=2, hidden_units=[8], dequantizer=digits.dequantizer)
    with pytest.raises(ValueError, match="unconditional"):
        model.encode(_batch(digits, 2), condition=np.zeros([2], np.int32))


@pytest.mark.parametrize("kwargs", [
    dict(network="conv", channels=[4, 8]), dict(posterior_flow="planar", flow_length=2),
    dict(posterior_flow="radial", flow_length=2), dict(posterior_flow="iaf", flow_length=2)],
    ids=["conv", "planar", "radial", "iaf"])
def test_network_and_posterior_variants_train_round_trip_and_export(digits, tmp_path, kwargs):
    model = _trained(digits, steps=3, eval_samples=20, **kwargs)
    x = _batch(digits, 8)
    path = os.fspath(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for name, bound in model.nll_bounds(x, seed=3).items():
        np.testing.assert_array_equal(loaded.nll_bounds(x, seed=3)[name], bound)
    np.testing.assert_array_equal(loaded.sample(4, seed=1), model.sample(4, seed=1))
    export.export(model, tmp_path / "export")
    check_served_encode_decode_sample(model, tf.saved_model.load(
        os.fspath(tmp_path / "export")).signatures, x)


def test_free_bits_floor_each_dimensions_kl_in_the_loss(digits):
    model = VAE([8, 8, 1], latent_dim=4, hidden_units=[16], free_bits=0.5,
                dequantizer=digits.dequantizer)
    model.compile(optimizer="adam")
    x = _batch(digits, 8)
    seed = tf.constant([0, 1])
    loss, reconstruction, kl = model._loss(x, None, seed, 1.0, 1.0)
    mean, stddev = (t.numpy().astype(np.float64) for t in model.encode(x))
    per_dim = 0.5 * (mean ** 2 + stddev ** 2 - 1) - np.log(stddev)
    np.testing.assert_allclose(kl, per_dim.sum(-1), rtol=1e-4)
    np.testing.assert_allclose(loss, -(reconstruction - np.maximum(per_dim, 0.5).sum(-1)),
                               rtol=1e-5)
    assert np.all(loss > -(reconstruction - kl))  # some dimensions are below the floor
