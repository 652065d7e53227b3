"""User data from `.npy` / `.npz` files of float samples."""

import os

import numpy as np

from tfgen._validation import check_finite_array
from tfgen.data.sources import ArraySource

__all__ = ["file_source"]


def file_source(path, seed=0):
    """An `ArraySource` from a file of samples `[n, ...]`.

    `.npz` files with arrays "train", "validation" and "test" use them as the
    splits; a `.npy` file (or an `.npz` with a single array) is split 80/10/10
    after a permutation by `seed`. The "all" split holds every row.

    Raises:
      ValueError: a missing file, an unsupported suffix, a non-float or
        non-finite array.
    """
    if not os.path.isfile(path):
        raise ValueError(f"`path` {path!r} is not a file.")
    if path.endswith(".npz"):
        with np.load(path) as archive:
            arrays = {k: archive[k] for k in archive.files}
        if {"train", "validation", "test"} <= set(arrays):
            return ArraySource(os.path.basename(path), arrays)
        if len(arrays) != 1:
            raise ValueError(
                f"{path!r} must hold 'train', 'validation' and 'test' arrays or a "
                f"single array; received {sorted(arrays)}.")
        (array,) = arrays.values()
    elif path.endswith(".npy"):
        array = np.load(path)
    else:
        raise ValueError(f"`path` must end in .npy or .npz; received {path!r}.")
    if not np.issubdtype(array.dtype, np.floating) or array.ndim < 2 or len(array) < 3:
        raise ValueError(
            f"{path!r} must hold float samples [n >= 3, ...]; received dtype "
            f"{array.dtype} and shape {array.shape}.")
    check_finite_array(path, array)
    order = np.random.default_rng(seed).permutation(len(array))
    n_test = n_val = max(1, len(array) // 10)
    return ArraySource(os.path.basename(path), {
        "test": array[order[:n_test]],
        "validation": array[order[n_test:n_test + n_val]],
        "train": array[order[n_test + n_val:]]})
