"""FID, KID, IS and the class histogram of digit images in the shipped
classifier's features (`digits_statistics`), and their real-data floor:
the digits train split (1257 images) against the test split (360 images).

    python -m tfgen.metrics    # prints the numbers as JSON

A model's scores on digits are read next to these: samples cannot be
expected to score better than held-out real digits do.
"""

import numpy as np

from tfgen.data import digits_split
from tfgen.metrics.features import (
    digits_features, digits_intensities, digits_probabilities)
from tfgen.metrics.sample_quality import FID, KID, InceptionScore

__all__ = ["digits_floor", "digits_statistics"]


def digits_statistics(generated, reference):
    """FID, KID (with its standard error) and IS of the digit images
    `generated` against `reference` (intensities in [0, 1], `[n, 8, 8, 1]`)
    in the shipped classifier's features, and the class histogram of
    `generated`: what `tfgen.evaluation` reports for a model's samples and
    for real digits in their place.

    Returns:
      A dict: `fid`, `kid`, `kid_stderr`, `is`, `class_histogram` (10
      fractions).
    """
    fid, kid = FID(digits_features), KID(digits_features)
    inception = InceptionScore(digits_probabilities)
    fid.update_state(reference, generated)
    kid.update_state(reference, generated)
    inception.update_state(generated)
    kid_mean, kid_stderr = kid.result_with_error()
    classes = np.argmax(digits_probabilities(generated), axis=-1)
    histogram = np.bincount(classes, minlength=10) / len(classes)
    return {"fid": float(fid.result()), "kid": float(kid_mean), "kid_stderr": float(kid_stderr),
            "is": float(inception.result()), "class_histogram": histogram.round(4).tolist()}


def digits_floor():
    """FID, KID (with its standard error) and IS of the digits splits.

    Returns:
      A dict: `fid_digits` and `kid_digits`, `kid_digits_stderr` (real: the
      test split, generated: the train split, as `tfgen.evaluation` compares
      a model's 1257 samples), `is_digits_test` and `is_digits_train` (the
      single-split Inception Score of each split), and `feature_name`.
    """
    train, _, test = (digits_intensities(split) for split in digits_split())
    floor = digits_statistics(train, test)
    test_score = InceptionScore(digits_probabilities)
    test_score.update_state(test)
    return {"fid_digits": floor["fid"], "kid_digits": floor["kid"],
            "kid_digits_stderr": floor["kid_stderr"],
            "is_digits_test": float(test_score.result()), "is_digits_train": floor["is"],
            "feature_name": digits_features.feature_name}
