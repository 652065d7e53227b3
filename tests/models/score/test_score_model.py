"""`ScoreModel` on the family contract: training, seeded samples whose
Python pieces are the exported graph's, digits at their levels,
MirroredStrategy's one-device update, `.keras` with the EMA, exports
without tfgen, bad input, and `tfgen train ncsn`."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data, export
from tfgen.cli import main
from tfgen.models.score import ScoreModel

from tests.helpers import assert_same_state, served_without_tfgen


@pytest.fixture(scope="module")
def moons():
    return data.load_data("two_moons").arrays["train"][:256].astype(np.float32)


def _small(**kwargs):
    return ScoreModel([2], **{"hidden_units": [16, 16], "sigma_max": 2.0, "sigma_min": 0.05,
                              "num_levels": 4, "sampling_steps": 3, **kwargs})


def _compile(model, lr=1e-3):
    model.compile(optimizer=keras.optimizers.Adam(lr))
    return model


def test_the_score_is_the_network_over_sigma_at_the_level_index(moons):
    model = _small()
    x, sigma = tf.constant(moons[:3]), tf.constant([2.0, 0.5, 0.05])
    # c(sigma) = 1000 ln(sigma_1 / sigma) / ln(sigma_1 / sigma_L): 0 ... 1000.
    level = 1000 * np.log(2.0 / sigma.numpy()) / np.log(2.0 / 0.05)
    np.testing.assert_allclose(level[[0, 2]], [0, 1000], atol=1e-3)
    expected = model.denoiser(x, tf.constant(level, tf.float32)) / sigma[:, None]
    np.testing.assert_allclose(model.network_score(x, sigma), expected, rtol=1e-4)


@pytest.mark.parametrize("objective", ["dsm", "ssm"])
def test_training_lowers_the_loss(moons, objective):
    model = _compile(_small(objective=objective), lr=3e-3)
    history = model.fit(moons, batch_size=64, epochs=6, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("kwargs", [dict(objective="ssm", num_projections=2),
                                    dict(num_classes=3)])
def test_mirrored_training_makes_the_one_device_update(moons, mirrored, kwargs):
    y = np.arange(64, dtype=np.int32) % 3 if kwargs.get("num_classes") else None
    one = _compile(_small(**kwargs))
    with mirrored.scope():
        two = _compile(_small(**kwargs))
    two.set_weights(one.get_weights())
    for model in (one, two):
        model.fit(moons[:64], y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(one.weights, two.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


@pytest.mark.parametrize("sampler", ["annealed_langevin", "pc", "langevin"])
def test_samples_are_seeded_and_the_pieces_are_one_walk(moons, sampler):
    model = _compile(_small(sampler=sampler))
    model.fit(moons, batch_size=64, epochs=1, verbose=0)
    a = model.sample(5, seed=4, progress=True)
    np.testing.assert_array_equal(a, model.sample(5, seed=4))
    assert not np.allclose(a, model.sample(5, seed=5))
    graph = tf.function(lambda: model.sample(5, seed=4))
    np.testing.assert_allclose(graph(), a, rtol=1e-5, atol=1e-6)


def test_digits_are_modeled_at_their_levels():
    digits = data.load_data("digits")
    model = _compile(ScoreModel([8, 8, 1], channels=[8, 16], groups=8, num_levels=3,
                                sampling_steps=2, dequantizer=digits.dequantizer))
    model.fit(digits.dataset("train", 8, repeat=True), steps_per_epoch=2, verbose=0)
    levels = digits.dequantizer.to_levels(model.sample(3, seed=0)).numpy()
    assert levels.shape == (3, 8, 8, 1) and levels.min() >= 0 and levels.max() <= 16


def test_keras_round_trip_keeps_the_average_and_the_optimizer(moons, tmp_path):
    model = _compile(_small(ema_decay=0.9, objective="ssm"))
    model.fit(moons, batch_size=64, epochs=1, verbose=0)
    path = os.fspath(tmp_path / "score.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ScoreModel) and loaded.objective == "ssm"
    np.testing.assert_array_equal(loaded.sample(6, seed=2), model.sample(6, seed=2))
    assert_same_state(model, loaded)


SERVE = """
out = sig["sample"](n=tf.constant(4), condition=tf.constant([0, 1, 2, 0]), steps=tf.constant(2),
                    seed=tf.constant(5))
score = sig["score"](x=tf.constant([[0.5, -0.2], [1.0, 1.0]]), sigma=tf.constant([1.0, 0.1]),
                     condition=tf.constant([1, 2]))
served = {"samples": out["samples"].numpy().tolist(), "score": score["score"].numpy().tolist()}
"""


def test_export_serves_sample_and_score_without_tfgen(tmp_path):
    model = _small(num_classes=3, sampler="pc")
    export.export(model, tmp_path / "export")
    served = served_without_tfgen(tmp_path / "export", SERVE)
    np.testing.assert_allclose(served["samples"], model.sample(4, [0, 1, 2, 0], seed=5, steps=2),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["score"], model.score([[0.5, -0.2], [1.0, 1.0]],
                                                            [1.0, 0.1], [1, 2]), rtol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(objective="nce"), "`objective` must be one of"),
    (dict(sampler="euler"), "`sampler` must be one of"),
    (dict(sigma_min=3.0), "`sigma_min` < `sigma_max`"),
    (dict(num_levels=0), "`num_levels`"),
    (dict(step_size=0.0), "`step_size` must be > 0"),
    (dict(network="unet"), "`event_shape` must be"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _small(**kwargs)


def test_tfgen_train_ncsn_on_two_moons(tmp_path):
    out = tmp_path / "ncsn"
    assert main(["train", "ncsn", "--data", "two_moons", "--steps", "30", "--batch-size", "64",
                 "--set", "objective=ssm", "--set", "sampling_steps=5", "--out",
                 str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["energy_distance"]) and (out / "samples.png").exists()
    assert main(["sample", str(out), "-n", "6", "--sampler", "pc", "--steps", "2", "--out",
                 str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (6, 2)
