"""Checks every VAE-family model passes: samples are data levels at their
bin centres, and a SavedModel serves `encode`, `decode` and `sample` as the
model computes them (with its averaged weights)."""

import numpy as np
import tensorflow as tf


def check_samples_are_levels(model, dequantizer, seed=4):
    """Samples of a discrete-data model: the same for a seed, levels 0..L-1
    at their bin centres in model space."""
    samples = model.sample(6, seed=seed)
    np.testing.assert_array_equal(samples, model.sample(6, seed=seed))
    levels = dequantizer.to_levels(samples).numpy()
    centres = dequantizer.to_model(levels, np.full(levels.shape, 0.5, np.float32))
    np.testing.assert_allclose(samples, centres, rtol=1e-6)
    assert levels.min() >= 0 and levels.max() <= dequantizer.levels - 1


def check_served_encode_decode_sample(model, served, x):
    """`served` (the signatures of `tfgen.export.export(model)`) computes
    what `model` does on `x`."""
    with model.averaged_weights():
        mean, stddev = model.encode(x)
        decoded = model.decode_mean(mean)
    out = served["encode"](x=x)
    np.testing.assert_allclose(out["mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["stddev"], stddev, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["decode"](z=mean)["x"], decoded, rtol=1e-5)
    sampled = served["sample"](n=tf.constant(5), seed=tf.constant(2))
    np.testing.assert_allclose(sampled["samples"], model.sample(5, seed=2), rtol=1e-5)
    assert sampled["pixels"].dtype == tf.int32 and sampled["pixels"].shape[0] == 5
