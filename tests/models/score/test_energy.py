"""Energy models: NCE's learned log Z against the closed form of a
Gaussian energy, CD's persistent chains and its fit of a Gaussian,
MirroredStrategy's one-device update, `.keras`, exports without tfgen,
bad input and the CLI, for `EBM`, `NCE` and `FCE`."""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import export
from tfgen.cli import main
from tfgen.models.score import EBM, FCE, NCE

from tests.helpers import assert_same_state, served_without_tfgen

MEAN, STD = np.array([1.0, -0.5], np.float32), np.array([0.6, 1.5], np.float32)


@keras.saving.register_keras_serializable(package="tfgen_tests")
class QuadraticEnergy(keras.layers.Layer):
    """E(x) = 1/2 (x - m)^T P (x - m), P = L L^T (L lower triangular with a
    positive diagonal): log Z = d/2 log 2 pi - sum log diag L."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.m = self.add_weight(shape=[size], initializer="zeros", name="m")
        self.raw = self.add_weight(shape=[size, size], initializer="zeros", name="raw")

    def factor(self):
        lower = tf.linalg.band_part(self.raw, -1, 0)
        return lower - tf.linalg.diag_part(lower)[..., None] * tf.eye(self.size) \
            + tf.linalg.diag(tf.exp(tf.linalg.diag_part(self.raw)))

    def call(self, x, training=False):
        y = tf.linalg.matvec(self.factor(), x - self.m, transpose_a=True)   # L^T (x - m)
        return 0.5 * tf.reduce_sum(y ** 2, axis=-1)

    def log_normalizer(self):
        return 0.5 * self.size * math.log(2 * math.pi) - tf.reduce_sum(
            tf.math.log(tf.linalg.diag_part(self.factor())))

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def gaussian_data(n, seed=0):
    return (MEAN + STD * np.random.default_rng(seed).normal(size=(n, 2))).astype(np.float32)


def _compile(model, lr=1e-2):
    if isinstance(model, FCE):
        model.compile(energy_optimizer=keras.optimizers.Adam(lr),
                      flow_optimizer=keras.optimizers.Adam(lr))
    else:
        model.compile(optimizer=keras.optimizers.Adam(lr))
    return model


def _small(cls, **kwargs):
    extra = dict(flow_config=dict(num_layers=1, hidden_units=[8])) if cls is FCE else {}
    return cls([2], hidden_units=[16], sampling_steps=5, **extra, **kwargs)


def test_quadratic_energy_log_normalizer_is_the_integral():
    energy = QuadraticEnergy()
    energy.raw.assign([[0.3, 0.0], [0.5, -0.2]])
    energy.m.assign([0.2, -0.1])
    grid = np.linspace(-8, 8, 801, dtype=np.float32)
    points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    integral = np.sum(np.exp(-energy(points).numpy())) * (grid[1] - grid[0]) ** 2
    np.testing.assert_allclose(np.log(integral), energy.log_normalizer(), atol=1e-4)


def test_nce_learns_log_z_of_an_unnormalized_gaussian():
    x = gaussian_data(20_000)
    model = _compile(NCE([2], energy_network=QuadraticEnergy(), noise_ratio=4), lr=0.02)
    model.fit(tf.data.Dataset.from_tensor_slices(x).shuffle(20_000, seed=0).batch(500).repeat(),
              steps_per_epoch=300, epochs=2, verbose=0)
    learned = float(model.log_normalizer.numpy())
    # c is the learned log Z; exp(-E) / Z is also the data's Gaussian.
    assert abs(learned - float(model.energy_network.log_normalizer())) < 0.1
    np.testing.assert_allclose(model.energy_network.m.numpy(), MEAN, atol=0.05)


def test_cd_writes_its_chains_back_and_fits_a_gaussian():
    x = gaussian_data(4096)
    model = _compile(EBM([2], energy_network=QuadraticEnergy(), buffer_size=512,
                         sgld_steps=10, sgld_step_size=0.1, energy_regularization=0.0), lr=0.005)
    model.fit(x[:64], batch_size=64, epochs=1, verbose=0)   # fills the buffer, one step
    before = model.buffer.numpy()
    seed = model.step_seed(0xEB1, per_replica=False)
    negatives, index = model.negatives(tf.constant(64), seed)
    model.train_step(tf.constant(x[64:128]))
    after = model.buffer.numpy()
    np.testing.assert_allclose(after[index.numpy()], negatives, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(512), index.numpy())
    np.testing.assert_array_equal(after[untouched], before[untouched])
    model.fit(tf.data.Dataset.from_tensor_slices(x).shuffle(4096, seed=0).batch(128).repeat(),
              steps_per_epoch=1000, verbose=0)
    # exp(-E) / Z is N(m, (L L^T)^-1): near the data's N(mean, diag(std^2)),
    # within the noise of SGD on batches of 128 (std / sqrt(128) = 0.09 std).
    factor = model.energy_network.factor().numpy()
    std = np.sqrt(np.diag(np.linalg.inv(factor @ factor.T)))
    assert np.all(np.abs(model.energy_network.m.numpy() - MEAN) < 0.15 * STD)
    np.testing.assert_allclose(std, STD, rtol=0.1)


@pytest.mark.parametrize("cls", [EBM, NCE, FCE])
def test_mirrored_training_makes_the_one_device_update(cls, mirrored):
    x = gaussian_data(64)
    one = _compile(_small(cls), 1e-3)
    with mirrored.scope():
        two = _compile(_small(cls), 1e-3)
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=getattr(a, "path", a.name))


@pytest.mark.parametrize("cls", [EBM, FCE])
def test_keras_round_trip_keeps_the_chains_the_flow_and_the_optimizers(cls, tmp_path):
    model = _compile(_small(cls), 1e-3)
    model.fit(gaussian_data(64), batch_size=32, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded.sample(4, seed=1), model.sample(4, seed=1))
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert_same_state(model, loaded)


SERVE = """
out = sig["sample"](n=tf.constant(3), steps=tf.constant(4), seed=tf.constant(2))
energy = sig["energy"](x=tf.constant([[0.5, -1.0], [2.0, 0.0]]))
served = {"samples": out["samples"].numpy().tolist(), "energy": energy["energy"].numpy().tolist()}
"""


def test_export_serves_energy_and_sample_without_tfgen(tmp_path):
    model = _small(NCE)
    model.prepare_training(gaussian_data(256), None, None)
    export.export(model, tmp_path / "export")
    served = served_without_tfgen(tmp_path / "export", SERVE)
    np.testing.assert_allclose(served["samples"], model.sample(3, seed=2, steps=4), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(served["energy"], model.energy([[0.5, -1.0], [2.0, 0.0]]),
                               rtol=1e-5)


@pytest.mark.parametrize("make, match", [
    (lambda: EBM([2], reinit_rate=1.5), "`reinit_rate` must be in"),
    (lambda: EBM([2], sgld_step_size=0.0), "`sgld_step_size` must be > 0"),
    (lambda: NCE([2], noise_ratio=0), "`noise_ratio`"),
    (lambda: NCE([2], energy_network="mlp"), "`energy_network` must be a Keras layer"),
    (lambda: FCE([2], flow="vae"), "`flow` must name a registered flow"),
    (lambda: EBM([2], step_size=-1.0), "`step_size` must be > 0"),
    (lambda: NCE([2], num_classes=3), "NCE has no conditional form"),
])
def test_bad_arguments_name_themselves(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("name", ["ebm", "nce", "fce"])
def test_tfgen_train_energy_models_on_two_moons(name, tmp_path):
    out = tmp_path / name
    assert main(["train", name, "--data", "two_moons", "--steps", "20", "--batch-size", "64",
                 "--set", "sampling_steps=5", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["energy_distance"])
    assert (out / "samples.png").exists()
