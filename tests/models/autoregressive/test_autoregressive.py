"""Autoregressive models: the exact likelihood against enumeration of all
2^4 binary images, autoregressive masks and PixelCNN's receptive field
(Jacobians), sampling, the CLI."""

import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from tfgen.cli import main
from tfgen.data import Dequantizer
from tfgen.models.autoregressive import FVSBN, MADE, NADE, AutoregressiveModel, PixelCNN

BINARY = Dequantizer(2)
MODELS = {
    "fvsbn": lambda deq, size: FVSBN([size], dequantizer=deq),
    "nade": lambda deq, size: NADE([size], dequantizer=deq, hidden_units=6),
    "made": lambda deq, size: MADE([size], dequantizer=deq, hidden_units=[16, 16]),
    "made_ensemble": lambda deq, size: MADE([size], dequantizer=deq, hidden_units=[16],
                                            num_orderings=3, hidden_degrees="random"),
    # Images of 2 rows.
    "pixelcnn": lambda deq, size: PixelCNN([2, size // 2, 1], dequantizer=deq, channels=8,
                                           num_blocks=2, head_units=8),
    "pixelcnn_masked": lambda deq, size: PixelCNN([2, size // 2, 1], dequantizer=deq,
                                                  architecture="masked", channels=8,
                                                  num_blocks=2, head_units=8),
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
    rank = np.argsort(model.orderings[0])
    seen = _dependence(model)
    for d in range(6):
        for d2 in range(6):
            if rank[d2] >= rank[d]:
                assert not seen[d, d2], (d, d2)


def _dependence(model):
    """`[D, D]`: whether output d's parameters depend on input dimension
    d' (the Jacobian of the network with respect to its one-hot inputs,
    at 8 random points: a ReLU that is off at one point zeroes some)."""
    size, width = model.event_size, model.input_width
    x = tf.constant(np.random.default_rng(1).normal(size=(8, size * width)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        model.encode = lambda _: x
        out = model.conditionals(tf.zeros([8, size], tf.int32), tf.constant(0))
    jacobian = tape.batch_jacobian(out, x).numpy().reshape(8, size, -1, size, width)
    return np.abs(jacobian).max(axis=(0, 2, 4)) > 0           # over [n, p, e]


def test_gated_pixelcnn_sees_every_earlier_pixel_and_masked_has_a_blind_spot():
    make = lambda arch: _perturbed(PixelCNN(  # noqa: E731
        [4, 4, 1], dequantizer=Dequantizer(3), architecture=arch, channels=4, num_blocks=4,
        kernel_size=3, first_kernel_size=3, head_units=4))
    earlier = np.tril(np.ones([16, 16], bool), -1)       # d' < d in raster order
    gated, masked = _dependence(make("gated")), _dependence(make("masked"))
    np.testing.assert_array_equal(gated, earlier)
    assert not np.any(masked & ~earlier)
    # The stacked 3x3 masks miss pixels up and to the right that 4 layers
    # would reach: output (1, 0) never sees (0, 2), and (2, 1) never (1, 3).
    assert not masked[1 * 4 + 0, 0 * 4 + 2] and not masked[2 * 4 + 1, 1 * 4 + 3]
    assert masked[2 * 4 + 0, 1 * 4 + 1] and masked.sum() < earlier.sum()


def test_class_conditional_pixelcnn_is_normalized_per_label_and_uses_it():
    model = _perturbed(PixelCNN([2, 2, 1], dequantizer=BINARY, num_classes=3, channels=8,
                                num_blocks=2, head_units=8))
    images = BINARY.from_levels(np.array(list(itertools.product([0, 1], repeat=4)),
                                         np.int32).reshape(16, 2, 2, 1))
    per_label = [model.log_prob(images, np.full([16], k, np.int32)).numpy() for k in range(3)]
    for log_p in per_label:
        np.testing.assert_allclose(np.exp(log_p.astype(np.float64)).sum(), 1.0, rtol=1e-5)
    assert np.abs(per_label[0] - per_label[2]).max() > 1e-3
    with pytest.raises(ValueError, match="conditional"):
        model.log_prob(images)


def test_nade_carries_its_activations_to_the_same_samples_as_full_passes():
    model = _perturbed(NADE([5], dequantizer=Dequantizer(4), hidden_units=7))
    reference = NADE([5], dequantizer=Dequantizer(4), hidden_units=7)
    reference.set_weights(model.get_weights())
    for method in ("sampling_state", "next_conditional", "advance_state"):  # the base's
        setattr(reference, method, getattr(AutoregressiveModel, method).__get__(reference))
    np.testing.assert_array_equal(model.sample(50, seed=3), reference.sample(50, seed=3))


# (FVSBN and MADE train and evaluate through the same base as these.)
@pytest.mark.parametrize("name, options", [
    ("nade", []),
    ("pixelcnn", ["--set", "channels=8", "--set", "num_blocks=2", "--set", "head_units=8"])])
def test_tfgen_train_on_digits_reports_exact_bits_per_dim(name, options, tmp_path):
    out = tmp_path / name
    assert main(["train", name, "--data", "digits", "--steps", "20", *options,
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["likelihood"] == "exact"
    assert 1.0 < metrics["bits_per_dim"] < 4.5   # uniform over 17 levels: 4.09
    assert (out / "samples.png").exists()
