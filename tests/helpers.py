"""Helpers shared by the tests."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from tfgen import flows

# Conditional flows, one per conditioner kind; labels in [0, 3) or vectors [2].
CONDITIONAL = {
    "realnvp": lambda: flows.RealNVP([2], num_couplings=2, hidden_units=[8], num_classes=3),
    "realnvp_image": lambda: flows.RealNVP([4, 4, 1], num_couplings=1, hidden_units=[4],
                                           condition_shape=[2]),
    "maf": lambda: flows.MAF([2], num_layers=2, hidden_units=[8], condition_shape=[2]),
    "iaf": lambda: flows.IAF([2], num_layers=2, hidden_units=[8], num_classes=3),
    "glow": lambda: flows.Glow([4, 4, 1], num_levels=1, num_steps=2, hidden_channels=4,
                               num_classes=3),
}


def conditions(model, n, seed=0):
    """`n` random conditions a conditional `model` takes."""
    rng = np.random.default_rng(seed)
    if model.num_classes:
        return rng.integers(0, model.num_classes, size=n).astype(np.int32)
    return rng.normal(size=(n, model.condition_size)).astype(np.float32)


def perturb(model, scale=0.1, seed=0):
    """Adds N(0, scale^2) noise to every trainable weight, so checks do not
    pass trivially at the identity. Variable constraints (MADE's
    autoregressive masks) are applied, as an optimizer would."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        old = w.numpy()
        value = old + scale * rng.normal(size=w.shape).astype(old.dtype)
        constraint = getattr(w, "constraint", None)
        if constraint is not None:
            value = np.asarray(constraint(value), old.dtype)
        w.assign(value)
    return model


def trained_file(model, x, directory):
    """`model` trained 2 epochs on `x` (Adam 1e-2, batches of 32), saved
    in `directory` as `part.keras`; returns the file's path (a part for
    models built on trained ones)."""
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=32, epochs=2, verbose=0)
    path = os.fspath(directory / "part.keras")
    model.save(path)
    return path


def one_fit_step(make, strategy, weights, data):
    """One SGD(0.1) `fit` step, on the whole batch `data` (a tuple), of the
    model `make()` builds in `strategy`'s scope with `weights`: its `nll`
    and weights after the step."""
    with strategy.scope():
        model = make()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(len(data[0]))
    history = model.fit(dataset, epochs=1, verbose=0)
    return history.history["nll"][0], [w.numpy() for w in model.weights]


_SERVE = """
import json, sys
sys.modules["tfgen"] = None  # importing tfgen now fails
import numpy as np, tensorflow as tf
sig = tf.saved_model.load(sys.argv[1]).signatures
args = sys.argv[2:]
{calls}
print(json.dumps(served))
"""


def assert_same_state(model, loaded):
    """`loaded` holds `model`'s optimizer state and weight averages, bit
    for bit (a `.keras` round trip)."""
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(model.ema_weights or [], loaded.ema_weights or [], strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def served_without_tfgen(export_dir, calls, *args, timeout=180):
    """Runs `calls` in a fresh interpreter in which importing tfgen fails:
    Python that fills a dict `served` of JSON values from `sig`, the
    signatures of the SavedModel in `export_dir` (and `args`, the further
    strings given); returns `served`."""
    done = subprocess.run(
        [sys.executable, "-c", _SERVE.format(calls=calls), os.fspath(export_dir),
         *map(os.fspath, args)], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
