"""Trains tfgen's digits classifier and writes its weights file.

    python -m tfgen.metrics.train_classifier [--epochs 150] [--seed 0] [--out PATH]

Trains `build_digits_classifier()` on the digits train split only (1257
images), each epoch on freshly shifted copies (random shifts of up to one
pixel, zeros shifted in), keeps the weights of the epoch with the best
validation accuracy (ties: the earlier epoch), prints the test-split
accuracy, writes the weights (by default over the shipped file) and prints
the real-data floor of FID, KID and IS in the new weights' features.
Deterministic for a given seed (op determinism on).
"""

import argparse
import json

import keras
import numpy as np
import tensorflow as tf

from tfgen.data import digits_split
from tfgen.metrics.digits_floor import digits_floor
from tfgen.metrics.features import (
    DIGITS_WEIGHTS, build_digits_classifier, digits_intensities)

__all__ = ["random_shifts", "train_digits_classifier"]


def random_shifts(images, rng, max_shift=1):
    """Each image `[n, h, w, c]` moved by its own random offset in
    `[-max_shift, max_shift]` along both axes, zeros shifted in."""
    n, height, width, _ = images.shape
    padded = np.pad(images, [(0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)])
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(height)[None, :]  # [n, h]
    cols = dx[:, None] + np.arange(width)[None, :]  # [n, w]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _accuracy(model, images, labels):
    predictions = np.argmax(model.predict(images, batch_size=512, verbose=0), axis=-1)
    return float(np.mean(predictions == labels))


def train_digits_classifier(epochs=150, seed=0, batch_size=32, learning_rate=1e-3):
    """Returns `(classifier, validation_accuracy, test_accuracy)` for the
    epoch with the best validation accuracy; see the module docstring."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(seed)
    *images, train_labels, validation_labels, test_labels = digits_split(labels=True)
    train, validation, test = (digits_intensities(split) for split in images)
    model = build_digits_classifier()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy")
    best_accuracy, best_weights = -1.0, None
    for _ in range(epochs):
        model.fit(random_shifts(train, rng), train_labels, batch_size=batch_size,
                  epochs=1, shuffle=True, verbose=0)
        accuracy = _accuracy(model, validation, validation_labels)
        if accuracy > best_accuracy:
            best_accuracy, best_weights = accuracy, model.get_weights()
    # A fresh model: the trained one would also save its optimizer's state.
    classifier = build_digits_classifier()
    classifier.set_weights(best_weights)
    return classifier, best_accuracy, _accuracy(classifier, test, test_labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=DIGITS_WEIGHTS, help="weights file (.weights.h5)")
    args = parser.parse_args(argv)
    model, validation_accuracy, test_accuracy = train_digits_classifier(args.epochs, args.seed)
    print(f"validation accuracy {validation_accuracy:.4f}, test accuracy {test_accuracy:.4f}")
    model.save_weights(args.out)
    print(f"wrote {args.out}")
    if args.out == DIGITS_WEIGHTS:
        print(json.dumps(digits_floor(), indent=2))


if __name__ == "__main__":
    main()
