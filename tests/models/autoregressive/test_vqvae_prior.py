"""VQVAEPrior: its bound against the exact likelihood of a one-code VQ-VAE
(enumerated), the uniform prior's bound recovered, only the prior trains,
samples are decoded drawn codes, MirroredStrategy, `.keras`, export, bad
input, and `tfgen train vqvae_prior --set vqvae=RUN_DIR`."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export
from tfgen.cli import main
from tfgen.models.autoregressive import PixelCNN, VQVAEPrior
from tfgen.models.vae import VQVAE

from tests.helpers import assert_same_state, perturb, served_without_tfgen, trained_file

_PRIOR = {"channels": 4, "num_blocks": 2, "head_units": 4}


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


@pytest.fixture(scope="module")
def x(digits):
    return next(iter(digits.dataset("train", 64, shuffle=False))).numpy()


def _vqvae(digits, channels=(8,), **kwargs):
    return VQVAE([8, 8, 1], num_codes=6, embedding_dim=2, channels=list(channels),
                 dequantizer=digits.dequantizer, **kwargs)


@pytest.fixture(scope="module")
def vqvae_file(digits, x, tmp_path_factory):
    """A VQ-VAE (4 x 4 codes of 6) trained a few steps, saved as .keras."""
    return trained_file(_vqvae(digits, ema_codebook=True), x, tmp_path_factory.mktemp("vqvae"))


def _model(vqvae, **kwargs):
    model = VQVAEPrior([8, 8, 1], vqvae, prior=_PRIOR, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_the_bound_is_above_the_exact_nll_of_a_one_code_grid(digits, x):
    # 3 halvings of 8 x 8: one code of 6, so p(x) = sum_k p(x | e_k) p(k).
    model = perturb(_model(_vqvae(digits, channels=(8, 8, 8))), scale=0.5)
    vqvae = model.vqvae
    assert vqvae.latent_shape == [1, 1]
    codes = np.arange(6, dtype=np.int32).reshape(6, 1, 1)
    log_prior = model.prior_log_prob(codes).numpy().astype(np.float64)            # [6]
    np.testing.assert_allclose(np.exp(log_prior).sum(), 1.0, rtol=1e-5)
    decoded = [vqvae.decode(vqvae.quantizer.lookup(np.full([len(x), 1, 1], k, np.int32)))
               .log_prob(vqvae._data(x)).numpy().astype(np.float64) for k in range(6)]
    exact_nll = -np.logaddexp.reduce(np.stack(decoded, 1) + log_prior, axis=1)
    bound = model.nll_bounds(x)["elbo"].numpy()
    # The bound is -log p(x | e_k(x)) - log p(k(x)) for the encoder's k(x).
    k = vqvae.encode_indices(x).numpy().reshape(-1)
    np.testing.assert_allclose(bound, -np.stack(decoded, 1)[np.arange(len(x)), k]
                               - log_prior[k], rtol=1e-4)
    assert np.all(bound >= exact_nll - 1e-3) and np.any(bound > exact_nll + 1e-3)


def test_a_uniform_prior_gives_the_vqvae_bound(vqvae_file, x):
    model = _model(vqvae_file)
    head = model.prior.network.head.out
    head.kernel.assign(tf.zeros_like(head.kernel))
    head.bias.assign(tf.zeros_like(head.bias))      # uniform over the 6 codes
    np.testing.assert_allclose(model.nll_bounds(x)["elbo"], model.vqvae.nll_bounds(x)["elbo"],
                               rtol=1e-5)


def test_only_the_prior_trains_and_samples_decode_drawn_codes(vqvae_file, digits, x):
    model = _model(vqvae_file)
    frozen = [w.numpy() for w in model.vqvae.weights]
    logs = model.fit(x, batch_size=32, epochs=2, verbose=0).history
    assert logs["prior_nll"][1] < logs["prior_nll"][0]
    for before, w in zip(frozen, model.vqvae.weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy())
    samples = model.sample(5, seed=4)
    codes = model.prior.dequantizer.to_levels(model.prior.sample(5, seed=4))[..., 0]
    np.testing.assert_array_equal(samples, model.vqvae.decode_indices(codes))
    levels = digits.dequantizer.to_levels(samples).numpy()
    assert levels.min() >= 0 and levels.max() <= 16
    np.testing.assert_array_equal(samples, model.sample(5, seed=4))


def test_mirrored_training_makes_the_one_device_update(vqvae_file, x, mirrored):
    labels = np.arange(64, dtype=np.int32) % 3
    one = _model(vqvae_file, num_classes=3)
    with mirrored.scope():
        two = _model(vqvae_file, num_classes=3)
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(x, labels, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_keras_round_trip_holds_the_vqvae_the_prior_and_the_optimizer(vqvae_file, x, tmp_path):
    model = _model(vqvae_file, ema_decay=0.9)
    model.fit(x, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "prior.keras")
    loaded = keras.models.load_model(tmp_path / "prior.keras")
    assert isinstance(loaded, VQVAEPrior) and isinstance(loaded.prior, PixelCNN)
    np.testing.assert_array_equal(loaded.nll_bounds(x)["elbo"], model.nll_bounds(x)["elbo"])
    np.testing.assert_array_equal(loaded.sample(4, seed=2), model.sample(4, seed=2))
    assert_same_state(model, loaded)


SERVE = """
out = sig["sample"](n=tf.constant(4), seed=tf.constant(5))
indices = tf.constant(np.load(args[0]))
served = {"pixels": out["pixels"].numpy().tolist(),
          "x": sig["decode_indices"](indices=indices)["x"].numpy().tolist(),
          "log_prob": sig["prior_log_prob"](indices=indices)["log_prob"].numpy().tolist()}
"""


def test_export_serves_sample_decode_and_the_prior_without_tfgen(vqvae_file, digits, tmp_path):
    model = perturb(_model(vqvae_file))
    indices = np.random.default_rng(0).integers(0, 6, size=(3, 4, 4)).astype(np.int32)
    np.save(tmp_path / "indices.npy", indices)
    export.export(model, tmp_path / "export")
    served = served_without_tfgen(tmp_path / "export", SERVE, tmp_path / "indices.npy")
    np.testing.assert_array_equal(served["pixels"],
                                  digits.dequantizer.to_levels(model.sample(4, seed=5)))
    np.testing.assert_allclose(served["x"], model.vqvae.decode_indices(indices), rtol=1e-6)
    np.testing.assert_allclose(served["log_prob"], model.prior_log_prob(indices), rtol=1e-5)


def test_bad_arguments_name_themselves(vqvae_file, digits):
    def raises(match, error=ValueError, **kwargs):
        with pytest.raises(error, match=match):
            VQVAEPrior(**{"event_shape": [8, 8, 1], "vqvae": vqvae_file, **kwargs})

    raises("`vqvae` is required", vqvae=None)
    raises("`vqvae` must be a trained VQVAE", TypeError,
           vqvae=PixelCNN([8, 8, 1], dequantizer=digits.dequantizer, channels=4, num_blocks=1))
    raises(r"`event_shape` \[4, 4, 1\] differs", event_shape=[4, 4, 1])
    raises(r"`prior` must not set \['num_classes'\]", prior={"num_classes": 3})


def test_tfgen_train_vqvae_prior_on_a_trained_vqvae(tmp_path):
    vqvae_dir, out = tmp_path / "vqvae", tmp_path / "prior"
    assert main(["train", "vqvae", "--data", "digits", "--steps", "20", "--set", "num_codes=8",
                 "--out", str(vqvae_dir)]) == 0
    assert main(["train", "vqvae_prior", "--data", "digits", "--steps", "20",
                 "--set", f"vqvae={vqvae_dir}", "--set", "prior={channels: 8, num_blocks: 2}",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["likelihood"] == "bound" and np.isfinite(metrics["fid_digits"])
    # Above the VQ-VAE's reconstruction term alone, below its uniform prior's bound.
    vqvae_metrics = json.loads((vqvae_dir / "metrics.json").read_text())
    assert (vqvae_metrics["reconstruction_bits_per_dim"] < metrics["elbo_bits_per_dim"]
            < vqvae_metrics["elbo_bits_per_dim"])
    assert (out / "samples.png").exists() and (out / "saved_model").exists()
