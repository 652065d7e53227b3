"""The GAN on the family contract: k discriminator steps on their own
batches, the one-device update under MirroredStrategy, clipping and the
gradient penalty, samples, `.keras` with both optimizers, exports, bad
input, and `tfgen train`."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export
from tfgen.cli import main
from tfgen.errors import NonFiniteLossError
from tfgen.models.gan import DCGAN, GAN, WGAN, WGANGP


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


LOADER = """
import json, sys
sys.modules["tfgen"] = None  # importing tfgen now fails
import tensorflow as tf
sig = tf.saved_model.load(sys.argv[1]).signatures
out = sig["sample"](n=tf.constant(4), condition=tf.constant([0, 1, 2, 0]), seed=tf.constant(5))
z = tf.constant([[0.1, -0.2, 0.3, 1.0]] * 2)
gen = sig["generate"](z=z, condition=tf.constant([1, 2]))
print(json.dumps({"pixels": out["pixels"].numpy().tolist(),
                  "generated": gen["samples"].numpy().tolist()}))
"""


def test_export_serves_sample_and_generate_without_tfgen(digits, tmp_path):
    gan = _compile(GAN([8, 8, 1], latent_dim=4, hidden_units=[16], num_classes=3,
                       dequantizer=digits.dequantizer))
    export.export(gan, tmp_path / "export")
    done = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "export")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    levels = digits.dequantizer.to_levels(gan.sample(4, [0, 1, 2, 0], seed=5)).numpy()
    np.testing.assert_array_equal(served["pixels"], levels)
    z = np.array([[0.1, -0.2, 0.3, 1.0]] * 2, np.float32)
    np.testing.assert_allclose(served["generated"], gan.generate(z, [1, 2]), rtol=1e-5)


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
