"""LatentDiffusion on the family contract: latents are draws of the frozen
VAE's q(z | x), samples are the decoder's modes at the prior's samples,
only the prior trains, the one-device update under MirroredStrategy,
`.keras` with the autoencoder inside, exports, bad input, and `tfgen train
ldm --set autoencoder=RUN_DIR`."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export
from tfgen.cli import main
from tfgen.models.diffusion import DDPM, LatentDiffusion
from tfgen.models.vae import VAE

from tests.helpers import served_without_tfgen, trained_file

_PRIOR = {"hidden_units": [16, 16], "num_timesteps": 20, "sampler": "ddim", "sampling_steps": 5}


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


@pytest.fixture(scope="module")
def x(digits):
    return next(iter(digits.dataset("train", 64, shuffle=False))).numpy()


def _vae(digits, **kwargs):
    return VAE([8, 8, 1], latent_dim=3, hidden_units=[16], dequantizer=digits.dequantizer,
               **kwargs)


@pytest.fixture(scope="module")
def vae_file(digits, x, tmp_path_factory):
    """A VAE trained a few steps, saved as a .keras file."""
    return trained_file(_vae(digits), x, tmp_path_factory.mktemp("vae"))


def _ldm(vae, **kwargs):
    model = LatentDiffusion([8, 8, 1], vae, prior=_PRIOR, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_latents_are_draws_of_the_posterior_times_the_scale(vae_file, x):
    model = _ldm(vae_file, latent_scale=2.0)
    repeated = np.repeat(x[:2], 4000, axis=0)
    z = model.to_latents(repeated, tf.constant([0, 1])).numpy().reshape(2, 4000, 3)
    mean, stddev = model.autoencoder.encode(x[:2])
    # Monte Carlo: 5 standard errors of a mean and of a standard deviation.
    np.testing.assert_allclose(z.mean(1), 2.0 * mean, atol=5 * 2.0 * np.max(stddev) / 63)
    np.testing.assert_allclose(z.std(1), 2.0 * stddev, rtol=5 / np.sqrt(2 * 4000))


def _recording_prior(model):
    """Records the latents the prior's walks return."""
    walks, draw = [], model.prior.draw

    def record(*args, **kwargs):
        walks.append(draw(*args, **kwargs))
        return walks[-1]

    model.prior.draw = record
    return walks


def test_discrete_samples_are_the_decoders_modes_at_the_priors_samples(vae_file, digits):
    model = _ldm(vae_file, latent_scale=2.0)
    walks = _recording_prior(model)
    samples = model.sample(6, seed=3)
    np.testing.assert_array_equal(samples, model.autoencoder.decode_mean(walks[0] / 2.0))
    np.testing.assert_array_equal(samples, model.sample(6, seed=3, progress=True))
    assert not np.array_equal(samples, model.sample(6, seed=4))
    levels = digits.dequantizer.to_levels(samples).numpy()
    np.testing.assert_allclose(samples, digits.dequantizer.to_model(levels, np.full(
        levels.shape, 0.5, np.float32)), rtol=1e-6)
    assert model.sample(6, seed=3, sampler="ddpm", steps=20).shape == (6, 8, 8, 1)


def test_continuous_samples_are_draws_of_the_decoder_at_the_priors_samples():
    vae = VAE([2], latent_dim=2, hidden_units=[8])
    model = LatentDiffusion([2], vae, prior=_PRIOR, latent_scale=0.5)
    walks = _recording_prior(model)
    samples = model.sample(4000, seed=1)
    decoder = vae.decode(walks[0] / 0.5).distribution
    # (x - mean) / stddev of p(x | z / s): standard normal, within 5 standard errors.
    standard = ((samples - decoder.mean()) / decoder.stddev()).numpy().ravel()
    assert abs(standard.mean()) < 5 / np.sqrt(standard.size)
    assert abs(standard.std() - 1) < 5 / np.sqrt(2 * standard.size)
    mode = LatentDiffusion([2], vae, prior=_PRIOR, latent_scale=0.5, decoding="mode")
    mode.prior.set_weights(model.prior.get_weights())
    walks = _recording_prior(mode)
    np.testing.assert_array_equal(mode.sample(5, seed=1), vae.decode_mean(walks[0] / 0.5))


def test_only_the_prior_trains_and_is_averaged(vae_file, x):
    model = _ldm(vae_file)
    frozen = [w.numpy() for w in model.autoencoder.weights]
    prior = [w.numpy() for w in model.prior.trainable_weights]
    model.fit(x, batch_size=32, epochs=2, verbose=0)
    for before, w in zip(frozen, model.autoencoder.weights, strict=True):
        np.testing.assert_array_equal(before, w.numpy())
    assert all(not np.array_equal(a, w.numpy())
               for a, w in zip(prior, model.prior.trainable_weights))
    assert len(model.ema_weights) == len(model.prior.trainable_weights) > 0


def test_a_vae_with_averaged_weights_is_used_with_its_averages(digits, x):
    vae = _vae(digits, ema_decay=0.5)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(x, batch_size=32, epochs=2, verbose=0)
    model = _ldm(vae)
    assert model.autoencoder.ema_decay is None
    with vae.averaged_weights():
        expected = vae.encode(x[:5])
    raw = vae.encode(x[:5])
    for a, b, c in zip(model.autoencoder.encode(x[:5]), expected, raw):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


@pytest.mark.parametrize("conditional", [False, True])
def test_mirrored_training_makes_the_one_device_update(vae_file, x, mirrored, conditional):
    labels = np.arange(64, dtype=np.int32) % 3 if conditional else None
    kwargs = {"num_classes": 3} if conditional else {}
    one = _ldm(vae_file, **kwargs)
    with mirrored.scope():
        two = _ldm(vae_file, **kwargs)
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(x, labels, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_keras_round_trip_holds_the_autoencoder_the_average_and_the_optimizer(
        vae_file, x, tmp_path):
    own_vae = os.fspath(tmp_path / "own_vae.keras")
    shutil.copy(vae_file, own_vae)
    model = _ldm(own_vae, num_classes=3, ema_decay=0.9)
    model.fit(x, np.arange(64) % 3, batch_size=32, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "ldm.keras")
    model.save(path)
    os.remove(own_vae)  # the saved model holds the autoencoder
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, LatentDiffusion) and isinstance(loaded.prior, DDPM)
    np.testing.assert_array_equal(loaded.sample(4, 1, seed=2, guidance_scale=2.0),
                                  model.sample(4, 1, seed=2, guidance_scale=2.0))
    for group in ("autoencoder", "prior"):
        for a, b in zip(getattr(model, group).weights, getattr(loaded, group).weights,
                        strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(model.optimizer.variables + model.ema_weights,
                    loaded.optimizer.variables + loaded.ema_weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


SERVE = """
out = sig["sample"](n=tf.constant(4), steps=tf.constant(3), seed=tf.constant(5))
x = sig["decode"](z=tf.constant([[0.5, -1.0, 2.0]]))["x"]
served = {"pixels": out["pixels"].numpy().tolist(), "x": x.numpy().tolist()}
"""


def test_export_serves_sample_and_decode_without_tfgen(vae_file, digits, tmp_path):
    model = _ldm(vae_file, latent_scale=0.5)
    export.export(model, tmp_path / "export")
    served = served_without_tfgen(tmp_path / "export", SERVE)
    np.testing.assert_array_equal(
        served["pixels"], digits.dequantizer.to_levels(model.sample(4, seed=5, steps=3)))
    np.testing.assert_allclose(served["x"], model.autoencoder.decode_mean(
        tf.constant([[1.0, -2.0, 4.0]])), rtol=1e-5)


def test_bad_arguments_name_themselves(vae_file, digits, tmp_path):
    def raises(match, error=ValueError, **kwargs):
        with pytest.raises(error, match=match):
            LatentDiffusion(**{"event_shape": [8, 8, 1], "autoencoder": vae_file, **kwargs})

    raises("`autoencoder` is required", autoencoder=None)
    raises("`autoencoder` must be a run directory", autoencoder=os.fspath(tmp_path))
    raises("`autoencoder` must be a trained VAE", TypeError,
           autoencoder=DDPM([8, 8, 1], channels=[8], groups=8))
    raises("unconditional VAE with a Gaussian posterior", autoencoder=_vae(digits, num_classes=2))
    raises("unconditional VAE with a Gaussian posterior",
           autoencoder=_vae(digits, posterior_flow="planar"))
    raises(r"`event_shape` \[64\] differs", event_shape=[64])
    raises(r"`prior` must not set \['ema_decay'\]", prior={"ema_decay": 0.5})
    raises("`latent_scale` must be a positive number", latent_scale=0)
    raises("`decoding` must be one of", decoding="mean")
    other = data.load_data("digits").dequantizer.get_config()
    raises("`dequantizer` .* differs", dequantizer={**other, "levels": 4})


def test_tfgen_train_ldm_on_a_trained_vae(tmp_path):
    vae_dir, out = tmp_path / "vae", tmp_path / "ldm"
    assert main(["train", "vae", "--data", "digits", "--steps", "20", "--set", "latent_dim=3",
                 "--set", "network=mlp", "--set", "hidden_units=[16]",
                 "--out", str(vae_dir)]) == 0
    assert main(["train", "ldm", "--data", "digits", "--steps", "20",
                 "--set", f"autoencoder={vae_dir}",
                 "--set", "prior={hidden_units: [16], num_timesteps: 20, sampler: ddim}",
                 "--quality-every", "1000", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["likelihood"] is None and "fid_digits_floor" in metrics
    assert np.isfinite(metrics["fid_digits"])
    assert (out / "samples.png").exists() and (out / "saved_model").exists()
    npy = tmp_path / "s.npy"
    assert main(["sample", str(out), "-n", "5", "--steps", "4", "--out", str(npy)]) == 0
    model = keras.models.load_model(out / "model.keras")
    np.testing.assert_array_equal(np.load(npy), model.dequantizer.to_levels(
        model.sample(5, seed=0, steps=4)))
    assert main(["train", "ldm", "--data", "digits", "--steps", "2",
                 "--out", str(tmp_path / "no_vae")]) == 2
    assert not (tmp_path / "no_vae").exists()
