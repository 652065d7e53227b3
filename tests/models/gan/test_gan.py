"""The GAN on the family contract: k discriminator steps on their own
batches, the one-device update under MirroredStrategy, clipping and the
gradient penalty, samples, `.keras` with both optimizers, exports, bad
input, and `tfgen train`."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export
from tfgen.cli import main
from tfgen.errors import NonFiniteLossError
from tfgen.models.gan import DCGAN, GAN, VAEGAN, WGAN, WGANGP
from tfgen.models.vae.bounds import sample_with_kl

from tests.helpers import served_without_tfgen


@pytest.fixture(scope="module")
def toy():
    return data.load_data("eight_gaussians").arrays["train"][:256].astype(np.float32)


@pytest.fixture(scope="module")
def digits():
    return data.load_data("digits")


def _compile(model, lr=1e-3, **kwargs):
    model.compile(generator_optimizer=keras.optimizers.Adam(lr),
                  discriminator_optimizer=keras.optimizers.Adam(lr), **kwargs)
    return model


def _small(cls=GAN, **kwargs):
    return cls([2], latent_dim=3, hidden_units=[16, 16], **kwargs)


def test_each_step_trains_the_discriminator_k_times_on_its_own_part_of_the_batch(toy):
    gan = _compile(_small(discriminator_steps=3), run_eagerly=True)
    seen, seeds = [], []
    losses = gan._discriminator_losses

    def record(real, condition, seed):
        seen.append(real.numpy())
        seeds.append(tuple(seed.numpy()))
        return losses(real, condition, seed)

    gan._discriminator_losses = record
    gan.fit(toy[:30], batch_size=30, epochs=2, shuffle=False, verbose=0)
    assert int(gan.generator_optimizer.iterations) == 2
    assert int(gan.discriminator_optimizer.iterations) == 6
    for i in range(3):  # step 1's D batches: rows i, i + 3, ... of the batch
        np.testing.assert_array_equal(seen[i], toy[i:30:3])
    np.testing.assert_array_equal(seen[3], toy[0:30:3])  # step 2: the same batch again
    assert len(set(seeds)) == 6  # new noise at every D step


@pytest.mark.parametrize("kwargs", [dict(loss="wgan_gp", discriminator_steps=2),
                                    dict(loss="non_saturating", num_classes=3)])
def test_mirrored_training_makes_the_one_device_update(toy, mirrored, kwargs):
    labels = np.arange(32, dtype=np.int32) % 3
    y = labels if kwargs.get("num_classes") else None
    one = _compile(_small(**kwargs))
    with mirrored.scope():
        two = _compile(_small(**kwargs))
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(toy[:64], y if y is None else np.tile(labels, 2), batch_size=32, epochs=1,
                  shuffle=False, verbose=0)
    # Adam moves each weight by about lr = 1e-3 per step: other noise, or
    # a mean over half the batch, would differ by that much; summation
    # order leaves ~1e-6.
    for a, b in zip(one.weights, two.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def test_wgan_clips_the_critic_and_wgan_gp_tracks_its_penalty(toy):
    wgan = _compile(_small(WGAN))
    assert wgan.discriminator_steps == 5 and wgan.loss.clip_value == 0.01
    wgan.fit(toy[:250], batch_size=50, epochs=1, verbose=0)
    assert max(float(np.abs(w.numpy()).max()) for w in wgan.discriminator.weights) <= 0.01
    assert int(wgan.generator_optimizer.iterations) == 5  # 250 rows, 50 per step
    assert int(wgan.discriminator_optimizer.iterations) == 25
    gp = _compile(_small(WGANGP, discriminator_steps=1))
    history = gp.fit(toy, batch_size=64, epochs=1, verbose=0).history
    assert history["gradient_penalty"][0] > 0.0
    assert "gradient_penalty" not in _compile(_small()).fit(toy, batch_size=64, verbose=0).history


def test_digit_samples_are_levels_and_follow_their_labels(digits):
    gan = _compile(DCGAN([8, 8, 1], latent_dim=4, hidden_units=[16], channels=[4, 8],
                         num_classes=10, dequantizer=digits.dequantizer))
    gan.fit(digits.dataset("train", 32, labels=True, repeat=True), steps_per_epoch=3,
            verbose=0)
    samples = gan.sample(6, np.arange(6) % 10, seed=1)
    np.testing.assert_array_equal(samples, gan.sample(6, np.arange(6) % 10, seed=1))
    assert not np.allclose(samples, gan.sample(6, np.full(6, 7), seed=1))
    levels = digits.dequantizer.to_levels(samples).numpy()
    assert samples.shape == (6, 8, 8, 1) and levels.min() >= 0 and levels.max() <= 16
    z = gan.noise(6, tf.constant([3, 9]))
    np.testing.assert_allclose(gan.generate(z, np.arange(6) % 10),
                               gan.generate(z, np.arange(6) % 10), rtol=0)


def test_keras_round_trip_keeps_both_optimizers_and_the_generator_average(toy, tmp_path):
    gan = _compile(_small(loss="hinge", ema_decay=0.9))
    gan.fit(toy, batch_size=64, epochs=1, verbose=0)
    assert len(gan.ema_weights) == len(gan.generator.trainable_weights)
    path = os.fspath(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, GAN) and loaded.loss.name == "hinge"
    np.testing.assert_array_equal(loaded.sample(7, seed=3), gan.sample(7, seed=3))
    for name in gan.optimizer_names:
        ours, theirs = getattr(gan, name), getattr(loaded, name)
        assert int(theirs.iterations) == 4
        for a, b in zip(ours.variables, theirs.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    with gan.averaged_weights():  # samples come from the average
        z = gan.noise(7, tf.constant([3, 0]))
        expected = gan._to_model_space(gan._fake(z, None))
    np.testing.assert_allclose(gan.sample(7, seed=None), expected, rtol=1e-6)


SERVE = """
out = sig["sample"](n=tf.constant(4), condition=tf.constant([0, 1, 2, 0]), seed=tf.constant(5))
z = tf.constant([[0.1, -0.2, 0.3, 1.0]] * 2)
gen = sig["generate"](z=z, condition=tf.constant([1, 2]))
served = {"pixels": out["pixels"].numpy().tolist(),
          "generated": gen["samples"].numpy().tolist()}
"""


def test_export_serves_sample_and_generate_without_tfgen(digits, tmp_path):
    gan = _compile(GAN([8, 8, 1], latent_dim=4, hidden_units=[16], num_classes=3,
                       dequantizer=digits.dequantizer))
    export.export(gan, tmp_path / "export")
    served = served_without_tfgen(tmp_path / "export", SERVE)
    levels = digits.dequantizer.to_levels(gan.sample(4, [0, 1, 2, 0], seed=5)).numpy()
    np.testing.assert_array_equal(served["pixels"], levels)
    z = np.array([[0.1, -0.2, 0.3, 1.0]] * 2, np.float32)
    np.testing.assert_allclose(served["generated"], gan.generate(z, [1, 2]), rtol=1e-5)


@pytest.mark.parametrize("cls", [DCGAN, WGANGP])
def test_networks_compute_in_bfloat16_and_losses_in_float32(digits, cls, mixed_bfloat16):
    gan = _compile(cls([8, 8, 1], latent_dim=4, hidden_units=[16], channels=[4, 8],
                       discriminator_steps=1, dequantizer=digits.dequantizer))
    x = next(iter(digits.dataset("train", 16)))
    assert gan.discriminator(gan._to_network(x)).dtype == tf.bfloat16
    d_loss, penalty = gan._discriminator_losses(gan._to_network(x), None, tf.constant([0, 1]))
    assert d_loss.dtype == tf.float32 and penalty.dtype == tf.float32
    history = gan.fit(digits.dataset("train", 16, repeat=True), steps_per_epoch=3,
                      verbose=0).history
    assert all(np.all(np.isfinite(v)) for v in history.values())
    assert gan.sample(3, seed=0).dtype == tf.float32


def test_a_non_finite_loss_stops_training(toy):
    gan = _compile(_small())
    weight = gan.discriminator.weights[0]
    weight.assign(np.full(weight.shape, np.nan, np.float32))
    with pytest.raises(NonFiniteLossError, match="discriminator loss"):
        gan.fit(toy, batch_size=64, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(loss="dcgan"), "`loss` must be one of"),
    (dict(loss="hinge", clip_value=0.1), "`clip_value` is not an option of `loss` 'hinge'"),
    (dict(loss="wasserstein", penalty_weight=1.0), "`penalty_weight` is not an option"),
    (dict(discriminator_steps=0), "`discriminator_steps`"),
    (dict(network="conv"), "`network` 'conv' is for images"),
    (dict(network="resnet"), "`network` must be one of"),
    (dict(latent_dim=0), "`latent_dim`"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GAN([2], **kwargs)


def test_named_gans_batch_normalize_conv_generators_only():
    for cls in (DCGAN, WGAN, WGANGP):
        assert cls([8, 8, 1], hidden_units=[8], channels=[4, 8]).normalization == "batch"
    assert WGANGP([2]).normalization is None and WGANGP([2]).network == "mlp"
    assert GAN([8, 8, 1], network="conv").normalization is None
    gp = WGANGP([8, 8, 1], channels=[4, 8])
    assert not any("batch_normalization" in w.path for w in gp.discriminator.weights)


def test_dcgan_takes_images_only():
    with pytest.raises(ValueError, match="`network` 'conv' is for images"):
        DCGAN([2])


def test_tfgen_train_gan_on_eight_gaussians_reports_modes(tmp_path):
    out = tmp_path / "gan"
    assert main(["train", "gan", "--data", "eight_gaussians", "--steps", "20",
                 "--set", "hidden_units=[16]", "--keep-best", "energy_distance",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # Measured 10 times by default on the validation split (every 2 steps,
    # rounded up to the 5 steps of one execution); the best kept.
    records = metrics["sample_quality_during_training"]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    best = min(records, key=lambda r: r["energy_distance"])
    assert metrics["best_quality_step"] == best["step"]
    assert metrics["likelihood"] is None and "nll" not in metrics
    assert metrics["num_modes"] == 8 and 0 <= metrics["modes_hit"] <= 8
    assert 0.0 <= metrics["high_quality_fraction"] <= 1.0
    assert metrics["energy_distance"] > metrics["energy_distance_floor"]
    assert (out / "samples.png").exists() and not (out / "density.png").exists()


def test_tfgen_train_wgan_gp_on_digits_takes_k_batches_per_step(tmp_path):
    out = tmp_path / "wgan_gp"
    assert main(["train", "wgan_gp", "--data", "digits", "--steps", "4", "--conditional",
                 "--set", "hidden_units=[16]", "--set", "channels=[4,8]",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 4
    assert metrics["fid_digits"] > metrics["fid_digits_floor"]
    assert {"fid_digits", "class_histogram"} <= set(
        metrics["sample_quality_during_training"][-1])
    assert 0.0 <= metrics["class_accuracy_digits"] <= 1.0
    loaded = keras.models.load_model(out / "model.keras")
    assert int(loaded.discriminator_optimizer.iterations) == 20
    # Each optimizer's cosine schedule spans its own updates: 5 per step for D.
    for name, updates in (("generator_optimizer", 4), ("discriminator_optimizer", 20)):
        schedule = getattr(loaded, name).get_config()["learning_rate"]
        assert schedule["config"]["decay_steps"] == updates


def test_vaegan_steps_encoder_decoder_and_discriminator_on_their_own_losses(digits, tmp_path):
    model = VAEGAN([8, 8, 1], latent_dim=4, hidden_units=[16], network="conv",
                   channels=[4, 8], dequantizer=digits.dequantizer, ema_decay=0.5)
    model.compile(**{name: keras.optimizers.Adam(1e-3) for name in model.optimizer_names})
    before = {name: [w.numpy() for w in model.optimizer_variables(name)]
              for name in model.optimizer_names}
    history = model.fit(digits.dataset("train", 16, repeat=True), steps_per_epoch=3,
                        verbose=0).history
    assert {"kl", "feature_reconstruction", "discriminator_loss", "generator_loss"} <= set(
        history)
    for name in model.optimizer_names:
        assert int(getattr(model, name).iterations) == 3
        after = [w.numpy() for w in model.optimizer_variables(name)]
        assert any(not np.array_equal(a, b) for a, b in zip(before[name], after)), name
    assert len(model.ema_weights) == len(model.vae.decoder.trainable_weights)
    x = next(iter(digits.dataset("test", 5, shuffle=False)))
    # A reconstruction decodes the posterior mean.
    mean, _ = model.encode(x)
    np.testing.assert_allclose(model.reconstruct(x), model.generate(mean), rtol=1e-6)
    # The feature term is half the squared distance of D's features of x
    # and of Dec(z), z ~ q(z | x) (drawn here as the model draws it); the
    # encoder's loss adds the closed-form KL.
    seed = tf.constant([5, 6])
    encoder_loss, _, _, kl, features, _ = model._objectives(x, None, seed)
    z, _ = sample_with_kl(model.vae.posterior(x), model.vae.prior(), 1,
                          tf.random.experimental.stateless_fold_in(seed, 0))
    phi = model.discriminator.feature_map
    expected = 0.5 * np.sum((phi(model._to_network(x)) - phi(model._fake(z[0], None))) ** 2, -1)
    np.testing.assert_allclose(features, expected, rtol=1e-5)
    q_mean, q_std = model.encode(x)
    closed_kl = np.sum(0.5 * (q_mean ** 2 + q_std ** 2 - 1.0) - np.log(q_std), axis=-1)
    np.testing.assert_allclose(kl, closed_kl, rtol=1e-5)
    np.testing.assert_allclose(encoder_loss, closed_kl + expected, rtol=1e-5)
    path = os.fspath(tmp_path / "vaegan.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.sample(4, seed=1), model.sample(4, seed=1))
    np.testing.assert_array_equal(loaded.encode(x)[0], mean)
    export.export(model, tmp_path / "export")
    served = tf.saved_model.load(os.fspath(tmp_path / "export")).signatures
    np.testing.assert_allclose(served["encode"](x=x)["mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["sample"](n=tf.constant(4), seed=tf.constant(1))[
        "samples"], model.sample(4, seed=1), rtol=1e-5, atol=1e-6)


def test_vaegan_refuses_settings_it_does_not_have():
    with pytest.raises(ValueError, match="discriminator_steps=3"):
        VAEGAN([2], discriminator_steps=3)
    with pytest.raises(ValueError, match="`feature_weight` must be a float >= 0"):
        VAEGAN([2], feature_weight=-1.0)
