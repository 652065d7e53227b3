"""Helpers shared by the tests."""

import numpy as np

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
