"""Autoregressive models: the exact likelihood against enumeration of all
2^4 binary images, autoregressive masks (numerical Jacobians), the CLI."""

import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from tfgen.cli import main
from tfgen.data import Dequantizer
from tfgen.models.autoregressive import FVSBN, MADE, NADE

BINARY = Dequantizer(2)
MODELS = {
    "fvsbn": lambda deq, size: FVSBN([size], dequantizer=deq),
    "nade": lambda deq, size: NADE([size], dequantizer=deq, hidden_units=6),
    "made": lambda deq, size: MADE([size], dequantizer=deq, hidden_units=[16, 16]),
    "made_ensemble": lambda deq, size: MADE([size], dequantizer=deq, hidden_units=[16],
                                            num_orderings=3, hidden_degrees="random"),
}


def _perturbed(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(w + rng.normal(scale=0.5, size=w.shape).astype(np.float32))
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_likelihood_of_all_binary_images_sums_to_one(name):
    model = _perturbed(MODELS[name](BINARY, 4))
    images = np.array(list(itertools.product([0, 1], repeat=4)), np.int32)
    log_p = model.log_prob(BINARY.from_levels(images)).numpy().astype(np.float64)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-5)
    # Brute force: the product of the conditionals read off one pass each.
    params = model.conditionals(tf.constant(images), tf.constant(0)).numpy()
    p_one = 1.0 / (1.0 + np.exp(-params.astype(np.float64)))
    single = np.prod(np.where(images == 1, p_one, 1.0 - p_one), axis=1)
    if model.num_orderings == 1:
        np.testing.assert_allclose(np.exp(log_p), single, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_d_depends_only_on_earlier_dimensions(name):
    model = _perturbed(MODELS[name](Dequantizer(5), 6))
    order = model.orderings[0]
    rank = np.argsort(order)
    x = tf.constant(np.random.default_rng(1).normal(size=(1, 6 * 5)), tf.float64)
    # The network on its one-hot inputs, as a float64 function of them.
    levels = tf.zeros([1, 6], tf.int32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        model.encode = lambda _: tf.cast(x, tf.float32)
        out = model.conditionals(levels, tf.constant(0))
    jacobian = tape.jacobian(out, x).numpy().reshape(6, 5, 6, 5)   # [d, p, d', e]
    for d in range(6):
        for d2 in range(6):
            block = np.abs(jacobian[d, :, d2, :]).max()
            if rank[d2] >= rank[d]:
                assert block == 0.0, (d, d2)


@pytest.mark.parametrize("name", ["fvsbn", "nade", "made"])
def test_tfgen_train_on_digits_reports_exact_bits_per_dim(name, tmp_path):
    out = tmp_path / name
    assert main(["train", name, "--data", "digits", "--steps", "20", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["likelihood"] == "exact"
    assert 1.0 < metrics["bits_per_dim"] < 4.5   # uniform over 17 levels: 4.09
    assert (out / "samples.png").exists()
