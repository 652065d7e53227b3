"""The real-data floor of FID, KID and IS on digits, in the shipped
classifier's features: the digits train split (1257 images) against the
test split (360 images).

    python -m tfgen.metrics    # prints the numbers as JSON

A model's scores on digits are read next to these: samples cannot be
expected to score better than held-out real digits do.
"""

from tfgen.data import digits_split
from tfgen.metrics.features import (
    digits_features, digits_intensities, digits_probabilities)
from tfgen.metrics.sample_quality import FID, KID, InceptionScore

__all__ = ["digits_floor"]


def digits_floor():
    """FID, KID (with its standard error) and IS of the digits splits.

    Returns:
      A dict: `fid_digits` and `kid_digits`, `kid_digits_stderr` (real: the
      train split, generated: the test split; KID with `KID`'s defaults),
      `is_digits_test` and `is_digits_train` (the single-split Inception
      Score of each split), and `feature_name`.
    """
    train, _, test = (digits_intensities(split) for split in digits_split())
    fid, kid = FID(digits_features), KID(digits_features)
    for metric in (fid, kid):  # the train split where a model's 1257 samples go
        metric.update_state(test, train)
    kid_mean, kid_stderr = kid.result_with_error()
    scores = {}
    for name, split in (("test", test), ("train", train)):
        score = InceptionScore(digits_probabilities)
        score.update_state(split)
        scores[name] = float(score.result())
    return {"fid_digits": float(fid.result()), "kid_digits": kid_mean,
            "kid_digits_stderr": kid_stderr, "is_digits_test": scores["test"],
            "is_digits_train": scores["train"], "feature_name": fid.feature_name}
