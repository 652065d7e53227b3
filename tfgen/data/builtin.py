"""Built-in data: the 2D toys and scikit-learn's 8x8 digits.

Nothing is downloaded: the toys are sampled, and `load_digits` ships with
scikit-learn (1797 images, integers 0..16).
"""

import numpy as np

from tfgen.data.preprocessing import Dequantizer
from tfgen.data.sources import ArraySource
from tfgen.data.toys import get_toy

__all__ = ["digits", "digits_split", "toy_source"]

DIGITS_LEVELS = 17


def toy_source(name, num_train=50_000, num_validation=5_000, num_test=10_000, seed=0):
    """A 2D toy as an `ArraySource`; splits use seeds `seed`, +1, +2."""
    toy = get_toy(name)
    splits = {"train": toy.sample(num_train, seed),
              "validation": toy.sample(num_validation, seed + 1),
              "test": toy.sample(num_test, seed + 2)}
    return ArraySource(name, splits, toy=toy)


def digits_split(labels=False):
    """(train, validation, test) integer arrays `[n, 8, 8, 1]` of the digits;
    with `labels=True`, also their labels `[n]` (0..9) in the same order.

    Split: `np.random.default_rng(0).permutation(1797)`; the first 360 are
    test, the next 180 validation, the rest (1257) train.
    """
    from sklearn.datasets import load_digits

    loaded = load_digits()
    images = loaded.images.astype(np.int32)[..., None]
    order = np.random.default_rng(0).permutation(len(images))
    parts = (order[540:], order[360:540], order[:360])
    if labels:
        return tuple(images[p] for p in parts) + tuple(loaded.target[p] for p in parts)
    return tuple(images[p] for p in parts)


def digits(logit_alpha=0.05, flatten=False):
    """scikit-learn's digits, dequantized to 17 levels, optionally in logit space.

    Args:
      logit_alpha: `None` for [0, 1) inputs, else the logit transform's alpha.
      flatten: event shape `[64]` instead of `[8, 8, 1]`.
    """
    train, validation, test, *labels = digits_split(labels=True)
    return ArraySource(
        "digits", {"train": train, "validation": validation, "test": test},
        dequantizer=Dequantizer(DIGITS_LEVELS, logit_alpha),
        event_shape=[64] if flatten else [8, 8, 1],
        labels=dict(zip(("train", "validation", "test"), labels)), num_classes=10)
