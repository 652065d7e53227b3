"""Helpers shared by the tests."""

import numpy as np


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
